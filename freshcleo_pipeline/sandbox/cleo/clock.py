"""The emulator's clock: real time plus an offset that tests can advance instead of sleeping.

Owns "now" for token lifetimes, login lockouts, acknowledgment delays and file timestamps.
"""

from __future__ import annotations

import datetime as dt
import threading
import time


class SandboxClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def now(self) -> dt.datetime:
        with self._lock:
            offset = self._offset
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"seconds: got {seconds!r}; expected >= 0 (the clock only moves forward)")
        with self._lock:
            self._offset += seconds
