"""What the Dagster lineage of documents reads from the ledger: the trail after a cursor, and each document's name.

The audit trail and the quarantine are append-only by id, so "everything after id N" is a complete, ordered
increment; the lineage sensor keeps N as its cursor. ``references`` gives the number a person searches for (the
invoice or bill number of the first version, a partner's PO or invoice number). Read-only: nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from freshcleo_pipeline.ledger import audit
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import audit_events, documents, partner_documents, quarantine

#: A document as the trail keys it: (kind, account id, source id).
DocumentKey = tuple[str, str, str]
# SQLite allows 32766 bound parameters per statement; batches of ids stay far below it on every backend.
_CHUNK = 500


@dataclass(frozen=True)
class QuarantineMark:
    """A FreshBooks record set aside by extraction or normalization (the record, not a file)."""

    id: int
    kind: str
    account_id: str
    source_id: str
    stage: str
    reason_code: str
    reason: str
    first_seen_at: dt.datetime
    run_id: str | None


def last_ids(conn: Connection) -> tuple[int, int]:
    """The newest audit event id and quarantine id (0 when empty)."""
    last_event = conn.execute(select(func.max(audit_events.c.id))).scalar_one_or_none() or 0
    last_mark = conn.execute(select(func.max(quarantine.c.id))).scalar_one_or_none() or 0
    return int(last_event), int(last_mark)


def events_after(conn: Connection, last_id: int, limit: int) -> list[audit.AuditEvent]:
    """Audit events with id > ``last_id``, oldest first, at most ``limit``."""
    rows = conn.execute(select(audit_events).where(audit_events.c.id > last_id)
                        .order_by(audit_events.c.id).limit(limit)).mappings()
    return [audit.AuditEvent(id=r["id"], occurred_at=r["occurred_at"], kind=r["kind"], account_id=r["account_id"],
                             source_id=r["source_id"], event=r["event"], partner_id=r["partner_id"],
                             detail=loads(r["detail"]) or {}, run_id=r["run_id"]) for r in rows]


def quarantined_after(conn: Connection, last_id: int, limit: int) -> list[QuarantineMark]:
    """FreshBooks records quarantined with id > ``last_id`` (files have no document to hang them on)."""
    rows = conn.execute(select(quarantine.c.id, quarantine.c.kind, quarantine.c.account_id, quarantine.c.reference,
                               quarantine.c.stage, quarantine.c.reason_code, quarantine.c.reason,
                               quarantine.c.first_seen_at, quarantine.c.run_id)
                        .where(quarantine.c.id > last_id, quarantine.c.stage.in_(("extract", "normalize")))
                        .order_by(quarantine.c.id).limit(limit)).all()
    return [QuarantineMark(id=r.id, kind=r.kind, account_id=r.account_id or "", source_id=r.reference,
                           stage=r.stage, reason_code=r.reason_code, reason=r.reason,
                           first_seen_at=r.first_seen_at, run_id=r.run_id) for r in rows]


def references(conn: Connection, keys: Iterable[DocumentKey]) -> dict[DocumentKey, str]:
    """The searchable number of each document that has one: for FreshBooks documents the reference of the first
    normalized version that had one (it names the document for good, even if a later version renames it); for a
    partner's set (kind ``x12_<set>``, account = partner, source id ``isa13/gs06/st02``) its own reference."""
    wanted = set(keys)
    found: dict[DocumentKey, str] = {}
    ours = sorted({k[2] for k in wanted if not k[0].startswith("x12_")})
    for start in range(0, len(ours), _CHUNK):
        rows = conn.execute(select(documents.c.kind, documents.c.account_id, documents.c.source_id,
                                   documents.c.reference)
                            .where(documents.c.source_id.in_(ours[start:start + _CHUNK]), documents.c.reference != "")
                            .order_by(documents.c.id)).all()
        for kind, account, source, reference in rows:
            found.setdefault((kind, account, source), reference)
    theirs = sorted({k[1] for k in wanted if k[0].startswith("x12_")})
    if theirs:
        theirs_rows = conn.execute(select(partner_documents.c.transaction_set, partner_documents.c.partner_id,
                                   partner_documents.c.isa13, partner_documents.c.gs06, partner_documents.c.st02,
                                   partner_documents.c.reference)
                            .where(partner_documents.c.partner_id.in_(theirs), partner_documents.c.reference != "")
                            .order_by(partner_documents.c.id)).all()
        for tset, partner, isa13, gs06, st02, reference in theirs_rows:
            found.setdefault((f"x12_{tset}"[:20], partner, f"{isa13}/{gs06}/{st02}"), reference)
    return {k: v for k, v in found.items() if k in wanted}


def keys_of(events: Sequence[audit.AuditEvent], marks: Sequence[QuarantineMark]) -> set[DocumentKey]:
    return {(e.kind, e.account_id, e.source_id) for e in events} | {(m.kind, m.account_id, m.source_id)
                                                                     for m in marks}
