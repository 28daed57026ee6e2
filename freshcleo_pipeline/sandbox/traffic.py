"""What an emulator saw: a bounded log of requests and the peak of concurrent ones (reference cleo-api §9.6).

Owns the record tests assert on ("one login per run", "no upload re-POSTed after a 409"); counts nothing per
API (the emulators keep their own counters) and never records bodies, tokens or passwords.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

#: Entries kept; older ones fall off (a sandbox left running must not grow without bound).
LOG_SIZE = 2000


@dataclass(frozen=True)
class LogEntry:
    """One answered (or dropped: ``status`` 0) request. ``route`` is the template ("" when none matched);
    ``account`` the user it ran as ("" when unknown); ``fault`` the label of the fault that fired, if any."""

    at: dt.datetime
    method: str
    path: str
    route: str
    status: int
    account: str
    fault: str = ""

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return data


class RequestLog:
    """Thread-safe ring of ``LogEntry`` and the concurrency gauge."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak_concurrency = 0

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.peak_concurrency = self._in_flight
