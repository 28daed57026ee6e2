"""Lineage per document: everything the ledger knows about a document, found by any of its identifiers.

``find`` accepts a FreshBooks id, an invoice/bill/payment reference, an ISA13 (digits, optionally with the
partner as ``partner:isa13``) or a Cleo file name, and returns the matching documents; ``trace`` assembles one
document's life in order: snapshot versions, normalization results and warnings, routing, outbox rows with
interchange and control numbers, file name, upload receipt, acknowledgment, every acknowledgment received (997,
999, TA1, with their AK3/AK4 details and warnings, so a conflict shows both sides), re-sends, and the audit trail
with the Dagster run ids. A file name finds the documents its acknowledgments spoke for. How a trace reads
(timeline text, JSON) is ``trace_text``'s job; this module only gathers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.ledger import Connection, Ledger, acknowledgments, audit, quarantine, snapshots, trace_queries
from freshcleo_pipeline.ledger import partner_documents as partner_docs
from freshcleo_pipeline.ledger.outbox import AckSent, acks_sent
from freshcleo_pipeline.sync import trace_text


@dataclass
class DocumentTrace:
    kind: str
    account_id: str
    source_id: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    normalized: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[quarantine.Entry] = field(default_factory=list)
    acknowledgments: list[acknowledgments.Acknowledgment] = field(default_factory=list)
    # A partner's own document (kind ``x12_<set>``, account = partner, source id = ISA13/GS06/ST02): as read,
    # and the acknowledgments we sent for its group.
    received: list[partner_docs.PartnerDocumentRow] = field(default_factory=list)
    acks_sent: list[AckSent] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The life as a person reads it (see ``trace_text``)."""
        return trace_text.timeline(self)

    def as_json(self) -> dict[str, Any]:
        """The same life as plain data, for machines."""
        return trace_text.as_json(self)


def find(conn: Connection, query: str) -> list[tuple[str, str, str]]:
    """(kind, account_id, source_id) of the documents matching an identifier."""
    return trace_queries.documents_matching(conn, query.strip())


def trace(ledger: Ledger, kind: str, account_id: str, source_id: str) -> DocumentTrace:
    result = DocumentTrace(kind, account_id, source_id)
    with ledger.begin() as conn:
        result.versions = [{"version": s.version, "updated_at": s.updated_at, "partition_date": s.partition_date,
                            "vis_state": s.vis_state, "fetched_at": s.fetched_at}
                           for s in snapshots.versions_of(conn, account_id, source_id, kind)]
        result.normalized = trace_queries.normalized_versions(conn, kind, account_id, source_id)
        result.deliveries = trace_queries.deliveries_of(conn, kind, account_id, source_id)
        result.events = [{"at": e.occurred_at, "event": e.event,
                          "partner": e.partner_id, "run_id": e.run_id, "detail": e.detail}
                         for e in audit.trail(conn, account_id=account_id, source_id=source_id, kind=kind)]
        result.acknowledgments = acknowledgments.of_outbox(conn, [d["id"] for d in result.deliveries])
        result.quarantined = quarantine.of_document(conn, kind, source_id)
        if kind.startswith("x12_"):
            result.received = partner_docs.get(conn, account_id, source_id)
            isa13, gs06, _ = [*source_id.split("/"), "", ""][:3]
            result.acks_sent = [a for a in acks_sent(conn, partner_id=account_id, their_isa13=isa13)
                                if a.their_gs06 in (gs06, None)]
    return result
