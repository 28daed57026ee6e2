"""Stage 3: decide what each partner receives (outbox), then render X12 interchanges for the pending rows.

Deciding applies the exactly-once key and the partner's change policy:

| document            | nothing sent before        | an earlier version was sent                         |
|---------------------|----------------------------|-----------------------------------------------------|
| routed (new version)| original                   | ``ignore``: recorded, not sent; otherwise a replacement |
| deleted             | recorded, nothing to send  | ``cancel`` → cancellation; otherwise recorded, not sent |

Payments and bill payments (820) follow the partner's ``payment_changes`` instead, because an 820 has no purpose
code and a second one reads as a second payment:

| payment policy       | changed after delivery                           | deleted after delivery          |
|----------------------|--------------------------------------------------|---------------------------------|
| ``reverse_and_resend``| reversal of the delivered 820, then the new one | reversal of the delivered 820   |
| ``flag`` (default)   | nothing sent; set before a person (quarantine stage ``review``, with the diff)     | same |

A person who retries a ``review`` entry approves the correction: the next run sends it as
``reverse_and_resend`` would have (reversal, then the version the entry names); dismissing it sends nothing.
| ``ignore``           | recorded, not sent                               | recorded, not sent              |

A reversal row carries the document it reverses (the delivered version's) and every correction its own trace
number (``<first trace>R<n>`` for the n-th reversal, ``<first trace>C<n>`` for the resend after it), kept in the
outbox row's ``reference`` and written to TRN02 (``x12/map_820.py`` says how the 820 reads).

Rendering groups pending rows per partner and transaction set (at most ``MAX_SETS`` sets per file), allocates
ISA13/GS06 and the ST02s, renders and validates the interchange, and stores text, numbers and file name with
the rows' move to ``rendered`` in one transaction, before anything is uploaded. An interchange that fails our
validator is stored as ``invalid`` and never uploaded. The validator's verdict and the total each set states are
stored with it, under the digest of the text they were read from: the blocking check and the reconciliation
read them back for that same text instead of validating and splitting the file again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, overload

from pydantic import Field, TypeAdapter, ValidationError

from freshcleo_pipeline.cleo.client import outbound_file_name
from freshcleo_pipeline.documents import BusinessDocument, Invoice, Line, Party, PurchaseOrder, Purpose, Remittance
from freshcleo_pipeline.ledger import Connection, audit, control_numbers, outbox, quarantine, snapshots
from freshcleo_pipeline.ledger.outbox import OutboxItem, Verdict
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.snapshots import PlannableDocument
from freshcleo_pipeline.partners import ChangePolicy, Company, PartnerGuide, PaymentChangePolicy, TradingPartner
from freshcleo_pipeline.sync.collector import bulk_work
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.reconcile import amounts_in, amounts_in_sets
from freshcleo_pipeline.sync.route import ROUTABLE
from freshcleo_pipeline.x12.envelope import EnvelopeParams
from freshcleo_pipeline.x12.errors import X12Error, X12MappingError
from freshcleo_pipeline.x12.guide import CreditMemoConvention, Guide, Unmet, unmet_in_interchange, unmet_in_sets
from freshcleo_pipeline.x12.hygiene import Charset
from freshcleo_pipeline.x12.render import map_document, render_interchange
from freshcleo_pipeline.x12.segments import Delimiters
from freshcleo_pipeline.x12.structures import FUNCTIONAL_ID
from freshcleo_pipeline.x12.tokens import tokenize
from freshcleo_pipeline.x12.validator import clean_scan, detailed_findings

MAX_SETS = 500
_DOCUMENT = TypeAdapter(Invoice | PurchaseOrder | Remittance)
# Stored bodies are ``model_dump(mode="json")`` of one of the three, so their ``doc_type`` names the model: read
# as a tagged union straight from the text, a body costs one model's validation instead of a trial of each.
_STORED_DOCUMENT: TypeAdapter[BusinessDocument] = TypeAdapter(
    Annotated[Invoice | PurchaseOrder | Remittance, Field(discriminator="doc_type")])


@dataclass
class RenderSummary:
    enqueued: Counter[tuple[str, str]] = field(default_factory=Counter)  # (partner, purpose) → rows
    ignored: Counter[str] = field(default_factory=Counter)  # partner → rows recorded but not sent
    flagged: Counter[str] = field(default_factory=Counter)  # partner → payment changes set before a person
    interchanges: list[dict[str, Any]] = field(default_factory=list)
    invalid_interchanges: int = 0
    guide_unmet: int = 0  # documents held back because they cannot meet their partner's guide
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


@bulk_work()
def plan(ctx: SyncContext, days: list[dt.date], account_id: str, summary: RenderSummary, *,
         above: int | None = None) -> None:
    """Enqueue outbox rows for routed and deleted documents of these partitions (idempotent); ``above`` limits
    it to documents decided after that document id (the streaming process goes on from its last pass)."""
    with ctx.ledger.begin() as conn:
        rows = snapshots.plannable_documents(conn, account_id, days, ROUTABLE, above=above)
        keys = {r.id: outbox.idempotency_key(r.partner_id, r.transaction_set, r.kind, account_id, r.source_id,
                                             r.version) for r in rows}
        existing = outbox.existing_keys(conn, keys.values())
        fresh = [r for r in rows if keys[r.id] not in existing]
        doc_keys = [(r.partner_id, r.transaction_set, r.kind, r.source_id) for r in fresh]
        sent = outbox.last_sent_versions(conn, account_id, doc_keys)
        history = outbox.sent_history(conn, account_id, [k for k in doc_keys if k[1] == "820"])
        items: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for row in fresh:
            partner = ctx.partners.get(row.partner_id)
            doc_key = (row.partner_id, row.transaction_set, row.kind, row.source_id)
            base = {"partner_id": partner.id, "transaction_set": row.transaction_set, "kind": row.kind,
                    "account_id": account_id, "source_id": row.source_id, "version": row.version,
                    "document_id": row.id, "partition_date": row.partition_date, "reference": row.reference,
                    "total": row.total}
            if row.transaction_set == "820":
                planned = _plan_payment(ctx, conn, row, partner, keys[row.id], history.setdefault(doc_key, []),
                                        base, summary)
            else:
                purpose, state, reason = _decide(row.status, sent.get(doc_key), partner.on_change)
                if state == "pending":
                    sent[doc_key] = row.version  # a later version in this batch is a change of this one
                planned = [{**base, "idempotency_key": keys[row.id], "purpose": purpose.value, "state": state,
                            "last_error": reason or None}]
            for item in planned:
                items.append(item)
                reason = item["last_error"] or ""
                if item["state"] == "ignored":
                    summary.ignored[partner.id] += 1
                else:
                    summary.enqueued[(partner.id, item["purpose"])] += 1
                events.append({"kind": row.kind, "account_id": account_id, "source_id": row.source_id,
                               "event": "queued" if item["state"] == "pending" else "not_sent",
                               "partner_id": partner.id,
                               "detail": {"version": row.version, "purpose": item["purpose"], "reason": reason,
                                          "reference": item["reference"],
                                          "idempotency_key": item["idempotency_key"]}, "run_id": ctx.run_id})
        for entry in quarantine.retrying(conn, "review"):
            if entry.account_id == account_id and entry.reason_code in ("payment_changed", "payment_deleted"):
                approved = _approved(ctx, conn, entry, summary)
                items += approved
                events += [{"kind": i["kind"], "account_id": account_id, "source_id": i["source_id"],
                            "event": "queued", "partner_id": i["partner_id"],
                            "detail": {"version": i["version"], "purpose": i["purpose"], "reason": "approved in "
                                       f"review (quarantine {entry.id})", "reference": i["reference"],
                                       "idempotency_key": i["idempotency_key"]}, "run_id": ctx.run_id}
                           for i in approved]
        for start in range(0, len(items), 500):
            outbox.enqueue(conn, items[start:start + 500])
        audit.record_many(conn, events)


def _approved(ctx: SyncContext, conn: Connection, entry: quarantine.Entry, summary: RenderSummary
              ) -> list[dict[str, Any]]:
    """The correction a person approved by retrying a flagged payment change: reversal (and resend), once."""
    detail = entry.detail
    _, partner_id, kind, source_id = entry.item_key.split(":", 3)
    doc_key = (partner_id, "820", kind, source_id)
    history = outbox.sent_history(conn, str(entry.account_id), [doc_key]).get(doc_key, [])
    outstanding = history[-1] if history and history[-1].purpose != Purpose.CANCEL.value else None
    if outstanding is None or outstanding.version == detail.get("new_version") or "document_id" not in detail:
        quarantine.resolve(conn, [entry.item_key], "approved: nothing outstanding to correct", stages=("review",))
        return []
    deleted = entry.reason_code == "payment_deleted"
    key = outbox.idempotency_key(partner_id, "820", kind, str(entry.account_id), source_id,
                                 str(detail["new_version"]))
    first_trace, n = history[0].reference, 1 + sum(1 for h in history if h.purpose == Purpose.CANCEL.value)
    base = {"partner_id": partner_id, "transaction_set": "820", "kind": kind, "account_id": entry.account_id,
            "source_id": source_id, "version": detail["new_version"], "partition_date": entry.partition_date,
            "state": "pending", "last_error": None}
    planned = [{**base, "idempotency_key": f"{key}:reversal", "purpose": Purpose.CANCEL.value,
                "document_id": outstanding.document_id, "reference": f"{first_trace}R{n}",
                "total": outstanding.total}]
    if not deleted:
        planned.append({**base, "idempotency_key": f"{key}:approved", "purpose": Purpose.REPLACE.value,
                        "document_id": detail["document_id"], "reference": f"{first_trace}C{n}",
                        "total": detail.get("total", "0")})
    quarantine.resolve(conn, [entry.item_key], f"approved: reversal {first_trace}R{n}"
                       + ("" if deleted else f" and resend {first_trace}C{n}") + " queued", stages=("review",))
    for item in planned:
        summary.enqueued[(partner_id, item["purpose"])] += 1
    return planned


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


def _plan_payment(ctx: SyncContext, conn: Connection, row: PlannableDocument, partner: TradingPartner, key: str,
                  history: list[OutboxItem], base: dict[str, Any], summary: RenderSummary) -> list[dict[str, Any]]:
    """The outbox rows for one new version of a payment (820) under the partner's ``payment_changes``.

    ``history`` (the payment's rows sent or on their way, oldest first) is extended with the rows planned here,
    so a second version in the same batch is a change of the first.
    """
    deleted = row.status == "deleted"
    # What the partner holds now: the last 820 sent, unless it was a reversal (then nothing is outstanding).
    outstanding = history[-1] if history and history[-1].purpose != Purpose.CANCEL.value else None
    first_trace = history[0].reference if history else row.reference
    reversals = sum(1 for h in history if h.purpose == Purpose.CANCEL.value)

    def item(purpose: Purpose, state: str, reason: str = "", **changes: Any) -> dict[str, Any]:
        return {**base, "idempotency_key": key, "purpose": purpose.value, "state": state,
                "last_error": reason or None, **changes}

    if outstanding is None:
        if deleted:
            reason = ("deleted in FreshBooks before anything was sent" if not history
                      else "deleted in FreshBooks after its reversal was sent")
            return [item(Purpose.CANCEL, "ignored", reason)]
        if not history:
            planned = [item(Purpose.ORIGINAL, "pending")]
        else:  # sent, reversed, and now back: a resend under a trace of its own
            planned = [item(Purpose.REPLACE, "pending", reference=f"{first_trace}C{reversals}")]
        history.append(_as_sent(planned[-1]))
        return planned

    what = "deleted in FreshBooks" if deleted else f"changed after version {outstanding.version} was sent"
    policy = partner.payment_changes
    if policy is PaymentChangePolicy.IGNORE:
        return [item(Purpose.CANCEL if deleted else Purpose.REPLACE, "ignored", f"{what}; policy 'ignore'")]
    if policy is PaymentChangePolicy.FLAG:
        reason = f"{what}; payment policy 'flag': nothing sent, waiting for a person"
        _flag(ctx, conn, row, base["account_id"], partner, outstanding, reason)
        summary.flagged[partner.id] += 1
        return [item(Purpose.CANCEL if deleted else Purpose.REPLACE, "ignored", reason)]
    n = reversals + 1
    planned = [item(Purpose.CANCEL, "pending", idempotency_key=f"{key}:reversal",
                    document_id=outstanding.document_id, reference=f"{first_trace}R{n}",
                    total=outstanding.total)]
    if not deleted:
        planned.append(item(Purpose.REPLACE, "pending", reference=f"{first_trace}C{n}"))
    history.extend(_as_sent(p) for p in planned)
    return planned


def _as_sent(planned: dict[str, Any]) -> OutboxItem:
    """A planned row as the history of its payment sees it (only the fields ``_plan_payment`` reads)."""
    return OutboxItem(id=0, idempotency_key=planned["idempotency_key"], partner_id=planned["partner_id"],
                      transaction_set=planned["transaction_set"], kind=planned["kind"],
                      account_id=planned["account_id"], source_id=planned["source_id"],
                      version=planned["version"], document_id=planned["document_id"], purpose=planned["purpose"],
                      reference=planned["reference"], total=planned["total"], state=planned["state"],
                      interchange_id=None, isa13=None, gs06=None, st02=None, file_name=None, ack_state="none",
                      partition_date=planned["partition_date"], resend_of=None)


def _flag(ctx: SyncContext, conn: Connection, row: PlannableDocument, account_id: str, partner: TradingPartner,
          outstanding: OutboxItem, reason: str) -> None:
    """Put a delivered payment's change in front of a person, with what changed between the two versions."""
    bodies = snapshots.document_bodies(conn, [outstanding.document_id, row.id])
    before = loads(bodies[outstanding.document_id]) if bodies.get(outstanding.document_id) else {}
    after = loads(bodies[row.id]) if bodies.get(row.id) else {}
    diff = payment_diff(before, after)
    item_key = f"outbound:{partner.id}:{row.kind}:{row.source_id}"
    # One decision per payment: an older change still waiting is replaced by this one (its diff is from the
    # same delivered 820, so approving this one is what the person means).
    quarantine.resolve(conn, [item_key], f"superseded by version {row.version}", stages=("review",))
    quarantine.put(
        conn, stage="review", item_key=item_key, digest=row.version,
        kind=row.kind, reason_code="payment_deleted" if row.status == "deleted" else "payment_changed",
        reason=f"{row.kind} {row.reference!r} (FreshBooks id {row.source_id}) for {partner.id}: {reason}",
        reference=outstanding.reference, account_id=account_id,
        partner_id=partner.id, partition_date=row.partition_date,
        detail={"sent_version": outstanding.version, "new_version": row.version, "status": row.status,
                "sent_outbox_id": outstanding.id, "document_id": row.id, "total": row.total, "diff": diff},
        run_id=ctx.run_id)


def payment_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Field → [delivered, now] for the business fields of two remittance bodies that differ."""
    fields = ("amount", "currency", "payment_date", "method", "trace_number", "check_number", "items", "payer",
              "payee", "notes")
    return {name: [before.get(name), after.get(name)] for name in fields if before.get(name) != after.get(name)}


@bulk_work()
def render_pending(ctx: SyncContext, summary: RenderSummary, *, whole_files_only: bool = False) -> None:
    """Render every pending outbox row, ``MAX_SETS`` sets per file per partner and transaction set;
    ``whole_files_only`` leaves the last, partial file of each for later (streamed rendering while rows still
    arrive writes the files a run renders at once, not more and smaller ones)."""
    with ctx.ledger.begin() as conn:
        _requeue_guide_retries(conn)
        pending = outbox.pending(conn)
    groups: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
    for item in pending:
        groups[(item.partner_id, item.transaction_set)].append(item)
    for (partner_id, transaction_set), items in sorted(groups.items()):
        partner = ctx.partners.get(partner_id)
        if whole_files_only:
            items = items[:len(items) - len(items) % MAX_SETS]
        for start in range(0, len(items), MAX_SETS):
            _render_group(ctx, partner, transaction_set, items[start:start + MAX_SETS], summary)


def _requeue_guide_retries(conn: Connection) -> None:
    """Documents held back for their partner's guide that a person asked to retry (after fixing the guide or the
    data) are rendered again; one that still cannot meet the guide reopens its entry with the new reason."""
    for entry in quarantine.retrying(conn, "review"):
        if entry.reason_code != "guide_unmet":
            continue
        outbox_id = entry.detail.get("outbox_id")
        requeued = isinstance(outbox_id, int) and outbox.requeue_failed(conn, outbox_id)
        quarantine.resolve(conn, [entry.item_key], "retried: rendered again against the guide" if requeued
                           else "retried: the held-back delivery is no longer waiting", stages=("review",))


def _mappable(ctx: SyncContext, partner: TradingPartner, envelope: EnvelopeParams, items: list[OutboxItem],
              documents: Sequence[BusinessDocument], summary: RenderSummary, guide: Guide) -> list[OutboxItem]:
    """The rows whose documents can be expressed in X12; the others are failed with the reason."""
    good: list[OutboxItem] = []
    for item, document in zip(items, documents, strict=True):
        try:
            map_document(document, envelope, guide)
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


class _Documents(Sequence[BusinessDocument]):
    """The documents of a group's rows as the partner receives them, each built from its stored body when it is
    read. ``render_interchange`` reads each once and keeps only what it wrote, so a group's documents are never
    all alive at once: held across a group, their thousands of objects would reach the garbage collector's
    oldest generation and make its full collections (each walks every object there) several times as frequent.
    """

    def __init__(self, items: Sequence[OutboxItem], bodies: Mapping[int, str | None], guide: PartnerGuide) -> None:
        self._items, self._bodies, self._guide = items, bodies, guide

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> BusinessDocument: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BusinessDocument]: ...

    def __getitem__(self, index: int | slice) -> BusinessDocument | Sequence[BusinessDocument]:
        if isinstance(index, slice):
            return _Documents(self._items[index], self._bodies, self._guide)
        item = self._items[index]
        document = _stored_document(self._bodies[item.document_id])
        update: dict[str, Any] = {"purpose": Purpose(item.purpose)}
        if isinstance(document, Remittance) and item.purpose != Purpose.ORIGINAL.value:
            # A correction of a delivered payment: its own trace number, naming the payment's first one.
            update.update(trace_number=item.reference, corrects_trace=document.trace_number)
        return follow_guide(document.model_copy(update=update), self._guide)


def _stored_document(body: str | None) -> BusinessDocument:
    """A normalized document from its stored body."""
    if body:
        try:
            return _STORED_DOCUMENT.validate_json(body)
        except ValidationError:
            # Read below by the untagged union over the parsed text, which says what is wrong, or reads what
            # JSON mode refuses (a lone surrogate escape).
            pass
    return _DOCUMENT.validate_python(loads(body))


def guide_of(partner: TradingPartner) -> Guide:
    """The partner's guide as the X12 layer reads it (conventions and required elements)."""
    g = partner.guide
    return Guide.of(credit_memo=CreditMemoConvention(g.credit_memo), party_id_qualifier=g.party_id_qualifier,
                    product_id_qualifier=g.product_id_qualifier, requires=g.requires)


