"""The delivery outbox: the exactly-once state machine from a routed document version to a file in Cleo.

One outbox row per idempotency key (partner, transaction set, FreshBooks document, content version), UNIQUE
in the database: re-running a partition, a backfill, or a duplicate webhook can never enqueue the same
version twice. Rows move

    pending ──render──▶ rendered ──upload──▶ delivered ──997──▶ ack: accepted | accepted_with_errors | rejected
       └──▶ ignored (partner policy)                       └──(no 997 in the window)──▶ ack: overdue

An interchange (one file) groups the rendered rows of one partner and transaction set; its X12 text, control
numbers and deterministic file name are written in the same transaction as the rows' move to ``rendered``,
before any upload. Uploads only ever pick interchanges that are not delivered yet, and the uploader first
checks Cleo for the file, so a crash between upload and receipt cannot produce a second file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, utcnow
from freshcleo_pipeline.ledger.schema import interchanges, outbox

ACK_WAITING = "waiting"
ACK_STATES = ("none", ACK_WAITING, "accepted", "accepted_with_errors", "rejected", "needs_review", "overdue")


def idempotency_key(partner_id: str, transaction_set: str, kind: str, account_id: str, source_id: str,
                    version: str) -> str:
    return f"{partner_id}:{transaction_set}:{kind}:{account_id}:{source_id}:{version}"


@dataclass(frozen=True)
class OutboxItem:
    id: int
    idempotency_key: str
    partner_id: str
    transaction_set: str
    kind: str
    account_id: str
    source_id: str
    version: str
    document_id: int
    purpose: str
    reference: str
    total: str
    state: str
    interchange_id: int | None
    isa13: int | None
    gs06: int | None
    st02: str | None
    file_name: str | None
    ack_state: str
    partition_date: dt.date | None
    resend_of: int | None


def _item(row: Any) -> OutboxItem:
    return OutboxItem(**{name: row[name] for name in OutboxItem.__dataclass_fields__})


def enqueue(conn: Connection, items: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows in state ``pending``; rows whose idempotency key exists are skipped. Returns inserted."""
    now = utcnow()
    rows = [{**item, "state": item.get("state", "pending"), "attempts": 0, "ack_state": "none",
             "created_at": now, "updated_at": now} for item in items]
    return insert_ignore(conn, outbox, rows, ["idempotency_key"])


def existing_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found.update(conn.execute(select(outbox.c.idempotency_key)
                                  .where(outbox.c.idempotency_key.in_(chunk))).scalars())
    return found


def pending(conn: Connection, partner_id: str | None = None) -> list[OutboxItem]:
    """Rows waiting to be rendered, oldest first."""
    query = select(outbox).where(outbox.c.state == "pending")
    if partner_id is not None:
        query = query.where(outbox.c.partner_id == partner_id)
    return [_item(r) for r in conn.execute(query.order_by(outbox.c.id)).mappings()]



DocKey = tuple[str, str, str, str]  # partner, transaction set, kind, FreshBooks id


def last_sent_versions(conn: Connection, account_id: str, keys: Iterable[DocKey]) -> dict[DocKey, str]:
    """For each (partner, transaction set, kind, document), the version last sent or on its way, if any."""
    wanted = set(keys)
    ids = sorted({k[3] for k in wanted})
    out: dict[DocKey, str] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(outbox.c.partner_id, outbox.c.transaction_set, outbox.c.kind, outbox.c.source_id,
                   outbox.c.version)
            .where(outbox.c.account_id == account_id, outbox.c.source_id.in_(ids[start:start + 500]),
                   outbox.c.state.in_(("pending", "rendered", "delivered")))
            .order_by(outbox.c.id))
        for partner_id, transaction_set, kind, source_id, version in rows:
            key = (partner_id, transaction_set, kind, source_id)
            if key in wanted:
                out[key] = version
    return out


def create_interchange(
    conn: Connection,
    *,
    partner_id: str,
    transaction_set: str,
    usage: str,
    isa13: int,
    gs06: int,
    file_name: str,
    content: str,
    sha256: str,
    total: str,
    members: Sequence[tuple[int, str]],
    run_id: str | None,
) -> int:
    """Store an interchange and move its member rows (outbox id, ST02) to ``rendered``, atomically."""
    now = utcnow()
    interchange_id = conn.execute(
        insert(interchanges).values(
            partner_id=partner_id, transaction_set=transaction_set, usage=usage, isa13=isa13, gs06=gs06,
            file_name=file_name, content=content, size=len(content.encode("utf-8")), sha256=sha256,
            document_count=len(members), total=total, state="ready", attempts=0, created_at=now,
            updated_at=now, run_id=run_id,
        ).returning(interchanges.c.id)
    ).scalar_one()
    for outbox_id, st02 in members:
        moved = conn.execute(
            update(outbox).where(outbox.c.id == outbox_id, outbox.c.state == "pending").values(
                state="rendered", interchange_id=interchange_id, isa13=isa13, gs06=gs06, st02=st02,
                file_name=file_name, updated_at=now, run_id=run_id)
        ).rowcount
        if moved != 1:
            # Another run rendered this row meanwhile; abort the whole transaction rather than send it twice.
            raise RuntimeError(f"outbox row {outbox_id} is no longer pending; interchange {file_name} rolled back")
    return int(interchange_id)


