"""Pydantic models of the FreshBooks API objects the product reads (the object inside ``response.result``).

Owns the parsing of FreshBooks values: money and quantity strings become ``Decimal`` (a float is refused, never
converted), ``YYYY-MM-DD`` strings become dates, timestamps become aware UTC through
:func:`freshcleo_pipeline.freshbooks.timestamps.parse_timestamp` in the zone ``fields.FIELDS`` gives the
kind, ids become strings. Unknown fields are ignored, so new API fields never break a sync;
the fields we use are strict, and :func:`parse` turns the first bad one into a
:class:`~freshcleo_pipeline.errors.DataError` naming the document, the field path and the value.

Must not: do I/O, compute business results (that is ``normalize.py``), or know about X12.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks.fields import fields_of, timestamp_expected
from freshcleo_pipeline.freshbooks.timestamps import parse_timestamp

# --- value parsers ---------------------------------------------------------------------------------------


def _fail(expected: str) -> PydanticCustomError:
    # The message is the "expected" part of a DataError; parse() reads it back from the error.
    return PydanticCustomError("freshcleo", expected)


_PLACES = 6  # the most decimal places a document amount holds
_QUANTUM = Decimal(1).scaleb(-_PLACES)


def _to_decimal(value: object) -> Decimal:
    if type(value) is str:
        # The usual case, a plain decimal string, without reading the digits back (this runs for every amount
        # of every line): no exponent, at most _PLACES decimals means nothing below to adjust.
        text = value.strip()
        if "e" not in text and "E" not in text and "_" not in text:
            try:
                result = Decimal(text)
            except InvalidOperation:
                raise _fail("a decimal string") from None
            if not result.is_finite():
                raise _fail("a finite decimal string")
            dot = text.find(".")
            if dot < 0 or len(text) - dot - 1 <= _PLACES:
                return result
    return _to_decimal_checked(value)


def _to_decimal_checked(value: object) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        # A float has already lost exactness; FreshBooks sends strings, so a float means a broken producer.
        raise _fail("a decimal string")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise _fail("a decimal string") from None
    else:
        raise _fail("a decimal string")
    if not result.is_finite():
        raise _fail("a finite decimal string")
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_PLACES:
        # "12.5000000" is 12.5: drop trailing zeros beyond what documents hold, but never round a real digit.
        shortened = result.quantize(_QUANTUM)
        if shortened == result:
            result = shortened
    elif isinstance(exponent, int) and exponent > 0:
        result = result.quantize(Decimal(1))  # "1E+2" → 100, so no later str() prints an exponent
    return result


def _optional_decimal(value: object) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _to_decimal(value)


def _text(value: object) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        raise _fail("a string")
    if isinstance(value, str | int):
        return str(value)
    raise _fail("a string")


def _id(value: object) -> str:
    if isinstance(value, bool):
        raise _fail("an id (integer or string)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise _fail("an id (integer or string)")


def _optional_id(value: object) -> str | None:
    # FreshBooks uses 0 (and null) for "no such object" in reference fields such as estimateid.
    if value is None or value == 0 or (isinstance(value, str) and value.strip() in ("", "0")):
        return None
    return _id(value)


def _date(value: object) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail("a date 'YYYY-MM-DD'")


def _optional_date(value: object) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _date(value)


def _timestamp(kind: str) -> Any:
    """The parser of a kind's timestamps, in the zone the field table gives that kind."""
    zone = fields_of(kind).zone

    def parse_one(value: object) -> dt.datetime | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            try:
                return parse_timestamp(value, zone)
            except ValueError:
                pass
        raise _fail(timestamp_expected(zone))

    return parse_one


Dec = Annotated[Decimal, BeforeValidator(_to_decimal)]
OptDec = Annotated[Decimal | None, BeforeValidator(_optional_decimal)]
Text = Annotated[str, BeforeValidator(_text)]
Id = Annotated[str, BeforeValidator(_id)]
OptId = Annotated[str | None, BeforeValidator(_optional_id)]
Date = Annotated[dt.date, BeforeValidator(_date)]
OptDate = Annotated[dt.date | None, BeforeValidator(_optional_date)]
# Timestamps per kind; the zone of each comes from ``fields.FIELDS`` (reference §10).
InvoiceTime = Annotated[dt.datetime | None, BeforeValidator(_timestamp("invoices"))]
PaymentTime = Annotated[dt.datetime | None, BeforeValidator(_timestamp("payments"))]
ClientTime = Annotated[dt.datetime | None, BeforeValidator(_timestamp("clients"))]
ItemTime = Annotated[dt.datetime | None, BeforeValidator(_timestamp("items"))]
BillTime = Annotated[dt.datetime | None, BeforeValidator(_timestamp("bills"))]
VendorTime = Annotated[dt.datetime | None, BeforeValidator(_timestamp("bill_vendors"))]


