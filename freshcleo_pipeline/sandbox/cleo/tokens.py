"""Logins and bearer tokens of the emulated tenant: the password grant, lifetimes, and the lockout policy.

Owns who may call the API and until when, and the login figures of the stats (reference §9.6): tokens issued,
logins refused for their credentials (``refused``), logins refused because the account was locked (``locked``),
and 401s answered to a token that had expired or been revoked (``expired_token_401``; a token never issued is not
counted there). Whether real Cleo tells an expired token from an unknown one is [unconfirmed]: both answer 401
alike, only the count differs. Tokens are random and short-lived; they are never logged.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from freshcleo_pipeline.sandbox.cleo.clock import SandboxClock

LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = 60.0
LOCKOUT_DURATION = 15 * 60.0


TokenState = Literal["valid", "expired", "unknown"]


class LoginRefused(Exception):
    """The login was refused; the message is what the API answers."""


@dataclass
class AuthCounts:
    issued: int = 0
    refused: int = 0
    locked: int = 0
    expired_token_401: int = 0


@dataclass
class TokenDesk:
    username: str
    password: str = field(repr=False)
    clock: SandboxClock
    lifetime: float = 3600.0
    lockout: bool = False
    counts: AuthCounts = field(default_factory=AuthCounts)
    _tokens: dict[str, float] = field(default_factory=dict, repr=False)
    _dead: set[str] = field(default_factory=set, repr=False)  # expired or revoked: 401, counted as expired
    _failures: deque[float] = field(default_factory=deque, repr=False)
    _locked_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def login(self, username: str, password: str) -> tuple[str, int]:
        """Return (access token, lifetime in seconds) or raise ``LoginRefused``."""
        with self._lock:
            now = self.clock.monotonic()
            if self.lockout and now < self._locked_until:
                self.counts.locked += 1
                raise LoginRefused("account is locked after repeated failed logins; try again later")
            good = secrets.compare_digest(username, self.username) and secrets.compare_digest(password,
                                                                                              self.password)
            if not good:
                self._failures.append(now)
                while self._failures and self._failures[0] < now - LOCKOUT_WINDOW:
                    self._failures.popleft()
                if self.lockout and len(self._failures) >= LOCKOUT_FAILURES:
                    self._locked_until = now + LOCKOUT_DURATION
                    self._failures.clear()
                self.counts.refused += 1
                raise LoginRefused("invalid username or password")
            token = secrets.token_urlsafe(24)
            self._tokens[token] = now + self.lifetime
            self.counts.issued += 1
            return token, int(self.lifetime)

    def refuse(self) -> None:
        """Count a login refused by an injected fault (the credentials were never looked at, so the lockout
        does not count it: only the client's behaviour is under test)."""
        with self._lock:
            self.counts.refused += 1

    def state(self, token: str) -> TokenState:
        with self._lock:
            expires = self._tokens.get(token)
            if expires is not None and self.clock.monotonic() >= expires:
                del self._tokens[token]
                self._dead.add(token)
                expires = None
            if expires is not None:
                return "valid"
            return "expired" if token in self._dead else "unknown"

    def valid(self, token: str) -> bool:
        return self.state(token) == "valid"

    def rejected_expired(self) -> None:
        with self._lock:
            self.counts.expired_token_401 += 1

    def known(self, token: str) -> bool:
        """Issued here, alive or not (the account it ran as is then the configured user)."""
        with self._lock:
            return token in self._tokens or token in self._dead

    def expire_all(self) -> None:
        with self._lock:
            self._dead.update(self._tokens)
            self._tokens.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts = AuthCounts()