def follow_guide(document: BusinessDocument, guide: PartnerGuide) -> BusinessDocument:
    """The document with the ids the partner's guide maps FreshBooks' clients, vendors and items to."""
    def party(p: Party) -> Party:
        found = guide.party_ids.get(p.source_id) or guide.party_ids.get(p.name)
        return p.model_copy(update={"edi_id": found}) if found else p

    def line(item: Line) -> Line:
        found = next((guide.product_ids[k] for k in (item.sku, item.name, item.description)
                      if k and k in guide.product_ids), "")
        return item.model_copy(update={"sku": found}) if found else item

    def lines(items: tuple[Line, ...]) -> tuple[Line, ...]:
        if not guide.product_ids:
            return items
        followed = tuple(map(line, items))
        return items if all(map(operator.is_, followed, items)) else followed

    # A document the guide changes nothing in is returned as it is, not copied: a guide maps a few parties and
    # items, and most documents carry none of them.
    update: dict[str, Any]
    if isinstance(document, Invoice):
        store = guide.ship_to.get(document.bill_to.source_id) or guide.ship_to.get(document.bill_to.name)
        ship_to = document.ship_to
        if store:
            ship_to = (ship_to or document.bill_to).model_copy(update={"edi_id": store})
        update = {"bill_to": party(document.bill_to), "ship_to": ship_to, "lines": lines(document.lines)}
    elif isinstance(document, PurchaseOrder):
        update = {"seller": party(document.seller), "lines": lines(document.lines)}
    else:
        update = {"payer": party(document.payer), "payee": party(document.payee)}
    if all(value is getattr(document, name) for name, value in update.items()):
        return document
    return document.model_copy(update=update)


