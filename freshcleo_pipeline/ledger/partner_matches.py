"""Partner documents matched against what FreshBooks holds and what we sent: the results, and the lookups.

Owns the ``partner_matches`` rows (one per partner document: its current result, and the run that last changed
it, so "new mismatches" are the ones a run changed) and the reads the matching stage needs from the rest of the
ledger: the 850 we delivered for a PO number, the newest version of a FreshBooks document, the invoice that
carries a customer's PO number, and FreshBooks' own figures of invoices named by number. Deciding what matches
is ``matching/``'s job; choosing what to check and what to write is ``sync/matching.py``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from freshcleo_pipeline.ledger.partner_documents import READ, PartnerDocumentRow, _row
from freshcleo_pipeline.ledger.rows import dumps, loads
from freshcleo_pipeline.ledger.schema import (
    documents,
    freshbooks_writes,
    outbox,
    partner_documents,
    partner_matches,
    source_snapshots,
)

#: Results a later poll may still change (a bill edited, an invoice issued): checked again while recent.
OPEN = ("unmatched", "mismatched", "unanswered")
#: The sets the matching stage reads: a supplier's 810, a customer's 850 and 820.
MATCHED_SETS = ("810", "850", "820")


@dataclass(frozen=True)
class MatchRow:
    id: int
    partner_document_id: int
    partner_id: str
    transaction_set: str
    reference: str
    document_date: dt.date | None
    status: str
    differences: list[dict[str, Any]]
    freshbooks_kind: str | None
    freshbooks_id: str | None
    our_reference: str | None
    our_isa13: str | None
    detail: dict[str, Any]
    checked_at: dt.datetime
    changed_at: dt.datetime
    changed_run_id: str | None
    run_id: str | None


def _match(row: Any) -> MatchRow:
    values = {name: row[name] for name in MatchRow.__dataclass_fields__}
    return MatchRow(**{**values, "differences": loads(row["differences"]) or [],
                       "detail": loads(row["detail"]) or {}})


def to_check(conn: Connection, since: dt.datetime, limit: int = 5000) -> list[PartnerDocumentRow]:
    """Readable 810/850/820s never matched, and open results received since ``since`` (checked again)."""
    pd, pm = partner_documents.c, partner_matches.c
    query = (select(partner_documents).select_from(partner_documents.outerjoin(
        partner_matches, pm.partner_document_id == pd.id))
        .where(pd.status == READ, pd.transaction_set.in_(MATCHED_SETS),
               or_(pm.id.is_(None), and_(pm.status.in_(OPEN), pd.created_at >= since),
                   # a write whose outcome is not known yet is settled however old its document
                   pd.id.in_(select(freshbooks_writes.c.partner_document_id).where(
                       freshbooks_writes.c.state == "claimed"))))
        .order_by(pd.id).limit(limit))
    return [_row(r) for r in conn.execute(query).mappings()]


def get(conn: Connection, partner_document_id: int) -> MatchRow | None:
    row = conn.execute(select(partner_matches).where(
        partner_matches.c.partner_document_id == partner_document_id)).mappings().first()
    return _match(row) if row is not None else None


def record(conn: Connection, *, document: PartnerDocumentRow, status: str, differences: list[dict[str, Any]],
           freshbooks_kind: str | None, freshbooks_id: str | None, our_reference: str | None,
           our_isa13: str | None, detail: dict[str, Any], now: dt.datetime, run_id: str | None) -> str | None:
    """Store the current result; returns the previous status ("" when first matched) when the status or the
    differences changed, ``None`` when nothing a person reads changed."""
    stored_differences = dumps(differences)
    values: dict[str, Any] = {"status": status, "differences": stored_differences, "freshbooks_kind": freshbooks_kind,
              "freshbooks_id": freshbooks_id, "our_reference": our_reference, "our_isa13": our_isa13,
              "detail": dumps(detail), "checked_at": now, "run_id": run_id}
    before = get(conn, document.id)
    if before is None:
        conn.execute(partner_matches.insert().values(
            partner_document_id=document.id, partner_id=document.partner_id,
            transaction_set=document.transaction_set, reference=document.reference,
            document_date=document.document_date, changed_at=now, changed_run_id=run_id, **values))
        return ""
    changed = (before.status != status or before.differences != loads(stored_differences)
               or before.freshbooks_id != freshbooks_id)
    if changed:
        values.update(changed_at=now, changed_run_id=run_id)
    conn.execute(partner_matches.update().where(partner_matches.c.id == before.id).values(**values))
    return before.status if changed else None


def changed_in_run(conn: Connection, run_id: str) -> list[MatchRow]:
    rows = conn.execute(select(partner_matches).where(partner_matches.c.changed_run_id == run_id)
                        .order_by(partner_matches.c.id)).mappings()
    return [_match(r) for r in rows]


def listing(conn: Connection, *, status: Sequence[str] = (), partner_id: str | None = None,
            limit: int = 1000) -> list[MatchRow]:
    query = select(partner_matches)
    if status:
        query = query.where(partner_matches.c.status.in_(status))
    if partner_id is not None:
        query = query.where(partner_matches.c.partner_id == partner_id)
    rows = conn.execute(query.order_by(partner_matches.c.id.desc()).limit(limit)).mappings()
    return [_match(r) for r in rows]


def counts(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(partner, transaction set, status, count) over every result."""
    c = partner_matches.c
    rows = conn.execute(select(c.partner_id, c.transaction_set, c.status, func.count())
                        .group_by(c.partner_id, c.transaction_set, c.status)).all()
    return [(p, t, s, int(n)) for p, t, s, n in rows]


