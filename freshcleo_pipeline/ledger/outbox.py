"""The delivery outbox: the exactly-once state machine from a routed document version to a file in Cleo.

One outbox row per idempotency key (partner, transaction set, FreshBooks document, content version), UNIQUE
in the database: re-running a partition, a backfill, or a duplicate webhook can never enqueue the same
version twice. Rows move

    pending ──render──▶ rendered ──upload──▶ delivered ──997──▶ ack: accepted | accepted_with_errors | rejected
       └──▶ ignored (partner policy)                       ├──(no 997 in the window)──▶ ack: overdue
                                                           └──(a later ack disagrees)──▶ ack: conflict

An interchange (one file) groups the rendered rows of one partner and transaction set; its X12 text, control
numbers and deterministic file name are written in the same transaction as the rows' move to ``rendered``,
before any upload. Interchanges move

    ready ──▶ uploading ──201──▶ delivered
    failed ◀──┤ (refused before it was stored: sent again by the next run)
              ├──outcome unknown, file in the folder──▶ delivered
              ├──outcome unknown, another file under the name──▶ conflict (a person decides)
              └──outcome unknown, no file──▶ in_doubt ──997/999/TA1 names it──▶ delivered
                                                └──no acknowledgment in the partner's window──▶ re-sent, same
                                                   name and control numbers (``resend_count``)

``uploading`` is committed before the request leaves, so a crash during an upload is found by the next run as
``uploading`` and is looked for in Cleo, never blindly sent again: Cleo consumes uploaded files, so "not in the
folder" does not mean "not received".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, loads, utcnow
from freshcleo_pipeline.ledger.schema import acknowledgments_sent, interchange_verdicts, interchanges, outbox

ACK_WAITING = "waiting"
ACK_CONFLICT = "conflict"  # two acknowledgments of the set disagree (both kept in ``acknowledgments``)
ACK_STATES = ("none", ACK_WAITING, "accepted", "accepted_with_errors", "rejected", "needs_review", "overdue",
              ACK_CONFLICT)


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


def id_of_key(conn: Connection, key: str) -> int:
    """The id of the outbox row holding an idempotency key (which the caller knows exists)."""
    return int(conn.execute(select(outbox.c.id).where(outbox.c.idempotency_key == key)).scalar_one())


def resend_count(conn: Connection, outbox_id: int) -> int:
    """How many re-sends of this row were enqueued (each gets its own key: ``<key>#resend<n>``)."""
    return int(conn.execute(select(func.count()).where(outbox.c.resend_of == outbox_id)).scalar_one())


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
    # The kinds lead the (kind, account, document) index: without them the rows were found through the state
    # index, i.e. every row ever sent.
    kinds = sorted({k[2] for k in wanted})
    out: dict[DocKey, str] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(outbox.c.partner_id, outbox.c.transaction_set, outbox.c.kind, outbox.c.source_id,
                   outbox.c.version)
            .where(outbox.c.kind.in_(kinds), outbox.c.account_id == account_id,
                   outbox.c.source_id.in_(ids[start:start + 500]),
                   outbox.c.state.in_(("pending", "rendered", "delivered")))
            .order_by(outbox.c.id))
        for partner_id, transaction_set, kind, source_id, version in rows:
            key = (partner_id, transaction_set, kind, source_id)
            if key in wanted:
                out[key] = version
    return out


