"""The one narrow writer to FreshBooks: one method per allowed write, each opt-in and refused while read-only.

Owns the five writes the product may make (create a bill, an estimate, a draft invoice, a bill vendor, a
client: one POST each, returning the created id), the read-only lookups that settle a write whose outcome is
unknown (``find_*``), the write scopes those writes need (``required_scopes``) and how FreshBooks' answers to a
write become errors:

- read-only (``FRESHCLEO_FRESHBOOKS_READ_ONLY``, the default) → ``WritesRefusedError`` before any request;
- 403 (the token lacks the write scope) → ``WritesRefusedError`` naming the scope: run ``freshcleo connect
  freshbooks`` again;
- 400/413/422 → ``WriteRejectedError`` with FreshBooks' field and message, never retried;
- a POST is not idempotent: it is sent at most once per call. The shared HTTP layer retries only what the server
  cannot have acted on (a 429, a connection never established, a 401 before the token is renewed); a timeout or
  reset after sending, a 5xx, or a success without a readable id raise ``WriteOutcomeUnknownError`` so the
  caller looks (``find_*``) before sending again.

It shares the reading client's HTTP session, authenticator and account (``from_client``): one session factory,
one token vault, one request budget. Must not: update, delete, archive, send, or touch a status or a payment —
there is deliberately no PUT or DELETE here. Tokens never reach a message or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from freshcleo_pipeline.errors import (
    ApiError,
    WriteOutcomeUnknownError,
    WriteRejectedError,
    WritesRefusedError,
)
from freshcleo_pipeline.http import Authenticator, HttpClient, OutcomeUnknownError
from freshcleo_pipeline.partners import PartnerDirectory, Role

if TYPE_CHECKING:
    from freshcleo_pipeline.freshbooks.client import FreshBooksClient
    from freshcleo_pipeline.ledger import Ledger
    from freshcleo_pipeline.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "freshbooks"
READ_ONLY_SETTING = "FRESHCLEO_FRESHBOOKS_READ_ONLY"
#: Answers that mean FreshBooks refused the body: nothing was created.
_REJECTED = frozenset({400, 413, 422})
#: Answers handled here rather than raised by the HTTP layer (a 404 is a wrong account id, a 409 a conflict).
_HANDLED = frozenset({*_REJECTED, 403, 404, 409})
#: A lookup reads at most this many pages of 100: the objects it looks through are one vendor's bills, one
#: customer's estimates or invoices, all vendors or the clients of one organization. A larger listing raises
#: rather than answering "not found" (which would lead to a second write).
MAX_LOOKUP_PAGES = 50
PER_PAGE = 100


@dataclass(frozen=True)
class WriteKind:
    """One allowed write: where it goes, its envelope key, the id field of the answer, the scopes it needs."""

    kind: str  # our name, also the ledger's ``freshbooks_writes.kind``
    path: str  # below /accounting/account/{account_id}/
    singular: str
    plural: str
    id_field: str
    scope: str  # the write scope
    read_scope: str  # the read scope its lookup needs

    def __str__(self) -> str:
        return self.kind.replace("_", " ")


WRITES: dict[str, WriteKind] = {w.kind: w for w in (
    WriteKind("bill", "bills/bills", "bill", "bills", "id", "user:bills:write", "user:bills:read"),
    WriteKind("estimate", "estimates/estimates", "estimate", "estimates", "id", "user:estimates:write",
              "user:estimates:read"),
    WriteKind("invoice", "invoices/invoices", "invoice", "invoices", "id", "user:invoices:write",
              "user:invoices:read"),
    WriteKind("bill_vendor", "bill_vendors/bill_vendors", "bill_vendor", "bill_vendors", "vendorid",
              "user:bill_vendors:write", "user:bill_vendors:read"),
    WriteKind("client", "users/clients", "client", "clients", "id", "user:clients:write", "user:clients:read"),
)}

def write_kinds(partners: PartnerDirectory) -> tuple[str, ...]:
    """The writes the enabled partners opted into (sorted), whatever the read-only setting says."""
    kinds: set[str] = set()
    for partner in partners.partners:
        if not partner.enabled:
            continue
        if partner.create_bills:
            kinds.add("bill")
        if partner.orders_become == "estimate":
            kinds.add("estimate")
        elif partner.orders_become == "draft_invoice":
            kinds.add("invoice")
        if partner.create_reference_data:
            kinds.add("bill_vendor" if partner.role is Role.SUPPLIER else "client")
    return tuple(sorted(kinds))


def required_scopes(partners: PartnerDirectory, read_only: bool) -> tuple[str, ...]:
    """The scopes the opted-in writes need beyond the read scopes: each write scope, plus the read scope of its
    lookup (estimates are not read otherwise). Empty while read-only: nothing is asked that is not used."""
    if read_only:
        return ()
    scopes: set[str] = set()
    for kind in write_kinds(partners):
        scopes.update((WRITES[kind].scope, WRITES[kind].read_scope))
    return tuple(sorted(scopes))


class FreshBooksWriter:
    """The only object that writes to FreshBooks. See the module docstring."""

    def __init__(self, http: HttpClient, authenticator: Authenticator, account_id: str, *,
                 read_only: bool) -> None:
        self._http = http
        self._auth = authenticator
        self.account_id = account_id
        self.read_only = read_only

    def __repr__(self) -> str:
        return f"FreshBooksWriter(account_id={self.account_id!r}, read_only={self.read_only})"

    @classmethod
    def from_client(cls, client: FreshBooksClient, *, read_only: bool) -> FreshBooksWriter:
        """A writer on the reading client's session, authenticator and account (closing the client closes it)."""
        return cls(client.http, client.authenticator, client.account_id, read_only=read_only)

    @classmethod
    def from_settings(cls, settings: Settings, ledger: Ledger, *, connection: str = "default") -> FreshBooksWriter:
        """A writer for the stored connection, read-only unless ``FRESHCLEO_FRESHBOOKS_READ_ONLY`` is false."""
        from freshcleo_pipeline.freshbooks.client import FreshBooksClient

        client = FreshBooksClient.from_settings(settings, ledger, connection=connection)
        return cls.from_client(client, read_only=settings.freshbooks_read_only)

    def close(self) -> None:
        self._http.close()

    # ---- the five writes ----

    def create_bill(self, body: Mapping[str, Any]) -> str:
        """POST a bill (``bodies.bill_body``); the new bill's id."""
        return self._create(WRITES["bill"], body)

    def create_estimate(self, body: Mapping[str, Any]) -> str:
        """POST an estimate (``bodies.estimate_body``); the new estimate's id."""
        return self._create(WRITES["estimate"], body)

    def create_draft_invoice(self, body: Mapping[str, Any]) -> str:
        """POST an invoice that stays a draft (``bodies.draft_invoice_body``: no action); its id."""
        if any(key.startswith("action_") or key == "status" for key in body):
            raise WritesRefusedError("invoice", "a draft invoice body must carry no action_* or status field")
        return self._create(WRITES["invoice"], body)

    def create_bill_vendor(self, body: Mapping[str, Any]) -> str:
        """POST a bill vendor (``bodies.bill_vendor_body``); its ``vendorid``."""
        return self._create(WRITES["bill_vendor"], body)

    def create_client(self, body: Mapping[str, Any]) -> str:
        """POST a client (``bodies.client_body``); its id."""
        return self._create(WRITES["client"], body)

    # ---- lookups that settle a write of unknown outcome (read-only, allowed in read-only mode) ----

    def find_bill(self, vendorid: str, bill_number: str) -> str | None:
        """The id of the bill of ``vendorid`` numbered ``bill_number`` (``search[vendorid]`` is documented)."""
        return self._find(WRITES["bill"], {"vendorid": str(vendorid)},
                          lambda r: _same_id(r.get("vendorid"), vendorid) and _same(r.get("bill_number"),
                                                                                    bill_number))

    def find_estimate(self, customerid: str, po_number: str) -> str | None:
        """The id of the estimate of ``customerid`` with PO number ``po_number``. No estimate filter is
        documented: ``search[customerid]`` is sent as a hint and every record is checked here."""
        return self._find(WRITES["estimate"], {"customerid": str(customerid)},
                          lambda r: _same_id(r.get("customerid"), customerid) and _same(r.get("po_number"),
                                                                                        po_number))

    def find_invoice(self, customerid: str, po_number: str) -> str | None:
        """The id of the invoice of ``customerid`` with PO number ``po_number``. The invoice filters are not
        confirmed: ``search[customerid]`` is a hint and every record is checked here."""
        return self._find(WRITES["invoice"], {"customerid": str(customerid)},
                          lambda r: _same_id(r.get("customerid"), customerid) and _same(r.get("po_number"),
                                                                                        po_number))

    def find_bill_vendor(self, name: str) -> str | None:
        """The ``vendorid`` of the bill vendor named ``name`` (case and spacing aside). Bill vendors have no
        documented filter: all are listed (bounded by ``MAX_LOOKUP_PAGES``) and compared here."""
        return self._find(WRITES["bill_vendor"], {}, lambda r: _same(r.get("vendor_name"), name))

    def find_client(self, organization: str) -> str | None:
        """The id of the client whose organization is ``organization`` (case and spacing aside), narrowed with
        the documented ``search[organization_like]`` and compared exactly here."""
        return self._find(WRITES["client"], {"organization_like": organization},
                          lambda r: _same(r.get("organization"), organization))

    # ---- the requests ----

    def _path(self, write: WriteKind) -> str:
        return f"/accounting/account/{self.account_id}/{write.path}"

    def _create(self, write: WriteKind, body: Mapping[str, Any]) -> str:
        if self.read_only:
            raise WritesRefusedError(str(write), f"{READ_ONLY_SETTING} is true (the default); set it to false "
                                                 "to allow the writes partners.yaml opts into")
        path = self._path(write)
        try:
            # idempotent=False: the HTTP layer never re-sends once the request may have reached FreshBooks.
            response = self._http.request("POST", path, auth=self._auth, idempotent=False, ok_statuses=_HANDLED,
                                          json={write.singular: dict(body)})
        except OutcomeUnknownError as exc:
            raise WriteOutcomeUnknownError(SERVICE, "POST", path, exc.status, exc.detail) from exc
        status = response.status_code
        payload = _json(response)
        if status == 403:
            raise WritesRefusedError(str(write), f"FreshBooks refused it (HTTP 403): the connection lacks the "
                                                 f"scope {write.scope}; run `freshcleo connect freshbooks` again "
                                                 f"to grant it ({_message(payload)})", scope=write.scope)
        if status in _REJECTED:
            error = _first_error(payload)
            raise WriteRejectedError("POST", path, status, field=str(error.get("field") or write.singular),
                                     message=str(error.get("message") or _message(payload)),
                                     errno=_int_or_none(error.get("errno")), value=error.get("value"))
        if status >= 300:
            raise ApiError(SERVICE, "POST", path, status, _message(payload))
        try:
            ident = payload["response"]["result"][write.singular][write.id_field]
        except (KeyError, TypeError):
            ident = None
        if ident in (None, ""):
            raise WriteOutcomeUnknownError(SERVICE, "POST", path, status,
                                           f"the answer has no response.result.{write.singular}.{write.id_field}")
        log.info("freshbooks: created %s %s in account %s", write, ident, self.account_id)
        return str(ident)

    def _find(self, write: WriteKind, search: Mapping[str, str],
              matches: Callable[[Mapping[str, Any]], bool]) -> str | None:
        """The id of the first live (active or archived) record that ``matches``, reading pages in order."""
        path = self._path(write)
        params = [("per_page", str(PER_PAGE)), *((f"search[{k}]", v) for k, v in search.items())]
        for page in range(1, MAX_LOOKUP_PAGES + 1):
            response = self._http.request("GET", path, auth=self._auth, params=[("page", str(page)), *params])
            body = _json(response)
            try:
                result = body["response"]["result"]
                records = result[write.plural]
                pages = int(result["pages"])
            except (KeyError, TypeError, ValueError):
                raise ApiError(SERVICE, "GET", path, response.status_code,
                               f"expected response.result.{write.plural} with pages") from None
            for record in records if isinstance(records, list) else []:
                if isinstance(record, Mapping) and matches(record):
                    ident = record.get(write.id_field)
                    if ident not in (None, ""):
                        return str(ident)
            if not records or page >= pages:
                return None
        raise ApiError(SERVICE, "GET", path, 200, f"the lookup of a {write} read {MAX_LOOKUP_PAGES} pages "
                                                  "without reaching the end; a person has to check FreshBooks")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _first_error(payload: Any) -> dict[str, Any]:
    """The first accounting error (``response.errors[0]``, also tolerated as an object)."""
    errors = payload.get("response", {}).get("errors") if isinstance(payload, dict) and isinstance(
        payload.get("response"), dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return errors[0]
    if isinstance(errors, dict):
        return errors
    return {}


def _message(payload: Any, limit: int = 300) -> str:
    if isinstance(payload, dict):
        for key in ("error_description", "message", "error"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value[:limit]
        error = _first_error(payload)
        if error.get("message"):
            return str(error["message"])[:limit]
    return "no readable error message"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _same(a: Any, b: Any) -> bool:
    return a is not None and " ".join(str(a).split()).casefold() == " ".join(str(b).split()).casefold()


def _same_id(a: Any, b: Any) -> bool:
    return a is not None and str(a).strip() == str(b).strip()
