"""What the Dagster lineage of documents reads from the ledger: the trail after a cursor, each document's name, and
the interchanges that trail mentions.

The audit trail and the quarantine are append-only by id, so "everything after id N" is a complete, ordered
increment; the lineage sensor keeps N as its cursor. ``references`` gives the number a person searches for (the
invoice or bill number of the first version, a partner's PO or invoice number). ``interchanges_named`` and
``carriers`` give the interchanges (files we send) that those events are about, with the documents each carries;
every query here is bounded by the events of one tick, never by the ledger's history. Read-only: nothing here
writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from freshcleo_pipeline.ledger import audit
from freshcleo_pipeline.ledger.partner_documents import trail_kind
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import (
    acknowledgments_sent,
    audit_events,
    documents,
    interchanges,
    outbox,
    partner_documents,
    quarantine,
)

#: A document as the trail keys it: (kind, account id, source id).
DocumentKey = tuple[str, str, str]
#: One set of ours as an acknowledgment event names it: (partner, document, GS06, ST02).
AckedSet = tuple[str, DocumentKey, int, str]
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


@dataclass(frozen=True)
class InterchangeFacts:
    """One interchange we send (our documents, or an acknowledgment we owe a partner) as it stands now, with the
    sets it carries as the trail keys their documents (for an acknowledgment: the partner's sets it answers)."""

    id: int
    partner_id: str
    transaction_set: str
    usage: str
    isa13: int
    gs06: int
    file_name: str
    state: str
    last_error: str | None
    cleo_file_id: str | None
    cleo_receipt: dict[str, Any] | None
    documents: tuple[DocumentKey, ...]


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
    ours: dict[tuple[str, str], list[str]] = {}
    for kind, account, source in sorted(k for k in wanted if not k[0].startswith("x12_")):
        ours.setdefault((kind, account), []).append(source)
    for (kind, account), sources in ours.items():  # by kind and account: the unique index's prefix
        for start in range(0, len(sources), _CHUNK):
            rows = conn.execute(select(documents.c.kind, documents.c.account_id, documents.c.source_id,
                                       documents.c.reference)
                                .where(documents.c.kind == kind, documents.c.account_id == account,
                                       documents.c.source_id.in_(sources[start:start + _CHUNK]),
                                       documents.c.reference != "")
                                .order_by(documents.c.id)).all()
            for row_kind, row_account, source, reference in rows:
                found.setdefault((row_kind, row_account, source), reference)
    # Their sets: only the interchanges named (their ISA13 is the first part of the source id), not every set the
    # partner ever sent.
    theirs = sorted({(k[1], k[2].partition("/")[0]) for k in wanted if k[0].startswith("x12_")})
    for start in range(0, len(theirs), _CHUNK):
        chunk = theirs[start:start + _CHUNK]
        theirs_rows = conn.execute(select(partner_documents.c.transaction_set, partner_documents.c.partner_id,
                                   partner_documents.c.isa13, partner_documents.c.gs06, partner_documents.c.st02,
                                   partner_documents.c.reference)
                            .where(partner_documents.c.partner_id.in_(sorted({p for p, _ in chunk})),
                                   partner_documents.c.isa13.in_(sorted({i for _, i in chunk})),
                                   partner_documents.c.reference != "")
                            .order_by(partner_documents.c.id)).all()
        for tset, partner, isa13, gs06, st02, reference in theirs_rows:
            found.setdefault((trail_kind(tset), partner, f"{isa13}/{gs06}/{st02}"), reference)
    return {k: v for k, v in found.items() if k in wanted}


def keys_of(events: Sequence[audit.AuditEvent], marks: Sequence[QuarantineMark]) -> set[DocumentKey]:
    return {(e.kind, e.account_id, e.source_id) for e in events} | {(m.kind, m.account_id, m.source_id)
                                                                     for m in marks}


def interchanges_named(conn: Connection, names: Iterable[str]) -> dict[str, InterchangeFacts]:
    """The interchanges of these file names (file names are unique), each with the documents it carries."""
    wanted = sorted(set(names))
    rows: list[Any] = []
    for start in range(0, len(wanted), _CHUNK):
        rows += conn.execute(select(interchanges.c.id, interchanges.c.partner_id, interchanges.c.transaction_set,
                                    interchanges.c.usage, interchanges.c.isa13, interchanges.c.gs06,
                                    interchanges.c.file_name, interchanges.c.state, interchanges.c.last_error,
                                    interchanges.c.cleo_file_id, interchanges.c.cleo_receipt)
                             .where(interchanges.c.file_name.in_(wanted[start:start + _CHUNK]))).all()
    carried: dict[int, list[DocumentKey]] = {}
    ids = sorted(r.id for r in rows)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        for interchange_id, kind, account, source in conn.execute(
                select(outbox.c.interchange_id, outbox.c.kind, outbox.c.account_id, outbox.c.source_id)
                .where(outbox.c.interchange_id.in_(chunk)).order_by(outbox.c.interchange_id, outbox.c.st02)):
            carried.setdefault(interchange_id, []).append((kind, account, source))
        for interchange_id, partner, their_isa13, detail in conn.execute(
                select(acknowledgments_sent.c.interchange_id, acknowledgments_sent.c.partner_id,
                       acknowledgments_sent.c.their_isa13, acknowledgments_sent.c.detail)
                .where(acknowledgments_sent.c.interchange_id.in_(chunk)).order_by(acknowledgments_sent.c.id)):
            carried.setdefault(interchange_id, []).extend(
                (trail_kind(s["set"]), partner, f"{their_isa13}/{s['gs06']}/{s['st02']}")
                for s in (loads(detail) or {}).get("sets", []))
    return {r.file_name: InterchangeFacts(
        id=r.id, partner_id=r.partner_id, transaction_set=r.transaction_set, usage=r.usage, isa13=r.isa13,
        gs06=r.gs06, file_name=r.file_name, state=r.state, last_error=r.last_error, cleo_file_id=r.cleo_file_id,
        cleo_receipt=loads(r.cleo_receipt) if r.cleo_receipt else None,
        documents=tuple(dict.fromkeys(carried.get(r.id, ())))) for r in rows}


def carriers(conn: Connection, sets: Iterable[AckedSet]) -> dict[AckedSet, str]:
    """The file name of the interchange that carried each of these sets of ours (an acknowledgment names the set
    by GS06 and ST02, not by our file); a set re-sent later is found in each interchange that carried it, the
    latest winning."""
    wanted = set(sets)
    groups = sorted({(partner, gs06) for partner, _, gs06, _ in wanted})
    found: dict[AckedSet, str] = {}
    for start in range(0, len(groups), _CHUNK):
        chunk = groups[start:start + _CHUNK]
        rows = conn.execute(select(outbox.c.partner_id, outbox.c.kind, outbox.c.account_id, outbox.c.source_id,
                                   outbox.c.gs06, outbox.c.st02, interchanges.c.file_name)
                            .join(interchanges, interchanges.c.id == outbox.c.interchange_id)
                            .where(outbox.c.partner_id.in_(sorted({p for p, _ in chunk})),
                                   outbox.c.gs06.in_(sorted({g for _, g in chunk})))
                            .order_by(outbox.c.id)).all()
        for partner, kind, account, source, gs06, st02, file_name in rows:
            key = (partner, (kind, account, source), gs06, st02)
            if key in wanted:
                found[key] = file_name
    return found