def sent_history(conn: Connection, account_id: str, keys: Iterable[DocKey]) -> dict[DocKey, list[OutboxItem]]:
    """For each (partner, transaction set, kind, document), its rows sent or on their way, oldest first.

    A payment's corrections need more than the last version: whether the last 820 was a reversal, which
    document it carried, and how many reversals came before (each correction gets its own trace number).
    """
    wanted = set(keys)
    ids = sorted({k[3] for k in wanted})
    kinds = sorted({k[2] for k in wanted})  # through the (kind, account, document) index, as above
    out: dict[DocKey, list[OutboxItem]] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(outbox)
            .where(outbox.c.kind.in_(kinds), outbox.c.account_id == account_id,
                   outbox.c.source_id.in_(ids[start:start + 500]),
                   outbox.c.state.in_(("pending", "rendered", "delivered")))
            .order_by(outbox.c.id)).mappings()
        for row in rows:
            item = _item(row)
            key = (item.partner_id, item.transaction_set, item.kind, item.source_id)
            if key in wanted:
                out.setdefault(key, []).append(item)
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
    ids = [outbox_id for outbox_id, _ in members]
    # One statement for the file's rows, not a round trip per set (a file carries up to 500 of them).
    moved = conn.execute(
        update(outbox).where(outbox.c.id.in_(ids), outbox.c.state == "pending").values(
            state="rendered", interchange_id=interchange_id, isa13=isa13, gs06=gs06,
            st02=case(dict(members), value=outbox.c.id), file_name=file_name, updated_at=now, run_id=run_id)
    ).rowcount
    if moved != len(ids):
        # Another run rendered a row meanwhile; abort the whole transaction rather than send it twice.
        ours = set(conn.execute(select(outbox.c.id).where(outbox.c.id.in_(ids),
                                                          outbox.c.interchange_id == interchange_id)).scalars())
        seen: set[int] = set()
        taken = ids[0]
        for outbox_id in ids:
            if outbox_id not in ours or outbox_id in seen:
                taken = outbox_id
                break
            seen.add(outbox_id)
        raise RuntimeError(f"outbox row {taken} is no longer pending; interchange {file_name} rolled back")
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
    upload_started_at: dt.datetime | None = None
    in_doubt_since: dt.datetime | None = None
    resend_count: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class RunInterchange:
    """An interchange as the validity check reads it again."""

    file_name: str
    partner_id: str
    content: str
    state: str


def interchanges_of_run(conn: Connection, run_id: str) -> list[RunInterchange]:
    """The interchanges (ours and our acknowledgments) a run stored."""
    rows = conn.execute(select(interchanges.c.file_name, interchanges.c.partner_id, interchanges.c.content,
                               interchanges.c.state)
                        .where(interchanges.c.run_id == run_id)).all()
    return [RunInterchange(*row) for row in rows]


@dataclass(frozen=True)
class Verdict:
    """What the validator found in an interchange's content of digest ``sha256`` (``first_error`` None: valid),
    and the total each of its sets states (ST02 → decimal text)."""

    sha256: str
    charset: str
    error_count: int
    first_error: str | None
    set_amounts: dict[str, str]


def record_verdict(conn: Connection, interchange_id: int, verdict: Verdict) -> None:
    conn.execute(insert(interchange_verdicts).values(
        interchange_id=interchange_id, sha256=verdict.sha256, charset=verdict.charset,
        error_count=verdict.error_count, first_error=verdict.first_error, set_amounts=dumps(verdict.set_amounts),
        created_at=utcnow()))


def _verdict(row: Any) -> Verdict:
    return Verdict(sha256=row.sha256, charset=row.charset, error_count=row.error_count, first_error=row.first_error,
                   set_amounts=loads(row.set_amounts) or {})


def verdicts_of_run(conn: Connection, run_id: str) -> dict[str, Verdict]:
    """File name → the stored verdict, for the interchanges a run stored that have one."""
    rows = conn.execute(
        select(interchanges.c.file_name, interchange_verdicts)
        .join(interchange_verdicts, interchange_verdicts.c.interchange_id == interchanges.c.id)
        .where(interchanges.c.run_id == run_id)).all()
    return {row.file_name: _verdict(row) for row in rows}


def verdicts(conn: Connection, interchange_ids: Sequence[int]) -> dict[int, Verdict]:
    """Interchange id → the stored verdict, for those of the ids that have one."""
    out: dict[int, Verdict] = {}
    ids = list(interchange_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(interchange_verdicts)
                            .where(interchange_verdicts.c.interchange_id.in_(ids[start:start + 500]))).all()
        out.update((int(row.interchange_id), _verdict(row)) for row in rows)
    return out


