"""Stage 1: read FreshBooks documents changed in the partition window and store their raw versions.

A poll costs what the day changed. A run of today or yesterday (the polls, a webhook's run) reads
**incrementally**: invoices, payments and bills newest first by their update stamp, stopping at the first
page that reaches back before the window (invoices and payments also through their day filters); bill payments
newest id first, stopping at the highest id the ledger holds; reference data (clients, vendors, items) changed
since the day before the window. Payment parents the ledger lacks are fetched a hundred per request. The
**full scan** belongs to the nightly finalize run (``full_scan=True``) and to runs reaching further back
(backfills): every bill
and bill payment, the day-filtered invoices and payments without the early stop, all reference data, each list
checked against its ``total``. It finds what an incremental poll cannot: an edit of an older bill payment (no
timestamp, same id), or anything a server that sorts differently would have hidden (the client checks the
order it is served and reads the whole list when it is not sorted, so a poll is never wrong, only dearer).

Invoices and payments are filtered exactly on the UTC ``updated``, bills on ``updated_at``. Bill payments carry
no timestamp at all, so they are partitioned by when we first saw the version: a run lists those paid within
the look-back window (``FRESHCLEO_BILL_PAYMENT_LOOKBACK_DAYS``, default 120) and files every version the ledger
does not hold yet under the day it was observed (UTC today; the nightly finalize run, just after its day
closed, under that day), so an edit to a payment paid days ago is sent. A version already held keeps its
partition (re-runs change nothing). A run of older days (a backfill) files the versions it has not seen under
their paid date, as history has no better day, so a backfill of last year sends last year's bill payments too.
Reference data is stored as unpartitioned snapshots for normalization. Deleted documents are included so the
partner's cancel policy can apply. Nothing is written back to FreshBooks. Each listing is read a page ahead
(``sync.ahead``): at the request budget, storing a page must not delay the next request.

One record never stops the others: a record the listing could not hand over (not an object, an unreadable
timestamp, a string over ``FRESHCLEO_FRESHBOOKS_MAX_FIELD_BYTES``) or that fails here for any reason is set aside
in the quarantine (stage ``extract``) with its id, field, value and reason, and the run goes on. A record whose
timestamp cannot be read cannot be placed in a partition, so every run that sees it sets it aside again (the
quarantine counts the sightings). A later version that extracts resolves the item's entries; entries a person
set to ``retrying`` are fetched again by id at the start of the next extract.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.documents import DocumentKind, content_version
from freshcleo_pipeline.errors import ApiError, AuthError, DataError
from freshcleo_pipeline.freshbooks import fields
from freshcleo_pipeline.freshbooks.client import FreshBooksClient, Listing, Reject, item_key
from freshcleo_pipeline.freshbooks.normalize import source_version, updated_at
from freshcleo_pipeline.ledger import Connection, audit, extract_marks, quarantine, snapshots
from freshcleo_pipeline.sync.ahead import read_ahead
from freshcleo_pipeline.sync.collector import bulk_work
from freshcleo_pipeline.sync.context import SyncContext, window

#: FreshBooks listing kind of each document kind.
LISTING: dict[DocumentKind, str] = {kind: fields.fields_of(kind.value).kind for kind in DocumentKind}
REFERENCE: dict[str, str] = {"client": "clients", "bill_vendor": "bill_vendors", "item": "items"}
ONE_DAY = dt.timedelta(days=1)


@dataclass
class ExtractSummary:
    fetched: Counter[str] = field(default_factory=Counter)
    new_versions: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    reference: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)  # kind → records set aside this run
    retried: Counter[str] = field(default_factory=Counter)  # stored / quarantined / waiting → retried entries
    # Items set aside in this run: a record met twice (listed, then fetched as a payment's parent) counts once.
    set_aside: set[str] = field(default_factory=set)
    scan: str = "full"  # "incremental" (newest first, stopping at the window) or "full"


def source_id_of(kind: DocumentKind | str, raw: dict[str, Any]) -> str:
    return str(fields.source_id(str(kind), raw))


def paid_date(raw: dict[str, Any]) -> dt.date:
    """A bill payment's paid date (the look-back window is counted in paid dates)."""
    value = raw.get("paid_date") or "1970-01-01"
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DataError(fields.label(DocumentKind.BILL_PAYMENT.value, raw), "paid_date", value,
                        "a date 'YYYY-MM-DD'") from None


