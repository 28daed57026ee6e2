"""Stage 3: decide what each partner receives (outbox), then render X12 interchanges for the pending rows.

Deciding applies the exactly-once key and the partner's change policy:

| document            | nothing sent before        | an earlier version was sent                         |
|---------------------|----------------------------|-----------------------------------------------------|
| routed (new version)| original                   | ``ignore``: recorded, not sent; otherwise a replacement |
| deleted             | recorded, nothing to send  | ``cancel`` → cancellation; otherwise recorded, not sent |

Rendering groups pending rows per partner and transaction set (at most ``MAX_SETS`` sets per file), allocates
ISA13/GS06 and the ST02s, renders and validates the interchange, and stores text, numbers and file name with
the rows' move to ``rendered`` in one transaction, before anything is uploaded. An interchange that fails our
validator is stored as ``invalid`` and never uploaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select

from freshcleo_pipeline.cleo.client import outbound_file_name
from freshcleo_pipeline.documents import BusinessDocument, Invoice, PurchaseOrder, Purpose, Remittance
from freshcleo_pipeline.ledger import audit, control_numbers, outbox
from freshcleo_pipeline.ledger.outbox import OutboxItem
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import documents
from freshcleo_pipeline.partners import ChangePolicy, Company, TradingPartner
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.route import ROUTABLE
from freshcleo_pipeline.x12.envelope import EnvelopeParams
from freshcleo_pipeline.x12.errors import X12MappingError
from freshcleo_pipeline.x12.hygiene import Charset
from freshcleo_pipeline.x12.render import map_document, render_interchange
from freshcleo_pipeline.x12.segments import Delimiters
from freshcleo_pipeline.x12.structures import FUNCTIONAL_ID
from freshcleo_pipeline.x12.validator import validate_interchange

MAX_SETS = 500
_DOCUMENT = TypeAdapter(Invoice | PurchaseOrder | Remittance)


@dataclass
class RenderSummary:
    enqueued: Counter[tuple[str, str]] = field(default_factory=Counter)  # (partner, purpose) → rows
    ignored: Counter[str] = field(default_factory=Counter)  # partner → rows recorded but not sent
    interchanges: list[dict[str, Any]] = field(default_factory=list)
    invalid_interchanges: int = 0
    unmappable: int = 0
    adjustments: int = 0


def envelope_for(company: Company, partner: TradingPartner) -> EnvelopeParams:
    d = partner.delimiters
    return EnvelopeParams(
        sender_qualifier=company.edi.isa_qualifier, sender_id=company.edi.isa_id,
        receiver_qualifier=partner.edi.isa_qualifier, receiver_id=partner.edi.isa_id,
        sender_group_id=company.edi.group_id, receiver_group_id=partner.edi.group_id,
        version=partner.x12_version, usage=partner.usage,
        delimiters=Delimiters(element=d.element, component=d.component, repetition=d.repetition,
                              segment=d.segment),
        charset=Charset(partner.charset),
    )


def plan(ctx: SyncContext, days: list[dt.date], account_id: str, summary: RenderSummary) -> None:
    """Enqueue outbox rows for routed and deleted documents of these partitions (idempotent)."""
    d = documents.c
    with ctx.ledger.begin() as conn:
        rows = conn.execute(select(d.id, d.kind, d.source_id, d.version, d.partition_date, d.reference, d.total,
                                   d.status, d.partner_id, d.transaction_set)
                            .where(d.partition_date.in_(days), d.account_id == account_id, d.status.in_(ROUTABLE))
                            .order_by(d.id)).all()
        keys = {r.id: outbox.idempotency_key(r.partner_id, r.transaction_set, r.kind, account_id, r.source_id,
                                             r.version) for r in rows}
        existing = outbox.existing_keys(conn, keys.values())
        fresh = [r for r in rows if keys[r.id] not in existing]
        sent = outbox.last_sent_versions(conn, account_id,
                                         [(r.partner_id, r.transaction_set, r.kind, r.source_id) for r in fresh])
        items: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for row in fresh:
            partner = ctx.partners.get(row.partner_id)
            doc_key = (row.partner_id, row.transaction_set, row.kind, row.source_id)
            purpose, state, reason = _decide(row.status, sent.get(doc_key), partner.on_change)
            if state == "pending":
                sent[doc_key] = row.version  # a later version in this batch is a change of this one
            items.append({"idempotency_key": keys[row.id], "partner_id": partner.id,
                          "transaction_set": row.transaction_set, "kind": row.kind, "account_id": account_id,
                          "source_id": row.source_id, "version": row.version, "document_id": row.id,
                          "partition_date": row.partition_date, "purpose": purpose.value,
                          "reference": row.reference, "total": row.total, "state": state,
                          "last_error": reason or None})
            if state == "ignored":
                summary.ignored[partner.id] += 1
            else:
                summary.enqueued[(partner.id, purpose.value)] += 1
            events.append({"kind": row.kind, "account_id": account_id, "source_id": row.source_id,
                           "event": "queued" if state == "pending" else "not_sent", "partner_id": partner.id,
                           "detail": {"version": row.version, "purpose": purpose.value, "reason": reason,
                                      "idempotency_key": keys[row.id]}, "run_id": ctx.run_id})
        for start in range(0, len(items), 500):
            outbox.enqueue(conn, items[start:start + 500])
        audit.record_many(conn, events)


def _decide(status: str, previous_version: str | None, policy: ChangePolicy) -> tuple[Purpose, str, str]:
    if status == "deleted":
        if previous_version is None:
            return Purpose.CANCEL, "ignored", "deleted in FreshBooks before anything was sent"
        if policy is ChangePolicy.CANCEL:
            return Purpose.CANCEL, "pending", ""
        return Purpose.CANCEL, "ignored", f"deleted in FreshBooks; partner policy is {policy.value!r}"
    if previous_version is None:
        return Purpose.ORIGINAL, "pending", ""
    if policy is ChangePolicy.IGNORE:
        return Purpose.REPLACE, "ignored", f"changed after version {previous_version} was sent; policy 'ignore'"
    return Purpose.REPLACE, "pending", ""


def render_pending(ctx: SyncContext, summary: RenderSummary) -> None:
    with ctx.ledger.begin() as conn:
        pending = outbox.pending(conn)
    groups: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
    for item in pending:
        groups[(item.partner_id, item.transaction_set)].append(item)
    for (partner_id, transaction_set), items in sorted(groups.items()):
        partner = ctx.partners.get(partner_id)
        for start in range(0, len(items), MAX_SETS):
            _render_group(ctx, partner, transaction_set, items[start:start + MAX_SETS], summary)


def _mappable(ctx: SyncContext, partner: TradingPartner, envelope: EnvelopeParams, items: list[OutboxItem],
              docs: dict[int, BusinessDocument], summary: RenderSummary) -> list[OutboxItem]:
    """The rows whose documents can be expressed in X12; the others are failed with the reason."""
    good: list[OutboxItem] = []
    for item in items:
        try:
            map_document(docs[item.id], envelope)
        except X12MappingError as exc:
            summary.unmappable += 1
            with ctx.ledger.begin() as conn:
                outbox.mark_item_failed(conn, item.id, str(exc))
                audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                             event="render_failed", partner_id=partner.id,
                             detail={"version": item.version, "error": str(exc)}, run_id=ctx.run_id)
            continue
        good.append(item)
    return good


def _load_documents(ctx: SyncContext, items: list[OutboxItem]) -> dict[int, BusinessDocument]:
    with ctx.ledger.begin() as conn:
        bodies = dict(conn.execute(select(documents.c.id, documents.c.body).where(
            documents.c.id.in_([i.document_id for i in items]))).all())
    out: dict[int, BusinessDocument] = {}
    for item in items:
        document = _DOCUMENT.validate_python(loads(bodies[item.document_id]))
        out[item.id] = document.model_copy(update={"purpose": Purpose(item.purpose)})
    return out


def _render_group(ctx: SyncContext, partner: TradingPartner, transaction_set: str, items: list[OutboxItem],
                  summary: RenderSummary) -> None:
    envelope = envelope_for(ctx.partners.company, partner)
    docs = _load_documents(ctx, items)
    try:
        _write_interchange(ctx, partner, transaction_set, envelope, items, docs, summary)
    except X12MappingError:
        # Some document cannot be expressed in X12 (the transaction rolled back, no number was used): fail
        # those rows with the reason and send the rest.
        good = _mappable(ctx, partner, envelope, items, docs, summary)
        if good:
            _write_interchange(ctx, partner, transaction_set, envelope, good, docs, summary)


def _write_interchange(ctx: SyncContext, partner: TradingPartner, transaction_set: str, envelope: EnvelopeParams,
                       good: list[OutboxItem], docs: dict[int, BusinessDocument], summary: RenderSummary) -> None:
    """Allocate the control numbers, render, validate and store one interchange, in one transaction."""
    company = ctx.partners.company
    now = ctx.now()
    functional_id = FUNCTIONAL_ID[transaction_set]
    sender = f"{company.edi.isa_qualifier}:{company.edi.isa_id.strip()}"
    receiver = f"{partner.edi.isa_qualifier}:{partner.edi.isa_id.strip()}"
    with ctx.ledger.begin() as conn:
        [isa13] = control_numbers.allocate(conn, control_numbers.isa_scope(partner.usage, sender, receiver))
        [gs06] = control_numbers.allocate(conn, control_numbers.gs_scope(
            partner.usage, company.edi.group_id, partner.edi.group_id, functional_id))
        result = render_interchange([docs[i.id] for i in good], envelope, interchange_control_number=isa13,
                                    group_control_number=gs06, set_control_numbers=list(range(1, len(good) + 1)),
                                    date=now.date(), time=now.time().replace(microsecond=0), validate=False)
        errors = validate_interchange(result.text, charset=envelope.charset)
        name = outbound_file_name(partner.id, transaction_set, isa13)
        total = sum((Decimal(i.total) for i in good), Decimal(0))
        interchange_id = outbox.create_interchange(
            conn, partner_id=partner.id, transaction_set=transaction_set, usage=partner.usage, isa13=isa13,
            gs06=gs06, file_name=name, content=result.text,
            sha256=hashlib.sha256(result.text.encode("utf-8")).hexdigest(), total=str(total),
            members=[(i.id, r.set_control_number) for i, r in zip(good, result.documents, strict=True)],
            run_id=ctx.run_id)
        if errors:
            summary.invalid_interchanges += 1
            detail = "; ".join(str(e) for e in errors[:20])
            outbox.mark_interchange_invalid(conn, interchange_id, detail)
        events = []
        for item, rendered in zip(good, result.documents, strict=True):
            summary.adjustments += len(rendered.adjustments)
            events.append({
                "kind": item.kind, "account_id": item.account_id, "source_id": item.source_id,
                "event": "rendered" if not errors else "render_invalid", "partner_id": partner.id,
                "detail": {"version": item.version, "purpose": item.purpose, "isa13": isa13, "gs06": gs06,
                           "st02": rendered.set_control_number, "file_name": name,
                           "adjustments": [str(a) for a in rendered.adjustments]},
                "run_id": ctx.run_id})
        audit.record_many(conn, events)
    summary.interchanges.append({"partner": partner.id, "transaction_set": transaction_set, "isa13": isa13,
                                 "gs06": gs06, "file_name": name, "sets": len(good), "total": str(total),
                                 "valid": not errors})
    ctx.log.info("rendered %s: %d %s sets for %s (ISA13 %09d)%s", name, len(good), transaction_set, partner.id,
                 isa13, "" if not errors else f" INVALID: {len(errors)} errors")

