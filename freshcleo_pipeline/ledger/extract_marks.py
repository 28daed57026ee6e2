"""What the ledger already holds of a kind, as the incremental poll needs it: whether it holds any record of a
kind at all, and the highest numeric id it holds (where a newest-first listing may stop)."""

from __future__ import annotations

from sqlalchemy import Connection, desc, func, select

from freshcleo_pipeline.ledger.schema import source_snapshots


def holds_any(conn: Connection, kind: str, account_id: str) -> bool:
    t = source_snapshots
    found = conn.execute(select(t.c.id).where(t.c.kind == kind, t.c.account_id == account_id).limit(1)).first()
    return found is not None


def highest_id(conn: Connection, kind: str, account_id: str) -> int | None:
    """The largest numeric FreshBooks id held for the kind; None when none is held or the largest is not a number.

    Ids are compared as numbers without a cast (a cast of a non-numeric id fails on PostgreSQL): the longest
    string of digits is the largest, and among equals in length the greatest string.
    """
    t = source_snapshots
    row = conn.execute(
        select(t.c.source_id).where(t.c.kind == kind, t.c.account_id == account_id)
        .order_by(desc(func.length(t.c.source_id)), desc(t.c.source_id)).limit(1)).first()
    if row is None or not str(row[0]).isdigit():
        return None
    return int(row[0])
