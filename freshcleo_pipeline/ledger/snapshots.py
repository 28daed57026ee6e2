"""Raw FreshBooks payloads, one row per document version, and the normalized documents made from them.

A version is the content hash of the payload, so fetching the same document twice stores it once, and any
change in FreshBooks (even one the API does not reflect in ``updated``) makes a new version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, loads, utcnow
from freshcleo_pipeline.ledger.schema import documents, source_snapshots


@dataclass(frozen=True)
class Snapshot:
    id: int
    kind: str
    account_id: str
    source_id: str
    version: str
    updated_at: dt.datetime | None
    partition_date: dt.date | None
    vis_state: int
    payload: dict[str, Any]
    fetched_at: dt.datetime


def save_snapshots(conn: Connection, rows: Sequence[dict[str, Any]], run_id: str | None) -> int:
    """Store payload versions not seen before; returns how many were new.

    Each row: kind, account_id, source_id, version, updated_at, partition_date, vis_state, payload (dict).
    """
    now = utcnow()
    prepared = [{**r, "source_id": str(r["source_id"]), "payload": dumps(r["payload"]), "fetched_at": now,
                 "run_id": run_id} for r in rows]
    inserted = 0
    for start in range(0, len(prepared), 500):
        inserted += insert_ignore(conn, source_snapshots, prepared[start:start + 500],
                                  ["kind", "account_id", "source_id", "version"])
    return inserted


def _snapshot(row: Any) -> Snapshot:
    return Snapshot(id=row["id"], kind=row["kind"], account_id=row["account_id"], source_id=row["source_id"],
                    version=row["version"], updated_at=row["updated_at"], partition_date=row["partition_date"],
                    vis_state=row["vis_state"], payload=loads(row["payload"]), fetched_at=row["fetched_at"])


def latest_in_partitions(conn: Connection, kind: str, account_id: str, days: Sequence[dt.date]) -> list[Snapshot]:
    """For each document with a version in these partitions, its newest version there (by id)."""
    t = source_snapshots
    newest = (
        select(func.max(t.c.id).label("id"))
        .where(t.c.kind == kind, t.c.account_id == account_id, t.c.partition_date.in_(list(days)))
        .group_by(t.c.source_id)
        .subquery()
    )
    rows = conn.execute(select(t).join(newest, newest.c.id == t.c.id).order_by(t.c.id)).mappings()
    return [_snapshot(r) for r in rows]


def newest_partition(
    conn: Connection, kind: str, account_id: str, source_ids: Sequence[str]
) -> dict[str, dt.date]:
    """The latest partition in which each document has a version (to spot superseded versions)."""
    t = source_snapshots
    out: dict[str, dt.date] = {}
    ids = list(source_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        query = (select(t.c.source_id, func.max(t.c.partition_date))
                 .where(t.c.kind == kind, t.c.account_id == account_id, t.c.source_id.in_(chunk))
                 .group_by(t.c.source_id))
        out.update({sid: day for sid, day in conn.execute(query) if day is not None})
    return out


def known_versions(
    conn: Connection, kind: str, account_id: str, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which (source_id, version) pairs are already stored."""
    t = source_snapshots
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 300):
        wanted = {(str(sid), ver) for sid, ver in keys[start:start + 300]}
        # By id, then the versions picked here: a (source_id, version) IN list searched the index by kind and
        # account only, i.e. read every version of the kind in the book.
        query = select(t.c.source_id, t.c.version).where(
            t.c.kind == kind, t.c.account_id == account_id, t.c.source_id.in_(sorted({sid for sid, _ in wanted})))
        found.update(pair for pair in conn.execute(query).tuples() if pair in wanted)
    return found


def versions_of(conn: Connection, account_id: str, source_id: str, kind: str | None = None) -> list[Snapshot]:
    query = select(source_snapshots).where(source_snapshots.c.account_id == account_id,
                                           source_snapshots.c.source_id == str(source_id))
    if kind is not None:
        query = query.where(source_snapshots.c.kind == kind)
    return [_snapshot(r) for r in conn.execute(query.order_by(source_snapshots.c.id)).mappings()]


