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
| REF | 01 / 02 | corrects_trace, check_number | `TN` the first trace of a corrected payment; `CK` check/EFT ref |
| CUR | 01 / 02 | currency | only when not USD; `PR` (payer) and the ISO code |
| N1 loop | N1/N3/N4 | payer (`PR`), payee (`PE`) | see ``parties.py`` |
| ENT | 01 | item position | one ENT loop per settled invoice or bill, numbered from 1 |
| RMR | 01-05 | reference_number, amount_paid, document_total | `IV` seller's invoice number, `PI` pay item |
| DTM | 01 / 02 | document_date | `003` invoice date, when known |

A remittance without items is valid: the ENT loop is optional (reference §7).

Corrections. An 820 has no purpose code, so a second 820 for one payment reads as a second payment. A delivered
payment that changed or was deleted is therefore corrected (partner policy ``reverse_and_resend``) by:

| 820 | BPR03 | TRN02 | REF*TN | RMR04 |
|---|---|---|---|---|
| reversal (purpose ``cancel``) | `D`: takes back what the reversed 820 credited | new trace | first trace | negated |
| resend (purpose ``replace``) | `C` | new trace | first trace | as paid now |

BPR02 stays the positive magnitude with BPR03 saying the direction (DE 478 `C`/`D`, reference §7), RMR04 carries
the sign (R allows `-`, reference §3), so BPR02 x (-1 for `D`) = Σ RMR04 holds for both. Each 820 gets its own
TRN02 (TRN01 `1` "uniquely identifies this transaction") and names the payment's first trace in the header REF,
the segment IBM's 820 convention calls "the secondary location for the payment trace number"
(https://www.ibm.com/docs/en/SSRJDU/business_transaction_intelligence/reference/bti_EDI_820_Payment.html); the
trace numbers come from the caller (the outbox), the mapping only writes them.
"""

from __future__ import annotations

from decimal import Decimal

from freshcleo_pipeline.documents import Purpose, Remittance
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
    applied = sum((item.amount_paid for item in doc.items), Decimal(0))
    if doc.items and applied != doc.amount:
        raise ctx.fail("amount", str(doc.amount), f"the amounts paid on the items, {applied}: a receiver moves "
                       "BPR02 and applies the RMR04 amounts, which must be the same money")
    reversal = doc.purpose is Purpose.CANCEL
    sign = -1 if reversal else 1
    out: list[Segment] = [
        seg("BPR", "I", ctx.r(doc.amount, "BPR02", "amount"), "D" if reversal else "C", payment_method(doc.method),
            *([""] * 11), ctx.date(doc.payment_date)),
        seg("TRN", "1", ctx.ident(doc.trace_number, "TRN02", "trace_number")),
    ]
    if doc.currency.strip().upper() != "USD":
        out.append(seg("CUR", "PR", currency_code(ctx, doc.currency)))
    if doc.corrects_trace:
        out.append(seg("REF", "TN", ctx.ident(doc.corrects_trace, "REF02", "corrects_trace")))
    if doc.check_number:
        out.append(seg("REF", "CK", ctx.ident(doc.check_number, "REF02", "check_number")))
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
            ctx.r(sign * item.amount_paid, "RMR04", f"{field}.amount_paid"),
            ctx.r(item.document_total, "RMR05", f"{field}.document_total") if item.document_total is not None
            else "",
        ))
        if item.document_date is not None:
            out.append(seg("DTM", "003", ctx.date(item.document_date)))
    return out
