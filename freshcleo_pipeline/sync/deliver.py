"""Stage 4: upload every rendered, valid interchange not yet confirmed in Cleo, and record the receipt.

Picks all undelivered interchanges, not only this run's: a run that crashed after rendering, or between
upload and receipt, is completed by the next one. The Cleo client looks at the folder before sending again
(same name with the same size and digest = already delivered), so that crash never makes a second file.
Each interchange's text is checked against the digest stored when it was validated. Failures are recorded per file; the
stage raises at the end if any file could not be delivered, so the run shows it and retries apply.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import audit, outbox
from freshcleo_pipeline.ledger.outbox import Interchange
from freshcleo_pipeline.ledger.partner_documents import trail_kind
from freshcleo_pipeline.sync.context import SyncContext


class DeliveryError(FreshcleoError):
    """Some interchanges could not be delivered; they stay queued for the next run."""


@dataclass
class DeliverSummary:
    files: Counter[str] = field(default_factory=Counter)  # partner → files delivered
    documents: Counter[str] = field(default_factory=Counter)  # partner → documents delivered
    already_present: int = 0
    failed: list[str] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    acks: Counter[str] = field(default_factory=Counter)  # 997 | 999 | TA1 → acknowledgments we sent partners


def deliver(ctx: SyncContext) -> DeliverSummary:
    summary = DeliverSummary()
    with ctx.ledger.begin() as conn:
        queue = outbox.undelivered(conn)
    if not queue:
        return summary
    client = ctx.cleo()
    try:
        for interchange in queue:
            _deliver_one(ctx, client, interchange, summary)
    finally:
        client.close()
    if summary.failed:
        raise DeliveryError(f"{len(summary.failed)} interchange(s) not delivered, kept for the next run: "
                            + "; ".join(summary.failed[:10]))
    return summary


def deliver_acknowledgments(ctx: SyncContext, client: Any) -> DeliverSummary:
    """Upload the acknowledgments we owe partners (997, 999, TA1) that are stored but not confirmed in Cleo.

    The inbound stage calls it at the end of each poll so partners get their answer without waiting for the next
    sync; failures are reported in the summary, not raised (the next poll or sync sends them)."""
    summary = DeliverSummary()
    with ctx.ledger.begin() as conn:
        queue = outbox.undelivered(conn, transaction_sets=outbox.ACK_TRANSACTION_SETS)
    for interchange in queue:
        _deliver_one(ctx, client, interchange, summary)
    return summary


def _deliver_one(ctx: SyncContext, client: Any, interchange: Interchange, summary: DeliverSummary) -> None:
    partner = ctx.partners.get(interchange.partner_id)
    try:
        # The text was validated when it was rendered (invalid files never reach this queue); the digest proves
        # it is still that text.
        if hashlib.sha256(interchange.content.encode("utf-8")).hexdigest() != interchange.sha256:
            raise FreshcleoError(f"{interchange.file_name}: the stored X12 text no longer matches its digest")
        receipt = client.upload(partner.cleo.outbound, interchange.file_name, interchange.content.encode("utf-8"))
    except FreshcleoError as exc:
        message = f"{interchange.file_name} → {partner.cleo.outbound}: {exc}"
        summary.failed.append(message)
        ctx.log.error("delivery failed: %s", message)
        with ctx.ledger.begin() as conn:
            outbox.mark_failed(conn, interchange.id, str(exc))
            audit.record_many(conn, [{
                "kind": item.kind, "account_id": item.account_id, "source_id": item.source_id,
                "event": "delivery_failed", "partner_id": partner.id,
                "detail": {"file_name": interchange.file_name, "error": str(exc)[:500]}, "run_id": ctx.run_id}
                for item in outbox.items_of_interchange(conn, interchange.id)])
        return
    record = {"file_id": receipt.file.id, "folder": receipt.folder, "name": receipt.file.name,
              "size": receipt.file.size, "sha256": receipt.sha256, "outcome": receipt.outcome,
              "created": receipt.file.created.isoformat() if receipt.file.created else None}
    if interchange.transaction_set in outbox.ACK_TRANSACTION_SETS:
        _acknowledgment_sent(ctx, interchange, receipt.file.id, record, summary)
        return
    with ctx.ledger.begin() as conn:
        items = outbox.items_of_interchange(conn, interchange.id)
        outbox.mark_delivered(conn, interchange.id, cleo_file_id=receipt.file.id, receipt=record,
                              run_id=ctx.run_id)
        audit.record_many(conn, [{
            "kind": item.kind, "account_id": item.account_id, "source_id": item.source_id, "event": "delivered",
            "partner_id": partner.id,
            "detail": {"file_name": interchange.file_name, "isa13": interchange.isa13, "gs06": interchange.gs06,
                       "st02": item.st02, "cleo_file_id": receipt.file.id, "outcome": receipt.outcome},
            "run_id": ctx.run_id} for item in items])
    summary.files[partner.id] += 1
    summary.documents[partner.id] += len(items)
    summary.already_present += receipt.outcome == "already_present"
    summary.receipts.append({"partner": partner.id, "file": interchange.file_name, "documents": len(items),
                             "outcome": receipt.outcome})
    ctx.log.info("delivered %s to %s (%d documents, %s)", interchange.file_name, partner.cleo.outbound,
                 len(items), receipt.outcome)


def _acknowledgment_sent(ctx: SyncContext, interchange: Interchange, cleo_file_id: str, record: dict[str, Any],
                         summary: DeliverSummary) -> None:
    """An acknowledgment's interchange is in Cleo: mark it sent, on the trail of each set it answers."""
    with ctx.ledger.begin() as conn:
        outbox.mark_delivered(conn, interchange.id, cleo_file_id=cleo_file_id, receipt=record, run_id=ctx.run_id)
        outbox.mark_ack_sent(conn, interchange.id)
        events = []
        for ack in outbox.acks_of_interchange(conn, interchange.id):
            events += [{"kind": trail_kind(s["set"]), "account_id": ack.partner_id,
                        "source_id": f"{ack.their_isa13}/{s['gs06']}/{s['st02']}", "event": "ack_sent",
                        "partner_id": ack.partner_id, "run_id": ctx.run_id,
                        "detail": {"ack": ack.ack_kind, "status": s["status"], "file_name": interchange.file_name,
                                   "isa13": interchange.isa13, "cleo_file_id": cleo_file_id,
                                   "outcome": record["outcome"]}}
                       for s in ack.detail.get("sets", [])]
        audit.record_many(conn, events)
    summary.acks[interchange.transaction_set] += 1
    summary.receipts.append({"partner": interchange.partner_id, "file": interchange.file_name, "documents": 0,
                             "outcome": record["outcome"]})
    ctx.log.info("sent %s %s to %s (%s)", interchange.transaction_set, interchange.file_name,
                 interchange.partner_id, record["outcome"])
