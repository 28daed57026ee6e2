"""The matching stage: each business document a partner sent, matched against FreshBooks and what we sent.

For every readable 810, 850 and 820 not matched yet (and every open result of the last ``RECHECK_DAYS``, since a
bill edited or an invoice issued in FreshBooks can settle it):

- a supplier's 810 against the 850 we delivered for its PO number (BIG04, our BEG03: the FreshBooks bill id), the
  FreshBooks bill as the last poll saw it, and the supplier's bill vendor → matched | mismatched | unmatched;
- a customer's 850 against the partner's FreshBooks client and the invoice carrying its PO number → answered |
  unanswered;
- a customer's 820 against FreshBooks' own figures of the invoices it names → reported (what FreshBooks does not
  show as paid yet is reported, never written: payments are FreshBooks' own).

The result is stored per document (``ledger/partner_matches``) and a change is written to the document's trail
and to the FreshBooks bill's or invoice's trail, so ``freshcleo trace`` shows it from either side. Then the opt-in
writes the result calls for (``sync/inbound_writes``). One document's failure is reported and never stops the
others; it is checked again next poll.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from freshcleo_pipeline.documents import Invoice, PurchaseOrder, Remittance
from freshcleo_pipeline.ledger import audit
from freshcleo_pipeline.ledger import partner_documents as ledger_documents
from freshcleo_pipeline.ledger import partner_matches as ledger_matches
from freshcleo_pipeline.ledger.partner_documents import PartnerDocumentRow
from freshcleo_pipeline.matching.customer import InvoiceStanding, match_customer_order, match_remittance
from freshcleo_pipeline.matching.results import MatchResult
from freshcleo_pipeline.matching.supplier import match_supplier_invoice
from freshcleo_pipeline.partners import Role, TradingPartner
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.inbound_writes import InboundWrites

RECHECK_DAYS = 30
MAX_PREVIEW = 50


@dataclass
class MatchSummary:
    results: Counter[str] = field(default_factory=Counter)  # "810 matched", "850 unanswered", …
    changed: int = 0
    new_mismatches: list[str] = field(default_factory=list)
    writes: Counter[str] = field(default_factory=Counter)  # "bill created", "estimate refused", …
    errors: list[str] = field(default_factory=list)
    preview: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Checked:
    """One document's result as the stage decided it, with what the writes need."""

    document: PartnerDocumentRow
    partner: TradingPartner
    model: Invoice | PurchaseOrder | Remittance
    result: MatchResult


def match_partner_documents(ctx: SyncContext, account_id: str) -> MatchSummary:
    """Match every partner document due (see the module docstring); returns what this run found."""
    summary = MatchSummary()
    since = ctx.now() - dt.timedelta(days=RECHECK_DAYS)
    with ctx.ledger.begin() as conn:
        due = ledger_matches.to_check(conn, since)
    writes = InboundWrites(ctx, account_id)
    try:
        for document in due:
            what = f"{document.transaction_set} {document.reference or '-'} from {document.partner_id}"
            try:
                checked = _check(ctx, writes, document)
                if checked is None:
                    continue
                try:
                    result = writes.apply(checked, summary)
                except Exception as exc:  # noqa: BLE001  the result stands; the write is tried again next poll
                    ctx.log.error("FreshBooks write for %s failed: %s", what, exc)
                    summary.errors.append(f"{what} (ISA13 {document.isa13}): FreshBooks write: {exc}")
                    result = dataclasses.replace(checked.result, detail={
                        **checked.result.detail, "freshbooks_write": {"state": "failed", "reason": str(exc)[:500]}})
                _store(ctx, account_id, checked, result, summary)
            except Exception as exc:  # noqa: BLE001  one document never stops the others; checked again next poll
                ctx.log.error("matching %s failed: %s", what, exc)
                summary.errors.append(f"{what} (ISA13 {document.isa13}): {type(exc).__name__}: {exc}")
    finally:
        writes.close()
    return summary


def _check(ctx: SyncContext, writes: InboundWrites, document: PartnerDocumentRow) -> Checked | None:
    try:
        partner = ctx.partners.get(document.partner_id)
    except Exception:  # noqa: BLE001  a partner gone from partners.yaml: its documents wait, reported
        raise LookupError(f"partner {document.partner_id!r} is no longer in partners.yaml") from None
    body = document.body if isinstance(document.body, dict) else {}
    try:
        if document.transaction_set == "810":
            invoice = Invoice.model_validate(body)
            return Checked(document, partner, invoice, _supplier_invoice(ctx, writes.account_id, partner, invoice))
        if document.transaction_set == "850":
            order = PurchaseOrder.model_validate(body)
            return Checked(document, partner, order, _customer_order(ctx, writes, partner, order))
        remittance = Remittance.model_validate(body)
        return Checked(document, partner, remittance, _remittance(ctx, writes.account_id, partner, remittance))
    except ValidationError as exc:
        raise ValueError(f"stored body does not read as a {document.transaction_set}: {exc.errors()[:1]}") from None


