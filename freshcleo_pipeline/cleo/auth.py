"""Cleo Integration Cloud authentication: the password grant and the bearer token cached in memory.

Owns obtaining the token (``POST`` to the adapter's authentication path), keeping it until shortly before a
known expiry, and obtaining a new one once when the API answers 401 (``freshcleo_pipeline.http`` calls
``renew``). A refused login (400/401/403) is final: it raises ``CleoLoginRefusedError`` and every later call
raises it again without contacting Cleo, because accounts can lock after 5 failures within 60 seconds.

Across processes the same rule holds through an injected ``LoginGuard`` (the ledger's cool-down, wired by the
caller): a refusal starts a cool-down, and while it lasts every ``CleoAuth`` sharing the guard refuses at once
with the same message, so retries, schedules and overlapping runs make at most one attempt per cool-down; a
successful login ends it. This module does no SQL and knows nothing of where the guard keeps its state.
Must not log, return or ``repr()`` the password or the token.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from freshcleo_pipeline.cleo import paths
from freshcleo_pipeline.errors import ApiError, AuthError
from freshcleo_pipeline.http import HttpClient

log = logging.getLogger(__name__)

#: Used when the answer carries no ``expires_in`` (none of Cleo's own clients reads one); a 401 renews anyway.
ASSUMED_LIFETIME = 3600.0
#: Log in again this long before the known expiry, so a token never dies between check and use.
RENEW_MARGIN = 60.0
#: Answers to the login that mean "these credentials are refused" (the reference: a 400/401 is terminal).
REFUSED_STATUSES = frozenset({400, 401, 403})


class Pause(Protocol):
    """A running cool-down as the guard reports it."""

    @property
    def until(self) -> dt.datetime: ...

    @property
    def reason(self) -> str: ...


class LoginGuard(Protocol):
    """Shared memory of refused logins for one tenant and user (implemented over the ledger)."""

    def check(self) -> Pause | None:
        """The cool-down in force, if any: then no login may be attempted."""

    def refused(self, reason: str) -> Pause | None:
        """Record a refusal (``reason`` is secret-free); returns the cool-down it started or extended."""

    def succeeded(self) -> None:
        """A login worked: end any cool-down."""


class CleoLoginRefusedError(AuthError):
    """Cleo refused the configured credentials (now, or within the running cool-down): a person must act."""

    def __init__(self, username: str, status: int | None, detail: str, *, until: dt.datetime | None,
                 contacted: bool) -> None:
        self.username = username
        self.until = until
        self.fix = "fix CLEO_USERNAME/CLEO_PASSWORD, then `freshcleo ping`"
        when = ""
        if until is not None:
            stamp = until.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            when = (f"; no login is attempted before {stamp} (cool-down"
                    + ("" if contacted else "; Cleo was not contacted") + ")")
        message = f"Cleo refused the login for user {username!r} ({detail}): {self.fix}{when}"
        super().__init__("cleo", "POST", paths.AUTHENTICATION_PATH, status, message)

    def __str__(self) -> str:
        return self.detail


class CleoAuth:
    """Implements ``freshcleo_pipeline.http.Authenticator`` for Cleo."""

    def __init__(
        self,
        http: HttpClient,
        username: str,
        password: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        renew_margin: float = RENEW_MARGIN,
        guard: LoginGuard | None = None,
    ) -> None:
        self._http = http
        self._username = username
        self._password = password
        self._clock = clock
        self._margin = renew_margin
        self._guard = guard
        self._token: str | None = None
        self._renew_at = 0.0
        self._refused: CleoLoginRefusedError | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "refused" if self._refused else ("token cached" if self._token else "no token")
        return f"CleoAuth({self._http.base_url!r}, {state})"

    @property
    def refusal(self) -> CleoLoginRefusedError | None:
        """The refusal this object met (it will raise it again on every call), if any."""
        return self._refused

    def headers(self) -> Mapping[str, str]:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._login()
            assert self._token is not None
            return paths.bearer(self._token)

    def renew(self) -> None:
        with self._lock:
            self._token = None
            self._login()

    def _login(self) -> None:
        if self._refused is not None:
            raise self._refused
        pause = self._guard.check() if self._guard is not None else None
        if pause is not None:
            self._refused = CleoLoginRefusedError(self._username, None, f"earlier: {pause.reason}",
                                                  until=pause.until, contacted=False)
            log.error("Cleo login for user %r not attempted: cool-down until %s after a refusal",
                      self._username, pause.until.isoformat())
            raise self._refused
        try:
            response = self._http.request("POST", paths.AUTHENTICATION_PATH, idempotent=True,
                                          data=paths.login_form(self._username, self._password))
        except ApiError as exc:
            if exc.status not in REFUSED_STATUSES:
                raise
            # Never retried: repeated failures lock the account for 15 minutes.
            reason = f"HTTP {exc.status}: {self._redacted(exc.detail)}"
            started = self._guard.refused(reason) if self._guard is not None else None
            self._refused = CleoLoginRefusedError(self._username, exc.status, reason,
                                                  until=started.until if started else None, contacted=True)
            log.error("Cleo refused the login for user %r (HTTP %s); not retrying", self._username, exc.status)
            raise self._refused from None
        token, lifetime = paths.token_from(response.json())
        self._token = token
        if self._guard is not None:
            self._guard.succeeded()
        lifetime = lifetime if lifetime is not None else ASSUMED_LIFETIME
        # Short-lived tokens still get half their life, rather than a login before every request.
        self._renew_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
        log.info("Cleo: logged in (token valid for %.0fs)", lifetime)

    def _redacted(self, text: str) -> str:
        """The server's words, minus the password should it ever echo it."""
        return text.replace(self._password, "<redacted>") if self._password else text
