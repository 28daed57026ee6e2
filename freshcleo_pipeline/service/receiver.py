"""The FreshBooks webhook endpoint: verify, fail closed, store, answer fast.

``POST /webhooks/freshbooks/{path_token}``. Each registered callback has its own path token, so the path says
which verifier (HMAC key) applies. Every check below refuses with its own status and one log line that names
the reason, never a verifier or signature, and stores nothing:

- 415 the body is not ``application/x-www-form-urlencoded``;
- 413 the body is larger than ``webhook_max_body_bytes`` (checked on the declared length and again while
  reading, so an oversized body is never buffered whole);
- 404 the path token is unknown, or the form's ``account_id`` is not the callback's account;
- 400 the body is not a form FreshBooks sends (see ``freshbooks.webhooks.parse_event``);
- 401 the event is unsigned, its signature does not verify, or the callback has no confirmed verifier yet;
  a ``callback.verify`` form for another callback id than the path's is refused the same way.

A ``callback.verify`` form is the handshake: its verifier is kept encrypted and confirmed back to FreshBooks
(``PUT`` with the verifier) in a background task after the answer, because that call may take seconds. While
a callback is waiting for its first verification the verifier is stored at once (so it survives a restart);
for an already verified callback a new verifier replaces the old one only after FreshBooks accepted it, so a
forged handshake cannot swap the key.

A verified event is written to ``webhook_inbox`` (duplicates marked there) and the callback's
``last_event_at`` is updated in the same transaction; the answer is 200.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Protocol

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.freshbooks.webhooks import (
    SIGNATURE_HEADER,
    WebhookEvent,
    WebhookFormError,
    parse_event,
    signature_matches,
)
from freshcleo_pipeline.ledger import Ledger, inbox
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.ledger.rows import utcnow

log = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"


class ConfirmVerifier(Protocol):
    """Confirms a callback at FreshBooks (``PUT …/callbacks/<id>`` with the verifier); raises on refusal."""

    def __call__(self, account_id: str, callback_id: str, verifier: str) -> None: ...


class _Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WebhookReceiver:
    """The endpoint's logic, independent of how the app is served."""

    def __init__(self, ledger: Ledger, secret_key: bytes, *, max_body_bytes: int,
                 confirm: ConfirmVerifier | None, clock: Callable[[], dt.datetime] = utcnow,
                 callback_id_wait: float = 30.0) -> None:
        self.ledger = ledger
        self.secret_key = secret_key
        self.max_body_bytes = max_body_bytes
        self.confirm = confirm
        self.clock = clock
        self.callback_id_wait = callback_id_wait

    async def endpoint(self, request: Request) -> Response:
        token = str(request.path_params.get("path_token", ""))
        try:
            return await self._handle(request, token)
        except _Refusal as refusal:
            log.warning("webhook refused with %d: %s (path %s…)", refusal.status, refusal.reason, token[:6])
            return JSONResponse({"error": refusal.reason}, status_code=refusal.status)

    async def _handle(self, request: Request, token: str) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_TYPE:
            raise _Refusal(415, f"content type {content_type or 'missing'!r}; expected {FORM_TYPE}")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            raise _Refusal(413, f"declared body length {declared[:20]!r} exceeds {self.max_body_bytes} bytes")
        row = await run_in_threadpool(self._callback, token)
        if row is None:
            raise _Refusal(404, "unknown webhook path")
        raw = await self._read_capped(request)
        try:
            event = parse_event(raw)
        except WebhookFormError as exc:
            raise _Refusal(400, f"malformed form: {exc}") from None
        if event.account_id != row.account_id:
            raise _Refusal(404, f"account {event.account_id!r} is not the account of this callback")
        if event.is_verification:
            return await self._handshake(row, event)
        return await self._event(row, event, raw, request.headers.get(SIGNATURE_HEADER))

    async def _read_capped(self, request: Request) -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > self.max_body_bytes:
                raise _Refusal(413, f"body exceeds {self.max_body_bytes} bytes")
        return bytes(body)

    def _callback(self, token: str) -> cb.CallbackRow | None:
        if not token:
            return None
        with self.ledger.begin() as conn:
            return cb.get_by_path(conn, token)

    # ---- events --------------------------------------------------------------------------------------------

    async def _event(self, row: cb.CallbackRow, event: WebhookEvent, raw: bytes, header: str | None) -> Response:
        if not header:
            raise _Refusal(401, f"{event.name} {event.object_id}: no {SIGNATURE_HEADER} header")
        verifier = cb.reveal_verifier(row, self.secret_key) if row.verified else None
        if verifier is None:
            raise _Refusal(401, f"{event.name} {event.object_id}: callback {row.event} is not verified yet")
        if not signature_matches(verifier, event.fields, header):
            raise _Refusal(401, f"{event.name} {event.object_id}: signature does not verify")
        stored = await run_in_threadpool(self._store, row, event, raw)
        log.info("webhook %s %s (account %s) stored as inbox row %d%s", event.name, event.object_id,
                 event.account_id, stored.id,
                 f", duplicate of {stored.duplicate_of}" if stored.duplicate_of is not None else "")
        return JSONResponse({"inbox_id": stored.id, "duplicate_of": stored.duplicate_of})

    def _store(self, row: cb.CallbackRow, event: WebhookEvent, raw: bytes) -> inbox.InboxRow:
        now = self.clock()
        with self.ledger.begin() as conn:
            stored = inbox.record_event(conn, callback_path=row.path_token, account_id=event.account_id,
                                        event_name=event.name, object_id=event.object_id, fields=event.fields,
                                        raw_form=raw.decode("utf-8"), received_at=now)
            cb.touch_last_event(conn, row.path_token, now)
        return stored

    # ---- verification handshake ------------------------------------------------------------------------------

    async def _handshake(self, row: cb.CallbackRow, event: WebhookEvent) -> Response:
        if row.callback_id is not None and row.callback_id != event.object_id:
            raise _Refusal(401, f"callback.verify for callback {event.object_id!r} on the path of callback "
                                f"{row.callback_id!r}")
        verifier = event.verifier
        assert verifier is not None  # parse_event refuses a verification form without one
        if not row.verified:
            await run_in_threadpool(self._keep_pending, row.path_token, verifier)
        log.info("webhook callback.verify for callback %s (%s, account %s): confirming in the background",
                 event.object_id, row.event, row.account_id)
        return JSONResponse({"status": "verifying"},
                            background=BackgroundTask(self.confirm_verifier, row.path_token, event.object_id,
                                                      verifier))

    def _keep_pending(self, token: str, verifier: str) -> None:
        with self.ledger.begin() as conn:
            cb.store_verifier(conn, token, verifier, self.secret_key, verified=False, now=self.clock())

    def confirm_verifier(self, token: str, callback_id: str, verifier: str) -> bool:
        """PUT the verifier back to FreshBooks; on acceptance keep it as the callback's confirmed key."""
        if self.confirm is None:
            log.warning("callback %s: no FreshBooks connection configured to confirm its verifier; run "
                        "`freshcleo webhooks register` again once connected", callback_id)
            return False
        # The handshake can arrive before the create call has returned its callback id to the registrar.
        deadline = time.monotonic() + self.callback_id_wait
        while True:
            row = self._callback(token)
            if row is None:
                log.warning("callback %s: removed before its verification was confirmed", callback_id)
                return False
            if row.callback_id is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if row.callback_id != callback_id:
            log.warning("callback.verify for callback %s arrived on the path of callback %s; not confirmed",
                        callback_id, row.callback_id or "(unknown)")
            return False
        try:
            self.confirm(row.account_id, callback_id, verifier)
        except FreshcleoError as exc:
            log.warning("callback %s (%s): FreshBooks refused the verification: %s", callback_id, row.event, exc)
            return False
        with self.ledger.begin() as conn:
            cb.store_verifier(conn, token, verifier, self.secret_key, verified=True, now=self.clock())
        log.info("callback %s (%s, account %s) verified", callback_id, row.event, row.account_id)
        return True