#: Interchanges the delivery stage takes: never sent, refused before they were stored, or an upload whose
#: outcome a crash hid (``uploading``: looked for in Cleo first, never re-sent blindly).
TO_DELIVER = ("ready", "failed", "uploading")


def _interchange(row: Any) -> Interchange:
    return Interchange(**{name: row[name] for name in Interchange.__dataclass_fields__})


def undelivered(conn: Connection, partner_id: str | None = None,
                transaction_sets: Iterable[str] | None = None) -> list[Interchange]:
    """Interchanges rendered but not yet confirmed in Cleo (new ones, failed attempts, uploads a crash hid)."""
    query = select(interchanges).where(interchanges.c.state.in_(TO_DELIVER))
    if partner_id is not None:
        query = query.where(interchanges.c.partner_id == partner_id)
    if transaction_sets is not None:
        query = query.where(interchanges.c.transaction_set.in_(list(transaction_sets)))
    return [_interchange(r) for r in conn.execute(query.order_by(interchanges.c.id)).mappings()]



def in_doubt(conn: Connection, partner_id: str | None = None) -> list[Interchange]:
    """Uploads whose outcome is unknown and whose file was not in the folder, oldest doubt first."""
    query = select(interchanges).where(interchanges.c.state == "in_doubt")
    if partner_id is not None:
        query = query.where(interchanges.c.partner_id == partner_id)
    return [_interchange(r) for r in conn.execute(query.order_by(interchanges.c.in_doubt_since,
                                                                 interchanges.c.id)).mappings()]


def in_conflict(conn: Connection) -> list[Interchange]:
    """Interchanges whose name another file holds in the partner's folder (a person decides), oldest first."""
    query = select(interchanges).where(interchanges.c.state == "conflict").order_by(interchanges.c.id)
    return [_interchange(r) for r in conn.execute(query).mappings()]


def get_interchange(conn: Connection, interchange_id: int) -> Interchange:
    return _interchange(conn.execute(select(interchanges).where(interchanges.c.id == interchange_id))
                        .mappings().one())


def mark_uploading(conn: Connection, interchange_id: int, at: dt.datetime, *, resend: bool = False) -> bool:
    """Claim the interchange for one upload, committed before the request leaves: a crash from here on leaves
    the outcome to be looked up. ``resend``: the upload re-sends an in-doubt interchange (counted in
    ``resend_count``). False when it is no longer in the state the caller read (another run took it)."""
    expected = ("in_doubt",) if resend else ("ready", "failed")
    claimed = conn.execute(update(interchanges).where(
        interchanges.c.id == interchange_id, interchanges.c.state.in_(expected)).values(
        state="uploading", upload_started_at=at, updated_at=utcnow(), attempts=interchanges.c.attempts + 1,
        resend_count=interchanges.c.resend_count + (1 if resend else 0))).rowcount
    return bool(claimed)


def mark_in_doubt(conn: Connection, interchange_id: int, since: dt.datetime, reason: str) -> bool:
    """The upload's outcome is unknown and the file is not in the folder: wait for an acknowledgment. Only an
    upload still in flight moves: one another run (or an acknowledgment) settled meanwhile stays settled."""
    return bool(conn.execute(update(interchanges).where(interchanges.c.id == interchange_id,
                                                        interchanges.c.state == "uploading").values(
        state="in_doubt", in_doubt_since=since, last_error=reason[:2000], updated_at=utcnow())).rowcount)


