"""The reads behind ``freshcleo trace``: which documents an identifier names, and the rows of one document's
life that no other ledger module already hands out (its normalized versions, its outbox rows with their files).

Read-only. Gathering a whole trace and how it reads belong to ``sync/trace.py`` and ``sync/trace_text.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select

from freshcleo_pipeline.ledger import acknowledgments, quarantine
from freshcleo_pipeline.ledger import partner_documents as partner_docs
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import documents, inbound_files, interchanges, outbox

DocumentKey = tuple[str, str, str]  # kind, account id, source id


def documents_matching(conn: Connection, text: str) -> list[DocumentKey]:
    """The documents an identifier names, sorted: a FreshBooks id or reference (documents and quarantine), an
    ISA13 (``partner:isa13`` narrows it) or a file name of ours, an inbound file name (the documents its
    acknowledgments spoke for), or a partner document's identifiers."""
    found: set[DocumentKey] = set()
    partner, _, number = text.rpartition(":")
    rows = conn.execute(select(documents.c.kind, documents.c.account_id, documents.c.source_id).where(
        or_(documents.c.source_id == text, documents.c.reference == text))).all()
    found.update((k, a, s) for k, a, s in rows)
    found.update(quarantine.freshbooks_matches(conn, text))
    file_filter = [interchanges.c.file_name == text]
    if number.isdigit():
        isa_match = interchanges.c.isa13 == int(number)
        file_filter.append(isa_match if not partner else isa_match & (interchanges.c.partner_id == partner))
    ids = [i for (i,) in conn.execute(select(interchanges.c.id).where(or_(*file_filter))).all()]
    if ids:
        rows = conn.execute(select(outbox.c.kind, outbox.c.account_id, outbox.c.source_id)
                            .where(outbox.c.interchange_id.in_(ids))).all()
        found.update((k, a, s) for k, a, s in rows)
    files = [i for (i,) in conn.execute(select(inbound_files.c.id).where(inbound_files.c.file_name == text)).all()]
    outbox_ids = sorted({a.outbox_id for a in acknowledgments.of_file(conn, files)})
    if outbox_ids:
        rows = conn.execute(select(outbox.c.kind, outbox.c.account_id, outbox.c.source_id)
                            .where(outbox.c.id.in_(outbox_ids))).all()
        found.update((k, a, s) for k, a, s in rows)
    found.update((partner_docs.trail_kind(d.transaction_set), d.partner_id, d.source_id)
                 for d in partner_docs.matching(conn, text))
    return sorted(found)


def normalized_versions(conn: Connection, kind: str, account_id: str, source_id: str) -> list[dict[str, Any]]:
    """Each normalized version of a document, oldest first: its decision, money and warnings (as a list)."""
    rows = conn.execute(select(documents.c.version, documents.c.status, documents.c.partner_id,
                               documents.c.reference, documents.c.currency, documents.c.total,
                               documents.c.reason, documents.c.warnings)
                        .where(documents.c.kind == kind, documents.c.account_id == account_id,
                               documents.c.source_id == source_id).order_by(documents.c.id)).mappings()
    return [{**dict(r), "warnings": loads(r["warnings"]) or []} for r in rows]


def deliveries_of(conn: Connection, kind: str, account_id: str, source_id: str) -> list[dict[str, Any]]:
    """Every outbox row of a document, oldest first, with its file's Cleo id and delivery time (``None`` before
    it was rendered or delivered). Plain columns, as the trace shows them."""
    rows = conn.execute(
        select(outbox, interchanges.c.cleo_file_id, interchanges.c.delivered_at)
        .outerjoin(interchanges, interchanges.c.id == outbox.c.interchange_id)
        .where(outbox.c.kind == kind, outbox.c.account_id == account_id, outbox.c.source_id == source_id)
        .order_by(outbox.c.id)).mappings()
    return [dict(r) for r in rows]
