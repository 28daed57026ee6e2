"""Stage 2: normalize the partition's newest document versions and route each to a trading partner.

Every document version gets a row in ``documents`` with a status, never a silent drop:
``routed`` (a partner receives it), ``unrouted`` (no partner matches its client or vendor), ``draft`` (not
sent), ``deleted`` (routed, for the partner's cancel policy), ``superseded`` (a newer version lives in a
later partition), ``from_partner`` (a bill freshcleo created from a supplier's own 810: never sent back to it as
an 850), ``invalid`` (the FreshBooks data cannot be read; the reason names the field and value).

A document that fails here for any reason (a DataError, or anything unexpected, named by type and message) is
decided ``invalid`` and also set aside in the quarantine (stage ``normalize``), so one document never stops the
others. Invalid documents are decided again on every run of their partition: a fixed normalization or a new
version resolves the entry, the same failure counts as another sighting (and reopens an entry set to
``retrying``).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from freshcleo_pipeline.documents import (
    TRANSACTION_SET,
    DocumentKind,
    Invoice,
    Party,
    PurchaseOrder,
    Remittance,
)
from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks.client import item_key
from freshcleo_pipeline.freshbooks.normalize import NormalizeContext, document_state, normalize, partner_keys
from freshcleo_pipeline.ledger import Connection, audit, freshbooks_writes, quarantine, snapshots
from freshcleo_pipeline.ledger.snapshots import Snapshot
from freshcleo_pipeline.sync.collector import bulk_work
from freshcleo_pipeline.sync.context import SyncContext

ROUTABLE = ("routed", "deleted")
#: Decisions taken again on every run: nothing was sent for them, and a fix may change them.
REDECIDED = ("unrouted", "invalid")
CHUNK = 500


@dataclass(frozen=True)
class OurBills:
    """Bills freshcleo created in FreshBooks from suppliers' 810s: by id once created, and by (partner, bill
    number) from the moment the write is claimed, so a bill whose creation a crash left unrecorded is known too."""

    ids: frozenset[str] = frozenset()
    numbers: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def load(cls, conn: Connection, partner_ids: Sequence[str]) -> OurBills:
        numbers = {(p, n) for p in partner_ids for n in freshbooks_writes.claimed_references(conn, p, "bill")}
        return cls(frozenset(freshbooks_writes.created_ids(conn, "bill")), frozenset(numbers))

    def holds(self, source_id: str, partner_id: str, bill_number: str) -> bool:
        return source_id in self.ids or (bool(bill_number) and (partner_id, bill_number) in self.numbers)


@dataclass
class RouteSummary:
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, status) → documents
    per_partner: Counter[tuple[str, str]] = field(default_factory=Counter)  # (partner, kind) → documents
    totals: dict[str, Decimal] = field(default_factory=dict)  # "kind:currency" → money of routed documents
    warnings: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)
    quarantined: Counter[str] = field(default_factory=Counter)  # kind → documents set aside this run
    # Items set aside in this run: an older version decided later in the same run must not resolve them.
    failed_keys: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Problem:
    """Why a document version was decided invalid, as the quarantine records it."""

    code: str  # bad_field, unexpected_error
    field: str | None
    value: object


def reference_of(document: Invoice | PurchaseOrder | Remittance) -> str:
    if isinstance(document, Invoice):
        return document.invoice_number
    if isinstance(document, PurchaseOrder):
        return document.po_number
    return document.trace_number


def total_of(document: Invoice | PurchaseOrder | Remittance) -> Decimal:
    return document.amount if isinstance(document, Remittance) else document.total


def _chunked_payloads(conn: Any, kind: str, account_id: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        out.extend(snapshots.latest_payloads(conn, kind, account_id, ids[start:start + 500]))
    return out


@bulk_work()
def route(ctx: SyncContext, days: list[dt.date], account_id: str, *, above: int | None = None) -> RouteSummary:
    """Decide every newest document version of the partitions not decided yet (unrouted and invalid ones are
    decided again, so a partner added to partners.yaml picks up its documents on the next run or backfill).

    ``above`` limits the pass to versions stored after that snapshot id (the streaming process goes on from
    its last pass; the summary's figures then count only those)."""
    summary = RouteSummary()
    company = ctx.company_party()
    # The snapshots extraction just stored are read back at once, and so are the outbox rows of earlier runs
    # (planning follows): their statistics must know those rows first (see ``Ledger.refresh_statistics``).
    ctx.ledger.refresh_statistics(("source_snapshots", "documents", "outbox"))
    with ctx.ledger.begin() as conn:
        reference = {
            "clients": snapshots.latest_payloads(conn, "client", account_id),
            "vendors": snapshots.latest_payloads(conn, "bill_vendor", account_id),
            "items": snapshots.latest_payloads(conn, "item", account_id),
        }
        # Every partner, not only those opted in now: a bill created before an opt-out is still ours.
        ours = OurBills.load(conn, [p.id for p in ctx.partners.partners])
    for kind in DocumentKind:
        with ctx.ledger.begin() as conn:
            ids = snapshots.latest_ids_in_partitions(conn, kind.value, account_id, days, above=above)
            decided = snapshots.decisions_for_snapshots(conn, ids)
            # Unrouted and invalid versions are decided again, but once per run: a run routes its days more than
            # once when it streams (sync.stream), with the same partners.yaml.
            final = {sid: did for sid, (did, status, run) in decided.items()
                     if status not in REDECIDED or (ctx.run_id is not None and run == ctx.run_id)}
            for k, status, partner in snapshots.status_counts(conn, list(final.values())):
                summary.statuses[(k, status)] += 1
                if partner:
                    summary.per_partner[(partner, k)] += 1
        todo = [i for i in ids if i not in final]
        for start in range(0, len(todo), CHUNK):
            _route_chunk(ctx, kind, account_id, company, reference, todo[start:start + CHUNK], decided, summary,
                         ours)
    ctx.ledger.refresh_statistics(("documents",))  # planning reads the decisions just stored
    return summary


def _route_chunk(ctx: SyncContext, kind: DocumentKind, account_id: str, company: Party,
                 reference: dict[str, list[dict[str, Any]]], ids: list[int],
                 decided: dict[int, tuple[int, str, str | None]], summary: RouteSummary, ours: OurBills) -> None:
    with ctx.ledger.begin() as conn:
        chunk = snapshots.load_snapshots(conn, ids)
        invoice_ids = sorted({str(s.payload.get("invoiceid")) for s in chunk if kind is DocumentKind.PAYMENT})
        bill_ids = sorted({str(s.payload.get("billid")) for s in chunk if kind is DocumentKind.BILL_PAYMENT})
        norm = NormalizeContext.build(
            account_id, company, clients=reference["clients"], vendors=reference["vendors"],
            items=reference["items"], invoices=_chunked_payloads(conn, "invoice", account_id, invoice_ids),
            bills=_chunked_payloads(conn, "bill", account_id, bill_ids))
        newest = snapshots.newest_partition(conn, kind.value, account_id, [s.source_id for s in chunk])
    problems: dict[int, Problem] = {}
    with _collection_paused():
        rows = [_decide(ctx, kind, snap, norm, newest.get(snap.source_id), summary, problems, ours)
                for snap in chunk]
    with ctx.ledger.begin() as conn:
        _quarantine(ctx, conn, kind, chunk, rows, problems, summary)
        snapshots.save_documents(conn, [r for r in rows if r["snapshot_id"] not in decided], ctx.run_id)
        for row in rows:
            if row["snapshot_id"] in decided and row["status"] != decided[row["snapshot_id"]][1]:
                snapshots.redecide_document(conn, decided[row["snapshot_id"]][0], row, ctx.run_id)
        audit.record_many(conn, [{
            "kind": kind.value, "account_id": account_id, "source_id": r["source_id"],
            "event": "normalized" if r["status"] in ROUTABLE else r["status"],
            "partner_id": r["partner_id"],
            "detail": {"version": r["version"], "status": r["status"], "reason": r["reason"],
                       "warnings": r["warnings"]}, "run_id": ctx.run_id}
            for r in rows if r["snapshot_id"] not in decided or r["status"] != decided[r["snapshot_id"]][1]])


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk is decided. Deciding allocates tens of thousands of small
    objects that mostly live on (parsed payloads, documents, rows), so the collector ran again and again only to
    walk a heap with nothing to free: close to half of deciding's CPU. Deciding makes next to no reference
    cycles, and the collector resumes (if it was running) as soon as the chunk is decided."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _quarantine(ctx: SyncContext, conn: Connection, kind: DocumentKind, chunk: list[Snapshot],
                rows: list[dict[str, Any]], problems: dict[int, Problem], summary: RouteSummary) -> None:
    """Set invalid versions aside; close the normalize-stage entries of documents now decided otherwise."""
    by_id = {snap.id: snap for snap in chunk}
    for row in rows:
        problem = problems.get(row["snapshot_id"])
        if problem is None:
            continue
        snap = by_id[row["snapshot_id"]]
        key = item_key(kind.value, snap.source_id)
        summary.failed_keys.add(key)
        summary.quarantined[kind.value] += 1
        quarantine.put(
            conn, stage="normalize", item_key=key, digest=snap.version, kind=kind.value, reason_code=problem.code,
            reason=row["reason"], reference=snap.source_id, account_id=snap.account_id,
            partition_date=snap.partition_date, field=problem.field, value=problem.value,
            raw=json.dumps(snap.payload, ensure_ascii=False).encode("utf-8"), run_id=ctx.run_id)
    done = {item_key(kind.value, r["source_id"]): r for r in rows if r["status"] != "invalid"}
    for key in quarantine.pending_keys(conn, "normalize", [k for k in done if k not in summary.failed_keys]):
        row = done[key]
        quarantine.resolve(conn, [key], f"processed: version {row['version'][:16]} decided {row['status']}",
                           stages=("normalize",))


