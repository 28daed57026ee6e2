"""Re-sending a delivery after a fix: a new outbox row (new key, pointing at the old one), rendered and sent.

Only deliveries a partner rejected (or never acknowledged, or that failed to render) can be re-sent: an
accepted delivery is never sent twice. The re-send renders the document's newest normalized version with fresh
control numbers, so a fix in FreshBooks or in partners.yaml is what goes out.
"""

from __future__ import annotations

import datetime as dt

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import Connection, Ledger, audit, outbox, snapshots
from freshcleo_pipeline.partners import PartnerDirectory
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.deliver import DeliverSummary, deliver
from freshcleo_pipeline.sync.doubts import conflicts, doubts
from freshcleo_pipeline.sync.render import RenderSummary, render_pending

RESENDABLE_ACKS = ("rejected", "overdue", "accepted_with_errors")


def resend(ctx: SyncContext, outbox_id: int) -> tuple[int, DeliverSummary]:
    with ctx.ledger.begin() as conn:
        try:
            item = outbox.get_item(conn, outbox_id)
        except Exception:  # noqa: BLE001 - any lookup failure means the id is not ours
            raise FreshcleoError(f"delivery #{outbox_id}: no such outbox row (see `freshcleo trace`)") from None
        doubt = _doubt_of(conn, item)
        if doubt:
            raise FreshcleoError(f"delivery #{outbox_id} is in an upload in doubt ({doubt}); it is re-sent under "
                                 "the same name and ISA13 once its partner's acknowledgment window passes without "
                                 "a 997, or proven delivered by one: see `freshcleo resend` for when")
        if not (item.ack_state in RESENDABLE_ACKS or item.state == "failed"):
            raise FreshcleoError(f"delivery #{outbox_id} is {item.state} with acknowledgment {item.ack_state!r}; "
                                 f"only {', '.join(RESENDABLE_ACKS)} or failed deliveries can be re-sent")
        newest = snapshots.newest_document(conn, item.kind, item.account_id, item.source_id)
        if newest.status not in ("routed", "deleted"):
            raise FreshcleoError(f"{item.kind} {item.source_id} is now {newest.status!r}; nothing to re-send")
        previous = outbox.resend_count(conn, item.id)
        key = f"{item.idempotency_key}#resend{previous + 1}"
        outbox.enqueue(conn, [{
            "idempotency_key": key, "partner_id": item.partner_id, "transaction_set": item.transaction_set,
            "kind": item.kind, "account_id": item.account_id, "source_id": item.source_id,
            "version": newest.version, "document_id": newest.id, "partition_date": item.partition_date,
            "purpose": item.purpose, "reference": item.reference, "total": newest.total, "resend_of": item.id}])
        new_id = outbox.id_of_key(conn, key)
        audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id, event="resend",
                     partner_id=item.partner_id,
                     detail={"of": item.id, "new": new_id, "version": newest.version}, run_id=ctx.run_id)
    render_pending(ctx, RenderSummary())
    return new_id, deliver(ctx)


def _doubt_of(conn: Connection, item: outbox.OutboxItem) -> str:
    if item.interchange_id is None or item.state != "rendered":
        return ""
    interchange = outbox.get_interchange(conn, item.interchange_id)
    return interchange.file_name if interchange.state in outbox.PROVABLE else ""


def pending_decisions(ledger: Ledger, partners: PartnerDirectory, now: dt.datetime) -> list[str]:
    """What `freshcleo resend` lists: uploads in doubt with their age, and names held by other files."""
    waiting, taken = doubts(ledger, partners, now), conflicts(ledger)
    lines = [f"uploads in doubt: {len(waiting)}"]
    lines += [f"  {d.line(now)}" for d in waiting]
    lines.append(f"file names held by another file in the partner's folder: {len(taken)}")
    lines += [f"  {c.line()}" for c in taken]
    if taken:
        lines.append("  (compare the file in Cleo with `freshcleo trace <file name>`; nothing is sent under a taken "
                     "name)")
    return lines
