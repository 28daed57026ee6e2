"""FreshBooks webhooks: the event signature, the event form, and the callback registration calls.

Owns three things and nothing else:
- the signature exactly as FreshBooks computes it: HMAC-SHA256, keyed with the callback's verifier, over the
  URL-decoded form fields in arrival order serialized like Python's ``json.dumps`` with default arguments,
  sent as standard base64 in ``X-FreshBooks-Hmac-SHA256``; compared in constant time;
- parsing of the raw form body into an ordered mapping, refusing anything FreshBooks never sends (not UTF-8,
  a field without ``=``, a repeated field, missing ids, oversized values) so the receiver fails closed;
- the callback calls under ``/events/account/<account_id>/events/callbacks`` (create, verify, resend, list,
  delete), sent through the shared ``HttpClient`` with the FreshBooks ``Authenticator``.

It stores nothing and serves nothing: the receiver (``service/``) and the ledger (``ledger/callbacks.py``,
``ledger/inbox.py``) do. The signature is computed from the raw body, never from a framework's form map,
which may reorder or merge keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from freshcleo_pipeline.errors import ApiError
from freshcleo_pipeline.http import Authenticator, HttpClient, OutcomeUnknownError

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
