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
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    result = conn.execute(statement, list(rows))
    return max(result.rowcount, 0)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
