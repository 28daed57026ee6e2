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