def po_number_of(kind: str, body: Any) -> str | None:
    """The customer's PO number an invoice's normalized body carries (``None`` for other kinds, or none)."""
    if kind != "invoice" or not isinstance(body, dict):
        return None
    return str(body.get("po_number") or "").strip()[:64] or None


def save_documents(conn: Connection, rows: Sequence[dict[str, Any]], run_id: str | None) -> int:
    """Store normalized documents (one per snapshot version); returns how many were new.

    Each row: snapshot_id, kind, account_id, source_id, version, partition_date, reference, status, reason,
    partner_id, transaction_set, currency, total, body (dict or None), warnings (list).
    """
    now = utcnow()
    prepared = [{**r, "source_id": str(r["source_id"]), "po_number": po_number_of(r["kind"], r.get("body")),
                 "body": dumps(r["body"]) if r.get("body") is not None else None,
                 "warnings": dumps(r.get("warnings") or []), "created_at": now, "run_id": run_id} for r in rows]
    inserted = 0
    for start in range(0, len(prepared), 500):
        inserted += insert_ignore(conn, documents, prepared[start:start + 500],
                                  ["kind", "account_id", "source_id", "version"])
    return inserted


def document_ids(
    conn: Connection, kind: str, account_id: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    t = documents
    out: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), 300):
        wanted = {(str(sid), ver) for sid, ver in keys[start:start + 300]}
        query = select(t.c.source_id, t.c.version, t.c.id).where(  # by id, as ``known_versions`` does
            t.c.kind == kind, t.c.account_id == account_id, t.c.source_id.in_(sorted({sid for sid, _ in wanted})))
        out.update({(sid, ver): did for sid, ver, did in conn.execute(query) if (sid, ver) in wanted})
    return out



