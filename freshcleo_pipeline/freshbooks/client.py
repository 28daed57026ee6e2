"""The read-only FreshBooks client: authenticated listing with paging, totals check and incremental windows.

Owns the envelope, paging (``per_page=100`` to ``pages``, the received count checked against ``total``), the
``updated`` windows per kind, the deleted-documents pass, single-record GETs, and the authenticator that keeps
an access token valid through the token vault. Paths, id fields, timestamps and includes per kind come from
``fields.FIELDS``. Records come back as the raw dicts the API sent: the ledger stores them as snapshots and
``normalize.py`` reads them.

One record never fails a listing: every element is screened as it arrives (:func:`screen`), and an element that
is not an object, has no id, holds a string over the field cap, or whose timestamp cannot be placed in the
window comes back as a :class:`Reject` beside the usable records (:meth:`FreshBooksClient.scan`,
:meth:`~FreshBooksClient.scan_updated`, :meth:`~FreshBooksClient.get_one`). Over-cap values are dropped with
the page they came in, never kept whole.

It must not write: no method creates or changes invoices, bills, payments or their status. Writes go through
``client.http`` + ``client.authenticator`` elsewhere: the webhook module's callback registration (events API) and
``writer.FreshBooksWriter``, the one writer of accounting objects (opt-in, read-only by default).
Retries, backoff and the request budget are the shared ``freshcleo_pipeline.http`` layer's job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from freshcleo_pipeline.documents import content_version
from freshcleo_pipeline.errors import ApiError, DataError
from freshcleo_pipeline.freshbooks.fields import KindFields, fields_of, label, oversized, source_id, updated_at
from freshcleo_pipeline.freshbooks.oauth import SERVICE, OAuthApp, fetch_identity, refresh_tokens, vault_for
from freshcleo_pipeline.freshbooks.timestamps import eastern_day_filter
from freshcleo_pipeline.http import HttpClient, RequestBudget, RetryPolicy
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger.tokens import StoredGrant, TokenSet, TokenVault, utc_now
from freshcleo_pipeline.settings import Settings

log = logging.getLogger(__name__)

PER_PAGE = 100
#: Refresh this long before the access token expires, so no request is sent with a token about to die.
REFRESH_MARGIN = dt.timedelta(minutes=5)
VIS_ACTIVE_AND_ARCHIVED: tuple[tuple[str, str], ...] = ()
VIS_DELETED = (("search[vis_state]", "1"),)
#: The default cap on one string in a record (settings carry the configured one).
MAX_FIELD_BYTES = 1024 * 1024


class ListingIncompleteError(ApiError):
    """Two full passes over a list disagreed with the ``total`` FreshBooks reported."""


@dataclass(frozen=True)
class Reject:
    """A record the client could not hand over as a usable object, with what a person needs to act on it.

    ``raw`` is the record as received when it is small enough to keep (None for over-cap records: only their
    size and digest are kept); ``digest`` is the SHA-256 of its canonical JSON; ``moment`` its last change when
    that could still be read (so the pipeline can tell which partition it belongs to).
    """

    kind: str  # ledger kind ("invoice")
    source_id: str | None
    code: str  # not_an_object, bad_field, field_too_large, unexpected_error, not_found
    field: str | None
    value: object
    expected: str
    reason: str
    raw: bytes | None
    raw_size: int
    digest: str
    moment: dt.datetime | None = None

    @property
    def item_key(self) -> str:
        return item_key(self.kind, self.source_id, self.digest)

    @classmethod
    def of(cls, kind: str, raw: object, code: str, field: str | None, value: object, expected: str, *,
           reason: str | None = None, keep_raw: bool = True, moment: dt.datetime | None = None) -> Reject:
        digest, size = measure(raw)
        kept = json.dumps(raw, ensure_ascii=False, default=str).encode("utf-8") if keep_raw else None
        text = reason or str(DataError(label(kind, raw), field or "(document)", value, expected))
        return cls(fields_of(kind).singular, source_id(kind, raw), code, field, value, expected, text, kept, size,
                   digest, moment)

    @classmethod
    def bad_field(cls, kind: str, raw: object, error: DataError, moment: dt.datetime | None = None) -> Reject:
        return cls.of(kind, raw, "bad_field", error.field, error.value, error.expected, reason=str(error),
                      moment=moment)

    @classmethod
    def unexpected(cls, kind: str, raw: object, error: Exception, moment: dt.datetime | None = None) -> Reject:
        what = f"unexpected {type(error).__name__}: {error}"
        return cls.of(kind, raw, "unexpected_error", None, None, f"a record the pipeline can read ({what})",
                      reason=f"{label(kind, raw)}: {what}", moment=moment)

    def error(self) -> DataError:
        document = f"{fields_of(self.kind).label} {self.source_id or '(no id)'}"
        return DataError(document, self.field or "(document)", self.value, self.expected)


def item_key(kind: str, ident: str | None, digest: str = "") -> str:
    """The quarantine key of a FreshBooks record: ``freshbooks:invoice:31008`` (by digest when it has no id)."""
    return f"freshbooks:{fields_of(kind).singular}:{ident if ident is not None else '#' + digest[:16]}"


def measure(raw: object) -> tuple[str, int]:
    """(SHA-256 of the canonical JSON, size of the JSON as received) without building either text whole."""
    digest = hashlib.sha256()
    for chunk in json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).iterencode(raw):
        digest.update(chunk.encode("utf-8", "surrogatepass"))
    size = sum(len(chunk.encode("utf-8", "surrogatepass"))
               for chunk in json.JSONEncoder(ensure_ascii=False, default=str).iterencode(raw))
    return digest.hexdigest(), size


def screen(kind: str, raw: object, max_field_bytes: int | None) -> dict[str, Any] | Reject:
    """The record as a usable object, or the Reject saying why not (not an object, no id, a string over the cap;
    ``None``: the caller knows no string can be over it).

    An over-cap record is never kept whole: the Reject holds its size, digest and a short preview only, so the
    big value is freed with the page it came in.
    """
    facts = fields_of(kind)
    if not isinstance(raw, dict):
        return Reject.of(kind, raw, "not_an_object", "(document)", _preview(raw),
                         f"a JSON object (got {type(raw).__name__})")
    if source_id(kind, raw) is None:
        return Reject.of(kind, raw, "bad_field", facts.id_field, raw.get(facts.id_field), "an id")
    big = oversized(raw, max_field_bytes) if max_field_bytes is not None else None
    if big is not None:
        assert max_field_bytes is not None
        path, size = big
        moment: dt.datetime | None
        try:
            moment = updated_at(kind, raw)
        except DataError:
            moment = None
        expected = f"at most {max_field_bytes} bytes per field (FRESHCLEO_FRESHBOOKS_MAX_FIELD_BYTES)"
        return Reject.of(kind, raw, "field_too_large", path, f"{size} bytes", expected,
                         reason=f"{label(kind, raw)}: field {path} holds {size} bytes; expected {expected}; the "
                                "record was not stored", keep_raw=False, moment=moment)
    return raw


def _preview(value: object, limit: int = 80) -> object:
    # Containers and long text are named, not copied, into a reason.
    if isinstance(value, list | tuple):
        return f"<{type(value).__name__} of {len(value)}>"
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


@dataclass
class Listing:
    """Usable records and the rejects of one listing; a listing never fails because of one record."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def __iadd__(self, other: Listing) -> Listing:
        self.records += other.records
        self.rejects += other.rejects
        return self

    def strict(self) -> list[dict[str, Any]]:
        """The records, or the first reject as a DataError (for callers that cannot set records aside)."""
        if self.rejects:
            raise self.rejects[0].error()
        return self.records


