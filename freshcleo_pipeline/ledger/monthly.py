"""What the monthly reconciliation reads: the FreshBooks documents of a month with their deliveries, and the
partner documents of the month with their match results.

Read-only, in the caller's transaction so the views agree. Turning these rows into the report's tables (what
counts as sent, overdue, not sent) is ``reports/reconciliation.py``'s job; nothing here knows partners.yaml.

A month is the UTC dates [first day, first day of the next month).

- **Our documents.** A FreshBooks document belongs to the month when the document date of its *newest*
  normalized version lies in the month: an invoice's or a bill's ``issue_date``, a payment's or a bill payment's
  ``payment_date`` (in the normalized body, as FreshBooks states it). The newest version is the one with the
  highest id among the versions not ``superseded``. Only documents whose newest version is ``routed`` are
  returned (drafts, deleted, unrouted and invalid documents are not sent to anyone and are not in the report).
  Document dates live in the body JSON, which no index covers, so the partitions (the day of each version's
  latest FreshBooks update) pre-filter: versions from the first day of the *previous* month on, with no upper
  bound, since a document updated after its month (paid, corrected) has its newest version in a later partition.
  The date is then checked exactly in Python. What this misses: a document whose newest version was last updated
  more than a month before its own date (dated far in the future), a case FreshBooks allows but nobody uses.
- **Their deliveries.** Every outbox row of those newest versions, with its interchange (file name, state,
  delivery time) and the current acknowledgment state kept on the row.
- **Their documents.** Partner documents (810, 850, 820 they sent us) whose document date lies in the month, or,
  for a set without one (unreadable), whose receipt date does; each with its match result when the matching
  stage has checked it (``partner_matches``: none yet is a valid state) and the inbound file it came in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import (
    documents,
    inbound_files,
    interchanges,
    outbox,
    partner_documents,
    partner_matches,
)

_CHUNK = 500
#: Where each kind's normalized body states its document date.
DATE_FIELD = {"invoice": "issue_date", "bill": "issue_date", "payment": "payment_date",
              "bill_payment": "payment_date"}


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """[first day, first day of the next month) of the month ``month`` falls in."""
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following


@dataclass(frozen=True)
class MonthDocument:
    """The newest normalized version of a routed FreshBooks document dated in the month."""

    id: int
    kind: str
    account_id: str
    source_id: str
    version: str
    reference: str
    partner_id: str
    transaction_set: str
    currency: str
    total: Decimal
    document_date: dt.date


@dataclass(frozen=True)
class Delivery:
    """An outbox row of such a version, with the state of the interchange that carries it (if rendered)."""

    outbox_id: int
    document_id: int
    purpose: str
    state: str  # pending | rendered | delivered | failed | ignored | void
    total: Decimal
    last_error: str | None
    resend_of: int | None
    file_name: str | None
    isa13: int | None
    gs06: int | None
    st02: str | None
    ack_state: str
    ack_at: dt.datetime | None
    interchange_state: str | None  # ready | uploading | in_doubt | conflict | delivered | failed | invalid
    interchange_error: str | None
    delivered_at: dt.datetime | None


@dataclass(frozen=True)
class TheirDocument:
    """A partner document of the month and, once checked, what it matched."""

    id: int
    partner_id: str
    transaction_set: str
    reference: str
    isa13: str
    gs06: str
    st02: str
    document_date: dt.date | None
    received_at: dt.datetime
    currency: str | None
    total: Decimal | None
    status: str  # read | unreadable
    reason: str
    file_name: str
    match_status: str | None  # None: not checked yet
    differences: list[dict[str, Any]]
    freshbooks_kind: str | None
    freshbooks_id: str | None
    our_reference: str | None


@dataclass(frozen=True)
class MonthRows:
    first: dt.date
    following: dt.date
    documents: list[MonthDocument]
    deliveries: dict[int, list[Delivery]]  # document id → its outbox rows, oldest first
    theirs: list[TheirDocument]


def document_date(kind: str, body: Any) -> dt.date | None:
    """The date a person files the document under (see the module docstring), from its normalized body."""
    value = body.get(DATE_FIELD.get(kind, "")) if isinstance(body, dict) else None
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def rows_for_month(conn: Connection, month: dt.date) -> MonthRows:
    first, following = month_bounds(month)
    ours = _our_documents(conn, first, following)
    return MonthRows(first=first, following=following, documents=ours,
                     deliveries=_deliveries(conn, ours),
                     theirs=_their_documents(conn, first, following))


def _our_documents(conn: Connection, first: dt.date, following: dt.date) -> list[MonthDocument]:
    d = documents.c
    lower = month_bounds(first - dt.timedelta(days=1))[0]
    versions = conn.execute(select(d.id, d.kind, d.account_id, d.source_id, d.status).where(
        or_(d.partition_date >= lower, d.partition_date.is_(None)), d.status != "superseded")).all()
    newest: dict[tuple[str, str, str], tuple[int, str]] = {}
    for doc_id, kind, account_id, source_id, status in versions:
        key = (kind, account_id, source_id)
        if key not in newest or doc_id > newest[key][0]:
            newest[key] = (doc_id, status)
    routed = sorted(doc_id for doc_id, status in newest.values() if status == "routed")
    found: list[MonthDocument] = []
    for start in range(0, len(routed), _CHUNK):
        rows = conn.execute(select(d.id, d.kind, d.account_id, d.source_id, d.version, d.reference, d.partner_id,
                                   d.transaction_set, d.currency, d.total, d.body)
                            .where(d.id.in_(routed[start:start + _CHUNK]))).mappings()
        for row in rows:
            day = document_date(row["kind"], loads(row["body"]))
            if day is None or not first <= day < following:
                continue
            found.append(MonthDocument(
                id=row["id"], kind=row["kind"], account_id=row["account_id"], source_id=row["source_id"],
                version=row["version"], reference=row["reference"], partner_id=row["partner_id"] or "",
                transaction_set=row["transaction_set"] or "", currency=row["currency"], total=Decimal(row["total"]),
                document_date=day))
    return sorted(found, key=lambda doc: doc.id)


def _deliveries(conn: Connection, month_documents: Sequence[MonthDocument]) -> dict[int, list[Delivery]]:
    """Each document's outbox rows, of every version: a version delivered before an edit still stands at the
    partner, whatever became of the newest version (queued, or not sent by the partner's change policy)."""
    o, i = outbox.c, interchanges.c
    by_key = {(d.kind, d.account_id, d.source_id): d.id for d in month_documents}
    groups: dict[tuple[str, str], list[str]] = {}
    for kind, account_id, source_id in by_key:
        groups.setdefault((kind, account_id), []).append(source_id)
    out: dict[int, list[Delivery]] = {}
    for (kind, account_id), source_ids in sorted(groups.items()):
        for start in range(0, len(source_ids), _CHUNK):
            rows = conn.execute(
                select(o.id, o.kind, o.account_id, o.source_id, o.purpose, o.state, o.total, o.last_error,
                       o.resend_of, o.file_name, o.isa13, o.gs06, o.st02, o.ack_state, o.ack_at,
                       i.state.label("interchange_state"), i.last_error.label("interchange_error"), i.delivered_at)
                .outerjoin(interchanges, i.id == o.interchange_id)
                .where(o.kind == kind, o.account_id == account_id,
                       o.source_id.in_(source_ids[start:start + _CHUNK])).order_by(o.id)).mappings()
            for r in rows:
                document_id = by_key[(r["kind"], r["account_id"], r["source_id"])]
                out.setdefault(document_id, []).append(Delivery(
                    outbox_id=r["id"], document_id=document_id, purpose=r["purpose"], state=r["state"],
                    total=Decimal(r["total"]), last_error=r["last_error"], resend_of=r["resend_of"],
                    file_name=r["file_name"], isa13=r["isa13"], gs06=r["gs06"], st02=r["st02"],
                    ack_state=r["ack_state"], ack_at=r["ack_at"], interchange_state=r["interchange_state"],
                    interchange_error=r["interchange_error"], delivered_at=r["delivered_at"]))
    for found in out.values():
        found.sort(key=lambda d: d.outbox_id)
    return out


def _their_documents(conn: Connection, first: dt.date, following: dt.date) -> list[TheirDocument]:
    p, m = partner_documents.c, partner_matches.c
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(following, dt.time(), dt.UTC)
    rows = conn.execute(
        select(p.id, p.partner_id, p.transaction_set, p.reference, p.isa13, p.gs06, p.st02, p.document_date,
               p.created_at, p.currency, p.total, p.status, p.reason, inbound_files.c.file_name,
               m.status.label("match_status"), m.differences, m.freshbooks_kind, m.freshbooks_id, m.our_reference)
        .join(inbound_files, inbound_files.c.id == p.inbound_file_id)
        .outerjoin(partner_matches, m.partner_document_id == p.id)
        .where(or_(and_(p.document_date >= first, p.document_date < following),
                   and_(p.document_date.is_(None), p.created_at >= start, p.created_at < end)))
        .order_by(p.id)).mappings()
    return [TheirDocument(
        id=r["id"], partner_id=r["partner_id"], transaction_set=r["transaction_set"], reference=r["reference"],
        isa13=r["isa13"], gs06=r["gs06"], st02=r["st02"], document_date=r["document_date"],
        received_at=r["created_at"], currency=r["currency"], total=_amount(r["total"]),
        status=r["status"], reason=r["reason"], file_name=r["file_name"], match_status=r["match_status"],
        differences=list(loads(r["differences"]) or []), freshbooks_kind=r["freshbooks_kind"],
        freshbooks_id=r["freshbooks_id"], our_reference=r["our_reference"]) for r in rows]


def _amount(text: str | None) -> Decimal | None:
    """A partner's stated total; none when absent or not a number (the set's own status says why)."""
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None
