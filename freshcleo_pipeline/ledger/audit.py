"""The append-only audit trail: one event per thing that happened to a FreshBooks document.

Only ``record`` writes; there is deliberately no update or delete here. Events are keyed by the document
(kind, account, FreshBooks id) and carry the Dagster run id when a run caused them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from freshcleo_pipeline.ledger.rows import dumps, loads, utcnow
from freshcleo_pipeline.ledger.schema import audit_events


@dataclass(frozen=True)
class AuditEvent:
    id: int
    occurred_at: dt.datetime
    kind: str
    account_id: str
    source_id: str
    event: str
    partner_id: str | None
    detail: dict[str, Any]
    run_id: str | None


def record(
    conn: Connection,
    *,
    kind: str,
    account_id: str,
    source_id: str,
    event: str,
    detail: dict[str, Any] | None = None,
    partner_id: str | None = None,
    run_id: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    record_many(conn, [dict(kind=kind, account_id=account_id, source_id=source_id, event=event,
                            detail=detail or {}, partner_id=partner_id, run_id=run_id, at=at)])


def record_many(conn: Connection, events: Sequence[dict[str, Any]]) -> None:
    """Append several events in one statement (same keys as ``record``)."""
    if not events:
        return
    now = utcnow()
    rows = [
        {
            "occurred_at": e.get("at") or now,
            "kind": e["kind"],
            "account_id": e["account_id"],
            "source_id": str(e["source_id"]),
            "event": e["event"],
            "partner_id": e.get("partner_id"),
            "detail": dumps(e.get("detail") or {}),
            "run_id": e.get("run_id"),
        }
        for e in events
    ]
    conn.execute(insert(audit_events), rows)


def trail(conn: Connection, *, account_id: str, source_id: str, kind: str | None = None) -> list[AuditEvent]:
    """Every event of one document, oldest first."""
    query = select(audit_events).where(audit_events.c.account_id == account_id,
                                       audit_events.c.source_id == str(source_id))
    if kind is not None:
        query = query.where(audit_events.c.kind == kind)
    rows = conn.execute(query.order_by(audit_events.c.id)).mappings()
    return [AuditEvent(id=r["id"], occurred_at=r["occurred_at"], kind=r["kind"], account_id=r["account_id"],
                       source_id=r["source_id"], event=r["event"], partner_id=r["partner_id"],
                       detail=loads(r["detail"]) or {}, run_id=r["run_id"]) for r in rows]
