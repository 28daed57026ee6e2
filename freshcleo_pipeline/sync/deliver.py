"""Stage 4: upload every rendered, valid interchange not yet confirmed in Cleo, and record the receipt.

Picks all undelivered interchanges, not only this run's: a run that crashed after rendering, or during an
upload, is completed by the next one. Cleo picks uploaded files up and routes them to the partner, so a file
missing from the folder proves nothing; the stage therefore never sends a file twice on its own judgement:

- ``uploading`` is committed before each upload request, so an upload a crash cut off is *looked for* by the
  next run (``CleoClient.look_for``), never sent again blindly;
- an upload whose answer was lost is looked for at once: our file in the folder → delivered; another file under
  the name → ``conflict`` (a person decides); no file → ``in_doubt``;
- an ``in_doubt`` interchange is proven delivered by the partner's acknowledgment (the inbound stage applies
  it), or, when none came within the partner's acknowledgment window, re-sent once per window under the same
  name and control numbers (``resend_in_doubt``), so a duplicate, if any, is recognisable by its ISA13.

Each interchange's text is checked against the digest stored when it was validated. Failures are recorded per
file; the stage raises at the end if any file could not be delivered, so the run shows it and retries apply.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.cleo.client import FileConflictError, UploadInDoubtError, UploadUncertainError
from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import audit, outbox
from freshcleo_pipeline.ledger.outbox import Interchange
from freshcleo_pipeline.ledger.partner_documents import trail_kind
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.doubts import window_hours


class DeliveryError(FreshcleoError):
    """Some interchanges could not be delivered; they stay queued for the next run."""


@dataclass
class DeliverSummary:
    files: Counter[str] = field(default_factory=Counter)  # partner → files delivered
    documents: Counter[str] = field(default_factory=Counter)  # partner → documents delivered
    already_present: int = 0
    failed: list[str] = field(default_factory=list)
    # Files whose partner is gone from partners.yaml: a setting for a person to restore, not a failure of this run
    # (each run would fail the same way until then). They wait, failed, and go once the partner is back.
    orphaned: list[str] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    acks: Counter[str] = field(default_factory=Counter)  # 997 | 999 | TA1 → acknowledgments we sent partners
    in_doubt: list[str] = field(default_factory=list)  # files whose upload may or may not have reached Cleo
    conflicts: list[str] = field(default_factory=list)  # files whose name another file holds in the folder
    resent: int = 0  # in-doubt files re-sent after their partner's acknowledgment window
    # Per partition day of the documents (a file may carry several days): each document counts under its own day,
    # so the days add up to ``documents``; a file counts under every day it carries a document of.
    documents_by_day: Counter[tuple[dt.date | None, str]] = field(default_factory=Counter)  # (day, partner) → docs
    files_by_day: Counter[tuple[dt.date | None, str]] = field(default_factory=Counter)  # (day, partner) → files


def deliver(ctx: SyncContext) -> DeliverSummary:
    summary = DeliverSummary()
    # Planning and rendering just stored this run's outbox rows and files, which the deliveries, the partitions'
    # figures and the reconciliation read back (see ``Ledger.refresh_statistics``).
    ctx.ledger.refresh_statistics(("outbox", "interchanges"))
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


def resend_in_doubt(ctx: SyncContext, client: Any) -> DeliverSummary:
    """Re-send, under the same name and control numbers, each in-doubt interchange whose partner did not
    acknowledge it within its acknowledgment window. Runs after the poll applied the acknowledgments it found,
    so a delivery proven by its 997 is never re-sent."""
    summary = DeliverSummary()
    now = ctx.now()
    with ctx.ledger.begin() as conn:
        waiting = outbox.in_doubt(conn)
    for interchange in waiting:
        hours = window_hours(ctx.partners, interchange.partner_id)
        since = interchange.in_doubt_since or now
        if now - since < dt.timedelta(hours=hours):
            continue
        _deliver_one(ctx, client, interchange, summary, resend={
            "file_name": interchange.file_name, "isa13": interchange.isa13, "gs06": interchange.gs06,
            "in_doubt_since": since.isoformat(), "resend_count": interchange.resend_count + 1,
            "window_hours": hours})
    return summary


def _deliver_one(ctx: SyncContext, client: Any, interchange: Interchange, summary: DeliverSummary, *,
                 resend: dict[str, Any] | None = None) -> None:
    """Upload one interchange (or look for it, after a cut-off upload). ``resend``: the trail detail of a
    re-send of an in-doubt interchange, recorded once this run has claimed it."""
    try:
        partner = ctx.partners.get(interchange.partner_id)
    except FreshcleoError as exc:  # a partner taken out of partners.yaml: its files wait, the others go
        message = f"{interchange.file_name}: {exc}"
        summary.orphaned.append(message)
        if interchange.last_error != message:  # said once, not every run
            # keep_state: an upload in doubt or cut off stays so, and is looked for, never re-sent blindly, once
            # the partner is back.
            _failed(ctx, interchange, message, summary, keep_state=interchange.state in ("uploading", "in_doubt"))
            summary.failed.remove(message)
        return
    folder, content = partner.cleo.outbound, interchange.content.encode("utf-8")
    try:
        # The text was validated when it was rendered (invalid files never reach this queue); the digest proves
        # it is still that text.
        if hashlib.sha256(content).hexdigest() != interchange.sha256:
            raise FreshcleoError(f"{interchange.file_name}: the stored X12 text no longer matches its digest")
        if interchange.state == "uploading" and resend is None:
            receipt = client.look_for(folder, interchange.file_name, content,
                                      "an earlier upload of it was cut off before its answer was recorded")
        else:
            with ctx.ledger.begin() as conn:
                claimed = outbox.mark_uploading(conn, interchange.id, ctx.now(), resend=resend is not None)
                if claimed and resend is not None:
                    _record_events(conn, ctx, interchange, "resent", resend)
            if not claimed:
                ctx.log.info("%s: taken by another run meanwhile; not sent from this one", interchange.file_name)
                return
            if resend is not None:
                ctx.log.warning("re-sending %s to %s: in doubt since %s and no acknowledgment within %s h",
                                interchange.file_name, partner.id, resend["in_doubt_since"], resend["window_hours"])
            receipt = client.upload(folder, interchange.file_name, content)
    except UploadInDoubtError as exc:
        _in_doubt(ctx, interchange, exc, summary, resend=resend is not None)
        return
    except FileConflictError as exc:
        _conflict(ctx, interchange, exc, summary)
        return
    except UploadUncertainError as exc:
        # Stays ``uploading``: the next run looks again; it is never re-sent on a guess.
        _failed(ctx, interchange, f"{interchange.file_name} → {folder}: {exc}", summary, keep_state=True)
        return
    except FreshcleoError as exc:
        _failed(ctx, interchange, f"{interchange.file_name} → {folder}: {exc}", summary)
        return
    record = {"file_id": receipt.file.id, "folder": receipt.folder, "name": receipt.file.name,
              "size": receipt.file.size, "sha256": receipt.sha256, "outcome": receipt.outcome,
              "created": receipt.file.created.isoformat() if receipt.file.created else None}
    if resend is not None:
        record["resent"] = interchange.resend_count + 1
    if interchange.transaction_set in outbox.ACK_TRANSACTION_SETS:
        _acknowledgment_sent(ctx, interchange, receipt.file.id, record, summary)
        return
    with ctx.ledger.begin() as conn:
        items = outbox.items_of_interchange(conn, interchange.id)
        outbox.mark_delivered(conn, interchange.id, cleo_file_id=receipt.file.id, receipt=record,
                              run_id=ctx.run_id)
        _record_events(conn, ctx, interchange, "delivered", {
            "file_name": interchange.file_name, "isa13": interchange.isa13, "gs06": interchange.gs06,
            "cleo_file_id": receipt.file.id, "outcome": receipt.outcome,
            **({"resent": True} if resend is not None else {})},
            items=items)
    summary.files[partner.id] += 1
    summary.documents[partner.id] += len(items)
    summary.documents_by_day.update((item.partition_date, partner.id) for item in items)
    summary.files_by_day.update((day, partner.id) for day in {item.partition_date for item in items})
    summary.already_present += receipt.outcome == "already_present"
    summary.resent += resend is not None
    summary.receipts.append({"partner": partner.id, "file": interchange.file_name, "documents": len(items),
                             "outcome": receipt.outcome if resend is None else f"resent ({receipt.outcome})",
                             "days": " ".join(sorted({str(i.partition_date) for i in items}))})
    ctx.log.info("delivered %s to %s (%d documents, %s)", interchange.file_name, folder, len(items),
                 receipt.outcome)


def _in_doubt(ctx: SyncContext, interchange: Interchange, exc: UploadInDoubtError, summary: DeliverSummary, *,
              resend: bool) -> None:
    """No file in the folder after an upload whose outcome is unknown: wait for the partner's acknowledgment.
    The doubt dates from the upload that caused it (a resend starts a new window)."""
    since = ctx.now() if resend else (interchange.upload_started_at or ctx.now())
    with ctx.ledger.begin() as conn:
        if not outbox.mark_in_doubt(conn, interchange.id, since, str(exc)):
            return  # settled meanwhile (another run, or an acknowledgment): nothing is in doubt
        _record_events(conn, ctx, interchange, "upload_in_doubt", {
            "file_name": interchange.file_name, "isa13": interchange.isa13, "gs06": interchange.gs06,
            "folder": exc.folder, "reason": exc.reason})
    summary.in_doubt.append(interchange.file_name)
    ctx.log.warning("%s: %s; waiting for the partner's acknowledgment instead of sending it again",
                    interchange.file_name, exc)


def _conflict(ctx: SyncContext, interchange: Interchange, exc: FileConflictError, summary: DeliverSummary) -> None:
    with ctx.ledger.begin() as conn:
        outbox.mark_conflict(conn, interchange.id, str(exc))
        _record_events(conn, ctx, interchange, "delivery_conflict", {
            "file_name": interchange.file_name, "folder": exc.folder, "error": str(exc)[:500]})
    summary.conflicts.append(f"{interchange.file_name}: {exc}")
    ctx.log.error("delivery conflict, a person must decide: %s", exc)


def _failed(ctx: SyncContext, interchange: Interchange, message: str, summary: DeliverSummary, *,
            keep_state: bool = False) -> None:
    summary.failed.append(message)
    ctx.log.error("delivery failed: %s", message)
    with ctx.ledger.begin() as conn:
        outbox.mark_failed(conn, interchange.id, message, keep_state=keep_state)
        _record_events(conn, ctx, interchange, "delivery_failed", {
            "file_name": interchange.file_name, "error": message[:500]})


def _record_events(conn: Any, ctx: SyncContext, interchange: Interchange, event: str, detail: dict[str, Any],
                   items: list[outbox.OutboxItem] | None = None) -> None:
    """One trail event per document the interchange carries (acknowledgments we send carry none)."""
    items = outbox.items_of_interchange(conn, interchange.id) if items is None else items
    audit.record_many(conn, [{
        "kind": item.kind, "account_id": item.account_id, "source_id": item.source_id, "event": event,
        "partner_id": interchange.partner_id, "detail": {**detail, "st02": item.st02}, "run_id": ctx.run_id}
        for item in items])


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
