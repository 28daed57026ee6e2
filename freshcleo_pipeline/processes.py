"""Whether the process that started a piece of work still lives: the one liveness rule of the product.

A process is named by a ``ProcessStamp``: the host it runs on, its pid, and the latest moment it can have started
(its own start time when it stamps itself, else the time the work it started began). It is alive when this host
is its host, the pid exists, is not a zombie, and the process holding the pid started no later than the stamp
says — a pid reused after a crash or a reboot belongs to a younger process. On another host nothing can be
judged (``None``). Plain Python: no Dagster, no I/O beyond ``os.kill(pid, 0)`` and ``/proc``.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

# Process start times from /proc are whole clock ticks counted from a whole-second boot time.
START_TOLERANCE_SECONDS = 2.0


@dataclass(frozen=True)
class ProcessStamp:
    host: str
    pid: int
    started_at: float | None  # epoch seconds; None when unknown (then a reused pid cannot be told apart)


def this_host() -> str:
    return socket.gethostname()


def current() -> ProcessStamp:
    """This process, as a run it starts records it."""
    return ProcessStamp(this_host(), os.getpid(), process_started_at(os.getpid()) or time.time())


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state first); None off Linux or when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def process_started_at(pid: int) -> float | None:
    """When the process holding ``pid`` started (epoch seconds), where the system says (Linux)."""
    fields, boot = _stat_fields(pid), _boot_time()
    if not fields or boot is None or len(fields) < 20:
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def is_alive(stamp: ProcessStamp) -> bool | None:
    """True while the stamped process runs; False once it is gone; None when it runs on another host."""
    if stamp.host != this_host():
        return None
    if stamp.pid <= 0:
        return False
    try:
        os.kill(stamp.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    fields = _stat_fields(stamp.pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # killed, not yet reaped by its parent
    started = process_started_at(stamp.pid)
    if stamp.started_at is not None and started is not None:
        return started <= stamp.started_at + START_TOLERANCE_SECONDS
    return True