def latest_payloads(conn: Connection, kind: str, account_id: str,
                    source_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The newest stored payload of each document of ``kind`` (optionally only these ids)."""
    t = source_snapshots
    newest = select(func.max(t.c.id).label("id")).where(t.c.kind == kind, t.c.account_id == account_id)
    if source_ids is not None:
        ids = [str(s) for s in source_ids]
        if not ids:
            return []
        newest = newest.where(t.c.source_id.in_(ids))
    sub = newest.group_by(t.c.source_id).subquery()
    rows = conn.execute(select(t.c.payload).join(sub, sub.c.id == t.c.id)).scalars()
    return [loads(r) for r in rows]


def held_ids(conn: Connection, kind: str, account_id: str, source_ids: Sequence[str]) -> set[str]:
    """Those of ``source_ids`` of which some version of ``kind`` is stored (no payload is read)."""
    t = source_snapshots
    held: set[str] = set()
    ids = sorted({str(s) for s in source_ids})
    for start in range(0, len(ids), 500):
        held.update(conn.execute(select(t.c.source_id).distinct().where(
            t.c.kind == kind, t.c.account_id == account_id, t.c.source_id.in_(ids[start:start + 500]))).scalars())
    return held


def latest_ids_in_partitions(conn: Connection, kind: str, account_id: str, days: Sequence[dt.date], *,
                             above: int | None = None) -> list[int]:
    """Ids of the newest version (in these partitions) of each document, without loading payloads; with
    ``above``, only among the versions stored after that snapshot id."""
    t = source_snapshots
    query = (select(func.max(t.c.id))
             .where(t.c.kind == kind, t.c.account_id == account_id, t.c.partition_date.in_(list(days)))
             .group_by(t.c.source_id))
    if above is not None:
        query = query.where(t.c.id > above)
    return sorted(int(i) for i in conn.execute(query).scalars())


def high_water(conn: Connection) -> tuple[int, int]:
    """The highest snapshot id and the highest document id stored (0 when none): where a reader that goes on
    from here starts."""
    return (int(conn.execute(select(func.max(source_snapshots.c.id))).scalar() or 0),
            int(conn.execute(select(func.max(documents.c.id))).scalar() or 0))


def load_snapshots(conn: Connection, ids: Sequence[int]) -> list[Snapshot]:
    rows = conn.execute(select(source_snapshots).where(source_snapshots.c.id.in_(list(ids)))
                        .order_by(source_snapshots.c.id)).mappings()
    return [_snapshot(r) for r in rows]


def decisions_for_snapshots(conn: Connection, snapshot_ids: Sequence[int]) -> dict[int, tuple[int, str, str | None]]:
    """snapshot id → (document id, status, run that decided it) for snapshots already normalized."""
    out: dict[int, tuple[int, str, str | None]] = {}
    ids = list(snapshot_ids)
    for start in range(0, len(ids), 500):
        query = select(documents.c.snapshot_id, documents.c.id, documents.c.status, documents.c.run_id).where(
            documents.c.snapshot_id.in_(ids[start:start + 500]))
        out.update({sid: (did, status, run) for sid, did, status, run in conn.execute(query)})
    return out


def redecide_document(conn: Connection, document_id: int, row: dict[str, Any], run_id: str | None) -> None:
    """Replace the routing decision of a document version that was unrouted or invalid (partners.yaml or the
    normalization changed since); every other decision is final because something may have been sent."""
    values = {k: row[k] for k in ("reference", "status", "reason", "partner_id", "transaction_set", "currency",
                                  "total")}
    values["body"] = dumps(row["body"]) if row.get("body") is not None else None
    values["po_number"] = po_number_of(row["kind"], row.get("body"))
    values["warnings"] = dumps(row.get("warnings") or [])
    conn.execute(documents.update().where(documents.c.id == document_id,
                                          documents.c.status.in_(("unrouted", "invalid")))
                 .values(**values, run_id=run_id))


def status_counts(conn: Connection, document_ids: Sequence[int]) -> list[tuple[str, str, str | None]]:
    """(kind, status, partner) of already decided documents, for summaries."""
    out: list[tuple[str, str, str | None]] = []
    ids = list(document_ids)
    for start in range(0, len(ids), 500):
        query = select(documents.c.kind, documents.c.status, documents.c.partner_id).where(
            documents.c.id.in_(ids[start:start + 500]))
        out.extend((k, s, p) for k, s, p in conn.execute(query))
    return out


@dataclass(frozen=True)
class PlannableDocument:
    """A normalized document version as the outbox planner reads it (no body: planning needs none)."""

    id: int
    kind: str
    source_id: str
    version: str
    partition_date: dt.date | None
    reference: str
    total: str
    status: str
    # Set for routed and deleted documents, the only ones planned (a deleted one keeps its earlier routing).
    partner_id: str
    transaction_set: str


def plannable_documents(conn: Connection, account_id: str, days: Sequence[dt.date],
                        statuses: Sequence[str], *, above: int | None = None) -> list[PlannableDocument]:
    """Document versions of these partitions in one of ``statuses``, oldest first (the order they are planned);
    with ``above``, only those decided after that document id."""
    d = documents.c
    query = (select(d.id, d.kind, d.source_id, d.version, d.partition_date, d.reference, d.total, d.status,
                    d.partner_id, d.transaction_set)
             .where(d.partition_date.in_(days), d.account_id == account_id, d.status.in_(statuses))
             .order_by(d.id))
    if above is not None:
        query = query.where(d.id > above)
    rows = conn.execute(query).mappings()
    return [PlannableDocument(**row) for row in rows]


def document_bodies(conn: Connection, document_ids: Sequence[int]) -> dict[int, str | None]:
    """Document id → its normalized body as stored (JSON text, ``None`` for documents without one)."""
    return dict(conn.execute(select(documents.c.id, documents.c.body).where(
        documents.c.id.in_(document_ids))).all())


@dataclass(frozen=True)
class NewestDocument:
    id: int
    version: str
    status: str
    total: str


def newest_document(conn: Connection, kind: str, account_id: str, source_id: str) -> NewestDocument:
    """The newest normalized version of a document; raises when it has none (callers hold an outbox row for it,
    and an outbox row always points at a stored document)."""
    row = conn.execute(select(documents.c.id, documents.c.version, documents.c.status, documents.c.total)
                       .where(documents.c.kind == kind, documents.c.account_id == account_id,
                              documents.c.source_id == source_id)
                       .order_by(documents.c.id.desc()).limit(1)).one()
    return NewestDocument(*row)
