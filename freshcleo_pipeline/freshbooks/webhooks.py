"""FreshBooks webhooks: the event signature, the event form, and the callback registration calls.

Owns four things:
- the signature exactly as FreshBooks computes it: HMAC-SHA256, keyed with the callback's verifier, over the
  URL-decoded form fields in arrival order serialized like Python's ``json.dumps`` with default arguments,
  sent as standard base64 in ``X-FreshBooks-Hmac-SHA256``; compared in constant time;
- parsing of the raw form body into an ordered mapping, refusing anything FreshBooks never sends (not UTF-8,
  a field without ``=``, a repeated field, missing ids, oversized values) so the receiver fails closed;
- the callback calls under ``/events/account/<account_id>/events/callbacks`` (create, verify, resend, list,
  delete), sent through the shared ``HttpClient`` with the FreshBooks ``Authenticator``;
- registration: reconciling FreshBooks' callbacks with the ledger's rows (``ledger/callbacks.py``) so that
  each subscribed event has one verified callback on its own receiver path.

It serves nothing and never sees an event's storage: the receiver (``service/``) and ``ledger/inbox.py`` do.
The signature is computed from the raw body, never from a framework's form map, which may reorder or merge
keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

from freshcleo_pipeline.errors import ApiError
from freshcleo_pipeline.http import Authenticator, HttpClient, OutcomeUnknownError
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.ledger.rows import utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-FreshBooks-Hmac-SHA256"
VERIFY_EVENT = "callback.verify"

#: Events freshcleo subscribes to, one callback (and one receiver path) each. Explicit names rather than
#: parent names (``invoice``): parent subscriptions are documented only by third parties.
SUBSCRIBED_EVENTS: tuple[str, ...] = tuple(
    f"{noun}.{verb}"
    for noun in ("invoice", "bill", "payment", "bill_vendor", "client")
    for verb in ("create", "update", "delete")
)

# Real event forms carry six short fields; these bounds only keep junk out of the ledger's columns.
_MAX_FIELDS = 32
_LIMITS = {"name": 60, "object_id": 40, "account_id": 40}
_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")


class WebhookFormError(ValueError):
    """A webhook body is not a form FreshBooks would send; the message names the field and the problem."""


def signed_message(fields: Mapping[str, str]) -> str:
    """The exact text FreshBooks signs: the fields in arrival order, as Python's ``json.dumps`` renders them."""
    return json.dumps({key: str(value) for key, value in fields.items()})


def compute_signature(verifier: str, raw_body: bytes) -> str:
    """Base64 HMAC-SHA256 of a raw form body as FreshBooks computes it (raises WebhookFormError if malformed)."""
    return sign_fields(verifier, parse_form(raw_body))


def sign_fields(verifier: str, fields: Mapping[str, str]) -> str:
    mac = hmac.new(verifier.encode("utf-8"), signed_message(fields).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def signature_matches(verifier: str, fields: Mapping[str, str], header: str | None) -> bool:
    """Constant-time check of a received signature header against the fields it should cover."""
    if not header:
        return False
    expected = sign_fields(verifier, fields).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


def parse_form(raw_body: bytes) -> dict[str, str]:
    """URL-decode a form body into an ordered mapping; refuse what FreshBooks never sends."""
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookFormError("body: not UTF-8; expected an application/x-www-form-urlencoded form") from None
    if not text:
        raise WebhookFormError("body: empty; expected form fields name, object_id, account_id")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=_MAX_FIELDS,
                          errors="strict")
    except UnicodeDecodeError:
        raise WebhookFormError("body: a percent-encoded value is not UTF-8") from None
    except ValueError as exc:
        raise WebhookFormError(f"body: {exc}; expected key=value pairs joined by '&'") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            # FreshBooks never repeats a field; a repeat would make the signed mapping ambiguous.
            raise WebhookFormError(f"field {key!r}: repeated; expected each field once")
        fields[key] = value
    return fields


@dataclass(frozen=True)
class WebhookEvent:
    """One parsed webhook form: the ids FreshBooks sends (never the object itself) and every field as sent."""

    name: str
    object_id: str
    account_id: str
    fields: Mapping[str, str]

    @property
    def is_verification(self) -> bool:
        return self.name == VERIFY_EVENT

    @property
    def verifier(self) -> str | None:
        """The verification code of a ``callback.verify`` form (the HMAC key of later events)."""
        return self.fields.get("verifier") or None

    def __repr__(self) -> str:
        # The verifier of a verification form is a secret: keep it out of logs and tracebacks.
        return f"WebhookEvent(name={self.name!r}, object_id={self.object_id!r}, account_id={self.account_id!r})"


