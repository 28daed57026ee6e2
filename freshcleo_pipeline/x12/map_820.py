"""Remittance (payment or bill payment) → 820 (Payment Order/Remittance Advice) body, between ST and SE.

Owns the mapping choices below; formatting and hygiene go through ``MappingContext``. Must not build the
envelope or count segments. A customer payment and a bill payment map the same way; only who is payer
(``PR``) and payee (``PE``) differs, and the document already says that.

| Segment | Element(s) | From ``Remittance`` | Notes |
|---|---|---|---|
| BPR | 01 | — | `I` remittance information only: the money already moved outside EDI |
| BPR | 02 / 03 | amount | R; `C` credit |
| BPR | 04 | method | Check→`CHK`; ACH, bank transfer, EFT, direct deposit→`ACH`; wire→`FWT`; else `NON` |
| BPR | 16 | payment_date | BPR05-15 empty (no bank details with `I`) |
| TRN | 01 / 02 | trace_number | `1` current transaction trace; identifier, refused if > 30 (4010) |
| CUR | 01 / 02 | currency | only when not USD; `PR` (payer) and the ISO code |
| N1 loop | N1/N3/N4 | payer (`PR`), payee (`PE`) | see ``parties.py`` |
| ENT | 01 | item position | one ENT loop per settled invoice or bill, numbered from 1 |
| RMR | 01-05 | reference_number, amount_paid, document_total | `IV` seller's invoice number, `PI` pay item |
| DTM | 01 / 02 | document_date | `003` invoice date, when known |

A remittance without items is valid: the ENT loop is optional (reference §7).
"""

from __future__ import annotations

from freshcleo_pipeline.documents import Remittance
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.items import currency_code
from freshcleo_pipeline.x12.parties import party_loop
from freshcleo_pipeline.x12.segments import Segment, seg

_METHODS: tuple[tuple[str, str], ...] = (
    ("CHECK", "CHK"), ("CHEQUE", "CHK"), ("ACH", "ACH"), ("BANK TRANSFER", "ACH"), ("EFT", "ACH"),
    ("DIRECT DEPOSIT", "ACH"), ("WIRE", "FWT"),
)


def payment_method(method: str) -> str:
    words = " ".join(method.upper().split())
    for word, code in _METHODS:
        if word in words:
            return code
    return "NON"


def map_remittance(doc: Remittance, ctx: MappingContext) -> list[Segment]:
    out: list[Segment] = [
        seg("BPR", "I", ctx.r(doc.amount, "BPR02", "amount"), "C", payment_method(doc.method),
            *([""] * 11), ctx.date(doc.payment_date)),
        seg("TRN", "1", ctx.ident(doc.trace_number, "TRN02", "trace_number")),
    ]
    if doc.currency.strip().upper() != "USD":
        out.append(seg("CUR", "PR", currency_code(ctx, doc.currency)))
    out += party_loop(ctx, "PR", doc.payer, "payer")
    out += party_loop(ctx, "PE", doc.payee, "payee")
    for index, item in enumerate(doc.items):
        field = f"items[{index}]"
        out.append(seg("ENT", ctx.n(index + 1, "ENT01", field)))
        out.append(seg(
            "RMR",
            "IV",
            ctx.ident(item.reference_number, "RMR02", f"{field}.reference_number"),
            "PI",
            ctx.r(item.amount_paid, "RMR04", f"{field}.amount_paid"),
            ctx.r(item.document_total, "RMR05", f"{field}.document_total") if item.document_total is not None
            else "",
        ))
        if item.document_date is not None:
            out.append(seg("DTM", "003", ctx.date(item.document_date)))
    return out