def prove_delivered(conn: Connection, interchange_id: int, receipt: dict[str, Any]) -> bool:
    """An acknowledgment names an interchange whose upload was in doubt: it reached the partner. False when
    the interchange is not waiting for such proof (delivered already, never sent, in conflict)."""
    now = utcnow()
    proven = conn.execute(update(interchanges).where(
        interchanges.c.id == interchange_id, interchanges.c.state.in_(PROVABLE)).values(
        state="delivered", cleo_receipt=dumps(receipt), delivered_at=now, updated_at=now, last_error=None,
        in_doubt_since=None)).rowcount
    if proven:
        conn.execute(update(outbox).where(outbox.c.interchange_id == interchange_id,
                                          outbox.c.state == "rendered").values(
            state="delivered", ack_state=ACK_WAITING, updated_at=now))
    return bool(proven)


#: Interchanges an acknowledgment can prove delivered: their upload's outcome is unknown.
PROVABLE = ("in_doubt", "uploading")


def mark_conflict(conn: Connection, interchange_id: int, error: str) -> None:
    """Another file holds the interchange's name in the folder: nothing is sent until a person decides."""
    conn.execute(update(interchanges).where(interchanges.c.id == interchange_id).values(
        state="conflict", last_error=error[:2000], updated_at=utcnow()))


def mark_delivered(conn: Connection, interchange_id: int, *, cleo_file_id: str | None, receipt: dict[str, Any],
                   run_id: str | None) -> None:
    now = utcnow()
    conn.execute(update(interchanges).where(interchanges.c.id == interchange_id).values(
        state="delivered", cleo_file_id=cleo_file_id, cleo_receipt=dumps(receipt), delivered_at=now,
        updated_at=now, last_error=None, in_doubt_since=None))
    conn.execute(update(outbox).where(outbox.c.interchange_id == interchange_id,
                                      outbox.c.state == "rendered").values(
        state="delivered", ack_state=ACK_WAITING, updated_at=now, attempts=outbox.c.attempts + 1))


def mark_failed(conn: Connection, interchange_id: int, error: str, *, keep_state: bool = False) -> None:
    """A delivery attempt failed; ``keep_state`` leaves an ``uploading`` interchange as it is (its upload's
    outcome is still unknown, so it must be looked for, not sent again)."""
    now = utcnow()
    values: dict[str, Any] = {"last_error": error[:2000], "updated_at": now}
    if not keep_state:
        values["state"] = "failed"
    conn.execute(update(interchanges).where(interchanges.c.id == interchange_id).values(**values))
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


def requeue_failed(conn: Connection, outbox_id: int) -> bool:
    """A row that failed to render goes back to pending (a person fixed the cause); False when it is not failed."""
    result = conn.execute(update(outbox).where(outbox.c.id == outbox_id, outbox.c.state == "failed",
                                               outbox.c.interchange_id.is_(None))
                          .values(state="pending", last_error=None, updated_at=utcnow()))
    return bool(result.rowcount)


def mark_interchange_invalid(conn: Connection, interchange_id: int, detail: str) -> None:
    conn.execute(update(interchanges).where(interchanges.c.id == interchange_id).values(
        state="invalid", last_error=detail[:2000], updated_at=utcnow()))


# ---- acknowledgments we send partners: carried by interchanges like our documents, keyed once per group ----

#: The transaction sets of the interchanges that carry our acknowledgments (no outbox rows, no 997 awaited).
ACK_TRANSACTION_SETS = ("997", "999", "TA1")


def ack_key(partner_id: str, their_isa13: str, their_gs06: str | None = None) -> str:
    """One acknowledgment per partner group (ISA13 + GS06), or per interchange for a TA1."""
    return f"{partner_id}:ack:{their_isa13}:{their_gs06}" if their_gs06 is not None else \
        f"{partner_id}:ta1:{their_isa13}"


@dataclass(frozen=True)
class AckSent:
    id: int
    idempotency_key: str
    partner_id: str
    inbound_file_id: int
    ack_kind: str
    their_isa13: str
    their_gs06: str | None
    functional_id: str | None
    status: str
    detail: Any
    interchange_id: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    file_name: str
    isa13: int
    state: str


