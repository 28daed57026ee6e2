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


def extract(
    ctx: SyncContext, days: list[dt.date], kinds: tuple[DocumentKind, ...] = tuple(DocumentKind)
) -> ExtractSummary:
    start, end = window(days)
    summary = ExtractSummary()
    client = ctx.freshbooks()
    try:
        account_id = client.account_id
        _store_reference(ctx, client, summary)
        for kind in kinds:
            records = _fetch(client, kind, start, end)
            summary.fetched[kind.value] = len(records)
            rows: list[dict[str, Any]] = []
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
            _store_referenced(ctx, client, kind, rows, summary)
    finally:
        client.close()
    return summary


def _fetch(client: FreshBooksClient, kind: DocumentKind, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    if kind is DocumentKind.BILL_PAYMENT:
        # No timestamp and no filter: a scan of all of them, active, archived and deleted.
        return client.list_all("bill_payments") + client.list_all("bill_payments", deleted=True)
    return client.list_updated(LISTING[kind], start, end)


#: A payment names its invoice, a bill payment its bill: normalization needs them even when they changed outside
#: the window.
_PARENT: dict[DocumentKind, tuple[DocumentKind, str]] = {
    DocumentKind.PAYMENT: (DocumentKind.INVOICE, "invoiceid"),
    DocumentKind.BILL_PAYMENT: (DocumentKind.BILL, "billid"),
}


def _store_referenced(ctx: SyncContext, client: FreshBooksClient, kind: DocumentKind, rows: list[dict[str, Any]],
                      summary: ExtractSummary) -> None:
    """Fetch parents the ledger lacks and store them as versions of their own partition."""
    if kind not in _PARENT:
        return
    parent, field_name = _PARENT[kind]
    wanted = {str(r["payload"].get(field_name)) for r in rows if r["payload"].get(field_name)}
    with ctx.ledger.begin() as conn:
        have = {str(p.get("id")) for p in snapshots.latest_payloads(conn, parent.value, client.account_id,
                                                                   sorted(wanted))} if wanted else set()
    missing = sorted(wanted - have)
    if not missing:
        return
    if parent is DocumentKind.BILL:
        found = [b for b in client.list_all("bills") + client.list_all("bills", deleted=True)
                 if str(b.get("id")) in set(missing)]
    else:
        found = [_get_invoice(client, ident) for ident in missing]
    parents = [{"kind": parent.value, "account_id": client.account_id, "source_id": source_id_of(parent, raw),
                "version": source_version(parent, raw), "updated_at": partition_moment(parent, raw),
                "partition_date": partition_moment(parent, raw).date(), "vis_state": int(raw.get("vis_state") or 0),
                "payload": raw} for raw in found]
    with ctx.ledger.begin() as conn:
        summary.new_versions[parent.value] += snapshots.save_snapshots(conn, parents, ctx.run_id)


def _get_invoice(client: FreshBooksClient, ident: str) -> dict[str, Any]:
    body = client.get_json(f"/accounting/account/{client.account_id}/invoices/invoices/{ident}",
                           [("include[]", "lines")])
    return dict(body["response"]["result"]["invoice"])


def _store_reference(ctx: SyncContext, client: FreshBooksClient, summary: ExtractSummary) -> None:
    """Clients, vendors and items as unpartitioned snapshots (new versions only)."""
    for kind, listing in REFERENCE.items():
        records = client.list_all(listing)
        rows = [{"kind": kind, "account_id": client.account_id, "source_id": source_id_of(kind, raw),
                 "version": content_version(raw), "updated_at": None, "partition_date": None,
                 "vis_state": int(raw.get("vis_state") or 0), "payload": raw} for raw in records]
        with ctx.ledger.begin() as conn:
            summary.reference[kind] = snapshots.save_snapshots(conn, rows, ctx.run_id)