def partition_moment(kind: DocumentKind, raw: dict[str, Any], observed: dt.datetime | None = None) -> dt.datetime:
    """The instant a document version belongs to: its last update; for a bill payment (no timestamp) the day it
    was ``observed``, or without one its paid date."""
    if kind is DocumentKind.BILL_PAYMENT:
        day = paid_date(raw) if observed is None else observed.astimezone(dt.UTC).date()
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    moment = updated_at(kind, raw)
    if moment is None:
        raise DataError(fields.label(kind.value, raw), fields.fields_of(kind.value).updated[0], None,
                        "the time FreshBooks last changed it (the field is empty)")
    return moment


def document_row(kind: DocumentKind, account_id: str, raw: dict[str, Any],
                 observed: dt.datetime | None = None) -> dict[str, Any]:
    """The snapshot row of one listed document; raises (DataError naming the field) when it cannot be read."""
    if kind is DocumentKind.BILL_PAYMENT:
        paid_date(raw)  # an unreadable paid date is the record's fault, wherever it is filed
    moment = partition_moment(kind, raw, observed)
    return {
        "kind": kind.value, "account_id": account_id, "source_id": source_id_of(kind, raw),
        "version": source_version(kind, raw),
        "updated_at": None if kind is DocumentKind.BILL_PAYMENT else moment,
        "partition_date": moment.date(), "vis_state": fields.vis_state(kind.value, raw), "payload": raw,
    }


def reference_row(kind: str, account_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "account_id": account_id, "source_id": source_id_of(kind, raw),
            "version": content_version(raw), "updated_at": None, "partition_date": None,
            "vis_state": fields.vis_state(kind, raw), "payload": raw}


def reject_of(kind: str, raw: dict[str, Any], error: Exception, observed: dt.datetime | None = None) -> Reject:
    """Any failure of one record as a Reject: a DataError names its field and value, anything else its type."""
    moment: dt.datetime | None
    try:
        moment = (partition_moment(DocumentKind(kind), raw, observed) if kind in DocumentKind._value2member_map_
                  else None)
    except Exception:  # noqa: BLE001  the failure may be this very field: the record then has no partition
        moment = None
    if isinstance(error, DataError):
        return Reject.bad_field(kind, raw, error, moment)
    return Reject.unexpected(kind, raw, error, moment)