def _ack_sent(row: Any) -> AckSent:
    values = {name: row[name] for name in AckSent.__dataclass_fields__}
    return AckSent(**{**values, "detail": loads(row["detail"]) or {}})


def _acks_query() -> Any:
    return (select(acknowledgments_sent, interchanges.c.file_name, interchanges.c.isa13, interchanges.c.state)
            .join(interchanges, interchanges.c.id == acknowledgments_sent.c.interchange_id))


def ack_exists(conn: Connection, key: str) -> bool:
    return conn.execute(select(acknowledgments_sent.c.id)
                        .where(acknowledgments_sent.c.idempotency_key == key)).first() is not None


def create_ack_interchange(
    conn: Connection,
    *,
    key: str,
    partner_id: str,
    inbound_file_id: int,
    ack_kind: str,
    their_isa13: str,
    their_gs06: str | None,
    functional_id: str | None,
    status: str,
    detail: dict[str, Any],
    usage: str,
    isa13: int,
    gs06: int,
    file_name: str,
    content: str,
    sha256: str,
    set_count: int,
    run_id: str | None,
) -> int:
    """Store an acknowledgment's interchange (state ``ready``) and its keyed row, in the caller's transaction.

    A second store of the same key fails on the unique constraint, rolling the whole transaction back (its
    control numbers included): the caller checks ``ack_exists`` first, so that only happens in a race.
    """
    now = utcnow()
    interchange_id = conn.execute(
        insert(interchanges).values(
            partner_id=partner_id, transaction_set=ack_kind, usage=usage, isa13=isa13, gs06=gs06,
            file_name=file_name, content=content, size=len(content.encode("utf-8")), sha256=sha256,
            document_count=set_count, total="0", state="ready", attempts=0, created_at=now, updated_at=now,
            run_id=run_id,
        ).returning(interchanges.c.id)
    ).scalar_one()
    conn.execute(insert(acknowledgments_sent).values(
        idempotency_key=key, partner_id=partner_id, inbound_file_id=inbound_file_id, ack_kind=ack_kind,
        their_isa13=their_isa13, their_gs06=their_gs06, functional_id=functional_id, status=status,
        detail=dumps(detail), interchange_id=interchange_id, created_at=now, run_id=run_id))
    return int(interchange_id)


def acks_of_interchange(conn: Connection, interchange_id: int) -> list[AckSent]:
    rows = conn.execute(_acks_query().where(acknowledgments_sent.c.interchange_id == interchange_id)).mappings()
    return [_ack_sent(r) for r in rows]


def mark_ack_sent(conn: Connection, interchange_id: int) -> None:
    conn.execute(update(acknowledgments_sent).where(acknowledgments_sent.c.interchange_id == interchange_id)
                 .values(sent_at=utcnow()))


def acks_sent(conn: Connection, *, partner_id: str | None = None, inbound_file_id: int | None = None,
              their_isa13: str | None = None) -> list[AckSent]:
    """Acknowledgments we stored for partners (sent or on their way), oldest first."""
    query = _acks_query()
    if partner_id is not None:
        query = query.where(acknowledgments_sent.c.partner_id == partner_id)
    if inbound_file_id is not None:
        query = query.where(acknowledgments_sent.c.inbound_file_id == inbound_file_id)
    if their_isa13 is not None:
        query = query.where(acknowledgments_sent.c.their_isa13 == their_isa13)
    return [_ack_sent(r) for r in conn.execute(query.order_by(acknowledgments_sent.c.id)).mappings()]


def delivered_references(conn: Connection, partner_id: str, transaction_set: str, limit: int = 1) -> list[str]:
    """References (invoice / PO numbers) of documents delivered to a partner, newest first."""
    rows = conn.execute(select(outbox.c.reference).where(
        outbox.c.partner_id == partner_id, outbox.c.transaction_set == transaction_set,
        outbox.c.state == "delivered").order_by(outbox.c.id.desc()).limit(limit)).scalars()
    return list(rows)
