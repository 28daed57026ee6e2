"""Partner documents: the business sets partners send us (810, 850, 820, 856), one row per set, read into data.

Owns recording them once (by inbound file and the set's ISA13/GS06/ST02, so a file processed again after a
crash adds nothing) and finding them by their number or their ISA13. Reading the X12 is ``x12/partner_documents``'s
job, deciding what to do with them is the caller's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, loads, utcnow
from freshcleo_pipeline.ledger.schema import partner_documents

READ = "read"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class PartnerDocumentRow:
    id: int
    inbound_file_id: int
    partner_id: str
    transaction_set: str
    isa13: str
    gs06: str
    st02: str
    reference: str
    document_date: dt.date | None
    currency: str | None
    total: str | None
    body: Any
    status: str
    reason: str
    warnings: list[str]
    created_at: dt.datetime
    run_id: str | None

    @property
    def source_id(self) -> str:
        """How the trail names this set: the partner's control numbers."""
        return f"{self.isa13}/{self.gs06}/{self.st02}"


def _row(row: Any) -> PartnerDocumentRow:
    values = {name: row[name] for name in PartnerDocumentRow.__dataclass_fields__}
    return PartnerDocumentRow(**{**values, "body": loads(row["body"]), "warnings": loads(row["warnings"]) or []})


def record(conn: Connection, *, inbound_file_id: int, partner_id: str, transaction_set: str, isa13: str, gs06: str,
           st02: str, status: str, reference: str = "", document_date: dt.date | None = None,
           currency: str | None = None, total: str | None = None, body: Any = None, reason: str = "",
           warnings: list[str] | None = None, run_id: str | None = None) -> bool:
    """Record one set; False when this file's set was recorded before (nothing changes then)."""
    if status not in (READ, UNREADABLE):
        raise ValueError(f"partner document status: got {status!r}; expected {READ!r} or {UNREADABLE!r}")
    return insert_ignore(conn, partner_documents, [{
        "inbound_file_id": inbound_file_id, "partner_id": partner_id, "transaction_set": transaction_set[:3],
        "isa13": isa13[:9], "gs06": gs06[:9], "st02": st02[:9], "reference": reference[:64],
        "document_date": document_date, "currency": currency, "total": total,
        "body": dumps(body) if body is not None else None, "status": status, "reason": reason,
        "warnings": dumps(warnings or []), "created_at": utcnow(), "run_id": run_id,
    }], ["inbound_file_id", "isa13", "gs06", "st02"]) == 1


def of_file(conn: Connection, inbound_file_id: int) -> list[PartnerDocumentRow]:
    rows = conn.execute(select(partner_documents).where(partner_documents.c.inbound_file_id == inbound_file_id)
                        .order_by(partner_documents.c.id)).mappings()
    return [_row(r) for r in rows]


def matching(conn: Connection, query: str) -> list[PartnerDocumentRow]:
    """Sets whose number is ``query``, or whose ISA13 it is (``[partner:]isa13``, with or without zeros)."""
    text = query.strip()
    partner, _, number = text.rpartition(":")
    conditions = [partner_documents.c.reference == text]
    if number.isdigit() and len(number) <= 9:
        isa = partner_documents.c.isa13.in_({number, number.zfill(9), number.lstrip("0") or "0"})
        conditions.append(isa & (partner_documents.c.partner_id == partner) if partner else isa)
    rows = conn.execute(select(partner_documents).where(or_(*conditions))
                        .order_by(partner_documents.c.id)).mappings()
    return [_row(r) for r in rows]


def get(conn: Connection, partner_id: str, source_id: str) -> list[PartnerDocumentRow]:
    """The rows of one set named as the trail names it (``isa13/gs06/st02``)."""
    isa13, _, rest = source_id.partition("/")
    gs06, _, st02 = rest.partition("/")
    rows = conn.execute(select(partner_documents).where(
        partner_documents.c.partner_id == partner_id, partner_documents.c.isa13 == isa13,
        partner_documents.c.gs06 == gs06, partner_documents.c.st02 == st02).order_by(partner_documents.c.id)
    ).mappings()
    return [_row(r) for r in rows]


def counts(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(partner, transaction set, status, count) over every partner document."""
    c = partner_documents.c
    rows = conn.execute(select(c.partner_id, c.transaction_set, c.status, func.count())
                        .group_by(c.partner_id, c.transaction_set, c.status)).all()
    return [(p, t, s, int(n)) for p, t, s, n in rows]


def trail_kind(transaction_set: str) -> str:
    """The ``kind`` under which a partner set's events sit in the audit trail (account = partner,
    source id = ``isa13/gs06/st02``): apart from FreshBooks kinds, so a trace never mixes the two."""
    return f"x12_{transaction_set}"[:20]


def listing(conn: Connection, partner_id: str | None = None) -> list[PartnerDocumentRow]:
    """Every partner document (of one partner), oldest first."""
    query = select(partner_documents)
    if partner_id is not None:
        query = query.where(partner_documents.c.partner_id == partner_id)
    return [_row(r) for r in conn.execute(query.order_by(partner_documents.c.id)).mappings()]
