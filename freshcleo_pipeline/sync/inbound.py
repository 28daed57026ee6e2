"""Stage 5: pull partners' files from Cleo inbound folders, apply 997s to deliveries, archive, flag overdue.

Every file is downloaded (byte count verified), recorded in the ledger before anything else, parsed, and
only then archived in Cleo, so a crash at any point leaves it either still in the folder or recorded. A 997
is correlated with our deliveries by (partner, GS06 = AK102, ST02 = AK202). Partner documents (an 850 from
a customer, an 810 from a supplier) are recorded and archived for the people who process them. Deliveries
still waiting for a 997 past the partner's window become ``overdue``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import audit, inbound, outbox
from freshcleo_pipeline.partners import TradingPartner
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.x12 import read_997

#: AK101 → the transaction set of our group it acknowledges (for group-level results without AK2).
TRANSACTION_SET_OF_GROUP = {"IN": "810", "PO": "850", "RA": "820"}


@dataclass
class InboundSummary:
    files: Counter[str] = field(default_factory=Counter)  # kind → files recorded
    acks: Counter[str] = field(default_factory=Counter)  # ack state → documents
    unmatched_acks: int = 0
    overdue: int = 0
    errors: list[str] = field(default_factory=list)


def _segments(text: str) -> list[list[str]]:
    if len(text) < 106 or not text.startswith("ISA"):
        return []
    element, terminator = text[3], text[105]
    return [segment.strip().split(element) for segment in text.split(terminator) if segment.strip()]


def sniff_kind(text: str) -> str:
    """The transaction set of the first ST segment ('997', '850', …), 'TA1' for an interchange
    acknowledgment, or 'unknown'."""
    for parts in _segments(text):
        if parts[0] == "ST" and len(parts) > 1:
            return parts[1]
        if parts[0] == "TA1":
            return "TA1"
    return "unknown"


def poll_inbound(ctx: SyncContext) -> InboundSummary:
    summary = InboundSummary()
    client = ctx.cleo()
    try:
        for partner in ctx.partners.partners:
            if partner.enabled:
                _poll_partner(ctx, client, partner, summary)
    finally:
        client.close()
    mark_overdue(ctx, summary)
    return summary


def _poll_partner(ctx: SyncContext, client: Any, partner: TradingPartner, summary: InboundSummary) -> None:
    for remote in client.list_files(partner.cleo.inbound):
        try:
            content = client.download(remote)
            text = content.decode("utf-8")
        except (FreshcleoError, UnicodeDecodeError) as exc:
            summary.errors.append(f"{partner.cleo.inbound}/{remote.name}: {exc}")
            continue
        kind = sniff_kind(text)
        with ctx.ledger.begin() as conn:
            row = inbound.record(conn, partner_id=partner.id, folder=partner.cleo.inbound, cleo_file_id=remote.id,
                                 file_name=remote.name, content=text,
                                 sha256=hashlib.sha256(content).hexdigest(), kind=kind, run_id=ctx.run_id)
        summary.files[kind] += 1
        if row.state == "recorded":
            if kind == "997":
                _apply_997(ctx, partner, row.id, text, summary)
            elif kind == "TA1":
                _apply_ta1(ctx, partner, row.id, text, summary)
            else:
                with ctx.ledger.begin() as conn:
                    inbound.set_state(conn, row.id, "applied", parsed={"transaction_set": kind})
        client.archive(remote, partner.cleo.archive)
        with ctx.ledger.begin() as conn:
            inbound.set_state(conn, row.id, "archived", archived=True)


def _apply_997(ctx: SyncContext, partner: TradingPartner, file_id: int, text: str, summary: InboundSummary) -> None:
    try:
        results = read_997(text)
    except FreshcleoError as exc:
        summary.errors.append(f"997 file {file_id} from {partner.id}: {exc}")
        with ctx.ledger.begin() as conn:
            inbound.set_state(conn, file_id, "error", error=str(exc))
        return
    now = ctx.now()
    parsed: list[dict[str, Any]] = []
    with ctx.ledger.begin() as conn:
        for result in results:
            state = result.status
            detail = dataclasses.asdict(result)
            parsed.append(detail)
            # A group-level result (no AK2) speaks for every set of the group.
            transaction_set = result.transaction_set_id or TRANSACTION_SET_OF_GROUP.get(result.functional_id, "")
            matches = outbox.find_by_control(conn, partner.id, transaction_set, int(result.group_control_number),
                                             result.set_control_number or None)
            if not matches:
                summary.unmatched_acks += 1
                ctx.log.warning("997 from %s acknowledges GS06 %s ST02 %s, which we never sent", partner.id,
                                result.group_control_number, result.set_control_number)
                continue
            for item in matches:
                outbox.set_ack(conn, item.id, state, detail, now)
                audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                             event=f"ack_{state}", partner_id=partner.id,
                             detail={"gs06": item.gs06, "st02": item.st02, "file_id": file_id, **detail},
                             run_id=ctx.run_id)
                summary.acks[state] += 1
        inbound.set_state(conn, file_id, "applied", parsed=parsed)


def _apply_ta1(ctx: SyncContext, partner: TradingPartner, file_id: int, text: str, summary: InboundSummary) -> None:
    """A TA1 answers for a whole interchange (TA101 = our ISA13): a rejection rejects every set in it."""
    now = ctx.now()
    parsed: list[dict[str, Any]] = []
    with ctx.ledger.begin() as conn:
        for parts in _segments(text):
            if parts[0] != "TA1" or len(parts) < 6 or not parts[1].isdigit():
                continue
            isa13, code, note = int(parts[1]), parts[4], parts[5]
            detail = {"ta1_isa13": isa13, "ta1_code": code, "ta1_note": note}
            parsed.append(detail)
            if code == "A":
                continue  # the envelope was accepted; the 997 speaks for the sets
            state = "rejected" if code == "R" else "accepted_with_errors"
            for item in outbox.find_by_interchange(conn, partner.id, isa13):
                outbox.set_ack(conn, item.id, state, detail, now)
                audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                             event=f"ack_{state}", partner_id=partner.id, detail=detail, run_id=ctx.run_id)
                summary.acks[state] += 1
        inbound.set_state(conn, file_id, "applied", parsed=parsed)


def mark_overdue(ctx: SyncContext, summary: InboundSummary) -> None:
    now = ctx.now()
    with ctx.ledger.begin() as conn:
        for item, delivered_at in outbox.waiting_acks(conn):
            partner = ctx.partners.get(item.partner_id)
            if delivered_at is not None and now - delivered_at > dt.timedelta(hours=partner.ack_window_hours):
                outbox.set_ack(conn, item.id, "overdue", {"window_hours": partner.ack_window_hours}, now)
                audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                             event="ack_overdue", partner_id=partner.id,
                             detail={"delivered_at": delivered_at.isoformat(),
                                     "window_hours": partner.ack_window_hours}, run_id=ctx.run_id)
                summary.overdue += 1
