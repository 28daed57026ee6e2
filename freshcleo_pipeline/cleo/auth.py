"""Cleo Integration Cloud authentication: the password grant and the bearer token cached in memory.

Owns obtaining the token (``POST`` to the adapter's authentication path with exactly the confirmed form:
``grant_type=password``, ``username``, ``password``; there is no refresh token), keeping it until 120 s before its
known (or assumed 1 h) expiry, and obtaining a new one once when the API answers 401 (``freshcleo_pipeline.http``
calls ``renew``), never in a loop: more than three logins within a minute end the run's Cleo work with an error. A
login whose request failed on its way (reset, timeout, 5xx, 429) is tried once more after 5 s; a tenant that refuses
the connection is not. A refused login (400/401/403) is final: it raises ``CleoLoginRefusedError`` and every later
call raises it again without contacting Cleo, because accounts can lock after 5 failures within 60 seconds.

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
from typing import NoReturn, Protocol

import requests

from freshcleo_pipeline.cleo import paths
from freshcleo_pipeline.errors import ApiError, AuthError
from freshcleo_pipeline.http import HttpClient, never_connected

log = logging.getLogger(__name__)

#: Used when the answer carries no ``expires_in`` (none of Cleo's own clients reads one); a 401 renews anyway.
ASSUMED_LIFETIME = 3600.0
#: Log in again this long before the known expiry, so a token never dies between check and use.
RENEW_MARGIN = 120.0
#: A login that met a network error, a 5xx or a 429 is tried once more, after this long (never in a loop).
LOGIN_RETRY_DELAY = 5.0
#: More logins than this within ``LOGIN_WINDOW`` seconds means Cleo rejects the tokens it just issued: stop.
MAX_LOGINS = 3
LOGIN_WINDOW = 60.0
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
        self._logins: list[float] = []
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
        self._count_login()
        response = self._post_login()
        token, lifetime = paths.token_from(response.json())
        self._token = token
        if self._guard is not None:
            self._guard.succeeded()
        lifetime = lifetime if lifetime is not None else ASSUMED_LIFETIME
        # Short-lived tokens still get half their life, rather than a login before every request.
        self._renew_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
        log.info("Cleo: logged in (token valid for %.0fs)", lifetime)

    def _count_login(self) -> None:
        """Renewing on every 401 must not become a loop when Cleo rejects the tokens it has just issued."""
        now = self._clock()
        self._logins = [t for t in self._logins if now - t < LOGIN_WINDOW] + [now]
        if len(self._logins) > MAX_LOGINS:
            raise AuthError("cleo", "POST", paths.AUTHENTICATION_PATH, None,
                            f"Cleo rejected the tokens it issued: {MAX_LOGINS} logins within {LOGIN_WINDOW:.0f} s "
                            "for the same user, each answered by 401; not logging in again in this run")

    def _post_login(self) -> requests.Response:
        """The password grant: exactly the confirmed form, one retry after ``LOGIN_RETRY_DELAY`` when the
        request itself failed (network, 5xx, 429), none when Cleo refused the credentials."""
        for attempt in (1, 2):
            try:
                return self._http.request("POST", paths.AUTHENTICATION_PATH, idempotent=True, max_attempts=1,
                                          data=paths.login_form(self._username, self._password))
            except ApiError as exc:
                if exc.status in REFUSED_STATUSES:
                    self._refuse(exc)
                transient = (exc.status is None and not never_connected(exc)) or exc.status == 429 or (
                    exc.status is not None and exc.status >= 500)
                if attempt == 2 or not transient:
                    raise
                log.warning("Cleo login: %s; one more attempt in %.0fs", self._redacted(exc.detail),
                            LOGIN_RETRY_DELAY)
                self._http.sleep(LOGIN_RETRY_DELAY)
        raise AssertionError("unreachable")

    def _refuse(self, exc: ApiError) -> NoReturn:
        # Never retried: repeated failures lock the account for 15 minutes.
        reason = f"HTTP {exc.status}: {self._redacted(exc.detail)}"
        started = self._guard.refused(reason) if self._guard is not None else None
        self._refused = CleoLoginRefusedError(self._username, exc.status, reason,
                                              until=started.until if started else None, contacted=True)
        log.error("Cleo refused the login for user %r (HTTP %s); not retrying", self._username, exc.status)
        raise self._refused from None

    def _redacted(self, text: str) -> str:
        """The server's words, minus the password should it ever echo it."""
        return text.replace(self._password, "<redacted>") if self._password else text
