"""The one HTTP layer both API clients use: session, timeouts, retry policy, request budget, auth hook.

Owns how a request is sent and retried. Knows no API paths and no credentials: authentication is a small
object the caller passes in (``Authenticator``), so tokens never pass through here as strings to log.

Retry rules (the same for FreshBooks and Cleo):
- 429 → wait ``Retry-After`` (seconds or HTTP date) when given, else backoff; always safe to retry, the server
  did not act on the request.
- 5xx, connection errors and timeouts → jittered exponential backoff, for idempotent requests only. For a
  request that is not idempotent (an upload), a failure after the request may have reached the server raises
  ``OutcomeUnknownError`` so the caller can look before sending again.
- 401 → the authenticator renews its credentials once and the request is sent again; a second 401 is final.
- Any other 4xx → raised at once; retrying cannot fix it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from freshcleo_pipeline.errors import ApiError, AuthError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OutcomeUnknownError(ApiError):
    """A non-idempotent request may or may not have been applied (lost response, reset, 5xx)."""


class Authenticator(Protocol):
    """Supplies auth headers and renews them after a 401."""

    def headers(self) -> Mapping[str, str]: ...

    def renew(self) -> None:
        """Called once after a 401: obtain fresh credentials or raise AuthError."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    #: give up when the next wait would push the total waiting past this many seconds
    max_total_wait: float = 300.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff for the given attempt (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(ceiling / 2, ceiling)


class RequestBudget:
    """A token bucket shared by all threads using one client: at most ``rate`` requests per second."""

    def __init__(self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"request budget rate must be > 0, got {rate!r}")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            sleep(wait)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


@dataclass
class HttpClient:
    """One session against one service, with the house retry policy."""

    service: str
    base_url: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    budget: RequestBudget | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    user_agent: str = "freshcleo/0.1"
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session.headers["User-Agent"] = self.user_agent

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: Authenticator | None = None,
        idempotent: bool | None = None,
        ok_statuses: frozenset[int] | None = None,
        max_attempts: int | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with retries; return a response whose status is 2xx (or listed in ``ok_statuses``).
        ``max_attempts`` caps the policy's attempts for this request (1 = no retry here; the caller decides)."""
        if idempotent is None:
            idempotent = method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
        url = self.url(path)
        waited = 0.0
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            if self.budget is not None:
                self.budget.acquire(self.sleep)
            headers = dict(kwargs.pop("headers", None) or {})
            if auth is not None:
                headers.update(auth.headers())
            try:
                response = self.session.request(
                    method, url, headers=headers, timeout=(self.connect_timeout, self.read_timeout), **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                reached = not isinstance(exc, requests.ConnectTimeout) and not _refused(exc)
                if reached and not idempotent:
                    raise OutcomeUnknownError(self.service, method, path, None, type(exc).__name__) from exc
                delay = self.policy.backoff(attempt, self.rng)
                if not self._may_retry(attempt, waited, delay, max_attempts):
                    raise ApiError(self.service, method, path, None, f"{type(exc).__name__} after "
                                   f"{attempt} attempts") from exc
                log.warning("%s %s %s: %s; retry %d in %.1fs", self.service, method, path,
                            type(exc).__name__, attempt, delay)
                kwargs["headers"] = headers if auth is None else _without_auth(headers, auth)
                self.sleep(delay)
                waited += delay
                continue

            status = response.status_code
            if 200 <= status < 300 or (ok_statuses is not None and status in ok_statuses):
                return response
            if status == 401 and auth is not None and not renewed:
                renewed = True
                response.close()
                auth.renew()
                kwargs["headers"] = _without_auth(headers, auth)
                continue
            if status in RETRY_STATUSES and (status == 429 or idempotent):
                hinted = parse_retry_after(response.headers.get("Retry-After"))
                delay = self.policy.backoff(attempt, self.rng) if hinted is None else hinted
                if self._may_retry(attempt, waited, delay, max_attempts):
                    log.warning("%s %s %s: HTTP %d; retry %d in %.1fs", self.service, method, path, status,
                                attempt, delay)
                    response.close()
                    kwargs["headers"] = _without_auth(headers, auth) if auth else headers
                    self.sleep(delay)
                    waited += delay
                    continue
            detail = _detail(response)
            if status >= 500 and not idempotent:
                raise OutcomeUnknownError(self.service, method, path, status, detail)
            if status in (401, 403):
                raise AuthError(self.service, method, path, status, detail)
            raise ApiError(self.service, method, path, status, detail)

    def _may_retry(self, attempt: int, waited: float, delay: float, max_attempts: int | None = None) -> bool:
        limit = self.policy.max_attempts if max_attempts is None else min(max_attempts, self.policy.max_attempts)
        return attempt < limit and waited + delay <= self.policy.max_total_wait


def never_connected(error: BaseException) -> bool:
    """True when ``error`` (or the network error behind it) is a connection that was never established."""
    cause = error.__cause__ if isinstance(error.__cause__, Exception) else error
    return isinstance(cause, requests.ConnectTimeout) or (isinstance(cause, Exception) and _refused(cause))


def _refused(exc: Exception) -> bool:
    """True when the connection was never established (the server cannot have seen the request)."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def _without_auth(headers: Mapping[str, str], auth: Authenticator | None) -> dict[str, str]:
    """Headers to resend, minus the auth ones (they are added fresh on the next attempt)."""
    if auth is None:
        return dict(headers)
    return {k: v for k, v in headers.items() if k.lower() != "authorization"}


def _detail(response: requests.Response, limit: int = 300) -> str:
    """A short, secret-free description of an error response for messages and logs."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:limit] or response.reason or ""
    if isinstance(body, dict):
        for key in ("error_description", "message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:limit]
        errors = body.get("response", {}).get("errors") if isinstance(body.get("response"), dict) else None
        if errors:
            return str(errors)[:limit]
    return str(body)[:limit]