class _Api(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Money(_Api):
    """``{"amount": "12.50", "code": "USD"}``."""

    amount: Dec
    code: Text = ""


# --- accounting objects ----------------------------------------------------------------------------------


class InvoiceLine(_Api):
    lineid: OptId = None
    type: int = 0  # 0 normal, 1 expense line
    name: Text = ""
    description: Text = ""
    qty: OptDec = None
    unit_cost: Money
    amount: Money  # qty x unit_cost, before discount and tax
    taxName1: Text = ""  # FreshBooks' own camelCase names
    taxAmount1: OptDec = None  # a percent rate, not money
    taxName2: Text = ""
    taxAmount2: OptDec = None
    compounded_tax: bool = False
    # A line's own ``updated`` is not read: the invoice's ``updated`` is the one the API filters on.


class Invoice(_Api):
    id: Id
    invoice_number: Text = ""
    customerid: OptId = None
    create_date: Date
    due_date: OptDate = None
    due_offset_days: int | None = None
    created_at: InvoiceTime = None
    updated: InvoiceTime = None
    currency_code: Text = ""
    po_number: Text = ""
    discount_value: OptDec = None  # percent
    discount_total: Money | None = None  # negative
    amount: Money  # the invoice total, tax included
    paid: Money | None = None
    outstanding: Money | None = None
    status: int | None = None
    v3_status: Text = ""
    payment_status: Text = ""
    display_status: Text = ""
    fname: Text = ""
    lname: Text = ""
    organization: Text = ""
    current_organization: Text = ""
    street: Text = ""
    street2: Text = ""
    city: Text = ""
    province: Text = ""
    code: Text = ""  # postal code
    country: Text = ""
    notes: Text = ""
    terms: Text = ""
    vis_state: int = 0
    lines: tuple[InvoiceLine, ...]


class BillCategory(_Api):
    category: Text = ""


class BillLine(_Api):
    id: OptId = None
    list_index: int | None = None
    description: Text = ""
    quantity: OptDec = None
    unit_cost: Money
    amount: Money
    total_amount: Money | None = None
    category: BillCategory | None = None
    tax_name1: Text = ""
    tax_percent1: OptDec = None
    tax_amount1: Money | None = None
    tax_name2: Text = ""
    tax_percent2: OptDec = None
    tax_amount2: Money | None = None
    compounded_tax: bool = False


class BillVendor(_Api):
    vendorid: Id
    vendor_name: Text = ""
    account_number: Text = ""
    currency_code: Text = ""
    phone: Text = ""
    primary_contact_email: Text = ""
    primary_contact_first_name: Text = ""
    primary_contact_last_name: Text = ""
    street: Text = ""
    street2: Text = ""
    city: Text = ""
    province: Text = ""
    postal_code: Text = ""
    country: Text = ""
    created_at: VendorTime = None
    updated_at: VendorTime = None
    vis_state: int = 0


class BillPayment(_Api):
    id: Id
    billid: Id
    amount: Money
    paid_date: Date
    payment_type: Text = ""
    note: Text = ""
    vis_state: int = 0


class Bill(_Api):
    id: Id
    vendorid: OptId = None
    vendor: BillVendor | None = None  # only with include[]=vendor
    bill_number: Text = ""  # the vendor's own invoice number
    issue_date: Date
    due_date: OptDate = None
    due_offset_days: int | None = None
    currency_code: Text = ""
    overall_description: Text = ""
    amount: Money | None = None  # subtotal, tax excluded
    tax_amount: Money | None = None
    total_amount: Money
    paid: Money | None = None
    outstanding: Money | None = None
    status: Text = ""
    created_at: BillTime = None
    updated_at: BillTime = None
    vis_state: int = 0
    lines: tuple[BillLine, ...] = ()


class Payment(_Api):
    id: Id
    invoiceid: OptId = None
    clientid: OptId = None
    creditid: OptId = None
    amount: Money
    date: Date
    type: Text = ""
    note: Text = ""
    transactionid: Text = ""
    from_credit: bool = False
    updated: PaymentTime = None
    vis_state: int = 0


class Client(_Api):
    id: Id
    fname: Text = ""
    lname: Text = ""
    organization: Text = ""
    email: Text = ""
    currency_code: Text = ""
    p_street: Text = ""
    p_street2: Text = ""
    p_city: Text = ""
    p_province: Text = ""
    p_code: Text = ""
    p_country: Text = ""
    s_street: Text = ""
    s_street2: Text = ""
    s_city: Text = ""
    s_province: Text = ""
    s_code: Text = ""
    s_country: Text = ""
    bus_phone: Text = ""
    mob_phone: Text = ""
    updated: ClientTime = None
    vis_state: int = 0


class Item(_Api):
    id: Id
    name: Text = ""
    description: Text = ""
    sku: Text = ""
    unit_cost: Money | None = None
    updated: ItemTime = None
    vis_state: int = 0


# --- parsing ---------------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)

_MAX_SHOWN = 80


def document_label(kind: str, raw: object) -> str:
    """'invoice 31008': how errors and warnings name a raw document (kind as in DocumentKind, '_' → ' ')."""
    ident: object = None
    if isinstance(raw, Mapping):
        ident = raw.get("id", raw.get("vendorid", raw.get("invoiceid")))
    return f"{kind.replace('_', ' ')} {ident if ident is not None else '(no id)'}"


def field_path(loc: tuple[int | str, ...]) -> str:
    """('lines', 3, 'unit_cost', 'amount') → 'lines[3].unit_cost.amount'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse(model: type[M], raw: object, document: str) -> M:
    """Validate one raw API object; the first bad field becomes a DataError naming path, value and expectation."""
    if not isinstance(raw, Mapping):
        raise DataError(document, "(document)", type(raw).__name__, "a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        if first["type"] == "missing":
            raise DataError(document, field_path(loc), None, "a value (the field is missing)") from None
        value = first.get("input")
        if isinstance(value, str) and len(value) > _MAX_SHOWN:
            value = value[:_MAX_SHOWN] + "…"
        elif isinstance(value, Mapping | list | tuple):
            value = f"<{type(value).__name__}>"
        expected = str(first["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
        raise DataError(document, field_path(loc), value, expected) from None
