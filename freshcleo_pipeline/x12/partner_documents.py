"""Reading the business documents partners send us (810, 850, 820, 856) into data.

Owns the element positions of what a partner's set says: its number, date, currency and money, and, where the
normalized models fit (``Invoice`` for an 810, ``PurchaseOrder`` for an 850, ``Remittance`` for an 820), the
whole document. The positions are the ones our own maps write (``map_810.py``, ``map_850.py``, ``map_820.py``),
read back; a partner's set that says less (no N1 loop, no AMT) still reads, with what it lacks left empty.
An 856 has no model: its shipment number and date are read, nothing more.

Raises ``PartnerDocumentError`` naming the segment element, the value and what was expected when a set cannot
be read. Pure: the time a document counts as "updated" comes in as an argument. Must not do I/O or judge
whether a document is acceptable to the business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from freshcleo_pipeline.documents import (
    BusinessDocument,
    DocumentKind,
    Invoice,
    Line,
    Party,
    PurchaseOrder,
    Purpose,
    Remittance,
    RemittanceItem,
    SourceRef,
    Tax,
    content_version,
)
from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.x12.reader import ReadInterchange, ReadSet, element
from freshcleo_pipeline.x12.tokens import RawSegment

#: Transaction sets read here; any other set is recorded as one we have no reader for.
READ_SETS = ("810", "850", "820", "856")
#: Sets that acknowledge rather than carry business (never acknowledged themselves).
ACKNOWLEDGMENT_SETS = ("997", "999", "TA1")
_PURPOSE = {"00": Purpose.ORIGINAL, "05": Purpose.REPLACE, "01": Purpose.CANCEL}
#: Where a partner's document stands in FreshBooks terms (the models' ``SourceRef.kind``): a supplier's 810 is
#: a bill to us, a customer's 850 becomes our invoice, an 820 is a payment.
_KIND = {"810": DocumentKind.BILL, "850": DocumentKind.INVOICE, "820": DocumentKind.PAYMENT}
_ITEM_ID_QUALIFIERS = ("VP", "BP", "IN", "SK", "UP", "VN")


class PartnerDocumentError(FreshcleoError):
    """A partner's transaction set cannot be read: names the element, the value found and what was expected."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        super().__init__(f"{field}: got {value!r}; expected {expected}")
        self.field = field
        self.value = value
        self.expected = expected


@dataclass(frozen=True)
class PartnerDocument:
    """What one partner set says: the numbers, dates and money a person matches on, and the model if it fits."""

    transaction_set: str
    reference: str  # their invoice number (BIG02), PO number (BEG03), trace number (TRN02), shipment id (BSN02)
    document_date: dt.date | None
    currency: str | None
    total: Decimal | None
    document: BusinessDocument | None
    summary: dict[str, Any]  # further numbers worth showing (the PO an 810 answers, line count…)


def read_partner_document(st: ReadSet, *, partner_id: str, source_id: str,
                          received_at: dt.datetime) -> PartnerDocument:
    """One set read into data. ``source_id`` names it in the models (partner ISA13/GS06/ST02);
    ``received_at`` (aware) stands as its update time."""
    body = st.body
    if st.set_id not in READ_SETS:
        raise PartnerDocumentError("ST01", st.set_id, f"one of the sets we read: {', '.join(READ_SETS)}")
    if st.set_id == "856":
        bsn = _first(body, "BSN", "856")
        return PartnerDocument("856", element(bsn, 2), _date(bsn, 3), None, None, None,
                               {"purpose": element(bsn, 1)})
    source = SourceRef(kind=_KIND[st.set_id], account_id=partner_id, source_id=source_id,
                       version=content_version([list(s.elements) for s in st.segments]),
                       updated_at=received_at)
    try:
        if st.set_id == "810":
            return _invoice(body, source)
        if st.set_id == "850":
            return _purchase_order(body, source)
        return _remittance(body, source)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PartnerDocumentError(f"{st.set_id} {where}", first.get("input"), first["msg"]) from None


def _invoice(body: Sequence[RawSegment], source: SourceRef) -> PartnerDocument:
    big = _first(body, "BIG", "810")
    parties = _parties(body)
    lines = _lines(body, "IT1")
    tds = _first(body, "TDS", "810")
    total = _implied(tds, 1, 2)
    sac = next((s for s in body if s.tag == "SAC" and element(s, 1) == "A"), None)
    currency = _currency(body)
    document = Invoice(
        source=source, purpose=_PURPOSE.get(element(big, 8), Purpose.ORIGINAL),
        is_credit_memo=element(big, 7) == "CR", invoice_number=_required(big, 2), po_number=element(big, 4),
        issue_date=_required_date(big, 1), due_date=_due_date(body), currency=currency,
        seller=parties.get("RE") or parties.get("SE") or parties.get("SF") or Party(name=""),
        bill_to=parties.get("BT") or parties.get("BY") or Party(name=""), ship_to=parties.get("ST"),
        lines=lines, discount_amount=_implied(sac, 5, 2) if sac is not None else Decimal(0),
        tax_total=sum((t.amount for line in lines for t in line.taxes), Decimal(0)) + _header_tax(body),
        total=total)
    return PartnerDocument("810", document.invoice_number, document.issue_date, currency, total, document,
                           {"po_number": document.po_number, "lines": len(lines)})


