"""Lineage per document: everything the ledger knows about a document, found by any of its identifiers.

``find`` accepts a FreshBooks id, an invoice/bill/payment reference, an ISA13 (digits, optionally with the
partner as ``partner:isa13``) or a Cleo file name, and returns the matching documents; ``trace`` assembles one
document's life in order: snapshot versions, normalization results and warnings, routing, outbox rows with
interchange and control numbers, file name, upload receipt, acknowledgment, every acknowledgment received (997,
999, TA1, with their AK3/AK4 details and warnings, so a conflict shows both sides), re-sends, and the audit trail
with the Dagster run ids. A file name finds the documents its acknowledgments spoke for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, or_, select

from freshcleo_pipeline.ledger import Ledger, acknowledgments, audit, quarantine, snapshots
from freshcleo_pipeline.ledger import partner_documents as partner_docs
from freshcleo_pipeline.ledger.outbox import AckSent, acks_sent
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
    acknowledgments: list[acknowledgments.Acknowledgment] = field(default_factory=list)
    # A partner's own document (kind ``x12_<set>``, account = partner, source id = ISA13/GS06/ST02): as read,
    # and the acknowledgments we sent for its group.
    received: list[partner_docs.PartnerDocumentRow] = field(default_factory=list)
    acks_sent: list[AckSent] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.received:
            return self._partner_lines()
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
        if self.acknowledgments:
            out.append("  acknowledgments:")
            for a in self.acknowledgments:
                out.append(f"    delivery #{a.outbox_id}  {a.ack_kind} {a.status}  file {a.file_name or '-'}"
                           f"  ISA13 {a.isa13 or '-'}  received {a.received_at:%Y-%m-%d %H:%M}"
                           f"  run {a.run_id or '-'}")
                out += [f"      {note}" for note in _ack_notes(a.detail)]
                out += [f"      warning: {w}" for w in a.warnings]
        if self.quarantined:
            out.append("  quarantine:")
            out += [f"    #{q.id} {q.state} ({q.stage}, seen {q.occurrences}x, last {q.last_seen_at:%Y-%m-%d %H:%M}): "
                    f"{q.reason_code}: {q.reason}" + (f" — {q.resolution}" if q.resolution else "")
                    for q in self.quarantined]
        out.append("  trail:")
        out += [f"    {e['at']}  {e['event']:<16} {e['partner'] or '':<18} run {e['run_id'] or '-'}  {e['detail']}"
                for e in self.events]
        return out


    def _partner_lines(self) -> list[str]:
        out = [f"{self.kind.removeprefix('x12_')} from partner {self.account_id} (their ISA13/GS06/ST02 "
               f"{self.source_id})"]
        out.append("  received:")
        for d in self.received:
            out.append(f"    {d.status}  {d.reference or '-'}  dated {d.document_date or '-'}  "
                       f"{d.currency or ''} {d.total or '-'}  inbound file #{d.inbound_file_id}"
                       + (f"  ({d.reason})" if d.reason else ""))
            out += [f"      warning: {w}" for w in d.warnings]
        out.append("  acknowledgments sent:")
        out += [f"    {a.ack_kind} {a.status}  file {a.file_name}  ISA13 {a.isa13}  {a.state}"
                f"  sent {a.sent_at or '-'}" for a in self.acks_sent] or ["    none"]
        out.append("  trail:")
        out += [f"    {e['at']}  {e['event']:<16} run {e['run_id'] or '-'}  {e['detail']}" for e in self.events]
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
    files = [i for (i,) in conn.execute(select(inbound_files.c.id).where(inbound_files.c.file_name == text)).all()]
    outbox_ids = sorted({a.outbox_id for a in acknowledgments.of_file(conn, files)})
    if outbox_ids:
        rows = conn.execute(select(outbox.c.kind, outbox.c.account_id, outbox.c.source_id)
                            .where(outbox.c.id.in_(outbox_ids))).all()
        found.update((k, a, s) for k, a, s in rows)
    found.update((partner_docs.trail_kind(d.transaction_set), d.partner_id, d.source_id)
                 for d in partner_docs.matching(conn, text))
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
        result.acknowledgments = acknowledgments.of_outbox(conn, [d["id"] for d in result.deliveries])
        result.quarantined = quarantine.of_document(conn, kind, source_id)
        if kind.startswith("x12_"):
            result.received = partner_docs.get(conn, account_id, source_id)
            isa13, gs06, _ = [*source_id.split("/"), "", ""][:3]
            result.acks_sent = [a for a in acks_sent(conn, partner_id=account_id, their_isa13=isa13)
                                if a.their_gs06 in (gs06, None)]
    return result


def _ack_notes(detail: dict[str, Any]) -> list[str]:
    """One line per AK3/IK3 segment note of an acknowledgment, with its AK4/IK4 elements."""
    lines: list[str] = []
    if detail.get("set_errors") or detail.get("group_errors"):
        lines.append(f"set errors {detail.get('set_errors') or []}  group errors {detail.get('group_errors') or []}")
    for note in detail.get("segment_notes") or []:
        elements = ", ".join(f"{e.get('position')}/{e.get('data_element') or '-'} code {e.get('code')}"
                             + (f" {e.get('bad_data')!r}" if e.get("bad_data") else "")
                             for e in note.get("elements") or [])
        lines.append(f"segment {note.get('segment_id')} at {note.get('position')} code {note.get('code') or '-'}"
                     + (f": {elements}" if elements else ""))
    if detail.get("ta1_code"):
        lines.append(f"TA1 for ISA13 {detail.get('ta1_isa13')}: {detail['ta1_code']} note {detail.get('ta1_note')}")
    return lines
