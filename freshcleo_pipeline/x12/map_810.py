"""Invoice → 810 (Invoice) transaction-set body, the segments between ST and SE.

Owns the mapping choices below; formatting and hygiene go through ``MappingContext``. Must not build the
envelope or count segments (``writer.py`` does).

| Segment | Element(s) | From ``Invoice`` | Notes |
|---|---|---|---|
| BIG | 01 / 02 | issue_date / invoice_number | identifier: refused if > 22 chars or unrepresentable |
| BIG | 04 | po_number | only when FreshBooks has one |
| BIG | 07 | is_credit_memo | `DI` debit invoice; a credit memo per the partner guide's convention (below) |
| BIG | 08 | purpose | `00` original, `05` replace, `01` cancellation (DE 353) |
| CUR | 01 / 02 | currency | only when not USD; `SE` (selling party) and the ISO code |
| N1 loop | N1/N3/N4 | bill_to (`BT`), ship_to (`ST`, if any), seller (`RE`, remit-to) | see ``parties.py`` |
| ITD | 01 02 06 07 | due_date | `01` basic, `3` invoice date basis, net due date, net days |
| IT1 | 01-04, 06/07 | line_number, quantity, unit (`EA` if unknown), unit_price, `VP` + sku | R formatting |
| TXI | 01 02 03 | each line tax | type from the tax name (VAT→VA, GST/HST→GS, …, else TX), amount, percent |
| PID | 01, 05 | line name, then description | `F` free form; shortened to 80 at a word boundary |
| TDS | 01 | total | N2, the FreshBooks invoice amount to the cent |
| TXI | 01 02 | tax_total - Σ line taxes | header `TX`, only when invoice-level tax exists |
| SAC | 01 02 05 | discount_amount | `A` allowance, `C310` discount, N2 amount; only when not zero |
| CTT | 01 | number of lines | always, `0` for a line-less invoice |

Line-less invoices: the 810 standard makes the IT1 loop optional (reference §5: "TDS is mandatory; the IT1
loop is optional"), so an invoice without lines is written as BIG … TDS … CTT*0 and is valid. A partner guide
that demands IT1 is a partner rule, not ours to impose.

Credit memos (FreshBooks: an invoice with a negative total). `CR` with FreshBooks' negative amounts would be a
double negative: a receiver applying the CR sign books a debit. The guide's ``credit_memo`` convention picks one
reading: ``cr_positive`` (default) writes BIG07 `CR` with every line value, tax, discount and the total negated
to positive (the negative factor of each line, quantity or unit price, loses its sign); ``di_negative`` writes
BIG07 `DI` with the amounts as FreshBooks holds them, negative.

Totals: TDS01 must equal Σ(quantity x unit price) - discount + taxes within one cent per line
(``totals.py``); otherwise the invoice is refused with an ``X12MappingError``, because the receiver's
validator would reject it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from operator import attrgetter

from freshcleo_pipeline.documents import Invoice, Line
from freshcleo_pipeline.x12 import totals
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.guide import CreditMemoConvention
from freshcleo_pipeline.x12.items import (
    PURPOSE_CODE,
    currency_code,
    line_segments,
    line_tax_total,
    terms_segment,
)
from freshcleo_pipeline.x12.parties import party_loop
from freshcleo_pipeline.x12.segments import Segment, seg


def map_invoice(doc: Invoice, ctx: MappingContext) -> list[Segment]:
    doc, transaction_type = _as_guide_reads(doc, ctx)
    _check_total(doc, ctx)
    out: list[Segment] = [seg(
        "BIG",
        ctx.date(doc.issue_date),
        ctx.ident(doc.invoice_number, "BIG02", "invoice_number"),
        "",
        ctx.ident(doc.po_number, "BIG04", "po_number") if doc.po_number.strip() else "",
        "",
        "",
        transaction_type,
        PURPOSE_CODE[doc.purpose],
    )]
    if doc.currency.strip().upper() != "USD":
        out.append(seg("CUR", "SE", currency_code(ctx, doc.currency)))
    out += party_loop(ctx, "BT", doc.bill_to, "bill_to")
    if doc.ship_to is not None:
        out += party_loop(ctx, "ST", doc.ship_to, "ship_to")
    out += party_loop(ctx, "RE", doc.seller, "seller")
    out += terms_segment(ctx, doc.issue_date, doc.due_date)
    line_segments(ctx, "IT1", doc.lines, out, taxes_first=True)
    out.append(seg("TDS", ctx.n(doc.total, "TDS01", "total")))
    header_tax = doc.tax_total - line_tax_total(doc.lines)
    if header_tax:
        out.append(seg("TXI", "TX", ctx.r(header_tax, "TXI02", "tax_total")))
    if doc.discount_amount:
        out.append(seg("SAC", "A", "C310", "", "", ctx.n(doc.discount_amount, "SAC05", "discount_amount")))
    out.append(seg("CTT", ctx.n(len(doc.lines), "CTT01", "lines")))
    return out


_QUANTITY, _UNIT_PRICE = attrgetter("quantity"), attrgetter("unit_price")


def _check_total(doc: Invoice, ctx: MappingContext) -> None:
    subtotal, count = totals.lines_total(zip(map(_QUANTITY, doc.lines), map(_UNIT_PRICE, doc.lines), strict=True))
    fits, computed, allowed = _total_fits(doc.total, subtotal, count, doc.tax_total, doc.discount_amount)
    if not fits:
        raise ctx.fail("total", str(doc.total),
                       f"Σ(quantity x unit price) - discount + taxes = {computed} (± {allowed}); the 810 TDS "
                       "must add up")


# Pure arithmetic on five numbers, which repeat for the documents of a customer: remembered.
@lru_cache(maxsize=4096)
def _total_fits(total: Decimal, subtotal: Decimal, count: int, tax_total: Decimal, discount: Decimal
                ) -> tuple[bool, Decimal, Decimal]:
    computed, allowed = totals.expected_from_subtotal(subtotal, count, taxes=tax_total,
                                                      allowances=totals.cents(discount))
    return totals.agrees(total, computed, allowed), computed, allowed


def _as_guide_reads(doc: Invoice, ctx: MappingContext) -> tuple[Invoice, str]:
    """The invoice with the signs the partner's credit-memo convention expects, and its BIG07."""
    if not doc.is_credit_memo or ctx.guide.credit_memo is CreditMemoConvention.DI_NEGATIVE:
        return doc, "DI" if not doc.is_credit_memo or doc.total < 0 else "CR"
    if doc.total >= 0:
        return doc, "CR"  # already positive: CR alone says it is a credit
    return doc.model_copy(update={
        "lines": tuple(_negated(line) for line in doc.lines),
        "discount_amount": -doc.discount_amount, "tax_total": -doc.tax_total, "total": -doc.total,
    }), "CR"


def _negated(line: Line) -> Line:
    quantity, unit_price = line.quantity, line.unit_price
    if unit_price < 0 < quantity:
        unit_price = -unit_price
    else:
        quantity = -quantity
    return line.model_copy(update={
        "quantity": quantity, "unit_price": unit_price, "amount": -line.amount,
        "taxes": tuple(t.model_copy(update={"amount": -t.amount}) for t in line.taxes),
    })