def _purchase_order(body: Sequence[RawSegment], source: SourceRef) -> PartnerDocument:
    beg = _first(body, "BEG", "850")
    parties = _parties(body)
    lines = _lines(body, "PO1")
    amt = next((s for s in body if s.tag == "AMT" and element(s, 1) == "TT"), None)
    taxes = sum((t.amount for line in lines for t in line.taxes), Decimal(0)) + _header_tax(body)
    # Without AMT*TT (it is optional in the standard) the order is worth what its lines say.
    total = _decimal(amt, 2) if amt is not None else sum((line.amount for line in lines), Decimal(0)) + taxes
    currency = _currency(body)
    document = PurchaseOrder(
        source=source, purpose=_PURPOSE.get(element(beg, 1), Purpose.ORIGINAL), po_number=_required(beg, 3),
        issue_date=_required_date(beg, 5), due_date=_due_date(body), currency=currency,
        buyer=parties.get("BY") or parties.get("BT") or Party(name=""),
        seller=parties.get("SE") or parties.get("VN") or parties.get("RE") or Party(name=""),
        lines=lines, tax_total=taxes, total=total)
    return PartnerDocument("850", document.po_number, document.issue_date, currency, total, document,
                           {"lines": len(lines), "order_type": element(beg, 2)})


def _remittance(body: Sequence[RawSegment], source: SourceRef) -> PartnerDocument:
    bpr = _first(body, "BPR", "820")
    trn = _first(body, "TRN", "820")
    parties = _parties(body)
    items: list[RemittanceItem] = []
    for segment in body:
        if segment.tag == "RMR":
            items.append(RemittanceItem(reference_number=element(segment, 2), amount_paid=_decimal(segment, 4),
                                        document_total=_decimal(segment, 5) if element(segment, 5) else None))
        elif segment.tag == "DTM" and element(segment, 1) == "003" and items:
            items[-1] = items[-1].model_copy(update={"document_date": _date(segment, 2)})
    currency = _currency(body)
    amount = _decimal(bpr, 2)
    document = Remittance(
        source=source, payment_date=_required_date(bpr, 16), amount=amount, currency=currency,
        method=element(bpr, 4), trace_number=_required(trn, 2),
        payer=parties.get("PR") or Party(name=""), payee=parties.get("PE") or Party(name=""), items=tuple(items))
    return PartnerDocument("820", document.trace_number, document.payment_date, currency, amount, document,
                           {"items": [i.reference_number for i in items]})


def _first(body: Sequence[RawSegment], tag: str, set_id: str) -> RawSegment:
    for segment in body:
        if segment.tag == tag:
            return segment
    raise PartnerDocumentError(tag, None, f"a {tag} segment: the {set_id} requires it")


def _required(segment: RawSegment, position: int) -> str:
    value = element(segment, position)
    if not value:
        raise PartnerDocumentError(f"{segment.tag}{position:02d}", value, "a value: the document's identifier")
    return value


def _date(segment: RawSegment, position: int) -> dt.date | None:
    value = element(segment, position)
    if not value:
        return None
    if len(value) == 6 and value.isdigit():
        value = "20" + value  # YYMMDD (4010 DTM02 may be either width)
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])) if len(value) == 8 else _no_date(
            segment, position, value)
    except ValueError:
        return _no_date(segment, position, value)


def _no_date(segment: RawSegment, position: int, value: str) -> dt.date:
    raise PartnerDocumentError(f"{segment.tag}{position:02d}", value, "a real date CCYYMMDD")


def _required_date(segment: RawSegment, position: int) -> dt.date:
    found = _date(segment, position)
    if found is None:
        raise PartnerDocumentError(f"{segment.tag}{position:02d}", "", "the document's date, CCYYMMDD")
    return found


def _decimal(segment: RawSegment | None, position: int) -> Decimal:
    value = element(segment, position) if segment is not None else ""
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        tag = segment.tag if segment is not None else "?"
        raise PartnerDocumentError(f"{tag}{position:02d}", value, "a decimal number")
    return number