@dataclass(frozen=True)
class Interchange:
    id: int
    partner_id: str
    transaction_set: str
    usage: str
    isa13: int
    gs06: int
    file_name: str
    content: str
    size: int
    sha256: str
    document_count: int
    total: str
    state: str
    attempts: int
    cleo_file_id: str | None
    run_id: str | None


def _interchange(row: Any) -> Interchange:
    return Interchange(**{name: row[name] for name in Interchange.__dataclass_fields__})


def undelivered(conn: Connection, partner_id: str | None = None) -> list[Interchange]:
    """Interchanges rendered but not yet confirmed in Cleo (new ones and failed attempts)."""
    query = select(interchanges).where(interchanges.c.state.in_(("ready", "failed")))
    if partner_id is not None:
        query = query.where(interchanges.c.partner_id == partner_id)
    return [_interchange(r) for r in conn.execute(query.order_by(interchanges.c.id)).mappings()]



def mark_delivered(conn: Connection, interchange_id: int, *, cleo_file_id: str, receipt: dict[str, Any],
                   run_id: str | None) -> None:
    now = utcnow()
    conn.execute(update(interchanges).where(interchanges.c.id == interchange_id).values(
        state="delivered", cleo_file_id=cleo_file_id, cleo_receipt=dumps(receipt), delivered_at=now,
        updated_at=now, attempts=interchanges.c.attempts + 1, last_error=None))
    conn.execute(update(outbox).where(outbox.c.interchange_id == interchange_id,
                                      outbox.c.state == "rendered").values(
        state="delivered", ack_state=ACK_WAITING, updated_at=now, attempts=outbox.c.attempts + 1))


def mark_failed(conn: Connection, interchange_id: int, error: str) -> None:
    now = utcnow()
    conn.execute(update(interchanges).where(interchanges.c.id == interchange_id).values(
        state="failed", last_error=error[:2000], updated_at=now, attempts=interchanges.c.attempts + 1))
    conn.execute(update(outbox).where(outbox.c.interchange_id == interchange_id).values(
        last_error=error[:2000], updated_at=now, attempts=outbox.c.attempts + 1))


def items_of_interchange(conn: Connection, interchange_id: int) -> list[OutboxItem]:
    rows = conn.execute(select(outbox).where(outbox.c.interchange_id == interchange_id)
                        .order_by(outbox.c.st02)).mappings()
    return [_item(r) for r in rows]


def find_by_control(conn: Connection, partner_id: str, transaction_set: str, gs06: int,
                    st02: str | None = None) -> list[OutboxItem]:
    """Rows of a partner's group (and set), to correlate a 997; GS06 is unique per functional id only."""
    query = select(outbox).where(outbox.c.partner_id == partner_id, outbox.c.transaction_set == transaction_set,
                                 outbox.c.gs06 == gs06)
    if st02 is not None:
        query = query.where(outbox.c.st02 == st02)
    return [_item(r) for r in conn.execute(query.order_by(outbox.c.id)).mappings()]


def find_by_interchange(conn: Connection, partner_id: str, isa13: int) -> list[OutboxItem]:
    """Rows delivered in a partner's interchange, to correlate a TA1."""
    rows = conn.execute(select(outbox).where(outbox.c.partner_id == partner_id, outbox.c.isa13 == isa13)
                        .order_by(outbox.c.id)).mappings()
    return [_item(r) for r in rows]


def set_ack(conn: Connection, outbox_id: int, state: str, detail: dict[str, Any] | None,
            at: dt.datetime) -> None:
    if state not in ACK_STATES:
        raise ValueError(f"ack state must be one of {ACK_STATES}, got {state!r}")
    conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(
        ack_state=state, ack_detail=dumps(detail or {}), ack_at=at, updated_at=utcnow()))


def waiting_acks(conn: Connection) -> list[tuple[OutboxItem, dt.datetime]]:
    """Delivered rows still waiting for a 997, with their delivery time."""
    rows = conn.execute(
        select(outbox, interchanges.c.delivered_at)
        .join(interchanges, interchanges.c.id == outbox.c.interchange_id)
        .where(outbox.c.ack_state == ACK_WAITING)
    ).mappings()
    return [(_item(r), r["delivered_at"]) for r in rows]



def get_item(conn: Connection, outbox_id: int) -> OutboxItem:
    return _item(conn.execute(select(outbox).where(outbox.c.id == outbox_id)).mappings().one())




def mark_item_failed(conn: Connection, outbox_id: int, error: str) -> None:
    """A row that cannot be rendered (its data cannot be expressed in X12); it stays out of every file."""
    conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(
        state="failed", last_error=error[:2000], updated_at=utcnow()))


def mark_interchange_invalid(conn: Connection, interchange_id: int, detail: str) -> None:
    conn.execute(update(interchanges).where(interchanges.c.id == interchange_id).values(
        state="invalid", last_error=detail[:2000], updated_at=utcnow()))
