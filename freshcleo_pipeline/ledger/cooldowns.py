"""Cool-downs in ``cooldowns``: after an outside service refused us for a reason only a person can fix.

Owns reading, starting/extending and clearing a cool-down, and ``LedgerLoginGuard``, which offers them to an
authenticator (``freshcleo_pipeline.cleo.auth.LoginGuard``) without it knowing SQL. Because the state lives in
the ledger, every process sharing it — step retries, schedules, overlapping runs, the CLI — sees the same
cool-down. Keys name the tenant and the user, never a password; reasons come from the service's answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from freshcleo_pipeline.ledger.database import Ledger
from freshcleo_pipeline.ledger.rows import insert_ignore, utcnow
from freshcleo_pipeline.ledger.schema import cooldowns

_KEY_LENGTH = 200  # the column's size


@dataclass(frozen=True)
class Cooldown:
    """One cool-down: no attempt before ``until``; ``attempts`` counts the refusals that set or extended it."""

    key: str
    until: dt.datetime
    reason: str
    attempts: int
    updated_at: dt.datetime


def cleo_login_key(api_url: str, username: str) -> str:
    """The cool-down key of one Cleo tenant and user (long values are shortened by a digest)."""
    key = f"cleo-login:{api_url.rstrip('/')}|{username}"
    if len(key) <= _KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"{key[:_KEY_LENGTH - 33]}#{digest}"


def get(conn: Connection, key: str) -> Cooldown | None:
    """The row of ``key`` whether or not it has run out."""
    row = conn.execute(select(cooldowns).where(cooldowns.c.key == key)).mappings().first()
    if row is None:
        return None
    return Cooldown(key=row["key"], until=row["until"], reason=row["reason"], attempts=int(row["attempts"]),
                    updated_at=row["updated_at"])


def active(conn: Connection, key: str, now: dt.datetime) -> Cooldown | None:
    """The cool-down of ``key`` if it still lasts at ``now``."""
    found = get(conn, key)
    return found if found is not None and found.until > now else None


def start(conn: Connection, key: str, reason: str, until: dt.datetime, now: dt.datetime) -> Cooldown:
    """Start the cool-down of ``key``, or extend a running one to ``until``; counts one more refusal.

    A cool-down that had run out starts again from one attempt.
    """
    insert_ignore(conn, cooldowns, [{"key": key, "until": now, "reason": reason, "attempts": 0,
                                     "updated_at": now}], ["key"])
    current = get(conn, key)
    assert current is not None
    attempts = current.attempts + 1 if current.until > now else 1
    conn.execute(update(cooldowns).where(cooldowns.c.key == key).values(
        until=max(until, current.until), reason=reason[:2000], attempts=attempts, updated_at=now))
    found = get(conn, key)
    assert found is not None
    return found


def clear(conn: Connection, key: str) -> bool:
    """End the cool-down of ``key`` (after a success); True if there was one."""
    return conn.execute(delete(cooldowns).where(cooldowns.c.key == key)).rowcount > 0


class LedgerLoginGuard:
    """A login guard over the ledger: refuse while a cool-down lasts, start one on refusal, clear on success.

    ``seconds`` = 0 turns cool-downs off (nothing is recorded, nothing is refused).
    """

    def __init__(self, ledger: Ledger, key: str, seconds: float, *,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.ledger = ledger
        self.key = key
        self.seconds = seconds
        self.clock = clock

    def __repr__(self) -> str:
        return f"LedgerLoginGuard({self.key!r}, {self.seconds:.0f}s)"

    def check(self) -> Cooldown | None:
        if self.seconds <= 0:
            return None
        with self.ledger.begin() as conn:
            return active(conn, self.key, self.clock())

    def refused(self, reason: str) -> Cooldown | None:
        if self.seconds <= 0:
            return None
        now = self.clock()
        with self.ledger.begin() as conn:
            return start(conn, self.key, reason, now + dt.timedelta(seconds=self.seconds), now)

    def succeeded(self) -> None:
        with self.ledger.begin() as conn:
            clear(conn, self.key)


def cleo_login_guard(ledger: Ledger, api_url: str, username: str, seconds: float) -> LedgerLoginGuard:
    """The guard of one Cleo tenant and user (``seconds`` = ``Settings.cleo_login_cooldown_seconds``)."""
    return LedgerLoginGuard(ledger, cleo_login_key(api_url, username), seconds)


__all__ = ["Cooldown", "LedgerLoginGuard", "active", "clear", "cleo_login_guard", "cleo_login_key", "get",
           "start"]
