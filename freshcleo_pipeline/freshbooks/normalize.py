"""FreshBooks API objects → normalized business documents (``documents.py``). Pure: no I/O, no clock.

Owns the business reading of FreshBooks data: which field means what on a document, tax and discount
arithmetic, a document's lifecycle state (:func:`document_state`), what routing matches on
(:func:`partner_keys`), the UTC instant a raw document was last updated (:func:`updated_at`) and its content
version (:func:`source_version`). Must not: fetch anything (lookups come in a :class:`NormalizeContext`), read
the clock (a bill payment's observed time is an argument), decide routing or delivery policy, or clean text for
X12 (the X12 layer does that and reports it).

Every ``normalize_*`` returns ``Normalized(document, warnings)``: the document, and what an operator should know
about it (totals that disagree, a missing address, a line without quantity). A value that cannot be read raises
:class:`~freshcleo_pipeline.errors.DataError` naming the document, the field path and the value.

Field mapping (FreshBooks field -> document field: the choice where the API is ambiguous). Line fields are
on ``lines[i]`` in both. Money stays ``Decimal``; rounding is half-up to the cent.

====================================  ========================  ==============================================
FreshBooks field                      Document field            Choice
====================================  ========================  ==============================================
**invoice** ``id``                    ``source.source_id``      ``invoiceid`` duplicates it
``invoice_number``                    ``invoice_number``        required, never invented
``po_number``                         ``po_number``             null -> ""
``create_date``                       ``issue_date``            the invoice date (BIG01)
``due_date``                          ``due_date``              else ``create_date + due_offset_days``
``currency_code``                     ``currency``              else ``amount.code``, else USD
``organization``                      ``bill_to.name``          as printed on this invoice; else
                                                                ``current_organization``, client, fname lname
``fname lname``                       ``bill_to.contact``
``street street2 city province        ``bill_to.address``       the invoice's own snapshot; when all empty the
code country``                                                  client's ``p_*`` address (warning)
client ``email``, ``bus_phone``       ``bill_to.email/phone``   the invoice carries neither
client ``s_*``                        ``ship_to``               only when the client has a shipping address
                                                                (invoices have no ship-to fields)
``NormalizeContext.company``          ``seller``                ourselves, the remit-to
line ``name``, ``description``        ``name``, ``description``  as given
line ``qty``                          ``quantity``              missing -> amount / unit cost when exact, else 1
                                                                (warning)
line ``unit_cost.amount``             ``unit_price``
line ``amount.amount``                ``amount``                before discount and tax; off qty x unit cost by
                                                                more than a cent -> warning
item ``sku`` (item ``name`` = line    ``sku``                   best effort, case/space-insensitive name match;
``name``)                                                       no match -> ""
line ``taxName1/2``,                  ``taxes``                 ``taxAmountN`` is a percent RATE: tax = rate x
``taxAmount1/2``                                                line amount after the invoice discount, per line;
                                                                ``compounded_tax``: tax 2 on amount + tax 1
``discount_value``                    ``discount_percent``
``discount_total.amount`` (< 0)       ``discount_amount``       negated (positive on an ordinary invoice,
                                                                negative on a credit memo); else percent x
                                                                subtotal
(sum of line taxes)                   ``tax_total``             equals the line taxes (no header-level tax)
``amount.amount``                     ``total``                 always FreshBooks' figure (the TDS); lines -
                                                                discount + taxes off by > 1 cent -> warning
``amount.amount`` < 0                 ``is_credit_memo``
``notes``, ``terms``                  ``notes``, ``terms``
**bill** ``id``                       ``po_number``             the bill id (stable, short, always present);
                                                                ``bill_number`` is the vendor's invoice number
``issue_date``, ``due_date``          same                      due else ``issue_date + due_offset_days``
``vendor`` (include) or vendor by     ``seller``                ``vendor_name``; contact = primary contact
``vendorid`` from the context
``NormalizeContext.company``          ``buyer``
lines by ``list_index``               ``lines``                 ``description`` only (no name, no SKU)
line ``tax_name/percent/amountN``     ``taxes``                 ``tax_amountN`` is money here; from the percent
                                                                when absent
``tax_amount.amount``                 ``tax_total``             else the sum of line taxes
``total_amount.amount``               ``total``                 lines + tax off by > 1 cent -> warning
``overall_description``               ``notes``
**payment** ``id``                    ``trace_number``          unique per payment (TRN02)
``date``, ``amount``, ``type``        ``payment_date``,
                                      ``amount``, ``method``
client (``clientid``, else the        ``payer``                 the customer pays us
invoice's ``customerid``)
``NormalizeContext.company``          ``payee``
invoice ``invoice_number``,           ``items[0]``              the invoice comes from the context; missing ->
``create_date``, ``amount``                                     DataError (never a guessed reference)
``note``                              ``notes``
**bill payment** ``id``               ``trace_number``
``paid_date``, ``amount``,            ``payment_date``,
``payment_type``                      ``amount``, ``method``
``NormalizeContext.company``          ``payer``                 we pay the vendor
the bill's vendor                     ``payee``
bill ``bill_number``                  ``items[0].reference_     the supplier's own invoice number (RMR IV); else
                                      number``                  the bill id (warning)
(no timestamp in the API)             ``source.updated_at``     the caller's ``observed_at``
====================================  ========================  ==============================================

``source.version`` is :func:`source_version`: the content hash of the payload *without* the fields FreshBooks
changes on its own when a payment is recorded or a document is archived (``paid``, ``outstanding``, statuses,
``updated``…), plus the lifecycle state. Recording a payment therefore does not make a new invoice version (no
replacement 810 per payment), while an edit, a send (draft → active) or a deletion does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from freshcleo_pipeline.documents import (
    Address,
    BusinessDocument,
    DocumentKind,
    Invoice,
    Line,
    Party,
    PurchaseOrder,
    Remittance,
    RemittanceItem,
    SourceRef,
    Tax,
    content_version,
)
from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks import fields, schemas
from freshcleo_pipeline.freshbooks.schemas import document_label, field_path, parse
from freshcleo_pipeline.partners import Company

RawObject = Mapping[str, Any]
State = Literal["active", "draft", "deleted", "archived"]

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class NormalizationWarning:
    """Something an operator should know about a normalized document; it was still produced."""

    code: str  # stable, for filtering: totals_mismatch, line_amount_mismatch, missing_quantity, …
    field: str  # FreshBooks field path, e.g. "lines[2].qty"
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


D = TypeVar("D", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


class Normalized(NamedTuple, Generic[D]):
    """``document, warnings = normalize_invoice(raw, ctx)``."""

    document: D
    warnings: tuple[NormalizationWarning, ...]


def item_key(name: str) -> str:
    """How item names are matched to invoice line names: case- and whitespace-insensitive."""
    return " ".join(name.casefold().split())


def _key(value: object) -> str:
    return str(value).strip()


@dataclass(frozen=True)
class NormalizeContext:
    """What normalization may look up, gathered by the caller. Values are raw API objects; keys are ids as strings
    (``items_by_name`` is keyed by :func:`item_key`). :meth:`build` keys lists correctly."""

    account_id: str
    company: Party
    clients_by_id: Mapping[str, RawObject] = field(default_factory=dict)
    vendors_by_id: Mapping[str, RawObject] = field(default_factory=dict)
    items_by_name: Mapping[str, RawObject] = field(default_factory=dict)
    invoices_by_id: Mapping[str, RawObject] = field(default_factory=dict)
    bills_by_id: Mapping[str, RawObject] = field(default_factory=dict)
    # Parsed lookups, so a client or item used by many documents is validated once per context.
    _parsed: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    # Parsed documents by the identity of their raw object (kept, so the id is not reused): routing and
    # normalizing one document both read it, and validation is most of what either costs.
    _documents: dict[tuple[type[BaseModel], int], tuple[RawObject, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    # SKUs by line name: the same few items are named on most lines.
    _skus: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    # Versions the caller already holds, by the identity of the raw object (kept, as for ``_documents``).
    _versions: dict[int, tuple[RawObject, str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        account_id: str,
        company: Party,
        *,
        clients: Iterable[RawObject] = (),
        vendors: Iterable[RawObject] = (),
        items: Iterable[RawObject] = (),
        invoices: Iterable[RawObject] = (),
        bills: Iterable[RawObject] = (),
    ) -> NormalizeContext:
        """Index raw lists. Deleted items are skipped; of two items with the same name the first one wins."""
        by_name: dict[str, RawObject] = {}
        for item in items:
            if item.get("vis_state") == 1 or not isinstance(item.get("name"), str):
                continue
            by_name.setdefault(item_key(item["name"]), item)
        vendor_index: dict[str, RawObject] = {}
        for vendor in vendors:
            vendor_index[_key(vendor.get("vendorid", vendor.get("id")))] = vendor
        return cls(
            account_id=account_id,
            company=company,
            clients_by_id={_key(c.get("id", c.get("userid"))): c for c in clients},
            vendors_by_id=vendor_index,
            items_by_name=by_name,
            invoices_by_id={_key(i.get("id", i.get("invoiceid"))): i for i in invoices},
            bills_by_id={_key(b["id"]): b for b in bills if "id" in b},
        )

    def _lookup(self, model: type[M], kind: str, table: Mapping[str, RawObject], key: str | None) -> M | None:
        if not key:
            return None
        slot = (kind, key)
        if slot not in self._parsed:
            raw = table.get(key)
            self._parsed[slot] = None if raw is None else parse(model, raw, document_label(kind, raw))
        found: M | None = self._parsed[slot]
        return found

    def document(self, model: type[M], kind: DocumentKind, raw: RawObject) -> M:
        """``raw`` parsed as ``model``, once per context for the same raw object (the caller does not change a raw
        object while its context is in use, as for the lookups); a failure is raised each time."""
        slot = (model, id(raw))
        hit = self._documents.get(slot)
        if hit is not None and hit[0] is raw:
            found: M = hit[1]
            return found
        parsed = parse(model, raw, document_label(kind, raw))
        self._documents[slot] = (raw, parsed)
        return parsed

    def stored_version(self, raw: RawObject, version: str) -> None:
        """Say that ``raw`` was stored as ``version`` (a snapshot's version, from :func:`source_version` when it
        was extracted): the document names that version instead of hashing the payload once more."""
        self._versions[id(raw)] = (raw, version)

    def version_of(self, kind: DocumentKind, raw: RawObject) -> str:
        hit = self._versions.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        return source_version(kind, raw)

    def client(self, client_id: str | None) -> schemas.Client | None:
        return self._lookup(schemas.Client, "client", self.clients_by_id, client_id)

    def vendor(self, vendor_id: str | None) -> schemas.BillVendor | None:
        return self._lookup(schemas.BillVendor, "bill_vendor", self.vendors_by_id, vendor_id)

    def invoice(self, invoice_id: str | None) -> schemas.Invoice | None:
        return self._lookup(schemas.Invoice, "invoice", self.invoices_by_id, invoice_id)

    def bill(self, bill_id: str | None) -> schemas.Bill | None:
        return self._lookup(schemas.Bill, "bill", self.bills_by_id, bill_id)

    def sku(self, line_name: str) -> str:
        found = self._skus.get(line_name)
        if found is None:
            key = item_key(line_name)
            table = self.items_by_name
            item = self._lookup(schemas.Item, "item", table, key if key in table else line_name)
            found = self._skus[line_name] = item.sku.strip() if item is not None else ""
        return found


def party_from_company(company: Company) -> Party:
    """Ourselves as a document party, from partners.yaml's ``company``."""
    return Party(
        name=company.name,
        edi_id=company.edi.isa_id.strip(),
        email=company.email,
        address=Address(street=company.street, city=company.city, province=company.province,
                        postal_code=company.postal_code, country=company.country),
    )