def full_scan_due(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> bool:
    """Whether a run of the window [start, end) reads in full when nobody says: only runs of today and
    yesterday (the polls, a webhook's run) read incrementally; a window reaching further back is a backfill,
    which wants every bill payment of its days, not only those newer than the ledger's newest."""
    today = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    return start < today - ONE_DAY or now >= end + ONE_DAY


@bulk_work()
def extract(
    ctx: SyncContext, days: list[dt.date], kinds: tuple[DocumentKind, ...] = tuple(DocumentKind), *,
    full_scan: bool | None = None, on_page: Callable[[], None] | None = None,
) -> ExtractSummary:
    """Store the window's document versions (module docstring). A page's parents (a payment's invoice) are stored
    before the page, so no reader ever sees a payment without its invoice; ``on_page`` is called after each page
    is stored (``sync.stream``)."""
    start, end = window(days)
    now = ctx.now()
    full = full_scan_due(start, end, now) if full_scan is None else full_scan
    summary = ExtractSummary(scan="full" if full else "incremental")
    client = ctx.freshbooks()
    try:
        account_id = client.account_id
        _retry(ctx, client, summary)
        _store_reference(ctx, client, summary, None if full else start - ONE_DAY)
        pages = 0
        for kind in kinds:
            # Each page is stored as it arrives, so a day's size never sits in memory at once.
            observed = observation(start, end, ctx.now()) if kind is DocumentKind.BILL_PAYMENT else None
            extracted = aside = 0
            for page in read_ahead(_fetch(ctx, client, kind, start, end, full=full)):
                summary.fetched[kind.value] += len(page.records) + len(page.rejects)
                rows, rejects = _rows(ctx, kind, account_id, page, observed, start, end)
                # Parents first: a payment must never be read (by the streaming process, or any reader) before
                # the invoice it pays is stored, or it is decided invalid for want of it.
                _store_referenced(ctx, client, kind, _parent_ids(kind, rows), summary)
                _store_page(ctx, kind, account_id, rows, rejects, summary)
                pages += 1
                if pages & (pages - 1) == 0:
                    # Each page looks up the versions it holds: the statistics must know the rows a backfill
                    # loads into an empty ledger by then (at pages 1, 2, 4, 8…, so a few ANALYZEs per run).
                    ctx.ledger.refresh_statistics(("source_snapshots",))
                extracted += len(rows)
                aside += len(rejects)
                if on_page is not None:
                    on_page()
            ctx.log.info("extracted %d %s (%d new versions, %d set aside) for %s..%s", extracted, kind.value,
                         summary.new_versions[kind.value], aside, days[0], days[-1])
    finally:
        client.close()
    return summary


def _rows(ctx: SyncContext, kind: DocumentKind, account_id: str, page: Listing, observed: dt.datetime | None,
          start: dt.datetime, end: dt.datetime) -> tuple[list[dict[str, Any]], list[Reject]]:
    """The page's snapshot rows of the window, each once, and the rejects that belong to it."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    rejects = [r for r in page.rejects if _belongs(r, start, end)]
    records = (page.records if observed is None
               else _in_look_back(page.records, observed, ctx.settings.bill_payment_lookback_days))
    for raw in records:
        try:
            row = document_row(kind, account_id, raw, observed)
        except Exception as exc:  # noqa: BLE001  one record never stops the others
            reject = reject_of(kind.value, raw, exc, observed)
            if _belongs(reject, start, end):
                rejects.append(reject)
            continue
        if start <= _moment(row) < end:
            rows.setdefault((row["source_id"], row["version"]), row)
    return list(rows.values()), rejects


def _store_page(ctx: SyncContext, kind: DocumentKind, account_id: str, rows: list[dict[str, Any]],
                rejects: list[Reject], summary: ExtractSummary) -> None:
    with ctx.ledger.begin() as conn:
        known = snapshots.known_versions(conn, kind.value, account_id, [(r["source_id"], r["version"]) for r in rows])
        fresh = [r for r in rows if (r["source_id"], r["version"]) not in known]
        summary.new_versions[kind.value] += snapshots.save_snapshots(conn, fresh, ctx.run_id)
        summary.deleted[kind.value] += sum(1 for r in fresh if r["vis_state"] == 1)
        audit.record_many(conn, [{
            "kind": r["kind"], "account_id": account_id, "source_id": r["source_id"], "event": "extracted",
            "detail": {"version": r["version"], "partition": r["partition_date"].isoformat(),
                       "vis_state": r["vis_state"]}, "run_id": ctx.run_id} for r in fresh])
        _resolve(conn, rows)
        _set_aside(ctx, conn, account_id, rejects, summary)


def retry_quarantined(ctx: SyncContext) -> Counter[str]:
    """Fetch again every extract-stage entry a person set to ``retrying``: stored ones are resolved, failing ones
    are set aside again with the new reason. Returns outcome → entries (stored, quarantined, waiting)."""
    summary = ExtractSummary()
    client = ctx.freshbooks()
    try:
        _retry(ctx, client, summary)
    finally:
        client.close()
    return summary.retried


def _moment(row: dict[str, Any]) -> dt.datetime:
    day: dt.date = row["partition_date"]
    return row["updated_at"] or dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _in_look_back(records: list[dict[str, Any]], observed: dt.datetime, days: int) -> list[dict[str, Any]]:
    """The bill payments paid within ``days`` before the observation day; an unreadable paid date is kept (the
    row builder sets it aside with the field named)."""
    first = observed.astimezone(dt.UTC).date() - dt.timedelta(days=days)
    kept: list[dict[str, Any]] = []
    for raw in records:
        try:
            if paid_date(raw) < first:
                continue
        except DataError:
            pass
        kept.append(raw)
    return kept


def _belongs(reject: Reject, start: dt.datetime, end: dt.datetime) -> bool:
    # A reject that can still be placed belongs to its own partition's run; one that cannot is every run's.
    return reject.moment is None or start <= reject.moment < end


def observation(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The instant a run observes bill payments at: now for a window holding now; the last instant of a window
    that closed less than a day ago (the nightly finalize run sends what it finds under the day it closes);
    None for older windows (filed under their paid date)."""
    if start <= now < end:
        return now
    if end <= now < end + ONE_DAY:
        return end - dt.timedelta(microseconds=1)
    return None


def _fetch(ctx: SyncContext, client: FreshBooksClient, kind: DocumentKind, start: dt.datetime, end: dt.datetime,
           *, full: bool) -> Iterator[Listing]:
    if kind is not DocumentKind.BILL_PAYMENT:
        yield from client.window_pages(LISTING[kind], start, end, newest_first=not full)
        return
    above = None
    if not full:
        with ctx.ledger.begin() as conn:
            above = extract_marks.highest_id(conn, kind.value, client.account_id)
    for deleted in (False, True):
        # No timestamp and no filter: a poll reads those created since the newest the ledger holds, the full
        # scan all of them, active, archived and deleted.
        yield from (client.scan_pages("bill_payments", deleted=deleted) if above is None
                    else client.new_id_pages("bill_payments", above, deleted=deleted))


def _resolve(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Close the extract-stage entries of records that extracted now (a fixed version, or the same one)."""
    keys = {item_key(r["kind"], r["source_id"]): r for r in rows}
    for key in quarantine.pending_keys(conn, "extract", list(keys)):
        row = keys[key]
        quarantine.resolve(conn, [key], f"processed: version {row['version'][:16]} extracted", stages=("extract",))


def _set_aside(ctx: SyncContext, conn: Connection, account_id: str, rejects: list[Reject],
               summary: ExtractSummary) -> None:
    for reject in rejects:
        if reject.item_key in summary.set_aside:
            continue
        summary.set_aside.add(reject.item_key)
        _put(ctx, conn, account_id, reject)
        summary.quarantined[reject.kind] += 1
        ctx.log.warning("set aside %s: %s", reject.item_key, reject.reason)


def _put(ctx: SyncContext, conn: Connection, account_id: str, reject: Reject) -> quarantine.Entry:
    return quarantine.put(
        conn, stage="extract", item_key=reject.item_key, digest=reject.digest, kind=reject.kind,
        reason_code=reject.code, reason=reject.reason, reference=reject.source_id or "", account_id=account_id,
        partition_date=reject.moment.date() if reject.moment is not None else None, field=reject.field,
        value=reject.value, raw=reject.raw, raw_size=reject.raw_size, run_id=ctx.run_id)


#: A payment names its invoice, a bill payment its bill: normalization needs them even when they changed outside
#: the window.
_PARENT: dict[DocumentKind, tuple[DocumentKind, str]] = {
    DocumentKind.PAYMENT: (DocumentKind.INVOICE, "invoiceid"),
    DocumentKind.BILL_PAYMENT: (DocumentKind.BILL, "billid"),
}


def _parent_ids(kind: DocumentKind, rows: list[dict[str, Any]]) -> set[str]:
    if kind not in _PARENT:
        return set()
    field_name = _PARENT[kind][1]
    return {str(r["payload"].get(field_name)) for r in rows if r["payload"].get(field_name)}


def _store_referenced(ctx: SyncContext, client: FreshBooksClient, kind: DocumentKind, wanted: set[str],
                      summary: ExtractSummary) -> None:
    """Fetch parents the ledger lacks and store them as versions of their own partition."""
    if kind not in _PARENT:
        return
    parent = _PARENT[kind][0]
    if not wanted:
        return
    with ctx.ledger.begin() as conn:
        missing = set(wanted) - snapshots.held_ids(conn, parent.value, client.account_id, sorted(wanted))
    if not missing:
        return
    listing = client.get_many(parent.value, missing)
    found = [r for r in listing.records if source_id_of(parent, r) in missing]
    rejects = [r for r in listing.rejects if r.source_id in missing]
    parents: list[dict[str, Any]] = []
    for raw in found:
        try:
            parents.append(document_row(parent, client.account_id, raw))
        except Exception as exc:  # noqa: BLE001  one record never stops the others
            rejects.append(reject_of(parent.value, raw, exc))
    with ctx.ledger.begin() as conn:
        summary.new_versions[parent.value] += snapshots.save_snapshots(conn, parents, ctx.run_id)
        _resolve(conn, parents)
        _set_aside(ctx, conn, client.account_id, rejects, summary)


def _store_reference(ctx: SyncContext, client: FreshBooksClient, summary: ExtractSummary,
                     since: dt.datetime | None) -> None:
    """Clients, vendors and items as unpartitioned snapshots (new versions only): those changed ``since``, or
    all of them for a full scan and while the ledger holds none of the kind yet."""
    for kind, listing_kind in REFERENCE.items():
        incremental = since is not None
        if since is not None:
            with ctx.ledger.begin() as conn:
                incremental = extract_marks.holds_any(conn, kind, client.account_id)
        listing = client.scan_since(listing_kind, since) if since is not None and incremental else client.scan(
            listing_kind)
        rows: list[dict[str, Any]] = []
        rejects = list(listing.rejects)
        for raw in listing.records:
            try:
                rows.append(reference_row(kind, client.account_id, raw))
            except Exception as exc:  # noqa: BLE001  one record never stops the others
                rejects.append(reject_of(kind, raw, exc))
        with ctx.ledger.begin() as conn:
            summary.reference[kind] = snapshots.save_snapshots(conn, rows, ctx.run_id)
            _resolve(conn, rows)
            _set_aside(ctx, conn, client.account_id, rejects, summary)


# ---- retry of quarantined records ----


def _retry(ctx: SyncContext, client: FreshBooksClient, summary: ExtractSummary) -> None:
    with ctx.ledger.begin() as conn:
        waiting = quarantine.retrying(conn, "extract")
    for entry in waiting:
        outcome = _retry_one(ctx, client, entry)
        summary.retried[outcome] += 1
        if outcome == "quarantined":
            summary.quarantined[entry.kind] += 1


def _retry_one(ctx: SyncContext, client: FreshBooksClient, entry: quarantine.Entry) -> str:
    prefix, _, rest = entry.item_key.partition(":")
    kind, _, ident = rest.partition(":")
    account_id = entry.account_id or client.account_id
    if prefix != "freshbooks" or kind not in fields.BY_SINGULAR:
        return "waiting"  # not a FreshBooks record: another stage's business
    if not ident or ident.startswith("#"):
        note = " — it has no id to fetch it again by; once FreshBooks no longer lists it, dismiss this entry"
        return _again(ctx, entry, reason_code=entry.reason_code,
                      reason=entry.reason if entry.reason.endswith(note) else entry.reason + note)
    try:
        got = client.get_one(kind, ident)
    except AuthError:
        raise
    except ApiError as exc:
        if exc.status == 404:
            return _again(ctx, entry, reason_code="not_found", reason=(
                f"{fields.fields_of(kind).label} {ident}: FreshBooks answered 404 when it was fetched again by id "
                f"({exc.detail}); dismiss this entry if the record is gone"))
        ctx.log.warning("retry of %s postponed: %s", entry.item_key, exc)
        return "waiting"  # FreshBooks did not answer usefully: the entry stays retrying for the next run
    if not isinstance(got, Reject):
        try:
            row = (document_row(DocumentKind(kind), account_id, got, ctx.now())
                   if kind in DocumentKind._value2member_map_ else reference_row(kind, account_id, got))
        except Exception as exc:  # noqa: BLE001  one record never stops the others
            got = reject_of(kind, got, exc)
        else:
            with ctx.ledger.begin() as conn:
                new = snapshots.save_snapshots(conn, [row], ctx.run_id)
                if new:
                    audit.record_many(conn, [{
                        "kind": kind, "account_id": account_id, "source_id": row["source_id"], "event": "extracted",
                        "detail": {"version": row["version"], "retried": entry.id,
                                   "partition": row["partition_date"].isoformat() if row["partition_date"] else None,
                                   "vis_state": row["vis_state"]}, "run_id": ctx.run_id}])
                quarantine.resolve(conn, [entry.item_key],
                                   f"processed: version {row['version'][:16]} extracted on retry", stages=("extract",))
            ctx.log.info("retried %s: stored version %s", entry.item_key, row["version"][:16])
            return "stored"
    with ctx.ledger.begin() as conn:
        if got.digest != entry.digest:
            # FreshBooks now serves another version, also bad: its own entry replaces this one.
            quarantine.resolve(conn, [entry.item_key], "replaced: FreshBooks served another version on retry, "
                               "set aside in its own entry", stages=("extract",))
        _put(ctx, conn, account_id, got)
    ctx.log.warning("retried %s: set aside again: %s", entry.item_key, got.reason)
    return "quarantined"


def _again(ctx: SyncContext, entry: quarantine.Entry, *, reason_code: str, reason: str) -> str:
    """Reopen an entry that could not be retried, with the reason why."""
    with ctx.ledger.begin() as conn:
        raw = quarantine.raw_of(conn, entry.id)
        quarantine.put(conn, stage="extract", item_key=entry.item_key, digest=entry.digest, kind=entry.kind,
                       reason_code=reason_code, reason=reason, reference=entry.reference,
                       account_id=entry.account_id, partition_date=entry.partition_date, field=entry.field,
                       value=entry.value, raw=raw, raw_size=entry.raw_size, detail=entry.detail, run_id=ctx.run_id)
    return "quarantined"
