"""Purchase order (a FreshBooks bill) → 850 (Purchase Order) transaction-set body, between ST and SE.

Owns the mapping choices below; formatting and hygiene go through ``MappingContext``. Must not build the
envelope or count segments.

| Segment | Element(s) | From ``PurchaseOrder`` | Notes |
|---|---|---|---|
| BEG | 01 | purpose | `00` original, `05` replace, `01` cancellation (DE 353) |
| BEG | 02 | — | `SA` stand-alone order |
| BEG | 03 / 05 | po_number / issue_date | identifier: refused if > 22 chars or unrepresentable |
| CUR | 01 / 02 | currency | only when not USD; `BY` (buying party) and the ISO code |
| REF | 01 / 02 | bill_number | `IV` seller's invoice number: the vendor's own number for the bill, when known |
| ITD | 01 02 06 07 | due_date | `01` basic, `3` invoice date basis, net due date, net days |
| TXI | 01 02 | tax_total - Σ line taxes | header `TX`, only when bill-level tax exists |
| N1 loop | N1/N3/N4 | buyer (`BY`, ourselves), seller (`SE`, the vendor) | see ``parties.py`` |
| PO1 | 01-04, 06/07 | line_number, quantity, unit (`EA` if unknown), unit_price, `VP` + sku | R formatting |
| PID | 01, 05 | line name, then description | `F` free form, in the PID loop |
| TXI | 01 02 03 | each line tax | after the PID loop, as the PO1 loop orders it |
| CTT | 01 | number of PO1 | |
| AMT | 01 / 02 | total | `TT`, R (explicit decimal), in the CTT loop |

A bill without lines cannot be an 850: the PO1 loop is mandatory (reference §6, "PO1 loop 1..100000"), so the
mapping raises ``X12MappingError`` on ``lines``. AMT*TT must equal Σ(quantity x unit price) + taxes within one
cent per line, else ``X12MappingError`` on ``total``.
"""

from __future__ import annotations

from freshcleo_pipeline.documents import PurchaseOrder
from freshcleo_pipeline.x12 import totals
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.items import (
    PURPOSE_CODE,
    currency_code,
    line_segments,
    line_tax_total,
    terms_segment,
)
from freshcleo_pipeline.x12.parties import party_loop
from freshcleo_pipeline.x12.segments import Segment, seg

PO_TYPE = "SA"


def map_purchase_order(doc: PurchaseOrder, ctx: MappingContext) -> list[Segment]:
    if not doc.lines:
        raise ctx.fail("lines", 0, "at least one line: the 850 requires a PO1 segment (PO1 loop minimum 1)")
    computed, allowed = totals.expected_total(((line.quantity, line.unit_price) for line in doc.lines),
                                              taxes=doc.tax_total)
    if not totals.agrees(doc.total, computed, allowed):
        raise ctx.fail("total", str(doc.total),
                       f"Σ(quantity x unit price) + taxes = {computed} (± {allowed}); the 850 AMT*TT must add up")
    out: list[Segment] = [seg(
        "BEG",
        PURPOSE_CODE[doc.purpose],
        PO_TYPE,
        ctx.ident(doc.po_number, "BEG03", "po_number"),
        "",
        ctx.date(doc.issue_date),
    )]
    if doc.currency.strip().upper() != "USD":
        out.append(seg("CUR", "BY", currency_code(ctx, doc.currency)))
    if doc.bill_number.strip():
        out.append(seg("REF", "IV", ctx.ident(doc.bill_number, "REF02", "bill_number")))
    out += terms_segment(ctx, doc.issue_date, doc.due_date)
    header_tax = doc.tax_total - line_tax_total(doc.lines)
    if header_tax:
        out.append(seg("TXI", "TX", ctx.r(header_tax, "TXI02", "tax_total")))
    out += party_loop(ctx, "BY", doc.buyer, "buyer")
    out += party_loop(ctx, "SE", doc.seller, "seller")
    line_segments(ctx, "PO1", doc.lines, out, taxes_first=False)
    out.append(seg("CTT", ctx.n(len(doc.lines), "CTT01", "lines")))
    out.append(seg("AMT", "TT", ctx.r(doc.total, "AMT02", "total")))
    return out
