"""Emulated FreshBooks webhooks: callback registrations, the verification handshake and signed delivery.

Owns the callbacks (id, event, uri, verifier, verified), the signature (base64 HMAC-SHA256 keyed by the
verifier over Python-``json.dumps`` of the form fields in order — reference §16.4) and a background thread
that POSTs form-encoded notifications after the configured delay. Verifiers are secrets: they appear only
in the verification POST itself, never in responses, logs or ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.sandbox.freshbooks.kinds import EVENTS

Fields = Sequence[tuple[str, str]]


def signature(verifier: str, fields: Fields) -> str:
    """``X-FreshBooks-Hmac-SHA256`` for a body made of ``fields`` in this order."""
    message = json.dumps({name: str(value) for name, value in fields})
    digest = hmac.new(verifier.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def encode(fields: Fields) -> bytes:
    return urllib.parse.urlencode(list(fields)).encode("ascii")


@dataclass(frozen=True)
class EventsError(Exception):
    """An events-service error: ``{"errno", "message", "details"?}``."""

    status: int
    message: str
    details: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errno": self.status, "message": self.message}
        if self.details:
            out["details"] = list(self.details)
        return out


@dataclass
class Callback:
    callbackid: int
    event: str
    uri: str
    verifier: str = field(repr=False)
    verified: bool = False
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        return {"callbackid": self.callbackid, "event": self.event, "uri": self.uri, "verified": self.verified,
                "updated_at": self.updated_at}

    def subscribes_to(self, event: str) -> bool:
        return self.event in (event, event.split(".", 1)[0])


@dataclass
class Delivery:
    """One POST the emulator made (or gave up on), readable by tests."""

    callbackid: int
    uri: str
    fields: tuple[tuple[str, str], ...]
    signed: bool
    status: int | None = None  # HTTP status received; None while pending or on a connection error
    error: str | None = None
    attempts: int = 0


class Webhooks:
    def __init__(self, *, account_id: str, business_id: int, identity_id: int, user_id: int, delay: float,
                 retries: int, system_url: Callable[[], str], now_iso: Callable[[], str], seed: int) -> None:
        self.account_id = account_id
        self.business_id = business_id
        self.identity_id = identity_id
        self.user_id = user_id
        self.delay = delay
        self.retries = retries
        self._system_url = system_url
        self._now_iso = now_iso
        self._rng = random.Random(f"{seed}:verifiers")
        self._ids = itertools.count(2001)
        self.callbacks: dict[int, Callback] = {}
        self.deliveries: list[Delivery] = []
        self._queue: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._in_flight = 0

    def __repr__(self) -> str:
        return f"Webhooks(callbacks={len(self.callbacks)}, deliveries={len(self.deliveries)})"

    # ---- callbacks CRUD ----

    def create(self, event: str, uri: str) -> Callback:
        problems = []
        if event not in EVENTS:
            problems.append("event: Value error, Unrecognized event.")
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append("uri: Input should be a valid URL, relative URL without a base")
        if problems:
            raise EventsError(422, "Unprocessable Entity", tuple(problems))
        verifier = "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(33))
        with self._cond:
            callback = Callback(next(self._ids), event, uri, verifier, False, self._now_iso())
            self.callbacks[callback.callbackid] = callback
        self._send_verification(callback)
        return callback

    def get(self, callbackid: int) -> Callback:
        found = self.callbacks.get(callbackid)
        if found is None:
            raise EventsError(404, "Requested resource could not be found.")
        return found

    def search(self, event: str | None, uri: str | None) -> list[Callback]:
        found = sorted(self.callbacks.values(), key=lambda c: c.callbackid)
        if event:
            found = [c for c in found if c.event in (event, event.split(".", 1)[0])]
        if uri:
            found = [c for c in found if c.uri == uri]
        return found

    def verify(self, callbackid: int, verifier: str) -> Callback:
        callback = self.get(callbackid)
        if not hmac.compare_digest(verifier.encode(), callback.verifier.encode()):
            raise EventsError(422, "Unprocessable Entity", ("verifier: Value error, Invalid verifier.",))
        callback.verified = True
        callback.updated_at = self._now_iso()
        return callback

    def resend(self, callbackid: int) -> Callback:
        callback = self.get(callbackid)
        self._send_verification(callback)
        return callback

    def delete(self, callbackid: int) -> None:
        self.get(callbackid)
        with self._cond:
            del self.callbacks[callbackid]

    # ---- delivery ----

    def _send_verification(self, callback: Callback) -> None:
        # Field order as captured from the live service; the verification POST is not signed (see docstring
        # of the emulator).
        fields = (("user_id", str(self.user_id)), ("name", "callback.verify"), ("verifier", callback.verifier),
                  ("object_id", str(callback.callbackid)), ("account_id", self.account_id),
                  ("system", self._system_url()))
        self._schedule(Delivery(callback.callbackid, callback.uri, fields, signed=False))

    def fire(self, event: str, object_id: int) -> int:
        """Queue ``event`` for every verified callback subscribed to it; returns how many were queued."""
        fields = (("name", event), ("object_id", str(object_id)), ("account_id", self.account_id),
                  ("business_id", str(self.business_id)), ("identity_id", str(self.identity_id)),
                  ("user_id", str(self.user_id)))
        targets = [c for c in list(self.callbacks.values()) if c.verified and c.subscribes_to(event)]
        for callback in targets:
            self._schedule(Delivery(callback.callbackid, callback.uri, fields, signed=True))
        return len(targets)

    def _schedule(self, delivery: Delivery, delay: float | None = None) -> None:
        with self._cond:
            if delivery not in self.deliveries:
                self.deliveries.append(delivery)
            due = time.monotonic() + (self.delay if delay is None else delay)
            heapq.heappush(self._queue, (due, next(self._seq), delivery))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="freshbooks-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._queue else max(0.0, self._queue[0][0] - time.monotonic()))
                if self._stopping:
                    return
                _, _, delivery = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                self._post(delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _post(self, delivery: Delivery) -> None:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "FreshHooks/emulator"}
        if delivery.signed:
            callback = self.callbacks.get(delivery.callbackid)
            if callback is None:  # deleted while queued
                delivery.error = "callback deleted"
                return
            headers["X-FreshBooks-Hmac-SHA256"] = signature(callback.verifier, delivery.fields)
        # Only http(s) URIs are accepted when a callback is created.
        request = urllib.request.Request(delivery.uri, data=encode(delivery.fields), headers=headers,  # noqa: S310
                                         method="POST")
        delivery.attempts += 1
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                delivery.status = response.status
                delivery.error = None
                return
        except urllib.error.HTTPError as exc:
            delivery.status, delivery.error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            delivery.status, delivery.error = None, type(exc).__name__
        if delivery.attempts <= self.retries:
            self._schedule(delivery, delay=min(60.0, 2.0 ** delivery.attempts))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or being posted (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