class _GuideUnmet(Exception):
    """Rendered sets (by ST02) that break the partner's guide; raised inside the transaction to roll it back."""

    def __init__(self, broken: dict[str, list[Unmet]]) -> None:
        super().__init__(", ".join(broken))
        self.broken = broken


def _render_group(ctx: SyncContext, partner: TradingPartner, transaction_set: str, items: list[OutboxItem],
                  summary: RenderSummary) -> None:
    envelope = envelope_for(ctx.partners.company, partner)
    guide = guide_of(partner)
    with ctx.ledger.begin() as conn:
        bodies = snapshots.document_bodies(conn, [i.document_id for i in items])
    while items:
        documents = _Documents(items, bodies, partner.guide)
        try:
            _write_interchange(ctx, partner, transaction_set, envelope, items, documents, summary, guide)
            return
        except X12MappingError:
            # Some document cannot be expressed in X12 (the transaction rolled back, no number was used): fail
            # those rows with the reason and send the rest.
            good = _mappable(ctx, partner, envelope, items, documents, summary, guide)
            if len(good) == len(items):
                raise  # every document maps alone: the interchange itself cannot be written
            items = good
        except _GuideUnmet as exc:
            # The guide is checked on the rendered sets, so the usual interchange costs no second mapping; the
            # sets that break it (rolled back with their numbers) are held back and the rest rendered again.
            held = {int(st02) - 1: found for st02, found in exc.broken.items()}
            for index, found in sorted(held.items()):
                _hold_back(ctx, partner, items[index], found, summary)
            items = [item for index, item in enumerate(items) if index not in held]