# ---- what the matching stage reads from the rest of the ledger ----

@dataclass(frozen=True)
class SentDocument:
    """The version of one of our documents a partner received (outbox delivered), with its control numbers."""

    source_id: str
    body: dict[str, Any]
    isa13: int | None
    file_name: str | None


def sent_document(conn: Connection, partner_id: str, kind: str, account_id: str,
                  source_id: str) -> SentDocument | None:
    """The newest version of a document we delivered to the partner (replacements included)."""
    o = outbox.c
    row = conn.execute(select(o.source_id, o.isa13, o.file_name, documents.c.body)
                       .join(documents, documents.c.id == o.document_id)
                       .where(o.kind == kind, o.account_id == account_id, o.source_id == source_id,
                              o.partner_id == partner_id,
                              o.state == "delivered", o.purpose != "cancel")
                       .order_by(o.id.desc()).limit(1)).first()
    if row is None or row.body is None:
        return None
    return SentDocument(row.source_id, loads(row.body), row.isa13, row.file_name)


@dataclass(frozen=True)
class CurrentDocument:
    """The newest normalized version of a FreshBooks document, as the last poll saw it."""

    source_id: str
    status: str  # routed | unrouted | draft | deleted | invalid | superseded | from_partner
    partner_id: str | None
    body: dict[str, Any] | None


def current_document(conn: Connection, kind: str, account_id: str, source_id: str) -> CurrentDocument | None:
    d = documents.c
    row = conn.execute(select(d.source_id, d.status, d.partner_id, d.body)
                       .where(d.kind == kind, d.account_id == account_id, d.source_id == source_id,
                              d.status != "superseded")
                       .order_by(d.id.desc()).limit(1)).first()
    if row is None:
        return None
    return CurrentDocument(row.source_id, row.status, row.partner_id, loads(row.body))


def invoice_with_po(conn: Connection, account_id: str, partner_id: str, po_number: str) -> CurrentDocument | None:
    """The newest invoice of the partner whose newest version carries ``po_number`` (the customer's BEG03),
    found through the ``po_number`` column's index; each candidate's newest version is checked exactly."""
    d = documents.c
    wanted = po_number.strip()[:64]
    # No ORDER BY or GROUP BY in SQL: either lets the planner prefer an index that yields that order and read
    # every invoice of the account; the versions carrying one PO number are few, sorted here.
    rows = conn.execute(select(d.id, d.source_id).where(
        d.kind == "invoice", d.partner_id == partner_id, d.po_number == wanted, d.account_id == account_id)).all()
    newest: dict[str, int] = {}
    for ident, source_id in rows:
        newest[source_id] = max(ident, newest.get(source_id, 0))
    for source_id in sorted(newest, key=newest.__getitem__, reverse=True)[:20]:
        current = current_document(conn, "invoice", account_id, source_id)
        if (current is not None and current.body is not None and current.status != "deleted"
                and str(current.body.get("po_number") or "").strip() == po_number.strip()):
            return current
    return None


def invoice_payloads_by_number(conn: Connection, account_id: str, partner_id: str,
                               numbers: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Invoice number → the newest raw FreshBooks payload (with ``paid``/``outstanding``, FreshBooks' own) of
    the partner's invoices with that number: another customer's invoice of the same number is not theirs."""
    if not numbers:
        return {}
    d, s = documents.c, source_snapshots.c
    query = select(d.reference, d.source_id).where(d.kind == "invoice", d.account_id == account_id,
                                                   d.reference.in_(list(numbers)), d.partner_id == partner_id,
                                                   d.status.not_in(("deleted", "superseded")))
    ids = {ref: source_id for ref, source_id in conn.execute(query.order_by(d.id)).all()}
    out: dict[str, dict[str, Any]] = {}
    for reference, source_id in ids.items():
        payload = conn.execute(select(s.payload).where(s.kind == "invoice", s.account_id == account_id,
                                                       s.source_id == source_id)
                               .order_by(s.id.desc()).limit(1)).scalar()
        if payload:
            out[reference] = loads(payload)
    return out
