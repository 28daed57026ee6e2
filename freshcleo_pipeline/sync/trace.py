"""Lineage per document: everything the ledger knows about a document, found by any of its identifiers.

``find`` accepts a FreshBooks id, an invoice/bill/payment reference, an ISA13 (digits, optionally with the
partner as ``partner:isa13``) or a Cleo file name, and returns the matching documents; ``trace`` assembles one
document's life in order: snapshot versions, normalization results and warnings, routing, outbox rows with
interchange and control numbers, file name, upload receipt, acknowledgment, re-sends, and the audit trail with
the Dagster run ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, or_, select

from freshcleo_pipeline.ledger import Ledger, audit, quarantine, snapshots
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import documents, inbound_files, interchanges, outbox


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

    def lines(self) -> list[str]:
        out = [f"{self.kind} {self.source_id} (FreshBooks account {self.account_id})"]
        out.append("  versions:")
        out += [f"    {v['version']}  updated {v['updated_at'] or '-'}  partition {v['partition_date'] or '-'}"
                f"  vis_state {v['vis_state']}  fetched {v['fetched_at']}" for v in self.versions]
        out.append("  normalized:")
        for n in self.normalized:
            out.append(f"    {n['version']}  {n['status']}  partner {n['partner_id'] or '-'}  {n['reference']}  "
                       f"{n['currency']} {n['total']}" + (f"  ({n['reason']})" if n["reason"] else ""))
            out += [f"      warning: {w}" for w in n["warnings"]]
        out.append("  deliveries:")
        for d in self.deliveries:
            out.append(f"    #{d['id']} {d['purpose']} v{d['version']} → {d['partner_id']} {d['transaction_set']}: "
                       f"{d['state']}, ack {d['ack_state']}" + (f", resend of #{d['resend_of']}" if d["resend_of"]
                                                                else ""))
            if d["file_name"]:
                out.append(f"      file {d['file_name']}  ISA13 {d['isa13']}  GS06 {d['gs06']}  ST02 {d['st02']}"
                           f"  Cleo {d.get('cleo_file_id') or '-'}  delivered {d.get('delivered_at') or '-'}")
            if d["last_error"]:
                out.append(f"      note: {d['last_error']}")
            if d["ack_detail"]:
                out.append(f"      ack: {d['ack_detail']}")
        if self.quarantined:
            out.append("  quarantine:")
            out += [f"    #{q.id} {q.state} ({q.stage}, seen {q.occurrences}x, last {q.last_seen_at:%Y-%m-%d %H:%M}): "
                    f"{q.reason_code}: {q.reason}" + (f" — {q.resolution}" if q.resolution else "")
                    for q in self.quarantined]
        out.append("  trail:")
        out += [f"    {e['at']}  {e['event']:<16} {e['partner'] or '':<18} run {e['run_id'] or '-'}  {e['detail']}"
                for e in self.events]
        return out


def find(conn: Connection, query: str) -> list[tuple[str, str, str]]:
    """(kind, account_id, source_id) of the documents matching an identifier."""
    found: set[tuple[str, str, str]] = set()
    text = query.strip()
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
    for inbound in conn.execute(select(inbound_files.c.parsed, inbound_files.c.partner_id)
                                .where(inbound_files.c.file_name == text)).all():
        for result in loads(inbound.parsed) or []:
            if isinstance(result, dict) and "group_control_number" in result:
                rows = conn.execute(select(outbox.c.kind, outbox.c.account_id, outbox.c.source_id).where(
                    outbox.c.partner_id == inbound.partner_id,
                    outbox.c.transaction_set == result.get("transaction_set_id"),
                    outbox.c.gs06 == int(result["group_control_number"]),
                    outbox.c.st02 == result.get("set_control_number"))).all()
                found.update((k, a, s) for k, a, s in rows)
    return sorted(found)


def trace(ledger: Ledger, kind: str, account_id: str, source_id: str) -> DocumentTrace:
    result = DocumentTrace(kind, account_id, source_id)
    with ledger.begin() as conn:
        result.versions = [{"version": s.version, "updated_at": s.updated_at, "partition_date": s.partition_date,
                            "vis_state": s.vis_state, "fetched_at": s.fetched_at}
                           for s in snapshots.versions_of(conn, account_id, source_id, kind)]
        result.normalized = [
            {**dict(r), "warnings": loads(r["warnings"]) or []}
            for r in conn.execute(select(documents.c.version, documents.c.status, documents.c.partner_id,
                                         documents.c.reference, documents.c.currency, documents.c.total,
                                         documents.c.reason, documents.c.warnings)
                                  .where(documents.c.kind == kind, documents.c.account_id == account_id,
                                         documents.c.source_id == source_id).order_by(documents.c.id)).mappings()]
        rows = conn.execute(
            select(outbox, interchanges.c.cleo_file_id, interchanges.c.delivered_at)
            .outerjoin(interchanges, interchanges.c.id == outbox.c.interchange_id)
            .where(outbox.c.kind == kind, outbox.c.account_id == account_id, outbox.c.source_id == source_id)
            .order_by(outbox.c.id)).mappings()
        result.deliveries = [dict(r) for r in rows]
        result.events = [{"at": e.occurred_at.isoformat(timespec="seconds"), "event": e.event,
                          "partner": e.partner_id, "run_id": e.run_id, "detail": e.detail}
                         for e in audit.trail(conn, account_id=account_id, source_id=source_id, kind=kind)]
        result.quarantined = quarantine.of_item(conn, quarantine.freshbooks_item_key(kind, source_id))
    return result
