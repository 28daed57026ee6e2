"""The opt-in writes to FreshBooks: one row per idempotency key, claimed before the request leaves.

Owns the row's states — ``claimed`` (the request may have left; its outcome is not known yet), ``created``
(FreshBooks answered with the id), ``failed`` (FreshBooks refused the content, with the reason) — and the
queries the pipeline asks of them: the ids we created per kind, and the references (bill numbers, PO numbers,
names) claimed or created per partner, so routing can tell a bill we created from one a person entered.

Must not: talk to FreshBooks, or move a row out of ``created`` (a created object is never created twice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, loads, utcnow
from freshcleo_pipeline.ledger.schema import freshbooks_writes

CLAIMED = "claimed"
CREATED = "created"
FAILED = "failed"
KINDS = ("bill", "estimate", "invoice", "bill_vendor", "client")


@dataclass(frozen=True)
class WriteRow:
    id: int
    idempotency_key: str
    partner_id: str
    kind: str
    partner_document_id: int | None
    reference: str
    state: str
    request: Any
    freshbooks_id: str | None
    error: str | None
    attempts: int
    created_at: dt.datetime
    updated_at: dt.datetime
    run_id: str | None


def _row(row: Any) -> WriteRow:
    values = {name: row[name] for name in WriteRow.__dataclass_fields__}
    return WriteRow(**{**values, "request": loads(row["request"]) or {}})


def claim(conn: Connection, *, key: str, partner_id: str, kind: str, reference: str, request: Any,
          partner_document_id: int | None = None, run_id: str | None = None) -> WriteRow:
    """The row of ``key``, inserted as ``claimed`` when new; every call counts one attempt. Commit the
    transaction before the request leaves, so a crash after sending leaves the claim behind."""
    if kind not in KINDS:
        raise ValueError(f"freshbooks write kind: got {kind!r}; expected one of {', '.join(KINDS)}")
    if len(key) > 200:
        raise ValueError(f"freshbooks write key: {len(key)} characters; expected at most 200")
    now = utcnow()
    insert_ignore(conn, freshbooks_writes, [{
        "idempotency_key": key, "partner_id": partner_id, "kind": kind,
        "partner_document_id": partner_document_id, "reference": reference[:64], "state": CLAIMED,
        "request": dumps(request), "freshbooks_id": None, "error": None, "attempts": 0, "created_at": now,
        "updated_at": now, "run_id": run_id,
    }], ["idempotency_key"])
    c = freshbooks_writes.c
    conn.execute(update(freshbooks_writes).where(c.idempotency_key == key)
                 .values(attempts=c.attempts + 1, updated_at=now))
    found = get(conn, key)
    assert found is not None  # inserted or already there
    return found


def mark_created(conn: Connection, id: int, freshbooks_id: str, *, run_id: str | None = None) -> None:
    """FreshBooks created it (or a lookup found it): the id, for good."""
    c = freshbooks_writes.c
    conn.execute(update(freshbooks_writes).where(c.id == id).values(
        state=CREATED, freshbooks_id=str(freshbooks_id), error=None, updated_at=utcnow(),
        **({"run_id": run_id} if run_id else {})))


def mark_failed(conn: Connection, id: int, error: str, *, run_id: str | None = None) -> None:
    """FreshBooks refused it: the reason. A created row stays created."""
    c = freshbooks_writes.c
    conn.execute(update(freshbooks_writes).where(c.id == id, c.state != CREATED).values(
        state=FAILED, error=error, updated_at=utcnow(), **({"run_id": run_id} if run_id else {})))


def get(conn: Connection, key: str) -> WriteRow | None:
    row = conn.execute(select(freshbooks_writes).where(freshbooks_writes.c.idempotency_key == key)).mappings().first()
    return None if row is None else _row(row)


def listing(conn: Connection, partner_id: str | None = None, state: str | None = None) -> list[WriteRow]:
    """The writes (of one partner, in one state), oldest first."""
    query = select(freshbooks_writes)
    if partner_id is not None:
        query = query.where(freshbooks_writes.c.partner_id == partner_id)
    if state is not None:
        query = query.where(freshbooks_writes.c.state == state)
    return [_row(r) for r in conn.execute(query.order_by(freshbooks_writes.c.id)).mappings()]


def created_ids(conn: Connection, kind: str) -> set[str]:
    """The FreshBooks ids of every ``kind`` object we created."""
    c = freshbooks_writes.c
    rows = conn.execute(select(c.freshbooks_id).where(c.kind == kind, c.state == CREATED,
                                                      c.freshbooks_id.is_not(None)))
    return {str(ident) for (ident,) in rows}


def claimed_references(conn: Connection, partner_id: str, kind: str) -> set[str]:
    """The references (bill numbers, PO numbers, names) of ``kind`` writes for a partner that are claimed or
    created: an object with one of them may be ours, never to be sent back to the partner."""
    c = freshbooks_writes.c
    rows = conn.execute(select(c.reference).where(c.partner_id == partner_id, c.kind == kind,
                                                  c.state.in_((CLAIMED, CREATED))))
    return {str(reference) for (reference,) in rows}