@dataclass
class Page(Listing):
    """One listing page as it arrived: its records and rejects, the identities on it, the reported total."""

    seen: set[str] = field(default_factory=set)
    total: int = 0
    last: bool = False


Order = Literal["updated", "id"]
#: How far before the window a newest-first reading goes on. Eastern stamps inside the repeated November hour
#: are read as its first occurrence, so a record of the window can read up to an hour early. (A correctly sorted
#: list that steps back there fails the order check: that costs one full reading a year, never a record.)
_ORDER_SLACK: dict[str, float] = {"updated": 3600.0, "id": 0.0}


def _gather(kind: str, pages: Iterable[Listing]) -> Listing:
    listing = Listing()
    for page in pages:
        listing += page
    listing.records = _dedupe(listing.records, fields_of(kind))
    return listing


def _in_window(kind: str, res: KindFields, page: Listing, start: dt.datetime, end: dt.datetime) -> Listing:
    """The page's records whose update stamp falls in [start, end); an unreadable or empty stamp is a reject."""
    out = Listing(rejects=[r for r in page.rejects if r.moment is None or start <= r.moment < end])
    for record in page.records:
        try:
            moment = updated_at(kind, record)
        except DataError as exc:
            out.rejects.append(Reject.bad_field(kind, record, exc))
            continue
        if moment is None:
            out.rejects.append(Reject.of(kind, record, "bad_field", res.updated[0], None,
                                         "the time FreshBooks last changed it (the field is empty)"))
        elif start <= moment < end:
            out.records.append(record)
    return out