def _decide(ctx: SyncContext, kind: DocumentKind, snap: Snapshot, norm: NormalizeContext,
            newest_day: dt.date | None, summary: RouteSummary, problems: dict[int, Problem],
            ours: OurBills) -> dict[str, Any]:
    """One version's decision; any failure of this one document makes it ``invalid`` (never the run's)."""
    try:
        return _decide_one(ctx, kind, snap, norm, newest_day, summary, ours)
    except DataError as exc:
        problem, reason = Problem("bad_field", exc.field, exc.value), str(exc)
    except Exception as exc:  # noqa: BLE001  one document never stops the others
        problem = Problem("unexpected_error", None, None)
        reason = (f"{kind.value.replace('_', ' ')} {snap.source_id}: unexpected {type(exc).__name__} while "
                  f"normalizing: {exc}")
    problems[snap.id] = problem
    row: dict[str, Any] = {
        "snapshot_id": snap.id, "kind": kind.value, "account_id": snap.account_id, "source_id": snap.source_id,
        "version": snap.version, "partition_date": snap.partition_date, "reference": "", "status": "invalid",
        "reason": reason, "partner_id": None, "transaction_set": None, "currency": "USD", "total": "0",
        "body": None, "warnings": [],
    }
    summary.statuses[(kind.value, "invalid")] += 1
    if len(summary.preview) < 25:
        summary.preview.append({"kind": kind.value, "id": snap.source_id, "reference": "", "status": "invalid",
                                "partner": "", "total": "0", "reason": reason[:120]})
    return row


