"""Line-item detail shared by the 810 and 850 mappings: descriptions (PID), taxes (TXI), codes.

Owns how a ``Line``'s name and description become PID segments and how a ``Tax`` becomes a TXI, and the
purpose code table (BIG08 / BEG01). Must not build the baseline segment (IT1 / PO1): each mapping does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache

from freshcleo_pipeline.documents import Line, Purpose, Tax
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.segments import Segment, seg

#: Transaction set purpose (DE 353) for BIG08 and BEG01 (reference §5).
PURPOSE_CODE: dict[Purpose, str] = {Purpose.ORIGINAL: "00", Purpose.REPLACE: "05", Purpose.CANCEL: "01"}

#: Product id qualifier for the line's SKU without a guide: the seller's own part number (reference §5 example,
#: `VP`); a partner guide may ask for UP (UPC), VN (vendor's item number), BP (buyer's part number) or SK.
SKU_QUALIFIER = "VP"

#: Tax type (DE 963) from words in the FreshBooks tax name; anything else is `TX` (all taxes).
_TAX_WORDS: tuple[tuple[str, str], ...] = (
    ("VAT", "VA"), ("GST", "GS"), ("HST", "GS"), ("COUNTY", "CP"), ("CITY", "CT"), ("LOCAL", "LS"),
    ("STATE", "ST"), ("SALES", "ST"),
)
MAX_TAXES_PER_LINE = 10  # TXI repeat inside the IT1 loop


@lru_cache(maxsize=1024)  # a book uses a handful of tax names on every line
def tax_type(name: str) -> str:
    words = name.upper()
    for word, code in _TAX_WORDS:
        if word in words:
            return code
    return "TX"


def tax_segments(ctx: MappingContext, taxes: Iterable[Tax], field: str) -> list[Segment]:
    out: list[Segment] = []
    for index, tax in enumerate(taxes):
        out.append(seg("TXI", tax_type(tax.name), ctx.r(tax.amount, "TXI02", f"{field}.taxes[{index}].amount"),
                       ctx.r(tax.percent, "TXI03", f"{field}.taxes[{index}].percent")))
    if len(out) > MAX_TAXES_PER_LINE:
        raise ctx.fail(f"{field}.taxes", len(out), f"at most {MAX_TAXES_PER_LINE} taxes on a line (TXI)")
    return out


def description_segments(ctx: MappingContext, line: Line, field: str) -> list[Segment]:
    """One free-form PID for the name and one for the description, when they carry anything."""
    name = ctx.text(line.name, "PID05", f"{field}.name")
    description = ctx.text(line.description, "PID05", f"{field}.description")
    out: list[Segment] = [seg("PID", "F", "", "", "", name)] if name else []
    if description and description != name:
        out.append(seg("PID", "F", "", "", "", description))
    return out


def product_id(ctx: MappingContext, line: Line, ref: str, field: str) -> tuple[str, str]:
    if not line.sku.strip():
        return "", ""
    return ctx.guide.product_id_qualifier, ctx.ident(line.sku, ref, f"{field}.sku")


def baseline_item(ctx: MappingContext, tag: str, line: Line, field: str) -> Segment:
    """IT1 (810) or PO1 (850): both carry line number, quantity, unit, unit price, (basis), product id pair."""
    qualifier, sku = product_id(ctx, line, f"{tag}07", field)
    return seg(
        tag,
        ctx.ident(str(line.line_number), f"{tag}01", f"{field}.line_number"),
        ctx.r(line.quantity, f"{tag}02", f"{field}.quantity"),
        ctx.code(line.unit, f"{tag}03", f"{field}.unit", default="EA"),
        ctx.r(line.unit_price, f"{tag}04", f"{field}.unit_price"),
        "",
        qualifier,
        sku,
    )


def line_tax_total(lines: Iterable[Line]) -> Decimal:
    return sum((t.amount for line in lines for t in line.taxes), Decimal(0))


def currency_code(ctx: MappingContext, currency: str, field: str = "currency") -> str:
    code = ctx.code(currency, "CUR02", field)
    if len(code) != 3 or not code.isalpha():
        raise ctx.fail(field, currency, "an ISO 4217 currency code of three letters (CUR02)")
    return code


def net_days(issue: dt.date, due: dt.date) -> str:
    """ITD07 net days, only when it fits N0 1/3 and is not negative."""
    days = (due - issue).days
    return str(days) if 0 <= days <= 999 else ""


def terms_segment(ctx: MappingContext, issue: dt.date, due: dt.date | None) -> list[Segment]:
    """ITD: basic terms (01) from the invoice date (3) with the net due date and, when it fits, net days."""
    if due is None:
        return []
    return [seg("ITD", "01", "3", "", "", "", ctx.date(due), net_days(issue, due))]