def _before(kind: str, record: Mapping[str, Any], earliest: float) -> bool:
    key = _order_key(kind, "updated", record)
    return key is not None and key < earliest


def _order_key(kind: str, by: Order, record: Mapping[str, Any]) -> float | None:
    try:
        if by == "id":
            return float(int(str(source_id(kind, record))))
        moment = updated_at(kind, record)
    except (DataError, ValueError):
        return None
    return None if moment is None else moment.timestamp()


# ---- authentication ----

class VaultAuthenticator:
    """Bearer headers from the token vault; refreshes before expiry and after a 401, single-flight.

    Within a process one lock serializes refreshes; across processes the vault's lease does. The cached grant
    is re-read from the vault only when it is about to expire or was refused, so a refresh made elsewhere is
    picked up without a call to FreshBooks (the vault answers with the newer generation).
    """

    def __init__(self, vault: TokenVault, http: HttpClient, app: OAuthApp, *,
                 margin: dt.timedelta = REFRESH_MARGIN, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.vault = vault
        self._http = http
        self._app = app
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._grant: StoredGrant | None = None
        # A generation already refreshed proactively is not refreshed again before it fails: tokens issued
        # with a lifetime shorter than the margin would otherwise cause a refresh per request.
        self._fresh_generation: int | None = None

    def __repr__(self) -> str:
        return f"VaultAuthenticator({self.vault!r})"

    @property
    def grant(self) -> StoredGrant:
        with self._lock:
            return self._current()

    def headers(self) -> Mapping[str, str]:
        with self._lock:
            grant = self._current()
            assert grant.tokens is not None
            if grant.generation != self._fresh_generation and grant.tokens.expires_within(
                    self._margin, self._clock()):
                grant = self._refresh(grant.generation)
                self._fresh_generation = grant.generation
            assert grant.tokens is not None
            return {"Authorization": f"Bearer {grant.tokens.access_token}"}

    def renew(self) -> None:
        """After a 401: rotate the pair we used (or adopt a newer one another process stored)."""
        with self._lock:
            self._refresh(self._current().generation)

    def force_refresh(self) -> StoredGrant:
        """Rotate now (``freshcleo ping`` proves the refresh token works this way)."""
        with self._lock:
            return self._refresh(self._current().generation)

    def _current(self) -> StoredGrant:
        if self._grant is None:
            self._grant = self.vault.require()
        return self._grant

    def _refresh(self, seen_generation: int) -> StoredGrant:
        self._grant = None  # whatever happens, the next use re-reads the vault
        grant = self.vault.refresh(seen_generation, self._refresher)
        self._grant = grant
        return grant

    def _refresher(self, refresh_token: str) -> TokenSet:
        return refresh_tokens(self._http, self._app, refresh_token)


# ---- the request budget, one per account in this process ----

_budgets: dict[tuple[str, str], RequestBudget] = {}
_budgets_lock = threading.Lock()


def account_budget(api_url: str, account_id: str, rate: float) -> RequestBudget:
    """The process-wide budget of one account: every client of that account shares it."""
    with _budgets_lock:
        budget = _budgets.get((api_url, account_id))
        if budget is None or budget.rate != rate:
            budget = _budgets[(api_url, account_id)] = RequestBudget(rate)
        return budget


# ---- the client ----

class FreshBooksClient:
    """Read-only access to one FreshBooks account."""

    def __init__(self, http: HttpClient, authenticator: VaultAuthenticator, account_id: str, *,
                 max_field_bytes: int = MAX_FIELD_BYTES) -> None:
        self.http = http
        self.authenticator = authenticator
        self.account_id = account_id
        self.max_field_bytes = max_field_bytes
        self._ids_filter_ignored: set[str] = set()

    def __repr__(self) -> str:
        return f"FreshBooksClient(account_id={self.account_id!r}, base_url={self.http.base_url!r})"

    @classmethod
    def from_settings(
        cls, settings: Settings, ledger: Ledger, *, connection: str = "default",
        policy: RetryPolicy | None = None, sleep: Callable[[float], None] | None = None,
        requests_per_second: float | None = None,
    ) -> FreshBooksClient:
        """A client for the account stored by ``freshcleo connect freshbooks``."""
        vault = vault_for(settings, ledger, connection)
        grant = vault.require()
        account_id = grant.account_id or ""
        if not account_id:
            raise ApiError(SERVICE, "GET", "connection", None,
                           "the stored connection has no account_id: run `freshcleo connect freshbooks`")
        api_url = settings.resolved_freshbooks_api_url()
        rate = requests_per_second or settings.freshbooks_requests_per_second
        http = HttpClient(SERVICE, api_url, policy=policy or RetryPolicy(),
                          budget=account_budget(api_url, account_id, rate), sleep=sleep or time.sleep)
        return cls(http, VaultAuthenticator(vault, http, OAuthApp.from_settings(settings)), account_id,
                   max_field_bytes=settings.freshbooks_max_field_bytes)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FreshBooksClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- low level ----

    def get_json(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        """GET a path (relative to the API root) with the stored token; the JSON body."""
        return self._get_sized(path, params)[0]

    def _get_sized(self, path: str, params: Sequence[tuple[str, str]]) -> tuple[Any, int]:
        """The JSON body and the size of the response in bytes."""
        response = self.http.request("GET", path, auth=self.authenticator, params=list(params))
        try:
            return response.json(), len(response.content)
        except ValueError:
            raise ApiError(SERVICE, "GET", path, response.status_code, "response is not JSON") from None

    def _list_path(self, res: KindFields) -> str:
        return f"/accounting/account/{self.account_id}/{res.path}"

    def _pages(self, res: KindFields, params: Sequence[tuple[str, str]]) -> Iterator[Page]:
        """Pages 1..``pages`` at ``per_page=100``, each screened as it arrives."""
        path = self._list_path(res)
        base = [("per_page", str(PER_PAGE)), *(("include[]", inc) for inc in res.includes), *params]
        page = 1
        while True:
            body, size = self._get_sized(path, [("page", str(page)), *base])
            elements, pages, total = _unwrap_list(body, res, path)
            del body
            # A string of the page is at most as long in UTF-8 as its JSON text, so only a page larger than the
            # cap can hold a field over it: the usual page skips the walk through every field.
            cap = self.max_field_bytes if size > self.max_field_bytes else None
            # Screened page by page, so an over-cap value is dropped before the next page is read.
            out = Page(total=total, last=not elements or page >= pages)
            for element in elements:
                screened = screen(res.kind, element, cap)
                if isinstance(screened, Reject):
                    out.rejects.append(screened)
                    out.seen.add(screened.source_id or "#" + screened.digest)
                else:
                    out.records.append(screened)
                    out.seen.add(str(source_id(res.kind, screened)))
            del elements
            yield out
            if out.last:
                return
            page += 1

    # ---- listing ----

    def scan_pages(self, kind: str, *, deleted: bool = False,
                   search: Mapping[str, str] | None = None) -> Iterator[Listing]:
        """Every record of ``kind`` (active and archived, or only deleted ones), a page at a time as it arrives,
        checked against ``total`` at the end; records that are not usable objects come back as rejects, never as
        an error of the whole listing.

        A list that changes during the scan can shift records across page boundaries, so a pass whose count of
        distinct ids disagrees with ``total`` is read once more (a caller sees its pages again: what it stores
        must be idempotent) before giving up.
        """
        res = fields_of(kind)
        params = [*(VIS_DELETED if deleted else VIS_ACTIVE_AND_ARCHIVED),
                  *((f"search[{name}]", value) for name, value in (search or {}).items())]
        seen: set[str] = set()
        total = 0
        for attempt in (1, 2):
            seen, total = set(), 0
            for page in self._pages(res, params):
                seen |= page.seen
                total = page.total
                yield page
            if len(seen) == total:
                return
            log.warning("freshbooks %s list of account %s: %d distinct records, total says %d (pass %d)",
                        kind, self.account_id, len(seen), total, attempt)
        raise ListingIncompleteError(SERVICE, "GET", self._list_path(res), 200,
                                     f"received {len(seen)} distinct {kind} twice, but total says {total}")

    def scan(self, kind: str, *, deleted: bool = False, search: Mapping[str, str] | None = None) -> Listing:
        """:meth:`scan_pages` gathered: the whole list at once, each record once."""
        return _gather(kind, self.scan_pages(kind, deleted=deleted, search=search))

    def newest_pages(self, kind: str, *, by: Order, until: Callable[[dict[str, Any]], bool], deleted: bool = False,
                     search: Mapping[str, str] | None = None) -> Iterator[Listing]:
        """Records newest first (``sort=<field>_desc`` on the update stamp or the id), a page at a time, up to the
        page on which ``until`` first holds for a record.

        Which fields FreshBooks sorts by is unconfirmed (reference §8), so the order is checked as the pages
        arrive: the early stop is taken only while every record so far came in order, after at least one step
        down. A record out of order (a server that ignored ``sort``) makes this a full read of the same
        selection, checked against ``total`` like :meth:`scan_pages`; what comes back is right either way, only
        the number of requests depends on the server.
        """
        res = fields_of(kind)
        sort_field = res.updated_field if by == "updated" else "id"
        if sort_field is None:
            raise ValueError(f"{kind} have no update stamp to sort by")
        params = [*(VIS_DELETED if deleted else VIS_ACTIVE_AND_ARCHIVED),
                  *((f"search[{name}]", value) for name, value in (search or {}).items()),
                  ("sort", f"{sort_field}_desc")]
        seen: set[str] = set()
        # The early stop needs the order proven: nothing ever newer than what came before it, and at least one
        # step down (a list of equal stamps, or of one record, proves nothing about the pages after it).
        ordered, stepped, reached = True, False, False
        previous: float | None = None
        for page in self._pages(res, params):
            seen |= page.seen
            for record in page.records:
                key = _order_key(kind, by, record)
                if key is None:
                    continue  # no readable stamp or id: it cannot tell the order either way
                if previous is not None and key > previous:
                    if ordered:
                        log.info("freshbooks %s of account %s not served in %s order: reading the whole list",
                                 kind, self.account_id, sort_field)
                    ordered = False
                stepped = stepped or (previous is not None and key < previous)
                previous = key
                reached = reached or until(record)
            yield page
            if ordered and stepped and reached:
                return
            if page.last and len(seen) != page.total:
                yield from self.scan_pages(kind, deleted=deleted, search=search)

    def scan_newest(self, kind: str, *, by: Order, until: Callable[[dict[str, Any]], bool], deleted: bool = False,
                    search: Mapping[str, str] | None = None) -> Listing:
        """:meth:`newest_pages` gathered."""
        return _gather(kind, self.newest_pages(kind, by=by, until=until, deleted=deleted, search=search))

    def window_pages(self, kind: str, start: dt.datetime, end: dt.datetime, *, include_deleted: bool = True,
                      newest_first: bool = False) -> Iterator[Listing]:
        """Records of ``kind`` whose last change falls in the UTC window [start, end), deleted ones included, a
        page at a time (a record may come twice when the list moved while it was read).

        Kinds the server filters use the day-granular Eastern ``updated`` filters, over-fetching a day each
        side, then filter exactly; the others are scanned and filtered on their own field (``fields.FIELDS``).
        Kinds without a timestamp (bill payments) are returned whole. A record whose timestamp cannot be read
        cannot be placed in a window: it is returned as a reject (with no ``moment``), as are rejects whose
        timestamp still places them in the window or cannot tell.

        ``newest_first`` reads with :meth:`newest_pages` and stops at the first page reaching back before
        ``start``, so a poll of today costs today's pages, not the kind's history (kinds with an update stamp).
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware UTC datetimes")
        if end <= start:
            raise ValueError(f"window: start {start.isoformat()} must be before end {end.isoformat()}")
        res = fields_of(kind)
        search: dict[str, str] = {}
        if res.server_filter:
            first, last = eastern_day_filter(start, end)
            search = {"updated_min": first.isoformat(), "updated_max": last.isoformat()}
        earliest = start.timestamp() - _ORDER_SLACK["updated"]

        def reached(record: dict[str, Any]) -> bool:
            return _before(kind, record, earliest)

        for deleted in (False, True) if include_deleted else (False,):
            pages = (self.newest_pages(kind, by="updated", deleted=deleted, search=search, until=reached)
                     if newest_first and res.updated else self.scan_pages(kind, deleted=deleted, search=search))
            for page in pages:
                yield _in_window(kind, res, page, start, end) if res.updated else page

    def scan_updated(self, kind: str, start: dt.datetime, end: dt.datetime, *,
                     include_deleted: bool = True, newest_first: bool = False) -> Listing:
        """:meth:`window_pages` gathered: the window's records at once, each once."""
        return _gather(kind, self.window_pages(kind, start, end, include_deleted=include_deleted,
                                                newest_first=newest_first))

    def list_all(self, kind: str, *, deleted: bool = False,
                 search: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """:meth:`scan`, for callers that cannot set records aside: the first reject raises its DataError."""
        return self.scan(kind, deleted=deleted, search=search).strict()

    def list_updated(self, kind: str, start: dt.datetime, end: dt.datetime, *,
                     include_deleted: bool = True) -> list[dict[str, Any]]:
        """:meth:`scan_updated`, for callers that cannot set records aside: the first reject raises."""
        return self.scan_updated(kind, start, end, include_deleted=include_deleted).strict()

    def scan_since(self, kind: str, since: dt.datetime) -> Listing:
        """Active and archived records changed since ``since``, newest first (more may come back, never fewer):
        a poll's refresh of reference data, which costs the pages changed, not the whole list."""
        res = fields_of(kind)
        search = ({"updated_min": eastern_day_filter(since, since + dt.timedelta(days=1))[0].isoformat()}
                  if res.server_filter else {})
        earliest = since.timestamp() - _ORDER_SLACK["updated"]
        return self.scan_newest(kind, by="updated", search=search, until=lambda r: _before(kind, r, earliest))

    def new_id_pages(self, kind: str, above: int, *, deleted: bool = False) -> Iterator[Listing]:
        """Records whose id is above ``above``, highest first, a page at a time (more may come back, never
        fewer): what was created since the record of that id, for kinds without an update stamp. That ids grow
        is assumed, not documented; an edit of an older record is not found this way (the nightly full scan
        finds it)."""
        def reached(record: dict[str, Any]) -> bool:
            key = _order_key(kind, "id", record)
            return key is not None and key <= above

        return self.newest_pages(kind, by="id", deleted=deleted, until=reached)

    def get_many(self, kind: str, idents: Iterable[str]) -> Listing:
        """Records by id, a hundred per request through the kind's id filter, the rest (deleted ones, kinds
        without the filter, a server that ignores it) one GET each. An id FreshBooks does not know is left out:
        the caller names what it still lacks."""
        res = fields_of(kind)
        wanted = sorted({str(i) for i in idents})
        listing = Listing()
        singles: list[str] = []
        for offset in range(0, len(wanted), PER_PAGE):
            batch = wanted[offset:offset + PER_PAGE]
            if res.ids_filter is None or kind in self._ids_filter_ignored:
                singles += batch
                continue
            page = next(self._pages(res, [(f"search[{res.ids_filter}][]", ident) for ident in batch]))
            if not page.seen <= set(batch):
                # Records not asked for came back: this server does not filter by id. Nothing of the page is
                # trusted to be complete, and later batches go one by one.
                log.info("freshbooks %s of account %s: search[%s][] not honoured; fetching by id", kind,
                         self.account_id, res.ids_filter)
                self._ids_filter_ignored.add(kind)
                singles += batch
                continue
            listing += page
            singles += [ident for ident in batch if ident not in page.seen]
        for ident in singles:
            try:
                got = self.get_one(kind, ident)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                continue
            if isinstance(got, Reject):
                listing.rejects.append(got)
            else:
                listing.records.append(got)
        return listing

    def get_one(self, kind: str, ident: str) -> dict[str, Any] | Reject:
        """One record by id (with the kind's includes), screened like a listed one. Read-only."""
        res = fields_of(kind)
        path = f"{self._list_path(res)}/{ident}"
        body = self.get_json(path, [("include[]", inc) for inc in res.includes])
        try:
            record = body["response"]["result"][res.singular]
        except (KeyError, TypeError):
            raise ApiError(SERVICE, "GET", path, 200, f"expected response.result.{res.singular}") from None
        del body
        return screen(kind, record, self.max_field_bytes)

    # ---- reference data ----

    def clients(self, *, deleted: bool = False) -> list[dict[str, Any]]:
        return self.list_all("clients", deleted=deleted)

    def bill_vendors(self, *, deleted: bool = False) -> list[dict[str, Any]]:
        return self.list_all("bill_vendors", deleted=deleted)

    def items(self, *, deleted: bool = False) -> list[dict[str, Any]]:
        return self.list_all("items", deleted=deleted)

    def identity(self) -> dict[str, Any]:
        """The raw ``/users/me`` payload of the connected user."""
        return fetch_identity(self.http, self.authenticator)


def _unwrap_list(body: Any, res: KindFields, path: str) -> tuple[list[dict[str, Any]], int, int]:
    try:
        result = body["response"]["result"]
        records = result[res.key]
        pages = int(result["pages"])
        total = int(result["total"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(SERVICE, "GET", path, 200,
                       f"expected response.result.{res.key} (a list) with pages and total") from None
    if not isinstance(records, list):
        raise ApiError(SERVICE, "GET", path, 200, f"result.{res.key} is not a list")
    return records, pages, total


def _dedupe(records: list[dict[str, Any]], res: KindFields) -> list[dict[str, Any]]:
    """Distinct (id, content) pairs, first occurrence order."""
    if len({str(r.get(res.id_field)) for r in records}) == len(records):
        return records  # the usual case; hashing every record would cost more than the listing
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, Any]] = []
    for record in records:
        key = (str(record.get(res.id_field)), content_version(record))
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out