def _decide_one(ctx: SyncContext, kind: DocumentKind, snap: Snapshot, norm: NormalizeContext,
                newest_day: dt.date | None, summary: RouteSummary, ours: OurBills) -> dict[str, Any]:
    raw = snap.payload
    row: dict[str, Any] = {
        "snapshot_id": snap.id, "kind": kind.value, "account_id": snap.account_id, "source_id": snap.source_id,
        "version": snap.version, "partition_date": snap.partition_date, "reference": "", "status": "",
        "reason": "", "partner_id": None, "transaction_set": None, "currency": "USD", "total": "0", "body": None,
        "warnings": [],
    }

    def finish(status: str, reason: str = "") -> dict[str, Any]:
        row["status"], row["reason"] = status, reason
        summary.statuses[(kind.value, status)] += 1
        if len(summary.preview) < 25:
            summary.preview.append({"kind": kind.value, "id": snap.source_id, "reference": row["reference"],
                                    "status": status, "partner": row["partner_id"] or "", "total": row["total"],
                                    "reason": reason[:120]})
        return row

    if newest_day is not None and snap.partition_date is not None and newest_day > snap.partition_date:
        return finish("superseded", f"a newer version is in partition {newest_day.isoformat()}")
    state, state_reason = document_state(kind, raw)
    source_id, organization, email = partner_keys(kind, raw, norm)
    partner = ctx.partners.route(kind, source_id=source_id, organization=organization, email=email)
    observed = snap.updated_at or snap.fetched_at
    norm.stored_version(raw, snap.version)
    document, warnings = normalize(kind, raw, norm, observed_at=observed)
    row["reference"] = reference_of(document)[:64]
    row["currency"] = document.currency
    row["total"] = str(total_of(document))
    row["body"] = document.model_dump(mode="json")
    row["warnings"] = [str(w) for w in warnings]
    summary.warnings += len(warnings)
    if state == "draft":
        return finish("draft", state_reason or "drafts are not sent")
    if partner is None:
        who = " ".join(x for x in (f"id {source_id}" if source_id else "", repr(organization) if organization else "",
                                   f"<{email}>" if email else "") if x)
        side = "client" if kind in (DocumentKind.INVOICE, DocumentKind.PAYMENT) else "vendor"
        return finish("unrouted", f"no enabled partner in partners.yaml matches {side} {who or '(none)'} "
                                  f"for {kind.value} documents")
    if (kind is DocumentKind.BILL and isinstance(document, PurchaseOrder)
            and ours.holds(snap.source_id, partner.id, document.bill_number)):
        return finish("from_partner", f"created by freshcleo from {partner.id}'s invoice {document.bill_number}: "
                                      "not sent back to it as a purchase order")
    row["partner_id"] = partner.id
    row["transaction_set"] = TRANSACTION_SET[kind]
    summary.per_partner[(partner.id, kind.value)] += 1
    money_key = f"{kind.value}:{document.currency}"
    if state == "deleted":
        return finish("deleted", state_reason or "deleted in FreshBooks")
    summary.totals[money_key] = summary.totals.get(money_key, Decimal(0)) + total_of(document)
    return finish("routed")
