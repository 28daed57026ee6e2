"""Logins and bearer tokens of the emulated tenant: the password grant, lifetimes, and the lockout policy.

Owns who may call the API and until when. Tokens are random and short-lived; they are never logged.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field

from freshcleo_pipeline.sandbox.cleo.clock import SandboxClock

LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = 60.0
LOCKOUT_DURATION = 15 * 60.0


class LoginRefused(Exception):
    """The login was refused; the message is what the API answers."""


@dataclass
class TokenDesk:
    username: str
    password: str = field(repr=False)
    clock: SandboxClock
    lifetime: float = 3600.0
    lockout: bool = False
    _tokens: dict[str, float] = field(default_factory=dict, repr=False)
    _failures: deque[float] = field(default_factory=deque, repr=False)
    _locked_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def login(self, username: str, password: str) -> tuple[str, int]:
        """Return (access token, lifetime in seconds) or raise ``LoginRefused``."""
        with self._lock:
            now = self.clock.monotonic()
            if self.lockout and now < self._locked_until:
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
                raise LoginRefused("invalid username or password")
            token = secrets.token_urlsafe(24)
            self._tokens[token] = now + self.lifetime
            return token, int(self.lifetime)

    def valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
            if expires is None:
                return False
            if self.clock.monotonic() >= expires:
                del self._tokens[token]
                return False
            return True

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()