def parse_event(raw_body: bytes) -> WebhookEvent:
    """Parse an event or verification form; raise WebhookFormError naming the offending field."""
    fields = parse_form(raw_body)
    values: dict[str, str] = {}
    for name, limit in _LIMITS.items():
        value = fields.get(name)
        if not value:
            raise WebhookFormError(f"field {name!r}: missing or empty; expected a FreshBooks id or event name")
        if len(value) > limit or not _ID.match(value):
            raise WebhookFormError(f"field {name!r} = {value[:60]!r}: expected at most {limit} characters "
                                   "of letters, digits and . _ : -")
        values[name] = value
    if values["name"] == VERIFY_EVENT and not fields.get("verifier"):
        raise WebhookFormError("field 'verifier': missing in a callback.verify form")
    return WebhookEvent(name=values["name"], object_id=values["object_id"], account_id=values["account_id"],
                        fields=dict(fields))


def encode_form(fields: Mapping[str, str]) -> bytes:
    """Form-encode fields in the given order (what FreshBooks POSTs; used by benchmarks and tests)."""
    return "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in fields.items()).encode("ascii")


# ---- callback registration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteCallback:
    """A callback as FreshBooks lists it."""

    callback_id: str
    event: str
    uri: str
    verified: bool


def _callback(payload: Any, where: str) -> RemoteCallback:
    if not isinstance(payload, dict) or "callbackid" not in payload:
        raise ApiError("freshbooks", "GET", where, None, f"unexpected callback shape: {str(payload)[:200]}")
    return RemoteCallback(callback_id=str(payload["callbackid"]), event=str(payload.get("event", "")),
                          uri=str(payload.get("uri", "")), verified=bool(payload.get("verified", False)))


def _result(body: Any) -> dict[str, Any]:
    result = body.get("response", {}).get("result") if isinstance(body, dict) else None
    return result if isinstance(result, dict) else {}


class CallbackApi:
    """Webhook callback calls for one FreshBooks account; the only writes freshcleo makes to FreshBooks."""

    def __init__(self, http: HttpClient, auth: Authenticator, account_id: str) -> None:
        self.http = http
        self.auth = auth
        self.account_id = account_id
        self.base = f"/events/account/{quote(account_id, safe='')}/events/callbacks"

    def __repr__(self) -> str:
        return f"CallbackApi(account_id={self.account_id!r}, base_url={self.http.base_url!r})"

    def create(self, event: str, uri: str) -> RemoteCallback:
        """Create a callback; FreshBooks then POSTs a ``callback.verify`` form to ``uri``.

        A create whose answer was lost is resolved by listing: the receiver URI is unique per callback.
        """
        try:
            response = self.http.request("POST", self.base, auth=self.auth,
                                         json={"callback": {"event": event, "uri": uri}})
        except OutcomeUnknownError:
            found = [c for c in self.list() if c.uri == uri and c.event == event]
            if len(found) == 1:
                log.info("freshbooks callback create %s: answer lost, found callback %s", event,
                         found[0].callback_id)
                return found[0]
            raise
        return _callback(_result(response.json()).get("callback"), self.base)

    def verify(self, callback_id: str, verifier: str) -> RemoteCallback:
        """Confirm a callback with the verifier FreshBooks sent to the receiver; activates notifications."""
        path = f"{self.base}/{quote(callback_id, safe='')}"
        response = self.http.request("PUT", path, auth=self.auth, json={"callback": {"verifier": verifier}})
        return _callback(_result(response.json()).get("callback"), path)

    def resend_verification(self, callback_id: str) -> RemoteCallback:
        path = f"{self.base}/{quote(callback_id, safe='')}"
        response = self.http.request("PUT", path, auth=self.auth, json={"callback": {"resend": True}})
        return _callback(_result(response.json()).get("callback"), path)

    def list(self) -> list[RemoteCallback]:
        return list(self._pages())

    def _pages(self) -> Iterator[RemoteCallback]:
        page = 1
        while True:
            response = self.http.request("GET", self.base, auth=self.auth,
                                         params={"page": page, "per_page": 100})
            result = _result(response.json())
            for item in result.get("callbacks") or []:
                yield _callback(item, self.base)
            pages = int(result.get("pages") or 1)
            if page >= pages:
                return
            page += 1

    def delete(self, callback_id: str) -> bool:
        """Delete a callback; False when FreshBooks no longer had it."""
        path = f"{self.base}/{quote(callback_id, safe='')}"
        response = self.http.request("DELETE", path, auth=self.auth, ok_statuses=frozenset({404}))
        return response.status_code != 404


# ---- registration: make FreshBooks' callbacks and the ledger's agree --------------------------------------


def receiver_base(public_url: str) -> str:
    """The receiver's webhook prefix under a public URL; each callback appends its path token."""
    return f"{public_url.rstrip('/')}/webhooks/freshbooks/"


@dataclass
class RegistrationReport:
    """What ``register_callbacks`` did, by event name."""

    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    reverified: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.reverified or self.removed)