def _supplier_invoice(ctx: SyncContext, account_id: str, partner: TradingPartner, theirs: Invoice) -> MatchResult:
    po_number = theirs.po_number.strip()
    with ctx.ledger.begin() as conn:
        sent = ledger_matches.sent_document(conn, partner.id, "bill", account_id, po_number) if po_number else None
        current = ledger_matches.current_document(conn, "bill", account_id, po_number) if po_number else None
    bill = None
    if current is not None and current.body is not None and current.status not in ("deleted", "invalid"):
        bill = PurchaseOrder.model_validate(current.body)
    vendor_ok = None if current is None else current.partner_id == partner.id
    result = match_supplier_invoice(
        theirs, sent=PurchaseOrder.model_validate(sent.body) if sent is not None else None, bill=bill,
        vendor_ok=vendor_ok, tolerance=partner.tolerance)
    extra: dict[str, Any] = {}
    if sent is not None and sent.isa13 is not None:
        extra["our_isa13"] = f"{sent.isa13:09d}"
        extra["our_file"] = sent.file_name
    if current is not None and current.status == "deleted":
        extra["note"] = f"FreshBooks bill {po_number} is deleted"
    if partner.role is not Role.SUPPLIER:
        extra["note"] = f"{partner.id} is a {partner.role.value}: its 810 answers no purchase order of ours"
    return _with_detail(result, extra)


def _customer_order(ctx: SyncContext, writes: InboundWrites, partner: TradingPartner,
                    theirs: PurchaseOrder) -> MatchResult:
    with ctx.ledger.begin() as conn:
        current = ledger_matches.invoice_with_po(conn, writes.account_id, partner.id, theirs.po_number)
    invoice = Invoice.model_validate(current.body) if current is not None and current.body is not None else None
    client_id = writes.party_of(partner)
    return match_customer_order(theirs, invoice=invoice, client_id=client_id, tolerance=partner.tolerance)


def _remittance(ctx: SyncContext, account_id: str, partner: TradingPartner, theirs: Remittance) -> MatchResult:
    numbers = [item.reference_number for item in theirs.items]
    with ctx.ledger.begin() as conn:
        payloads = ledger_matches.invoice_payloads_by_number(conn, account_id, partner.id, numbers)
    standings = {number: _standing(payload) for number, payload in payloads.items()}
    return match_remittance(theirs, invoices=standings, tolerance=partner.tolerance)


def _money(value: Any) -> Decimal:
    amount = value.get("amount") if isinstance(value, dict) else value
    try:
        return Decimal(str(amount if amount not in (None, "") else "0"))
    except InvalidOperation:
        raise ValueError(f"FreshBooks money: got {amount!r}; expected a decimal amount") from None


def _standing(payload: dict[str, Any]) -> InvoiceStanding:
    """FreshBooks' own figures of an invoice: what it says is paid and outstanding."""
    amount = payload.get("amount")
    currency = (amount.get("code") if isinstance(amount, dict) else None) or payload.get("currency_code") or "USD"
    return InvoiceStanding(invoice_id=str(payload.get("id") or payload.get("invoiceid") or ""),
                           invoice_number=str(payload.get("invoice_number") or ""), total=_money(amount),
                           paid=_money(payload.get("paid")), outstanding=_money(payload.get("outstanding")),
                           currency=str(currency))


def _with_detail(result: MatchResult, extra: dict[str, Any]) -> MatchResult:
    return dataclasses.replace(result, detail={**result.detail, **extra}) if extra else result


def _store(ctx: SyncContext, account_id: str, checked: Checked, result: MatchResult, summary: MatchSummary) -> None:
    document, partner = checked.document, checked.partner
    differences = [d.to_json() for d in result.differences]
    now = ctx.now()
    with ctx.ledger.begin() as conn:
        before = ledger_matches.record(
            conn, document=document, status=result.status, differences=differences,
            freshbooks_kind=result.freshbooks_kind, freshbooks_id=result.freshbooks_id,
            our_reference=result.our_reference, our_isa13=result.detail.get("our_isa13"), detail=result.detail,
            now=now, run_id=ctx.run_id)
        if before is not None:
            detail = {"status": result.status, "summary": result.summary(), "differences": differences[:20],
                      "freshbooks": f"{result.freshbooks_kind} {result.freshbooks_id}" if result.freshbooks_id
                      else None, "our_reference": result.our_reference, "previous": before or None}
            audit.record(conn, kind=ledger_documents.trail_kind(document.transaction_set), account_id=partner.id,
                         source_id=document.source_id, event=f"match_{result.status}", partner_id=partner.id,
                         detail=detail, run_id=ctx.run_id, at=now)
            if result.freshbooks_id and result.freshbooks_kind in ("bill", "invoice"):
                event = f"partner_{document.transaction_set}_{result.status}"
                audit.record(conn, kind=result.freshbooks_kind, account_id=account_id,
                             source_id=result.freshbooks_id, event=event,
                             partner_id=partner.id, run_id=ctx.run_id, at=now,
                             detail={"partner_document": f"{partner.id}:{document.source_id}",
                                     "their_reference": document.reference, "summary": result.summary()})
    label = f"{document.transaction_set} {result.status}"
    summary.results[label] += 1
    if before is not None:
        summary.changed += 1
        if result.status == "mismatched":
            summary.new_mismatches.append(f"{partner.id} {document.transaction_set} {document.reference} "
                                          f"(ISA13 {document.isa13}): {result.summary()}")
    if len(summary.preview) < MAX_PREVIEW:
        summary.preview.append({"partner": partner.id, "set": document.transaction_set,
                                "reference": document.reference, "status": result.status,
                                "freshbooks": f"{result.freshbooks_kind or ''} {result.freshbooks_id or ''}".strip(),
                                "summary": result.summary()[:160]})