# --- small helpers ---------------------------------------------------------------------------------------


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _build(model: type[M], document: str, **values: Any) -> M:
    """Construct a document model; a value the document refuses (e.g. > 6 decimals) becomes a DataError."""
    try:
        return model(**values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        value = first.get("input")
        if isinstance(value, BaseModel | Mapping | list | tuple):
            value = f"<{type(value).__name__}>"
        raise DataError(document, "normalized " + field_path(tuple(first["loc"])), value,
                        str(first["msg"]).removeprefix("Value error, ")) from None


class _Warnings:
    def __init__(self) -> None:
        self.items: list[NormalizationWarning] = []

    def add(self, code: str, field: str, message: str) -> None:
        self.items.append(NormalizationWarning(code, field, message))

    def done(self) -> tuple[NormalizationWarning, ...]:
        return tuple(self.items)


def _quantity(qty: Decimal | None, unit_price: Decimal, amount: Decimal, where: str, warn: _Warnings) -> Decimal:
    if qty is not None:
        return qty
    if unit_price:
        derived = amount / unit_price
        if derived * unit_price == amount and derived == derived.quantize(Decimal("0.0001")):
            warn.add("missing_quantity", f"{where}.qty", f"no quantity; used amount / unit cost = {derived}")
            return derived
    warn.add("missing_quantity", f"{where}.qty", "no quantity; used 1")
    return Decimal(1)


def _check_line_amount(qty: Decimal, unit_price: Decimal, amount: Decimal, where: str, warn: _Warnings) -> None:
    implied = _cents(qty * unit_price)
    if abs(implied - amount) > _CENT:
        warn.add("line_amount_mismatch", f"{where}.amount",
                 f"quantity {qty} x unit cost {unit_price} = {implied} but FreshBooks' line amount is {amount}")


def _due(due: dt.date | None, issue: dt.date, offset: int | None) -> dt.date | None:
    if due is not None:
        return due
    if offset is not None:
        return issue + dt.timedelta(days=offset)
    return None


def _client_address(client: schemas.Client, prefix: Literal["p", "s"]) -> Address:
    def g(name: str) -> str:
        value = getattr(client, f"{prefix}_{name}")
        return str(value)

    return Address(street=g("street"), street2=g("street2"), city=g("city"), province=g("province"),
                   postal_code=g("code"), country=g("country"))


def _vendor_party(vendor: schemas.BillVendor) -> Party:
    return Party(
        name=vendor.vendor_name,
        source_id=vendor.vendorid,
        contact=_join(vendor.primary_contact_first_name, vendor.primary_contact_last_name),
        email=vendor.primary_contact_email,
        phone=vendor.phone,
        address=Address(street=vendor.street, street2=vendor.street2, city=vendor.city, province=vendor.province,
                        postal_code=vendor.postal_code, country=vendor.country),
    )


def _client_party(client: schemas.Client) -> Party:
    return Party(
        name=client.organization or _join(client.fname, client.lname),
        source_id=client.id,
        contact=_join(client.fname, client.lname),
        email=client.email,
        phone=client.bus_phone or client.mob_phone,
        address=_client_address(client, "p"),
    )


def _source(kind: DocumentKind, raw: RawObject, ctx: NormalizeContext, source_id: str,
            when: dt.datetime) -> SourceRef:
    return SourceRef(kind=kind, account_id=ctx.account_id, source_id=source_id,
                     version=ctx.version_of(kind, raw), updated_at=when)


def _required_updated(kind: DocumentKind, raw: RawObject) -> dt.datetime:
    when = updated_at(kind, raw)
    if when is None:
        raise DataError(document_label(kind, raw), fields.fields_of(kind.value).updated[0], None,
                        "the time FreshBooks last updated it")
    return when


# --- invoices --------------------------------------------------------------------------------------------


def _tax(label: str, where: str, source: Decimal, name: str, percent: Decimal, amount: Decimal) -> Tax:
    """A line tax; one the document cannot hold (12 integer digits at most) is a DataError naming the FreshBooks
    field behind it (``where`` = ``source``: the rate it was computed from, or the tax amount as given)."""
    try:
        return Tax(name=name, percent=percent, amount=amount)
    except ValidationError as exc:
        problem = str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
        raise DataError(label, where, str(source),
                        f"a value giving a line tax a document can hold (the tax would be {amount}: {problem})"
                        ) from None


def _invoice_taxes(line: schemas.InvoiceLine, discounted: Decimal, label: str, where: str) -> tuple[Tax, ...]:
    taxes: list[Tax] = []
    first = _ZERO
    if line.taxAmount1:
        first = _cents(discounted * line.taxAmount1 / _HUNDRED)
        taxes.append(_tax(label, f"{where}.taxAmount1", line.taxAmount1, line.taxName1, line.taxAmount1, first))
    if line.taxAmount2:
        # Compounding (tax 2 on amount + tax 1) is FreshBooks' meaning as far as known; the totals check warns
        # when FreshBooks computed otherwise.
        base = discounted + first if line.compounded_tax else discounted
        taxes.append(_tax(label, f"{where}.taxAmount2", line.taxAmount2, line.taxName2, line.taxAmount2,
                          _cents(base * line.taxAmount2 / _HUNDRED)))
    return tuple(taxes)


def normalize_invoice(raw: RawObject, ctx: NormalizeContext) -> Normalized[Invoice]:
    """An invoice listed with ``include[]=lines`` → Invoice (for the 810)."""
    label = document_label(DocumentKind.INVOICE, raw)
    if isinstance(raw, Mapping) and "lines" not in raw:
        raise DataError(label, "lines", None, "the invoice's lines (request invoices with include[]=lines)")
    inv = ctx.document(schemas.Invoice, DocumentKind.INVOICE, raw)
    if not inv.invoice_number.strip():
        raise DataError(label, "invoice_number", inv.invoice_number, "a non-empty invoice number")
    warn = _Warnings()
    client = ctx.client(inv.customerid)
    percent = inv.discount_value or _ZERO

    lines: list[Line] = []
    for index, item in enumerate(inv.lines):
        where = f"lines[{index}]"
        unit_price, amount = item.unit_cost.amount, item.amount.amount
        qty = _quantity(item.qty, unit_price, amount, where, warn)
        _check_line_amount(qty, unit_price, amount, where, warn)
        discounted = amount * (_HUNDRED - percent) / _HUNDRED
        lines.append(_build(
            Line, label, line_number=index + 1, name=item.name, description=item.description, quantity=qty,
            unit_price=unit_price, amount=amount, sku=ctx.sku(item.name) if item.name else "",
            taxes=_invoice_taxes(item, discounted, label, where),
        ))

    subtotal = sum((line.amount for line in lines), _ZERO)
    if inv.discount_total is not None:
        # Negated, not abs(): on a credit memo FreshBooks' "discount" of a negative subtotal is positive.
        discount = -inv.discount_total.amount
    else:
        discount = _cents(subtotal * percent / _HUNDRED)
    tax_total = sum((t.amount for line in lines for t in line.taxes), _ZERO)
    total = inv.amount.amount
    computed = subtotal - discount + tax_total
    if abs(computed - total) > _CENT:
        warn.add("totals_mismatch", "amount",
                 f"lines {subtotal} - discount {discount} + taxes {tax_total} = {computed} but FreshBooks' invoice "
                 f"amount is {total}; the document keeps FreshBooks' amount")

    name = (inv.organization or inv.current_organization or (client.organization if client else "")
            or _join(inv.fname, inv.lname))
    if not name.strip():
        raise DataError(label, "organization", inv.organization, "a customer organization or name")
    address = Address(street=inv.street, street2=inv.street2, city=inv.city, province=inv.province,
                      postal_code=inv.code, country=inv.country)
    if address.is_empty and client is not None and not _client_address(client, "p").is_empty:
        address = _client_address(client, "p")
        warn.add("bill_to_address_from_client", "street", "the invoice has no address; used the client's billing "
                 "address")
    elif address.is_empty:
        warn.add("missing_address", "street", "no bill-to address on the invoice or its client")
    bill_to = Party(
        name=name,
        source_id=inv.customerid or "",
        contact=_join(inv.fname, inv.lname),
        email=client.email if client else "",
        phone=(client.bus_phone or client.mob_phone) if client else "",
        address=address,
    )
    ship_to = None
    if client is not None and not _client_address(client, "s").is_empty:
        ship_to = bill_to.model_copy(update={"address": _client_address(client, "s")})

    document = _build(
        Invoice, label,
        source=_source(DocumentKind.INVOICE, raw, ctx, inv.id, _required_updated(DocumentKind.INVOICE, raw)),
        is_credit_memo=total < 0,
        invoice_number=inv.invoice_number.strip(),
        po_number=inv.po_number.strip(),
        issue_date=inv.create_date,
        due_date=_due(inv.due_date, inv.create_date, inv.due_offset_days),
        currency=(inv.currency_code or inv.amount.code or "USD").upper(),
        seller=ctx.company,
        bill_to=bill_to,
        ship_to=ship_to,
        lines=tuple(lines),
        discount_percent=percent,
        discount_amount=discount,
        tax_total=tax_total,
        total=total,
        notes=inv.notes,
        terms=inv.terms,
    )
    return Normalized(document, warn.done())


# --- bills -----------------------------------------------------------------------------------------------


def _bill_tax(name: str, percent: Decimal | None, amount: schemas.Money | None, base: Decimal, label: str,
              where: str, number: int) -> Tax | None:
    if amount is None and not percent:
        return None
    money = amount.amount if amount is not None else _cents(base * (percent or _ZERO) / _HUNDRED)
    if not money and not percent:
        return None
    if amount is not None:
        return _tax(label, f"{where}.tax_amount{number}.amount", money, name, percent or _ZERO, money)
    return _tax(label, f"{where}.tax_percent{number}", percent or _ZERO, name, percent or _ZERO, money)


def _bill_vendor(bill: schemas.Bill, ctx: NormalizeContext, label: str) -> schemas.BillVendor:
    vendor = bill.vendor or ctx.vendor(bill.vendorid)
    if vendor is None:
        raise DataError(label, "vendorid", bill.vendorid,
                        "a vendor in the normalization context (or the bill listed with include[]=vendor)")
    return vendor


def _bill_line_sku(description: str, ctx: NormalizeContext) -> str:
    """The FreshBooks item SKU of a bill line: bill lines have no item field, only a description naming the item
    ("Hex nut M8" or "Hex nut M8 (HN-M8)"); "" when it names none."""
    found = ctx.sku(description) if description else ""
    if not found and description.endswith(")") and " (" in description:
        found = ctx.sku(description[:description.rindex(" (")])
    return found


def normalize_bill(raw: RawObject, ctx: NormalizeContext) -> Normalized[PurchaseOrder]:
    """A bill (with lines) → PurchaseOrder (for the 850 to the supplier)."""
    label = document_label(DocumentKind.BILL, raw)
    bill = ctx.document(schemas.Bill, DocumentKind.BILL, raw)
    vendor = _bill_vendor(bill, ctx, label)
    warn = _Warnings()

    ordered = sorted(enumerate(bill.lines), key=lambda pair: (pair[1].list_index is None,
                                                              pair[1].list_index or 0, pair[0]))
    lines: list[Line] = []
    for number, (index, item) in enumerate(ordered, start=1):
        where = f"lines[{index}]"
        unit_price, amount = item.unit_cost.amount, item.amount.amount
        qty = _quantity(item.quantity, unit_price, amount, where, warn)
        _check_line_amount(qty, unit_price, amount, where, warn)
        first = _bill_tax(item.tax_name1, item.tax_percent1, item.tax_amount1, amount, label, where, 1)
        base2 = amount + (first.amount if first and item.compounded_tax else _ZERO)
        second = _bill_tax(item.tax_name2, item.tax_percent2, item.tax_amount2, base2, label, where, 2)
        lines.append(_build(
            Line, label, line_number=number, description=item.description, quantity=qty, unit_price=unit_price,
            amount=amount, sku=_bill_line_sku(item.description, ctx),
            taxes=tuple(t for t in (first, second) if t is not None),
        ))

    subtotal = sum((line.amount for line in lines), _ZERO)
    if bill.amount is not None and abs(bill.amount.amount - subtotal) > _CENT:
        warn.add("totals_mismatch", "amount",
                 f"lines add up to {subtotal} but FreshBooks' bill subtotal is {bill.amount.amount}")
    line_taxes = sum((t.amount for line in lines for t in line.taxes), _ZERO)
    tax_total = bill.tax_amount.amount if bill.tax_amount is not None else line_taxes
    total = bill.total_amount.amount
    if abs(subtotal + tax_total - total) > _CENT:
        warn.add("totals_mismatch", "total_amount",
                 f"lines {subtotal} + tax {tax_total} = {subtotal + tax_total} but FreshBooks' bill total is "
                 f"{total}; the document keeps FreshBooks' total")

    document = _build(
        PurchaseOrder, label,
        source=_source(DocumentKind.BILL, raw, ctx, bill.id, _required_updated(DocumentKind.BILL, raw)),
        po_number=bill.id,
        bill_number=bill.bill_number.strip(),
        issue_date=bill.issue_date,
        due_date=_due(bill.due_date, bill.issue_date, bill.due_offset_days),
        currency=(bill.currency_code or bill.total_amount.code or "USD").upper(),
        buyer=ctx.company,
        seller=_vendor_party(vendor),
        lines=tuple(lines),
        tax_total=tax_total,
        total=total,
        notes=bill.overall_description,
    )
    return Normalized(document, warn.done())


# --- payments --------------------------------------------------------------------------------------------


def _payment_invoice(payment: schemas.Payment, ctx: NormalizeContext, label: str) -> schemas.Invoice | None:
    if payment.invoiceid is None:
        return None
    invoice = ctx.invoice(payment.invoiceid)
    if invoice is None:
        raise DataError(label, "invoiceid", payment.invoiceid,
                        "an invoice present in the normalization context (fetch it by id)")
    return invoice


def normalize_payment(raw: RawObject, ctx: NormalizeContext) -> Normalized[Remittance]:
    """A customer's invoice payment → Remittance (820): the customer pays us."""
    label = document_label(DocumentKind.PAYMENT, raw)
    payment = ctx.document(schemas.Payment, DocumentKind.PAYMENT, raw)
    warn = _Warnings()
    invoice = _payment_invoice(payment, ctx, label)
    client_id = payment.clientid or (invoice.customerid if invoice else None)
    client = ctx.client(client_id)
    if client is not None:
        payer = _client_party(client)
    elif invoice is not None and (invoice.organization or invoice.current_organization):
        payer = Party(name=invoice.organization or invoice.current_organization, source_id=client_id or "",
                      contact=_join(invoice.fname, invoice.lname))
    else:
        raise DataError(label, "clientid", client_id, "a client present in the normalization context")

    items: tuple[RemittanceItem, ...] = ()
    if invoice is None:
        warn.add("no_invoice", "invoiceid", "the payment is not applied to an invoice; no remittance detail")
    else:
        items = (_build(
            RemittanceItem, label, reference_number=invoice.invoice_number.strip() or invoice.id,
            source_id=invoice.id, document_date=invoice.create_date, amount_paid=payment.amount.amount,
            document_total=invoice.amount.amount,
        ),)
    document = _build(
        Remittance, label,
        source=_source(DocumentKind.PAYMENT, raw, ctx, payment.id, _required_updated(DocumentKind.PAYMENT, raw)),
        payment_date=payment.date,
        amount=payment.amount.amount,
        currency=(payment.amount.code or (invoice.currency_code if invoice else "") or "USD").upper(),
        method=payment.type,
        trace_number=payment.id,
        check_number=payment.transactionid.strip(),
        payer=payer,
        payee=ctx.company,
        items=items,
        notes=payment.note,
    )
    return Normalized(document, warn.done())


def _bill_payment_bill(payment: schemas.BillPayment, ctx: NormalizeContext, label: str) -> schemas.Bill:
    bill = ctx.bill(payment.billid)
    if bill is None:
        raise DataError(label, "billid", payment.billid, "a bill present in the normalization context "
                        "(fetch it by id)")
    return bill


def normalize_bill_payment(raw: RawObject, ctx: NormalizeContext, *, observed_at: dt.datetime
                           ) -> Normalized[Remittance]:
    """A bill payment → Remittance (820 to the supplier): we pay the vendor.

    FreshBooks gives bill payments no timestamp; ``observed_at`` (aware) is when the caller first saw this
    content, and becomes ``source.updated_at``.
    """
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    label = document_label(DocumentKind.BILL_PAYMENT, raw)
    payment = ctx.document(schemas.BillPayment, DocumentKind.BILL_PAYMENT, raw)
    bill = _bill_payment_bill(payment, ctx, label)
    vendor = _bill_vendor(bill, ctx, document_label(DocumentKind.BILL, {"id": bill.id}))
    warn = _Warnings()
    reference = bill.bill_number.strip()
    if not reference:
        reference = bill.id
        warn.add("missing_bill_number", "billid",
                 f"bill {bill.id} has no bill_number (the vendor's invoice number); used the bill id")
    item = _build(RemittanceItem, label, reference_number=reference, source_id=bill.id,
                  document_date=bill.issue_date, amount_paid=payment.amount.amount,
                  document_total=bill.total_amount.amount)
    document = _build(
        Remittance, label,
        source=_source(DocumentKind.BILL_PAYMENT, raw, ctx, payment.id, observed_at),
        payment_date=payment.paid_date,
        amount=payment.amount.amount,
        currency=(payment.amount.code or bill.currency_code or "USD").upper(),
        method=payment.payment_type,
        trace_number=payment.id,
        payer=ctx.company,
        payee=_vendor_party(vendor),
        items=(item,),
        notes=payment.note,
    )
    return Normalized(document, warn.done())


def normalize(kind: DocumentKind | str, raw: RawObject, ctx: NormalizeContext, *,
              observed_at: dt.datetime | None = None) -> Normalized[BusinessDocument]:
    """Dispatch on kind; ``observed_at`` is required for bill payments and ignored otherwise."""
    kind = DocumentKind(kind)
    result: Normalized[Any]
    if kind is DocumentKind.INVOICE:
        result = normalize_invoice(raw, ctx)
    elif kind is DocumentKind.BILL:
        result = normalize_bill(raw, ctx)
    elif kind is DocumentKind.PAYMENT:
        result = normalize_payment(raw, ctx)
    else:
        if observed_at is None:
            raise ValueError("a bill payment needs observed_at: FreshBooks gives it no timestamp")
        result = normalize_bill_payment(raw, ctx, observed_at=observed_at)
    return Normalized(result.document, result.warnings)


# --- state, routing keys, timestamps, versions -----------------------------------------------------------


def _vis_state(kind: DocumentKind, raw: RawObject) -> int:
    return fields.vis_state(kind.value, raw)


def _is_draft(raw: RawObject) -> tuple[bool, str]:
    status = raw.get("status")
    if status is not None and str(status).strip() == "1":
        return True, "status=1 (draft)"
    if status is None and str(raw.get("v3_status") or "").lower() == "draft":
        return True, "v3_status=draft"
    return False, ""


def document_state(kind: DocumentKind | str, raw: RawObject) -> tuple[State, str]:
    """(state, reason) from FreshBooks' read-only status fields.

    ``deleted`` (vis_state 1) wins over everything: the pipeline applies the partner's cancel policy. A draft
    invoice (status 1) was never sent to the customer, so it is not sent to the partner either, archived or not.
    ``archived`` (vis_state 2) is hidden in FreshBooks' UI but still a real document. Payment state (partial,
    paid) is not a lifecycle state.
    """
    kind = DocumentKind(kind)
    vis = _vis_state(kind, raw)
    if vis == 1:
        return "deleted", "vis_state=1: deleted in FreshBooks"
    if kind is DocumentKind.INVOICE:
        draft, why = _is_draft(raw)
        if draft:
            return "draft", f"{why}: not sent to the customer yet"
    if vis == 2:
        return "archived", "vis_state=2: archived in FreshBooks; still a real document"
    return "active", "vis_state=0"


def partner_keys(kind: DocumentKind | str, raw: RawObject, ctx: NormalizeContext) -> tuple[str, str, str]:
    """(source_id, organization, email) that ``PartnerDirectory.route`` matches on.

    Invoices and payments route by their client (the current organization name, which follows renames);
    bills and bill payments by their vendor. Unknown parts are "".
    """
    kind = DocumentKind(kind)
    label = document_label(kind, raw)
    if kind is DocumentKind.INVOICE:
        inv = ctx.document(schemas.Invoice, kind, raw)
        return _client_keys(inv.customerid, ctx, inv.current_organization or inv.organization)
    if kind is DocumentKind.PAYMENT:
        payment = ctx.document(schemas.Payment, kind, raw)
        invoice = ctx.invoice(payment.invoiceid)
        client_id = payment.clientid or (invoice.customerid if invoice else None)
        fallback = (invoice.current_organization or invoice.organization) if invoice else ""
        return _client_keys(client_id, ctx, fallback)
    if kind is DocumentKind.BILL:
        bill = ctx.document(schemas.Bill, kind, raw)
    else:
        bill = _bill_payment_bill(ctx.document(schemas.BillPayment, kind, raw), ctx, label)
    vendor = bill.vendor or ctx.vendor(bill.vendorid)
    if vendor is None:
        return bill.vendorid or "", "", ""
    return vendor.vendorid, vendor.vendor_name, vendor.primary_contact_email


def _client_keys(client_id: str | None, ctx: NormalizeContext, organization: str) -> tuple[str, str, str]:
    client = ctx.client(client_id)
    if client is None:
        return client_id or "", organization, ""
    return client.id, client.organization or organization, client.email


def updated_at(kind: DocumentKind | str, raw: RawObject) -> dt.datetime | None:
    """The aware UTC instant FreshBooks last updated this document; None for bill payments (no timestamp).

    Invoices use the invoice's own ``updated`` (not its lines'): it is what FreshBooks' ``updated_min/max``
    filter reads, so the pipeline's exact filtering agrees with the server's.
    """
    return fields.updated_at(DocumentKind(kind).value, raw)


#: Fields FreshBooks changes by itself (payments recorded, sending, archiving, bookkeeping) that change nothing
#: a partner receives. The lifecycle state that matters is hashed instead (see source_version).
_VOLATILE: dict[DocumentKind, frozenset[str]] = {
    DocumentKind.INVOICE: frozenset({
        "paid", "outstanding", "payment_status", "v3_status", "display_status", "status", "date_paid",
        "updated", "created_at", "version", "deposit_status", "autobill_status", "sentid", "vis_state", "ext_archive",
        "current_organization", "lock_status", "last_order_status",
    }),
    DocumentKind.BILL: frozenset({"paid", "outstanding", "status", "bill_payments", "created_at", "updated_at",
                                  "vis_state"}),
    DocumentKind.PAYMENT: frozenset({"updated", "vis_state"}),
    DocumentKind.BILL_PAYMENT: frozenset({"vis_state", "matched_with_expense"}),
}
_VOLATILE_LINE = frozenset({"updated"})


def _without(mapping: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    # A copy, then deletions: cheaper than filtering every key (this runs for every line of every version).
    copy = dict(mapping)
    for key in keys.intersection(copy):
        del copy[key]
    return copy


def source_version(kind: DocumentKind | str, raw: RawObject) -> str:
    """The content version in idempotency keys: a hash of the business content and the lifecycle state
    (active/archived count as one: archiving changes nothing a partner receives)."""
    kind = DocumentKind(kind)
    volatile = _VOLATILE[kind]
    content = _without(raw, volatile)
    if isinstance(content.get("lines"), list):
        content["lines"] = [_without(line, _VOLATILE_LINE) if isinstance(line, Mapping) else line
                            for line in content["lines"]]
    state, _ = document_state(kind, raw)
    content["__state__"] = "active" if state == "archived" else state
    return content_version(content)
