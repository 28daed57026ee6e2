"""Control-number sequences: ISA13 per sender/receiver/usage, GS06 per pair and functional id.

Allocation is one atomic ``UPDATE … RETURNING`` inside the caller's transaction: PostgreSQL takes a row lock,
SQLite the database write lock, so two runs can never get the same number. Numbers stay within
[1, 999999999] (nine digits, the ISA13/GS06 width) and roll over to 1 past the top. Test (T) and
production (P) data use separate scopes so a test interchange never consumes a production number.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from freshcleo_pipeline.ledger.rows import insert_ignore, utcnow
from freshcleo_pipeline.ledger.schema import control_numbers

MAX_CONTROL_NUMBER = 999_999_999


def isa_scope(usage: str, sender: str, receiver: str) -> str:
    return f"isa:{usage}:{sender}:{receiver}"


def gs_scope(usage: str, sender: str, receiver: str, functional_id: str) -> str:
    return f"gs:{usage}:{sender}:{receiver}:{functional_id}"


def allocate(conn: Connection, scope: str, count: int = 1) -> list[int]:
    """Reserve ``count`` consecutive numbers in ``scope`` (wrapping past the maximum) and return them."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    insert_ignore(conn, control_numbers, [{"scope": scope, "last_value": 0, "updated_at": utcnow()}], ["scope"])
    table = control_numbers
    last = conn.execute(
        update(table)
        .where(table.c.scope == scope)
        .values(last_value=table.c.last_value + count, updated_at=utcnow())
        .returning(table.c.last_value)
    ).scalar_one()
    first = last - count + 1
    numbers = [((n - 1) % MAX_CONTROL_NUMBER) + 1 for n in range(first, last + 1)]
    if last >= MAX_CONTROL_NUMBER:
        conn.execute(update(table).where(table.c.scope == scope).values(last_value=last % MAX_CONTROL_NUMBER))
    return numbers


def peek(conn: Connection, scope: str) -> int:
    """The last number allocated in ``scope`` (0 when none)."""
    value = conn.execute(select(control_numbers.c.last_value).where(control_numbers.c.scope == scope)).scalar()
    return int(value or 0)
