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
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation, getcontext
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, GetPydanticSchema, ValidationError
from pydantic_core import PydanticCustomError, core_schema

from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks.fields import fields_of, timestamp_expected
from freshcleo_pipeline.freshbooks.timestamps import parse_timestamp

# --- value parsers ---------------------------------------------------------------------------------------


_ERROR = "freshcleo"


def _fail(expected: str) -> PydanticCustomError:
    # The message is the "expected" part of a DataError; parse() reads it back from the error.
    return PydanticCustomError(_ERROR, expected)


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
    try:
        if isinstance(exponent, int) and exponent < -_PLACES:
            # "12.5000000" is 12.5: drop trailing zeros beyond what documents hold, but never round a real digit.
            shortened = result.quantize(_QUANTUM)
            if shortened == result:
                result = shortened
        elif isinstance(exponent, int) and exponent > 0:
            result = result.quantize(Decimal(1))  # "1E+2" → 100, so no later str() prints an exponent
    except InvalidOperation:
        # More digits than Decimal's context holds ("1e400"): no amount is that long, and the field must be named.
        raise _fail(f"a decimal of at most {getcontext().prec} digits") from None
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


_ID_EXPECTED = "an id (integer or string)"


def _id(value: object) -> str:
    if isinstance(value, bool):
        raise _fail(_ID_EXPECTED)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise _fail(_ID_EXPECTED)


def _optional_id(value: object) -> str | None:
    # FreshBooks uses 0 (and null) for "no such object" in reference fields such as estimateid.
    if value is None or value == 0 or (isinstance(value, str) and value.strip() in ("", "0")):
        return None
    return _id(value)


_DATE_EXPECTED = "a date 'YYYY-MM-DD'"


def _date(value: object) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(_DATE_EXPECTED)


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


def _common_first(common: core_schema.CoreSchema, parser: Callable[[Any], Any], error_type: str,
                  expected: str) -> GetPydanticSchema:
    """``parser``, with the usual shape of a value read by ``common`` inside pydantic-core, without a Python call
    (this runs for every field of every line). ``common`` must give exactly what ``parser`` gives for what it
    accepts; anything else goes to ``parser``, and a failure of both is one error of ``error_type``."""
    schema = core_schema.union_schema(
        [common, core_schema.no_info_plain_validator_function(parser)], mode="left_to_right",
        custom_error_type=error_type, custom_error_message=expected)
    return GetPydanticSchema(lambda _source, _handler: schema)


# Two messages can end a decimal's parsing: the error type marks the field, and parse() asks _to_decimal which.
_DECIMAL_ERROR = "freshcleo_decimal"

# The usual shapes, read inside pydantic-core. A plain decimal string with at most _PLACES decimals: what
# _to_decimal returns as Decimal(text).
_PLAIN_DECIMAL = core_schema.chain_schema([
    core_schema.str_schema(strict=True, pattern=rf"^-?[0-9]+(?:\.[0-9]{{1,{_PLACES}}})?$"),
    core_schema.decimal_schema(),
])
# None as "": None passes, then a strict string check refuses it and its on-error default is "".
_NONE_AS_EMPTY = core_schema.chain_schema([
    core_schema.none_schema(),
    core_schema.with_default_schema(core_schema.str_schema(strict=True), default="", on_error="default"),
])
# A positive integer id is its decimal text (strict: a bool is no id); 0, negatives and strings go to the parser.
_POSITIVE_INT_ID = core_schema.chain_schema([
    core_schema.int_schema(strict=True, gt=0), core_schema.str_schema(coerce_numbers_to_str=True)])
_ISO_DATE = core_schema.chain_schema([
    core_schema.str_schema(strict=True, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), core_schema.date_schema()])


def _or_none(schema: core_schema.CoreSchema) -> core_schema.CoreSchema:
    return core_schema.union_schema([schema, core_schema.none_schema()], mode="left_to_right")


Dec = Annotated[Decimal, _common_first(_PLAIN_DECIMAL, _to_decimal, _DECIMAL_ERROR, "a decimal string")]
OptDec = Annotated[Decimal | None, _common_first(
    _or_none(_PLAIN_DECIMAL), _optional_decimal, _DECIMAL_ERROR, "a decimal string")]
Text = Annotated[str, _common_first(
    core_schema.union_schema([core_schema.str_schema(strict=True), _NONE_AS_EMPTY], mode="left_to_right"),
    _text, _ERROR, "a string")]
Id = Annotated[str, _common_first(_POSITIVE_INT_ID, _id, _ERROR, _ID_EXPECTED)]
OptId = Annotated[str | None, _common_first(_POSITIVE_INT_ID, _optional_id, _ERROR, _ID_EXPECTED)]
Date = Annotated[dt.date, _common_first(_ISO_DATE, _date, _ERROR, _DATE_EXPECTED)]
OptDate = Annotated[dt.date | None, _common_first(_or_none(_ISO_DATE), _optional_date, _ERROR, _DATE_EXPECTED)]
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


def _decimal_expected(value: object) -> str:
    try:
        _to_decimal(value)
    except PydanticCustomError as exc:
        return exc.message()
    return "a decimal string"  # not reached: the field refused the value, and so does _to_decimal


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
        if first["type"] == _DECIMAL_ERROR:
            expected = _decimal_expected(first.get("input"))
        else:
            expected = str(first["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
        raise DataError(document, field_path(loc), value, expected) from None
