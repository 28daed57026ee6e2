"""FreshBooksEmulator: the FreshBooks API over real HTTP on loopback, for the client, the pipeline and demos.

Owns the routes (same paths and shapes as the real service: OAuth, ``/users/me``, the accounting lists and
objects, webhook callbacks), request authentication, the envelope of each service, and the in-process
controls that tests use (mirrored over HTTP under ``/_sandbox/freshbooks/`` by ``control.py``). It imports
nothing of the connector's client code; everything it believes about FreshBooks comes from the reference.

Choices made where the reference marks a fact unconfirmed (conservative: a client that depends on the
lenient reading fails here):

| Fact (reference §)                              | Emulator behaviour                                          |
|-------------------------------------------------|-------------------------------------------------------------|
| Authorization code single use (2.2)             | enforced; a second exchange → 400 invalid_grant (the tokens  |
|                                                 | already issued stay valid)                                  |
| Code lifetime (2.2)                             | 300 s on the emulator clock (``code_lifetime``)             |
| ``expires_in`` (2.5)                            | 43200 (``access_token_lifetime``)                           |
| ``scope`` in the token response (2.5)           | space-separated list of the granted scopes                  |
| Unknown scope on authorize (17)                 | redirect with ``error=invalid_scope`` (RFC 6749 §4.1.2.1)    |
| Refresh-token reuse / grace (2.6)               | single use, no grace: reuse → 400 ``invalid_grant``; the    |
|                                                 | grant stays alive for the newest refresh token              |
| Access token after a refresh (2.6)              | the grant's previous access tokens are revoked at once      |
| ``redirect_uri`` on refresh (2.4)               | accepted, not required; if sent it must be registered       |
| Multipart values in quotes (2.4)                | surrounding double quotes are stripped                      |
| Redirect URIs (2.3)                             | exact match; https, or http://127.0.0.1 when registered     |
| 401 body on accounting/identity (14.2)          | auth shape ``{"error":"unauthenticated",…}``                |
| 403 missing scope body (2.9)                    | ``{"error":"insufficient_scope","error_description":…}``    |
|                                                 | naming the scope needed and the scopes granted              |
| Wrong ``account_id`` in the path (0.4)          | 404, accounting error shape, errno 1012                     |
| Default ``per_page``; ``pages`` when empty (5)  | 15; 0                                                       |
| Reported ``per_page`` when capped (5)           | the effective value (100)                                   |
| Bad page / per_page (5)                         | 400, errno 1014 / 1013                                      |
| Day filters (6.2)                               | US/Eastern midnight bounds; a full timestamp → 400 errno 1004 |
| Invoice filters (6.3)                           | updated_min/_max, date_min/_max, customerid(s), statusids[], |
|                                                 | invoice_number, currency_code; unknown filters ignored      |
| Bills / bill payments / vendors ``updated``     | no updated filter honoured (ignored)                        |
| Sorting (8)                                     | ``sort=<field>_asc`` or ``_desc`` on the id or update stamp  |
|                                                 | (``updated``/``updated_at``); ascending id by default and    |
|                                                 | for other fields; ``sort_honoured=False`` ignores ``sort``   |
|                                                 | entirely, as a server might: the syntax is [sdk], the        |
|                                                 | sortable fields are not confirmed, so the client verifies   |
|                                                 | the order it is served and never depends on it              |
| Lines without ``include[]=lines`` (7)           | the ``lines`` key is absent                                 |
| Bill lines (7)                                  | always present; ``include[]=vendor`` embeds the vendor       |
| Client balance includes, payment includes (7)  | not served (ignored)                                        |
| GET of a deleted object (9)                     | 200 with ``vis_state: 1``                                   |
| HTTP DELETE (4.2)                               | invoices only: sets ``vis_state`` 1, returns the object     |
| PUT with computed fields (12)                   | computed and unknown fields silently ignored                |
| Tax rounding (11.1)                             | per line and rate, half-up to cents; discount before tax    |
| ``compounded_tax`` (11.1)                       | stored, not applied                                         |
| Invoice ``version`` zone (10)                   | Eastern, with microseconds                                  |
| DST-ambiguous November hour (10)                | rendered as the wall-clock time, no offset (as FreshBooks)  |
| Payment changes and the invoice (11.5)          | bump the invoice's ``updated``/``version``; no invoice event |
| Bill payments and the bill (6.3)                | do NOT move the bill's ``updated_at`` (only bill edits do)  |
| Bill relations, ``overdue`` (11.2)              | total = amount + tax; outstanding = total - paid; overdue   |
|                                                 | when not fully paid and due_date < today (Eastern)          |
| Invoice ``v3_status`` overdue (13)              | "overdue" only when unpaid and past due; partial wins       |
| Vendor ``outstanding_balance`` (11.3)           | always ``[]`` (not computed)                                |
| Callback ``updated_at`` format (10)             | ISO 8601 UTC ``…Z``                                         |
| Verification POST signed? (16.2)               | not signed; sent after ``webhook_delay`` like events        |
| Webhook retries (16.6)                          | ``webhook_retries`` (default 0: one attempt, no retry)      |
| ``bill_payment.*`` events (16.5)                | none                                                         |
| Wrong verifier on PUT (16.1)                    | 422 events shape                                            |
| Callback create scope (2.9)                     | the read scope of the event's object                        |
| Rate limits (15)                                | none unless injected as faults (429 + Retry-After)          |
| ``x-api-version`` header (4.1)                  | not sent                                                    |
| Estimates (4.2, 2.9; no field table)            | invoice-like fields and totals, no payments; created over   |
|                                                 | the API as status 1 (draft); no filter honoured (all listed)|
| Invoices created over the API (11.1)            | status 1 (draft) unless ``action_mark_as_sent``; the        |
|                                                 | in-process ``create`` seeds them sent                       |
| Status/payment fields in a POST body (12)       | silently ignored as computed (the 422 reading is unconfirmed)|
| Unknown vendorid/customerid in a POST (14.1)    | 422, errno 1004, ``field`` naming it                        |

Writes received over HTTP (a 2xx answer to POST/PUT/DELETE on ``/accounting/…``) are counted per kind in
``api_writes()`` and ``GET /_sandbox/stats`` (``api_writes``); the in-process and ``/_sandbox/`` controls tests
seed data with are not.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from freshcleo_pipeline.sandbox.freshbooks import catalog, listing, times
from freshcleo_pipeline.sandbox.freshbooks.generator import Books
from freshcleo_pipeline.sandbox.freshbooks.kinds import BY_SINGULAR, KINDS, Kind
from freshcleo_pipeline.sandbox.freshbooks.oauth import UNAUTHENTICATED, AuthorizationServer, OAuthError
from freshcleo_pipeline.sandbox.freshbooks.store import Corruption, Event, Store, not_found
from freshcleo_pipeline.sandbox.freshbooks.webhooks import EventsError, Webhooks
from freshcleo_pipeline.sandbox.freshbooks.writes import FieldError
from freshcleo_pipeline.sandbox.httpserver import Emulator, Request, Response
from freshcleo_pipeline.settings import SANDBOX_FRESHBOOKS_CLIENT_ID, SANDBOX_FRESHBOOKS_CLIENT_SECRET

# The local receiver's default OAuth callback (settings: webhook port 8713).
DEFAULT_REDIRECT_URIS = ("http://127.0.0.1:8713/oauth/freshbooks/callback",)
ACCOUNTING = "/accounting/account/{account_id}/"
CALLBACKS = "/events/account/{account_id}/events/callbacks"
SYSTEM_URL = "https://harborsupply.freshbooks.com"
_DATE_FIELD = {"invoices": "create_date", "payments": "date", "bills": "issue_date", "bill_payments": "paid_date",
               "estimates": "create_date"}
#: Methods that change the books: counted per kind in ``api_writes`` when they succeed over HTTP.
_WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
_EVENT_SCOPES = {k.event: k.scope for k in KINDS.values() if k.event}

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def day_anchor(moment: dt.datetime) -> dt.datetime:
    """The start of ``moment``'s UTC day: an anchor that keeps a day's sandbox starts serving the same books."""
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class FreshBooksEmulator(Emulator):
    """See the module docstring. Construct, ``start()`` (sets ``url``), point the client at ``url``."""

    name = "freshbooks"

    def __init__(self, *, seed: int = 0, invoices: int = 60, bills: int | None = None, days: float = 30.0,
                 clock: Clock | None = None, access_token_lifetime: float = 43_200, code_lifetime: float = 300,
                 redirect_uris: Iterable[str] = DEFAULT_REDIRECT_URIS,
                 client_id: str = SANDBOX_FRESHBOOKS_CLIENT_ID,
                 client_secret: str = SANDBOX_FRESHBOOKS_CLIENT_SECRET, webhook_delay: float = 1.0,
                 webhook_retries: int = 0, account_id: str = "hSc7Qw", business_id: int = 77001,
                 business_uuid: str | None = None, identity_id: int = 2001, user_id: int = 1,
                 anchor: dt.datetime | None = None, sort_honoured: bool = True) -> None:
        super().__init__(seed=seed)
        self.sort_honoured = sort_honoured
        self._clock = clock or _utc_now
        self._offset = dt.timedelta()
        # The instant the generated history ends at. Every generated date and ``updated`` stamp is placed
        # relative to it, so two emulators with the same seed and anchor serve identical books whenever they
        # start; without one the history ends at the clock's now and moves with each start.
        self.anchor = anchor or self.now()
        self.account_id = account_id
        self.business_id = business_id
        self.business_uuid = business_uuid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"freshcleo-sandbox/{seed}"))
        self.identity_id = identity_id
        self.user_id = user_id
        self.books = Books(seed=seed, invoices=invoices, bills=max(8, invoices // 4) if bills is None else bills,
                           days=days, now_us=times.to_us(self.anchor), account_id=account_id)
        self.store = Store(self.books, now_us=lambda: times.to_us(self.now()))
        self.oauth = AuthorizationServer(client_id=client_id, client_secret=client_secret,
                                         redirect_uris=redirect_uris, now=lambda: self.now().timestamp(),
                                         code_lifetime=code_lifetime, access_token_lifetime=access_token_lifetime)
        self.webhooks = Webhooks(account_id=account_id, business_id=business_id, identity_id=identity_id,
                                 user_id=user_id, delay=webhook_delay, retries=webhook_retries,
                                 system_url=lambda: SYSTEM_URL,
                                 now_iso=lambda: times.iso_utc(times.to_us(self.now())), seed=seed)
        # Successful POST/PUT/DELETE received on /accounting/… over HTTP, per kind (never the in-process or
        # /_sandbox/ controls tests seed data with): the proof that freshcleo wrote, or did not.
        self._api_writes: Counter[str] = Counter()
        self._api_writes_lock = threading.Lock()
        self._register_routes()
        from freshcleo_pipeline.sandbox.freshbooks import control

        control.register(self)

    def __repr__(self) -> str:
        return f"FreshBooksEmulator(url={self.url!r}, account_id={self.account_id!r})"

    # ---- clock ----

    def now(self) -> dt.datetime:
        return self._clock() + self._offset

    def advance_clock(self, seconds: float) -> dt.datetime:
        """Move the emulator's clock (token/code expiry, ``updated`` of later edits); returns the new now."""
        self._offset += dt.timedelta(seconds=seconds)
        return self.now()

    # ---- in-process controls (tests) ----

    def api_writes(self) -> Counter[str]:
        """Successful API writes (POST/PUT/DELETE on /accounting/…) received over HTTP so far, per kind."""
        with self._api_writes_lock:
            return Counter(self._api_writes)

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "api_writes": dict(sorted(self.api_writes().items()))}

    def reset_counts(self) -> None:
        super().reset_counts()
        with self._api_writes_lock:
            self._api_writes.clear()

    @property
    def refresh_count(self) -> int:
        """Successful refresh grants served so far."""
        return self.oauth.refresh_count

    def revoke_tokens(self) -> None:
        self.oauth.revoke_all()

    def expire_access_tokens(self) -> None:
        self.oauth.expire_access_tokens()

    def authorize(self, redirect_uri: str | None = None, state: str = "", scope: str | None = None) -> str:
        """The code an auto-consented ``GET /oauth/authorize`` would redirect with (same checks)."""
        params = {"client_id": self.oauth.client_id, "response_type": "code",
                  "redirect_uri": redirect_uri or self.oauth.redirect_uris[0], "state": state}
        if scope:
            params["scope"] = scope
        location = self.oauth.authorize(params)
        from urllib.parse import parse_qs, urlsplit

        found = parse_qs(urlsplit(location).query)
        if "code" not in found:
            raise ValueError(f"authorize refused: {found.get('error', ['?'])[0]}")
        return found["code"][0]

    def kind(self, name: str) -> Kind:
        found = KINDS.get(name) or BY_SINGULAR.get(name)
        if found is None:
            raise ValueError(f"kind: got {name!r}; expected one of {', '.join(KINDS)}")
        return found

    def create(self, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create a document as the FreshBooks user would (fires its ``*.create`` webhook). The date field
        defaults to today (Eastern); invoices are created sent unless ``action_mark_as_sent`` is False."""
        spec = self.kind(kind)
        data = dict(fields)
        date_field = _DATE_FIELD.get(spec.name)
        if date_field:
            data.setdefault(date_field, self.store.today().isoformat())
        if spec.name == "invoices":
            data.setdefault("action_mark_as_sent", True)
        doc, events = self.store.create(spec.name, data, frozenset({"lines"}))
        self._fire(events)
        return doc

    def update(self, kind: str, ident: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.kind(kind)
        doc, events = self.store.update(spec.name, ident, fields, frozenset({"lines"}))
        self._fire(events)
        return doc

    def delete(self, kind: str, ident: int) -> dict[str, Any]:
        spec = self.kind(kind)
        doc, events = self.store.delete(spec.name, ident)
        self._fire(events)
        return doc

    def get(self, kind: str, ident: int) -> dict[str, Any] | None:
        return self.store.get(self.kind(kind).name, ident, frozenset({"lines", "vendor"}))

    def corrupt(self, kind: str, ident: int, fields: Mapping[str, Any] | None = None, *,
                replace: Any = None, replaced: bool = False) -> None:
        """Fault injection: from now on serve this record with ``fields`` set at their paths (``"updated"``,
        ``"lines[0].taxAmount1"``), or, with ``replaced=True``, ``replace`` in its place (a list element that is not
        an object). No validation and no webhook: this is FreshBooks sending data it should not, not an edit."""
        self.store.corrupt(self.kind(kind).name, ident, Corruption(dict(fields or {}), replace, replaced))

    def uncorrupt(self, kind: str, ident: int) -> bool:
        """Serve the record as it really is again; False when it was not corrupted."""
        return self.store.uncorrupt(self.kind(kind).name, ident)

    def create_invoice(self, **fields: Any) -> dict[str, Any]:
        return self.create("invoices", fields)

    def update_invoice(self, ident: int, **fields: Any) -> dict[str, Any]:
        return self.update("invoices", ident, fields)

    def delete_invoice(self, ident: int) -> dict[str, Any]:
        return self.delete("invoices", ident)

    def create_payment(self, **fields: Any) -> dict[str, Any]:
        return self.create("payments", fields)

    def update_payment(self, ident: int, **fields: Any) -> dict[str, Any]:
        return self.update("payments", ident, fields)

    def delete_payment(self, ident: int) -> dict[str, Any]:
        return self.delete("payments", ident)

    def create_bill(self, **fields: Any) -> dict[str, Any]:
        return self.create("bills", fields)

    def update_bill(self, ident: int, **fields: Any) -> dict[str, Any]:
        return self.update("bills", ident, fields)

    def delete_bill(self, ident: int) -> dict[str, Any]:
        return self.delete("bills", ident)

    def create_bill_payment(self, **fields: Any) -> dict[str, Any]:
        return self.create("bill_payments", fields)

    def update_bill_payment(self, ident: int, **fields: Any) -> dict[str, Any]:
        return self.update("bill_payments", ident, fields)

    def delete_bill_payment(self, ident: int) -> dict[str, Any]:
        return self.delete("bill_payments", ident)

    def client_id_of(self, organization: str) -> int:
        """The client id of an organization in the books (e.g. a partner's)."""
        for pos in range(len(self.store.collections["clients"])):
            record = self.store.collections["clients"].record(pos)
            if record["organization"] == organization:
                return int(record["id"])
        raise KeyError(f"organization: no client named {organization!r}")

    def vendor_id_of(self, vendor_name: str) -> int:
        for pos in range(len(self.store.collections["bill_vendors"])):
            record = self.store.collections["bill_vendors"].record(pos)
            if record["vendor_name"] == vendor_name:
                return int(record["vendorid"])
        raise KeyError(f"vendor_name: no bill vendor named {vendor_name!r}")

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook POST has been attempted."""
        return self.webhooks.wait_idle(timeout)

    def stop(self) -> None:
        self.webhooks.stop()
        super().stop()

    def _fire(self, events: list[Event]) -> None:
        for name, object_id in events:
            self.webhooks.fire(name, object_id)

    # ---- routes ----

    def _register_routes(self) -> None:
        for path in ("/oauth/authorize", "/service/auth/oauth/authorize"):
            self.route("GET", path, self._authorize)
        self.route("POST", "/auth/oauth/token", self._token)
        self.route("GET", "/auth/api/v1/users/me", self._me)
        for spec in KINDS.values():
            base = ACCOUNTING + spec.path
            self.route("GET", base, self._handler(spec, self._list))
            self.route("POST", base, self._handler(spec, self._create))
            self.route("GET", base + "/{id}", self._handler(spec, self._get))
            self.route("PUT", base + "/{id}", self._handler(spec, self._update))
            if spec.http_delete:
                self.route("DELETE", base + "/{id}", self._handler(spec, self._delete))
        self.route("GET", CALLBACKS, self._events(self._list_callbacks))
        self.route("POST", CALLBACKS, self._events(self._create_callback))
        self.route("GET", CALLBACKS + "/{callback_id}", self._events(self._get_callback))
        self.route("PUT", CALLBACKS + "/{callback_id}", self._events(self._update_callback))
        self.route("DELETE", CALLBACKS + "/{callback_id}", self._events(self._delete_callback))

    # OAuth and identity

    def _authorize(self, request: Request) -> Response:
        params = {k: v[0] for k, v in request.query.items()}
        try:
            return Response.redirect(self.oauth.authorize(params))
        except OAuthError as exc:
            return Response.json(exc.status, exc.body())

    def _token(self, request: Request) -> Response:
        try:
            fields = _token_fields(request)
        except ValueError as exc:
            return Response.json(400, {"error": "invalid_request", "error_description": str(exc)})
        try:
            body = self.oauth.token(fields)
        except OAuthError as exc:
            return Response.json(exc.status, exc.body())
        return Response.json(200, body, {"Cache-Control": "no-store"})

    def _auth_failure(self, request: Request, scope: str | None) -> Response | None:
        problem = self.oauth.check(request.headers.get("authorization"), scope)
        if problem is None:
            return None
        status, reason = problem
        if status == 401:
            return Response.json(401, UNAUTHENTICATED, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return Response.json(403, {"error": "insufficient_scope", "error_description": reason})

    def _me(self, request: Request) -> Response:
        failure = self._auth_failure(request, "user:profile:read")
        if failure is not None:
            return failure
        business = {
            "id": self.business_id, "business_uuid": self.business_uuid, "name": catalog.COMPANY,
            "account_id": self.account_id, "date_format": "mm/dd/yyyy", "active": True, "status": "active",
            "timezone": "America/New_York", "industry": "Wholesale distribution",
            "address": {"id": 901, "street": "400 Wharf Street", "city": "Portland", "province": "Maine",
                        "country": "United States", "postal_code": "04101"},
            "phone_number": {"id": 902, "phone_number": "2075550100"}, "business_clients": [],
        }
        me = {
            "id": self.identity_id, "identity_id": self.identity_id,
            "identity_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"identity/{self.identity_id}")),
            "first_name": "Dana", "last_name": "Whitfield", "email": "owner@harborsupply.example",
            "language": "en", "setup_complete": True, "confirmed_at": "2021-03-01T14:00:00Z",
            "created_at": "2021-03-01T13:55:12Z", "unconfirmed_email": None, "phone_numbers": [], "addresses": [],
            "profession": None,
            "links": {"me": f"/service/auth/api/v1/users?id={self.identity_id}",
                      "roles": f"/service/auth/api/v1/users/role/{self.identity_id}"},
            "permissions": {self.account_id: {}}, "subscription_statuses": {self.account_id: "active"},
            "groups": [{"id": 31, "group_id": 900, "role": "owner", "identity_id": self.identity_id,
                        "business_id": self.business_id, "active": True}],
            "business_memberships": [{"id": 5150, "role": "owner", "unacknowledged_change": False,
                                      "business": business}],
            "roles": [{"id": 61, "role": "admin", "systemid": 4242, "userid": self.user_id,
                       "accountid": self.account_id, "created_at": "2021-03-01T13:55:12Z",
                       "links": {"destroy": "/service/auth/api/v1/users/role/61"}}],
            "integrations": {},
        }
        return Response.json(200, {"response": me})

    # accounting

    def _handler(self, spec: Kind, action: Callable[[Kind, Request], Response]) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            scope = spec.scope if request.method == "GET" else spec.write_scope
            failure = self._auth_failure(request, scope)
            if failure is not None:
                return failure
            try:
                if request.params.get("account_id") != self.account_id:
                    raise FieldError(1012, "accountid", "Account not found.", request.params.get("account_id"),
                                     "account", status=404)
                response = action(spec, request)
            except FieldError as exc:
                return Response.json(exc.status, exc.body())
            if request.method in _WRITE_METHODS and 200 <= response.status < 300:
                with self._api_writes_lock:
                    self._api_writes[spec.name] += 1
            return response
        return handle

    def _list(self, spec: Kind, request: Request) -> Response:
        page, per_page = listing.paging(request.query)
        query = listing.query(spec.name, request.query, sortable=self.sort_honoured)
        docs, total = self.store.page(spec.name, query, page, per_page, listing.includes(request.query))
        pages = -(-total // per_page)
        return Response.json(200, {"response": {"result": {spec.name: docs, "page": page, "pages": pages,
                                                           "per_page": per_page, "total": total}}})

    def _ident(self, spec: Kind, request: Request) -> int:
        raw = request.params["id"]
        if not raw.isdigit():
            raise not_found(spec, raw)
        return int(raw)

    def _get(self, spec: Kind, request: Request) -> Response:
        ident = self._ident(spec, request)
        doc = self.store.get(spec.name, ident, listing.includes(request.query))
        if doc is None:
            raise not_found(spec, ident)
        return Response.json(200, {"response": {"result": {spec.singular: doc}}})

    def _body(self, spec: Kind, request: Request) -> dict[str, Any]:
        try:
            data = request.json()
        except ValueError:
            raise FieldError(1005, spec.singular, "The request body is not valid JSON.", None, spec.singular,
                             status=400) from None
        if not isinstance(data, dict) or not isinstance(data.get(spec.singular), dict):
            raise FieldError(1005, spec.singular, f"Expected the body wrapped as {{\"{spec.singular}\": {{…}}}}.",
                             None, spec.singular, status=400)
        return dict(data[spec.singular])

    def _create(self, spec: Kind, request: Request) -> Response:
        doc, events = self.store.create(spec.name, self._body(spec, request), listing.includes(request.query))
        self._fire(events)
        return Response.json(200, {"response": {"result": {spec.singular: doc}}})

    def _update(self, spec: Kind, request: Request) -> Response:
        ident = self._ident(spec, request)
        doc, events = self.store.update(spec.name, ident, self._body(spec, request),
                                        listing.includes(request.query))
        self._fire(events)
        return Response.json(200, {"response": {"result": {spec.singular: doc}}})

    def _delete(self, spec: Kind, request: Request) -> Response:
        doc, events = self.store.delete(spec.name, self._ident(spec, request))
        self._fire(events)
        return Response.json(200, {"response": {"result": {spec.singular: doc}}})

    # webhook callbacks

    def _events(self, action: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            problem = self.oauth.check(request.headers.get("authorization"), None)
            if problem is not None:
                return Response.json(401, {"errno": 401, "message": "invalid_token: The request token failed to "
                                                                    "authenticate or validate."})
            try:
                if request.params.get("account_id") != self.account_id:
                    raise EventsError(404, "Requested resource could not be found.")
                return action(request)
            except EventsError as exc:
                return Response.json(exc.status, exc.body())
            except FieldError as exc:  # paging parameters
                return Response.json(exc.status, {"errno": exc.errno, "message": exc.message})
        return handle

    def _callback_id(self, request: Request) -> int:
        raw = request.params["callback_id"]
        if not raw.isdigit():
            raise EventsError(404, "Requested resource could not be found.")
        return int(raw)

    def _list_callbacks(self, request: Request) -> Response:
        page, per_page = listing.paging(request.query)
        found = self.webhooks.search(request.arg("search[event]"), request.arg("search[uri]"))
        chosen = [c.public() for c in found[(page - 1) * per_page: page * per_page]]
        return Response.json(200, {"response": {"result": {"callbacks": chosen, "page": page,
                                                           "pages": -(-len(found) // per_page),
                                                           "per_page": per_page, "total": len(found)}}})

    def _create_callback(self, request: Request) -> Response:
        try:
            data = (request.json() or {}).get("callback") or {}
        except (ValueError, AttributeError):
            data = {}
        event, uri = str(data.get("event", "")), str(data.get("uri", ""))
        scope = _EVENT_SCOPES.get(event.split(".", 1)[0])
        if scope is not None:
            failure = self._auth_failure(request, scope)
            if failure is not None:
                return failure
        callback = self.webhooks.create(event, uri)
        return Response.json(200, {"response": {"result": {"callback": callback.public()}}})

    def _get_callback(self, request: Request) -> Response:
        callback = self.webhooks.get(self._callback_id(request))
        return Response.json(200, {"response": {"result": {"callback": callback.public()}}})

    def _update_callback(self, request: Request) -> Response:
        ident = self._callback_id(request)
        try:
            data = (request.json() or {}).get("callback") or {}
        except (ValueError, AttributeError):
            data = {}
        if data.get("resend"):
            callback = self.webhooks.resend(ident)
        elif "verifier" in data:
            callback = self.webhooks.verify(ident, str(data["verifier"]))
        else:
            callback = self.webhooks.get(ident)
        return Response.json(200, {"response": {"result": {"callback": callback.public()}}})

    def _delete_callback(self, request: Request) -> Response:
        self.webhooks.delete(self._callback_id(request))
        return Response(204)


def _token_fields(request: Request) -> dict[str, str]:
    """Token-endpoint parameters from a form, JSON or multipart body (all three are seen in the wild)."""
    if request.content_type == "application/json":
        try:
            data = request.json()
        except ValueError:
            raise ValueError("body: not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("body: expected a JSON object")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    fields = request.form()
    if request.content_type.startswith("multipart/"):
        fields = {k: v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v for k, v in fields.items()}
    return fields


