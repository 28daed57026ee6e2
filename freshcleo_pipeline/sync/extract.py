"""Stage 1: read FreshBooks documents changed in the partition window and store their raw versions.

Invoices and payments come from the day-filtered listings (filtered exactly on the UTC ``updated``), bills
from a full scan filtered on ``updated_at``. Bill payments carry no timestamp at all, so they are partitioned
by their ``paid_date`` (a stable business date: a re-run puts each one in the same partition) and every
content change becomes a new version there. Reference data (clients, vendors, items) is stored as unpartitioned
snapshots for normalization. Deleted documents are included so the partner's cancel policy can apply.
Nothing is written back to FreshBooks.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.documents import DocumentKind, content_version
from freshcleo_pipeline.freshbooks.client import FreshBooksClient, resource
from freshcleo_pipeline.freshbooks.normalize import source_version, updated_at
from freshcleo_pipeline.ledger import audit, snapshots
from freshcleo_pipeline.sync.context import SyncContext, window

#: FreshBooks listing kind of each document kind.
LISTING: dict[DocumentKind, str] = {
    DocumentKind.INVOICE: "invoices",
    DocumentKind.BILL: "bills",
    DocumentKind.PAYMENT: "payments",
    DocumentKind.BILL_PAYMENT: "bill_payments",
}
REFERENCE: dict[str, str] = {"client": "clients", "bill_vendor": "bill_vendors", "item": "items"}


@dataclass
class ExtractSummary:
    fetched: Counter[str] = field(default_factory=Counter)
    new_versions: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    reference: Counter[str] = field(default_factory=Counter)


def source_id_of(kind: DocumentKind | str, raw: dict[str, Any]) -> str:
    res = resource(LISTING[DocumentKind(kind)] if kind in DocumentKind._value2member_map_ else REFERENCE[kind])
    value = raw.get(res.id_field)
    if value is None:
        value = raw.get("id")
    return str(value)


def partition_moment(kind: DocumentKind, raw: dict[str, Any]) -> dt.datetime:
    """The instant a document version belongs to (its last update; a bill payment's paid date)."""
    if kind is DocumentKind.BILL_PAYMENT:
        day = dt.date.fromisoformat(str(raw.get("paid_date") or "1970-01-01"))
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    moment = updated_at(kind, raw)
    if moment is None:
        raise ValueError(f"{kind.value} {raw.get('id')} has no update timestamp")
    return moment


def extract(ctx: SyncContext, days: list[dt.date], kinds: tuple[DocumentKind, ...] = tuple(DocumentKind)) -> ExtractSummary:
    start, end = window(days)
    summary = ExtractSummary()
    client = ctx.freshbooks()
    try:
        account_id = client.account_id
        _store_reference(ctx, client, summary)
        for kind in kinds:
            records = _fetch(client, kind, start, end)
            summary.fetched[kind.value] = len(records)
            rows = []
            for raw in records:
                moment = partition_moment(kind, raw)
                if not start <= moment < end:
                    continue
                rows.append({
                    "kind": kind.value, "account_id": account_id, "source_id": source_id_of(kind, raw),
                    "version": source_version(kind, raw),
                    "updated_at": None if kind is DocumentKind.BILL_PAYMENT else moment,
                    "partition_date": moment.date(), "vis_state": int(raw.get("vis_state") or 0), "payload": raw,
                })
                if int(raw.get("vis_state") or 0) == 1:
                    summary.deleted[kind.value] += 1
            with ctx.ledger.begin() as conn:
                known = snapshots.known_versions(conn, kind.value, account_id,
                                                 [(r["source_id"], r["version"]) for r in rows])
                fresh = [r for r in rows if (r["source_id"], r["version"]) not in known]
                summary.new_versions[kind.value] = snapshots.save_snapshots(conn, fresh, ctx.run_id)
                audit.record_many(conn, [{
                    "kind": r["kind"], "account_id": account_id, "source_id": r["source_id"], "event": "extracted",
                    "detail": {"version": r["version"], "partition": r["partition_date"].isoformat(),
                               "vis_state": r["vis_state"]}, "run_id": ctx.run_id} for r in fresh])
            ctx.log.info("extracted %d %s (%d new versions) for %s..%s", len(rows), kind.value,
                         summary.new_versions[kind.value], days[0], days[-1])
    finally:
        client.close()
    return summary


def _fetch(client: FreshBooksClient, kind: DocumentKind, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    if kind is DocumentKind.BILL_PAYMENT:
        # No timestamp and no filter: a scan of all of them, active, archived and deleted.
        return client.list_all("bill_payments") + client.list_all("bill_payments", deleted=True)
    return client.list_updated(LISTING[kind], start, end)


def _store_reference(ctx: SyncContext, client: FreshBooksClient, summary: ExtractSummary) -> None:
    """Clients, vendors and items as unpartitioned snapshots (new versions only)."""
    for kind, listing in REFERENCE.items():
        records = client.list_all(listing)
        rows = [{"kind": kind, "account_id": client.account_id, "source_id": source_id_of(kind, raw),
                 "version": content_version(raw), "updated_at": None, "partition_date": None,
                 "vis_state": int(raw.get("vis_state") or 0), "payload": raw} for raw in records]
        with ctx.ledger.begin() as conn:
            summary.reference[kind] = snapshots.save_snapshots(conn, rows, ctx.run_id)
