"""Small helpers every ledger module shares: portable insert-or-ignore, the clock, JSON columns."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> int:
    """Insert rows, silently skipping those that collide on the unique ``keys``; returns rows inserted."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        # SQLAlchemy sends the rows of an INSERT .. ON CONFLICT as multi-row statements only when it returns
        # something; without RETURNING psycopg2 sends one statement (one round trip) per row. The rows returned
        # are exactly those inserted.
        statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        return len(conn.execute(statement.returning(table.c[keys[0]]), list(rows)).all())
    result = conn.execute(sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys)), list(rows))
    return max(result.rowcount, 0)


# One encoder for every call: ``json.dumps`` with options builds a new one each time, and the ledger encodes
# tens of thousands of small audit details and payloads a day.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
