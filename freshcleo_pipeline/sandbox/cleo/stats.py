"""The Cleo emulator's own figures for ``GET /_sandbox/stats`` (reference cleo-api §9.6): transfers and answers.

Owns the tallies of uploads (files and bytes per folder, 409 refusals, the same name or the same SHA-256 stored
twice in a folder: the signs of a second delivery), downloads per file, deletes and moves, and the summary of the
partners' answers. Logins live in ``tokens``, receipts in ``routing``, requests and faults in the shared server.
Keeps digests and names, never content.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from freshcleo_pipeline.sandbox.cleo.acks import AckRecord


class TransferTally:
    """Thread-safe counts of what went in and out of the folders through ``/api``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zero()

    def _zero(self) -> None:
        self._files: Counter[str] = Counter()  # folder path → files stored by upload
        self._bytes: Counter[str] = Counter()
        self._names: dict[str, set[str]] = {}
        self._digests: dict[str, set[str]] = {}
        self._downloads: Counter[str] = Counter()  # "folder/name" → downloads
        self.refused_409 = 0
        self.same_name_twice = 0
        self.same_digest_twice = 0
        self.download_bytes = 0
        self.deletes = 0
        self.moves = 0

    def uploaded(self, folder: str, name: str, content: bytes) -> None:
        """A stored upload. The same name or content seen before in the folder (even if pick-up took the first
        one away meanwhile) is counted: a real partner would have received it twice."""
        digest = hashlib.sha256(content).hexdigest()
        with self._lock:
            names = self._names.setdefault(folder, set())
            digests = self._digests.setdefault(folder, set())
            self.same_name_twice += name in names
            self.same_digest_twice += digest in digests
            names.add(name)
            digests.add(digest)
            self._files[folder] += 1
            self._bytes[folder] += len(content)

    def refused(self) -> None:
        with self._lock:
            self.refused_409 += 1

    def downloaded(self, folder: str, name: str, size: int) -> None:
        """Content served (counted when answered: a truncated or trickled answer counts too)."""
        with self._lock:
            self._downloads[f"{folder}/{name}"] += 1
            self.download_bytes += size

    def deleted(self) -> None:
        with self._lock:
            self.deletes += 1

    def moved(self) -> None:
        with self._lock:
            self.moves += 1

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "uploads": {"files": sum(self._files.values()), "bytes": sum(self._bytes.values()),
                            "refused_409": self.refused_409, "same_name_twice": self.same_name_twice,
                            "same_digest_twice": self.same_digest_twice,
                            "by_folder": {f: {"files": self._files[f], "bytes": self._bytes[f]}
                                          for f in sorted(self._files)}},
                "downloads": {"files": sum(self._downloads.values()), "bytes": self.download_bytes,
                              "by_file": dict(sorted(self._downloads.items()))},
                "deletes": self.deletes,
                "moves": self.moves,
            }

    def clear(self) -> None:
        with self._lock:
            self._zero()


def ack_summary(records: Iterable[AckRecord]) -> dict[str, int]:
    """Answers by outcome, one per received interchange: ``A``/``P``/``R`` as the AK9 of its answer (the
    emulator writes one group per answer as received, so the interchange's outcome is its groups'), written
    answers only; ``E`` (accepted with errors) is never written here; ``dropped`` = left unanswered on purpose
    (``silence_rate``); ``duplicated`` = 0, as no answer is written twice [the reference's ``duplicate_ratio`` is
    not emulated]; ``ta1`` = TA1s written for interchange-level errors; ``pending`` = decided, not yet written."""
    counts = {"A": 0, "E": 0, "P": 0, "R": 0, "dropped": 0, "duplicated": 0, "ta1": 0, "pending": 0}
    code = {"accepted": "A", "partial": "P", "rejected": "R", "ta1": "ta1"}
    for record in records:
        if record.outcome == "silent":
            counts["dropped"] += 1
        elif record.outcome in code:
            counts[code[record.outcome] if record.delivered else "pending"] += 1
    return counts