def register_callbacks(api: CallbackApi, ledger: Ledger, secret_key: bytes, public_url: str, *,
                       events: Sequence[str] = SUBSCRIBED_EVENTS, wait: float = 30.0,
                       clock: Callable[[], dt.datetime] = utcnow,
                       sleep: Callable[[float], None] = time.sleep) -> RegistrationReport:
    """One verified callback per event, each on its own receiver path under ``public_url``; idempotent.

    Compares what FreshBooks lists with what the ledger holds for the account: a callback present and verified
    on both sides is left alone (a second run only lists); a ledger row FreshBooks lost, a callback of ours
    the ledger does not know, and a callback under another receiver URL are deleted; a callback one side
    considers unverified is verified again (with the stored verifier, else by asking FreshBooks to resend the
    handshake); missing events are created. The receiver must be reachable at ``public_url``: it takes the
    handshake and confirms it. Waits up to ``wait`` seconds for every callback to be verified.
    """
    base = receiver_base(public_url)
    wanted = list(dict.fromkeys(events))
    remote = {c.callback_id: c for c in api.list()}
    with ledger.begin() as conn:
        local = cb.list_callbacks(conn, api.account_id)
    report = RegistrationReport()
    keep: dict[str, cb.CallbackRow] = {}
    for row in local:
        twin = remote.get(row.callback_id) if row.callback_id is not None else None
        if (twin is None or twin.uri != row.uri or not row.uri.startswith(base) or row.event not in wanted
                or row.event in keep):
            if twin is not None:
                api.delete(twin.callback_id)
            with ledger.begin() as conn:
                cb.remove_callback(conn, row.path_token)
            report.removed.append(row.event)
            log.info("webhook callback %s (%s) removed: stale or superseded", row.event, row.callback_id)
            continue
        keep[row.event] = row
    known = {row.callback_id for row in keep.values()}
    for stray in remote.values():
        # Ours by URL, unknown to the ledger (e.g. a create whose answer was lost): its events would be refused.
        if stray.uri.startswith(base) and stray.callback_id not in known:
            api.delete(stray.callback_id)
            report.removed.append(stray.event)
            log.info("webhook callback %s (%s) removed: not in the ledger", stray.event, stray.callback_id)

    pending: list[str] = []
    for event in wanted:
        existing = keep.get(event)
        if existing is None:
            pending.append(_create(api, ledger, base, event, clock))
            report.created.append(event)
            continue
        assert existing.callback_id is not None
        if existing.verified and remote[existing.callback_id].verified:
            report.kept.append(event)
            continue
        _reverify(api, ledger, secret_key, existing, clock)
        pending.append(existing.path_token)
        report.reverified.append(event)

    report.unverified = _await_verified(ledger, pending, wait, sleep)
    return report


def _create(api: CallbackApi, ledger: Ledger, base: str, event: str, clock: Callable[[], dt.datetime]) -> str:
    token = cb.new_path_token()
    uri = base + token
    # The row exists before the create call: FreshBooks may post the handshake before answering the create.
    with ledger.begin() as conn:
        cb.add_callback(conn, path_token=token, account_id=api.account_id, event=event, uri=uri, now=clock())
    try:
        created = api.create(event, uri)
    except Exception:
        with ledger.begin() as conn:
            cb.remove_callback(conn, token)
        raise
    with ledger.begin() as conn:
        cb.set_callback_id(conn, token, created.callback_id)
    log.info("webhook callback %s created (%s)", event, created.callback_id)
    return token


def _reverify(api: CallbackApi, ledger: Ledger, secret_key: bytes, row: cb.CallbackRow,
              clock: Callable[[], dt.datetime]) -> None:
    assert row.callback_id is not None
    verifier = cb.reveal_verifier(row, secret_key)
    if verifier is not None:
        try:
            api.verify(row.callback_id, verifier)
        except ApiError as exc:
            log.info("webhook callback %s (%s): stored verifier refused (%s); asking for a new handshake",
                     row.event, row.callback_id, exc.status)
        else:
            with ledger.begin() as conn:
                cb.mark_verified(conn, row.path_token, clock())
            return
    with ledger.begin() as conn:
        cb.mark_unverified(conn, row.path_token)
    api.resend_verification(row.callback_id)


def _await_verified(ledger: Ledger, tokens: list[str], wait: float, sleep: Callable[[float], None]) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        with ledger.begin() as conn:
            rows = [cb.get_by_path(conn, token) for token in tokens]
        waiting = [row.event for row in rows if row is not None and not row.verified]
        if not waiting or time.monotonic() >= deadline:
            return waiting
        sleep(0.1)


def remove_callbacks(api: CallbackApi, ledger: Ledger, *, event: str | None = None) -> list[str]:
    """Delete the account's callbacks (or one event's) at FreshBooks and in the ledger; the events removed."""
    with ledger.begin() as conn:
        rows = [r for r in cb.list_callbacks(conn, api.account_id) if event is None or r.event == event]
    removed = []
    for row in rows:
        if row.callback_id is not None:
            api.delete(row.callback_id)
        with ledger.begin() as conn:
            cb.remove_callback(conn, row.path_token)
        removed.append(row.event)
    return removed