def _implied(segment: RawSegment | None, position: int, places: int) -> Decimal:
    """An N2 element: digits with an implied decimal point (TDS01 12500 = 125.00)."""
    value = element(segment, position) if segment is not None else ""
    digits = value.removeprefix("-")
    if not digits.isdigit():
        tag = segment.tag if segment is not None else "?"
        raise PartnerDocumentError(f"{tag}{position:02d}", value, f"digits with {places} implied decimals (N{places})")
    return Decimal(value).scaleb(-places)


def _currency(body: Sequence[RawSegment]) -> str:
    cur = next((s for s in body if s.tag == "CUR"), None)
    return element(cur, 2) if cur is not None and element(cur, 2) else "USD"


def _due_date(body: Sequence[RawSegment]) -> dt.date | None:
    itd = next((s for s in body if s.tag == "ITD"), None)
    return _date(itd, 6) if itd is not None else None


def _header_tax(body: Sequence[RawSegment]) -> Decimal:
    """Tax stated outside any line: a TXI before the first line or after the last line's loop ends (at CTT/TDS)."""
    total = Decimal(0)
    in_lines = False
    for segment in body:
        if segment.tag in ("IT1", "PO1"):
            in_lines = True
        elif segment.tag in ("TDS", "CTT"):
            in_lines = False
        elif segment.tag == "TXI" and not in_lines:
            total += _decimal(segment, 2)
    return total


def _parties(body: Sequence[RawSegment]) -> dict[str, Party]:
    """N1 loops by entity code (N101), with N3/N4 addresses."""
    found: dict[str, Party] = {}
    current: str | None = None
    for segment in body:
        if segment.tag == "N1":
            current = element(segment, 1)
            found[current] = Party(name=element(segment, 2), edi_id=element(segment, 4))
        elif segment.tag in ("N3", "N4") and current is not None:
            party = found[current]
            address = party.address
            if segment.tag == "N3":
                address = address.model_copy(update={"street": element(segment, 1), "street2": element(segment, 2)})
            else:
                address = address.model_copy(update={"city": element(segment, 1), "province": element(segment, 2),
                                                     "postal_code": element(segment, 3),
                                                     "country": element(segment, 4)})
            found[current] = party.model_copy(update={"address": address})
        elif segment.tag not in ("N2", "PER", "REF"):
            current = None
    return found


def _lines(body: Sequence[RawSegment], tag: str) -> tuple[Line, ...]:
    """IT1/PO1 loops: baseline item, PID descriptions and line taxes (TXI inside the loop)."""
    lines: list[dict[str, Any]] = []
    for segment in body:
        if segment.tag == tag:
            quantity, price = _decimal(segment, 2), _decimal(segment, 4)
            sku = ""
            for at in range(6, 26, 2):
                if element(segment, at) in _ITEM_ID_QUALIFIERS and element(segment, at + 1):
                    sku = element(segment, at + 1)
                    break
            number = element(segment, 1)
            lines.append({"line_number": int(number) if number.isdigit() else len(lines) + 1,
                          "quantity": quantity, "unit_price": price, "amount": quantity * price,
                          "unit": element(segment, 3) or "EA", "sku": sku, "name": "", "description": "",
                          "taxes": []})
        elif not lines:
            continue
        elif segment.tag == "PID":
            key = "name" if not lines[-1]["name"] else "description"
            lines[-1][key] = element(segment, 5)
        elif segment.tag == "TXI" and element(segment, 2):
            lines[-1]["taxes"].append(Tax(name=element(segment, 1), percent=_decimal(segment, 3)
                                          if element(segment, 3) else Decimal(0), amount=_decimal(segment, 2)))
        elif segment.tag in ("CTT", "TDS", "SAC", "AMT"):
            break
    return tuple(Line(**{**line, "taxes": tuple(line["taxes"])}) for line in lines)


def interchange_text(interchange: ReadInterchange) -> str:
    """One read interchange written out again with its own delimiters, for the validator (when a file holds
    several). Trailers are written from what was read: envelope count problems are the reader's warnings."""
    d = interchange.delimiters

    def text(tag: str, elements: Sequence[str]) -> str:
        return d.element.join((tag, *elements)) + d.segment

    parts = [text(interchange.isa.tag, interchange.isa.elements)]
    parts += [text(s.tag, s.elements) for s in interchange.ta1s]
    for group in interchange.groups:
        parts.append(text(group.gs.tag, group.gs.elements))
        parts += [text(s.tag, s.elements) for st in group.sets for s in st.segments]
        parts.append(text("GE", (str(len(group.sets)), group.control)))
    parts.append(text("IEA", (str(len(interchange.groups)), interchange.control)))
    return "".join(parts)