def _hold_back(ctx: SyncContext, partner: TradingPartner, item: OutboxItem, found: list[Unmet],
               summary: RenderSummary) -> None:
    """A row whose document cannot meet its partner's guide: failed, and set before a person with the element."""
    summary.guide_unmet += 1
    reason = f"cannot meet {partner.id}'s guide: " + "; ".join(str(u) for u in found)
    with ctx.ledger.begin() as conn:
        outbox.mark_item_failed(conn, item.id, reason)
        quarantine.put(
            conn, stage="review", item_key=f"guide:{partner.id}:{item.kind}:{item.source_id}",
            digest=item.version, kind=item.kind, reason_code="guide_unmet", reason=reason,
            reference=item.reference, account_id=item.account_id, partner_id=partner.id,
            partition_date=item.partition_date, field=str(found[0].requirement), value=None,
            detail={"unmet": [str(u) for u in found], "outbox_id": item.id, "version": item.version},
            run_id=ctx.run_id)
        audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                     event="render_failed", partner_id=partner.id,
                     detail={"version": item.version, "error": reason}, run_id=ctx.run_id)
    ctx.log.warning("held back %s %s for %s: %s", item.kind, item.reference, partner.id, reason)


def _write_interchange(ctx: SyncContext, partner: TradingPartner, transaction_set: str, envelope: EnvelopeParams,
                       good: list[OutboxItem], documents: Sequence[BusinessDocument], summary: RenderSummary,
                       guide: Guide) -> None:
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
        result = render_interchange(documents, envelope, interchange_control_number=isa13,
                                    group_control_number=gs06, set_control_numbers=list(range(1, len(good) + 1)),
                                    date=now.date(), time=now.time().replace(microsecond=0), validate=False,
                                    guide=guide)
        # The usual, valid interchange: the validator's quick path has split it, and the guide and the totals
        # are read from that split. Otherwise the text is split into segments, which the detailed walk, the
        # guide and the totals read.
        scan = clean_scan(result.text, envelope.charset)
        if scan is not None:
            errors: list[X12Error] = []
            amounts = amounts_in_sets(scan.sets, scan.element)
        else:
            tokens = tokenize(result.text)
            errors = detailed_findings(result.text, envelope.charset, tokens)
            amounts = amounts_in(tokens.segments)
        if guide.requires and not errors:
            broken: dict[str, list[Unmet]] = {}
            for st02, found in (unmet_in_sets(scan.sets, scan.element, guide) if scan is not None
                                else unmet_in_interchange(tokens, guide)):
                broken.setdefault(st02, []).append(found)
            if broken:
                raise _GuideUnmet(broken)
        name = outbound_file_name(partner.id, transaction_set, isa13)
        total = sum((Decimal(i.total) for i in good), Decimal(0))
        digest = hashlib.sha256(result.text.encode("utf-8")).hexdigest()
        interchange_id = outbox.create_interchange(
            conn, partner_id=partner.id, transaction_set=transaction_set, usage=partner.usage, isa13=isa13,
            gs06=gs06, file_name=name, content=result.text, sha256=digest, total=str(total),
            members=[(i.id, r.set_control_number) for i, r in zip(good, result.documents, strict=True)],
            run_id=ctx.run_id)
        outbox.record_verdict(conn, interchange_id, Verdict(
            sha256=digest, charset=Charset(envelope.charset).value, error_count=len(errors),
            first_error=str(errors[0]) if errors else None,
            set_amounts={st02: str(amount) for st02, amount in amounts.items()}))
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

