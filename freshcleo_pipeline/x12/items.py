"""Line-item detail shared by the 810 and 850 mappings: descriptions (PID), taxes (TXI), codes.

Owns how a ``Line``'s name and description become PID segments and how a ``Tax`` becomes a TXI, and the
purpose code table (BIG08 / BEG01). Must not build the baseline segment (IT1 / PO1): each mapping does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from itertools import chain
from operator import attrgetter

from freshcleo_pipeline.documents import Line, Purpose, Tax
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.segments import Segment, seg

_new_tuple = tuple.__new__  # segments built as the tuples they are, as ``seg`` does, without its call

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


# Labels of a line's tax fields, appended to the line's label only when an adjustment or error names one.
_TAX_PARTS = tuple((f".taxes[{i}].amount", f".taxes[{i}].percent") for i in range(MAX_TAXES_PER_LINE))


def tax_segments(ctx: MappingContext, taxes: Iterable[Tax], field: str, out: list[Segment] | None = None
                 ) -> list[Segment]:
    """A TXI per tax, appended to ``out`` when given (the mappings collect a whole set's body in one list)."""
    out = [] if out is None else out
    first = len(out)
    for index, tax in enumerate(taxes):
        amount, percent = (_TAX_PARTS[index] if index < MAX_TAXES_PER_LINE
                           else (f".taxes[{index}].amount", f".taxes[{index}].percent"))
        out.append(_tax_item(ctx, tax, field, amount, percent))
    if len(out) - first > MAX_TAXES_PER_LINE:
        raise ctx.fail(f"{field}.taxes", len(out) - first, f"at most {MAX_TAXES_PER_LINE} taxes on a line (TXI)")
    return out


def _tax_item(ctx: MappingContext, tax: Tax, field: str, amount: str, percent: str) -> Segment:
    # A book's taxes repeat on every line: remembered by their values (R values fit or raise: no adjustment,
    # so the labels need not be in the key).
    return ctx.remembered(("TXI", tax.name, tax.amount, tax.percent), _tax_segment, ctx, tax, field, amount,
                          percent)[0]


def _tax_segment(ctx: MappingContext, tax: Tax, field: str, amount: str, percent: str) -> tuple[Segment]:
    return (_new_tuple(Segment, ("TXI", (tax_type(tax.name), ctx.r(tax.amount, "TXI02", field, amount),
                                         ctx.r(tax.percent, "TXI03", field, percent)))),)


def description_segments(ctx: MappingContext, line: Line, field: str, out: list[Segment] | None = None
                         ) -> list[Segment]:
    """One free-form PID for the name and one for the description, when they carry anything; appended to
    ``out`` when given."""
    out = [] if out is None else out
    name = ctx.text(line.name, "PID05", field, ".name")
    description = ctx.text(line.description, "PID05", field, ".description")
    if name:
        out.append(_new_tuple(Segment, ("PID", ("F", "", "", "", name))))
    if description and description != name:
        out.append(_new_tuple(Segment, ("PID", ("F", "", "", "", description))))
    return out


#: IT101 … IT107 and PO101 … PO107, the refs ``baseline_item`` writes.
_BASELINE_REFS = {tag: tuple(f"{tag}{i:02d}" for i in range(1, 8)) for tag in ("IT1", "PO1")}


def product_id(ctx: MappingContext, line: Line, ref: str, field: str) -> tuple[str, str]:
    if not line.sku.strip():
        return "", ""
    return ctx.guide.product_id_qualifier, ctx.ident(line.sku, ref, field, ".sku")


def baseline_item(ctx: MappingContext, tag: str, line: Line, field: str) -> Segment:
    """IT1 (810) or PO1 (850): both carry line number, quantity, unit, unit price, (basis), product id pair."""
    # Remembered by the values it is built of: an item sold again in the same quantity at the same price.
    key = (tag, field, line.line_number, line.quantity, line.unit, line.unit_price, line.sku,
           ctx.guide.product_id_qualifier)
    return ctx.remembered(key, _baseline_item, ctx, tag, line, field)[0]


def _baseline_item(ctx: MappingContext, tag: str, line: Line, field: str) -> tuple[Segment]:
    refs = _BASELINE_REFS[tag]
    sku = line.sku
    qualifier, sku = ((ctx.guide.product_id_qualifier, ctx.ident(sku, refs[6], field, ".sku")) if sku.strip()
                      else ("", ""))
    return (_new_tuple(Segment, (tag, (
        ctx.ident(str(line.line_number), refs[0], field, ".line_number"),
        ctx.r(line.quantity, refs[1], field, ".quantity"),
        ctx.code(line.unit, refs[2], field, ".unit", default="EA"),
        ctx.r(line.unit_price, refs[3], field, ".unit_price"),
        "",
        qualifier,
        sku,
    ))),)


def line_segments(ctx: MappingContext, tag: str, lines: Iterable[Line], out: list[Segment], *,
                  taxes_first: bool) -> None:
    """Each line's baseline item (IT1 / PO1), TXI and PID segments, appended to ``out`` in its set's order:
    ``taxes_first`` for the 810 (IT1, TXI, PID), else the 850's (PO1, PID, TXI). Lines are labelled
    ``lines[i]`` in adjustments and errors."""
    # Remembered by the line's values (a frozen model compares and hashes by them) and its label: an item
    # invoiced again the same way, as on a recurring invoice, is one lookup.
    remembered, qualifier = ctx.remembered, ctx.guide.product_id_qualifier
    for index, line in enumerate(lines):
        field = _line_label(index)
        out += remembered((tag, taxes_first, field, line, qualifier), _line_segments, ctx, tag, line, field,
                          taxes_first)


@lru_cache(maxsize=1024)
def _line_label(index: int) -> str:
    return f"lines[{index}]"


def _line_segments(ctx: MappingContext, tag: str, line: Line, field: str, taxes_first: bool) -> list[Segment]:
    out = [baseline_item(ctx, tag, line, field)]
    if taxes_first:
        tax_segments(ctx, line.taxes, field, out)
        description_segments(ctx, line, field, out)
    else:
        description_segments(ctx, line, field, out)
        tax_segments(ctx, line.taxes, field, out)
    return out


def line_tax_total(lines: Iterable[Line]) -> Decimal:
    return sum(map(_AMOUNT, chain.from_iterable(map(_TAXES, lines))), Decimal(0))


_AMOUNT, _TAXES = attrgetter("amount"), attrgetter("taxes")


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
