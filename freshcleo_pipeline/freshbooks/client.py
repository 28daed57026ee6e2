"""The read-only FreshBooks client: authenticated listing with paging, totals check and incremental windows.

Owns the accounting paths, the envelope, paging (``per_page=100`` to ``pages``, the received count checked
against ``total``), the ``updated`` windows per kind, the deleted-documents pass, and the authenticator that
keeps an access token valid through the token vault. Records come back as the raw dicts the API sent: the
ledger stores them as snapshots and ``normalize.py`` reads them.

It must not write: no method creates or changes invoices, bills, payments or their status. The webhook module
makes the only writes (callback registration) through ``client.http`` + ``client.authenticator``.
Retries, backoff and the request budget are the shared ``freshcleo_pipeline.http`` layer's job.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from freshcleo_pipeline.documents import content_version
from freshcleo_pipeline.errors import ApiError, DataError
from freshcleo_pipeline.freshbooks.oauth import SERVICE, OAuthApp, fetch_identity, refresh_tokens, vault_for
from freshcleo_pipeline.freshbooks.timestamps import Zone, eastern_day_filter, parse_timestamp
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


@dataclass(frozen=True)
class Resource:
    """How one kind of record is listed and which of its fields says when it last changed."""

    kind: str
    path: str
    key: str
    id_field: str
    updated_field: str | None  # None: the API gives this kind no timestamp at all
    zone: Zone
    server_filter: bool  # accepts search[updated_min]/[updated_max]
    includes: tuple[str, ...] = ()


RESOURCES: dict[str, Resource] = {r.kind: r for r in (
    Resource("invoices", "invoices/invoices", "invoices", "id", "updated", "eastern", True, ("lines",)),
    Resource("payments", "payments/payments", "payments", "id", "updated", "eastern", True),
    Resource("clients", "users/clients", "clients", "id", "updated", "eastern", True),
    Resource("items", "items/items", "items", "id", "updated", "eastern", True),
    # Bills and vendors document no updated filter: scanned in full and filtered on their UTC updated_at.
    Resource("bills", "bills/bills", "bills", "id", "updated_at", "utc", False),
    Resource("bill_vendors", "bill_vendors/bill_vendors", "bill_vendors", "vendorid", "updated_at", "utc", False),
    # Bill payments carry no timestamp: every scan returns them all; the pipeline dedupes by content version.
    Resource("bill_payments", "bill_payments/bill_payments", "bill_payments", "id", None, "utc", False),
)}


class ListingIncompleteError(ApiError):
    """Two full passes over a list disagreed with the ``total`` FreshBooks reported."""


def resource(kind: str) -> Resource:
    try:
        return RESOURCES[kind]
    except KeyError:
        raise ValueError(f"kind: got {kind!r}; expected one of {', '.join(RESOURCES)}") from None


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

    def __init__(self, http: HttpClient, authenticator: VaultAuthenticator, account_id: str) -> None:
        self.http = http
        self.authenticator = authenticator
        self.account_id = account_id

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
        return cls(http, VaultAuthenticator(vault, http, OAuthApp.from_settings(settings)), account_id)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FreshBooksClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- low level ----

    def get_json(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        """GET a path (relative to the API root) with the stored token; the JSON body."""
        response = self.http.request("GET", path, auth=self.authenticator, params=list(params))
        try:
            return response.json()
        except ValueError:
            raise ApiError(SERVICE, "GET", path, response.status_code, "response is not JSON") from None

    def _list_path(self, res: Resource) -> str:
        return f"/accounting/account/{self.account_id}/{res.path}"

    def iter_pages(self, kind: str,
                   params: Sequence[tuple[str, str]] = ()) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """(records, reported total) per page, pages 1..``pages`` at ``per_page=100``."""
        res = resource(kind)
        path = self._list_path(res)
        base = [("per_page", str(PER_PAGE)), *(("include[]", inc) for inc in res.includes), *params]
        page = 1
        while True:
            body = self.get_json(path, [("page", str(page)), *base])
            records, pages, total = _unwrap_list(body, res, path)
            yield records, total
            if not records or page >= pages:
                return
            page += 1

    def _full_pass(self, kind: str, params: Sequence[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
        records: list[dict[str, Any]] = []
        total = 0
        for page_records, page_total in self.iter_pages(kind, params):
            records.extend(page_records)
            total = page_total  # the last page's count is the newest
        return records, total

    # ---- listing ----

    def list_all(self, kind: str, *, deleted: bool = False,
                 search: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every record of ``kind`` (active and archived, or only deleted ones), raw, checked against ``total``.

        A list that changes during the scan can shift records across page boundaries, so a pass whose count
        of distinct ids disagrees with ``total`` is repeated once before giving up.
        """
        res = resource(kind)
        params = [*(VIS_DELETED if deleted else VIS_ACTIVE_AND_ARCHIVED),
                  *((f"search[{name}]", value) for name, value in (search or {}).items())]
        for attempt in (1, 2):
            records, total = self._full_pass(kind, params)
            distinct = {str(r.get(res.id_field)) for r in records}
            if len(distinct) == total:
                return _dedupe(records, res)
            log.warning("freshbooks %s list of account %s: %d distinct records, total says %d (pass %d)",
                        kind, self.account_id, len(distinct), total, attempt)
        raise ListingIncompleteError(SERVICE, "GET", self._list_path(res), 200,
                                     f"received {len(distinct)} distinct {kind} twice, but total says {total}")

    def list_updated(self, kind: str, start: dt.datetime, end: dt.datetime, *,
                     include_deleted: bool = True) -> list[dict[str, Any]]:
        """Records of ``kind`` whose last change falls in the UTC window [start, end), deleted ones included.

        Invoices, payments, clients and items use the day-granular Eastern ``updated`` filters, over-fetching
        a day each side, then filter exactly. Bills and bill vendors are scanned and filtered on ``updated_at``.
        Bill payments have no timestamp: all of them are returned. Distinct (id, content) pairs only.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware UTC datetimes")
        if end <= start:
            raise ValueError(f"window: start {start.isoformat()} must be before end {end.isoformat()}")
        res = resource(kind)
        search: dict[str, str] = {}
        if res.server_filter:
            first, last = eastern_day_filter(start, end)
            search = {"updated_min": first.isoformat(), "updated_max": last.isoformat()}
        records = self.list_all(kind, search=search)
        if include_deleted:
            records += self.list_all(kind, deleted=True, search=search)
        if res.updated_field is not None:
            records = [r for r in records if start <= updated_at(r, res) < end]
        return _dedupe(records, res)

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


def updated_at(record: Mapping[str, Any], res: Resource) -> dt.datetime:
    """The record's last-change time as aware UTC (the kind's own field and zone)."""
    assert res.updated_field is not None
    value = record.get(res.updated_field)
    if not isinstance(value, str) or not value:
        raise DataError(f"freshbooks {res.kind} {record.get(res.id_field)}", res.updated_field, value,
                        "a 'YYYY-MM-DD HH:MM:SS' timestamp")
    try:
        return parse_timestamp(value, res.zone)
    except ValueError:
        raise DataError(f"freshbooks {res.kind} {record.get(res.id_field)}", res.updated_field, value,
                        "a 'YYYY-MM-DD HH:MM:SS' timestamp") from None


def _unwrap_list(body: Any, res: Resource, path: str) -> tuple[list[dict[str, Any]], int, int]:
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


def _dedupe(records: list[dict[str, Any]], res: Resource) -> list[dict[str, Any]]:
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
