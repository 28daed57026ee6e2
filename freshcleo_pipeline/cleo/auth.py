"""Cleo Integration Cloud authentication: the password grant and the bearer token cached in memory.

Owns obtaining the token (``POST`` to the adapter's authentication path), keeping it until shortly before a
known expiry, and obtaining a new one once when the API answers 401 (``freshcleo_pipeline.http`` calls
``renew``). A refused login is final for the life of the object: it raises ``AuthError`` and every later call
raises it again without contacting Cleo, because accounts can lock after 5 failures within 60 seconds.
Must not log, return or ``repr()`` the password or the token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from freshcleo_pipeline.cleo import paths
from freshcleo_pipeline.errors import AuthError
from freshcleo_pipeline.http import HttpClient

log = logging.getLogger(__name__)

#: Used when the answer carries no ``expires_in`` (none of Cleo's own clients reads one); a 401 renews anyway.
ASSUMED_LIFETIME = 3600.0
#: Log in again this long before the known expiry, so a token never dies between check and use.
RENEW_MARGIN = 60.0


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
    ) -> None:
        self._http = http
        self._username = username
        self._password = password
        self._clock = clock
        self._margin = renew_margin
        self._token: str | None = None
        self._renew_at = 0.0
        self._refused: AuthError | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "refused" if self._refused else ("token cached" if self._token else "no token")
        return f"CleoAuth({self._http.base_url!r}, {state})"

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
        try:
            response = self._http.request("POST", paths.AUTHENTICATION_PATH, idempotent=True,
                                          data=paths.login_form(self._username, self._password))
        except AuthError as exc:
            # Never retried: repeated failures lock the account for 15 minutes.
            self._refused = AuthError(exc.service, exc.method, exc.path, exc.status,
                                      f"{exc.detail} (login refused for the configured Cleo user; check "
                                      "CLEO_USERNAME and CLEO_PASSWORD; not retried)")
            log.error("Cleo refused the login (HTTP %s); not retrying", exc.status)
            raise self._refused from None
        token, lifetime = paths.token_from(response.json())
        self._token = token
        lifetime = lifetime if lifetime is not None else ASSUMED_LIFETIME
        # Short-lived tokens still get half their life, rather than a login before every request.
        self._renew_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
        log.info("Cleo: logged in (token valid for %.0fs)", lifetime)
