"""CIC's pick-up of uploaded files, and the partner's received side: the evidence of what each partner got.

Owns when a file uploaded into a partner's outbound folder leaves it, and the record of every interchange the
partner received (digest, ISA13, a repeated ISA13 flagged as a duplicate: the measure of exactly-once delivery),
with the counters of reference §9.5 (misrouted files, usage mismatches, unreadable files). What the partner does
with a receipt (acknowledge it, take our acknowledgment) is the caller's ``on_receipt``; this module writes no X12.

CIC picks files up from an upload folder and routes them to the partner [documented]; files should therefore not
be expected to stay [inferred]. Whether a consumed file stays visible anywhere through the API is [unconfirmed]:
the emulator takes the reading hardest on the client, it vanishes from every listing and id lookup. ``delay``:
- ``None``: files stay in the folder; the partner receives each one at upload (the emulator's old behaviour);
- ``0``: the file is taken right after it is stored (the upload's 201 still describes it);
- ``> 0``: the file is taken that many seconds (emulator clock) after its upload.
Pick-up is lazy and deterministic: ``pickup_due`` runs before every ``/api`` request, when a test advances the
clock, and on a light background ticker (for a sandbox nobody is calling). Only files that arrived by upload are
routed; a file the client deletes or moves away before its time is never received. Files placed by the control
API stay where they were put (an emulator choice: seeding is for reading tests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.sandbox.cleo.clock import SandboxClock
from freshcleo_pipeline.sandbox.cleo.config import SandboxConfig, SandboxPartner
from freshcleo_pipeline.sandbox.cleo.envelope import check_interchange
from freshcleo_pipeline.sandbox.cleo.store import Folder, Store, StoredFile

_TICK = 0.1  # seconds between background pick-up rounds; lazy pick-up before each request does the rest


@dataclass(frozen=True)
class ReceivedInterchange:
    """One file as the partner received it. ``isa13`` as written in the file ("" when unreadable);
    ``duplicate_isa13``: the partner had already received an interchange with this ISA13."""

    partner_id: str
    file_name: str
    content: bytes = field(repr=False)
    sha256: str
    isa13: str
    at: dt.datetime
    duplicate_isa13: bool

    def summary(self) -> dict[str, Any]:
        """JSON-ready, without the content."""
        return {"partner_id": self.partner_id, "file_name": self.file_name, "size": len(self.content),
                "sha256": self.sha256, "isa13": self.isa13,
                "at": self.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                "duplicate_isa13": self.duplicate_isa13}


@dataclass
class ReceiptCounts:
    received: int = 0  # interchanges (files) the partners received
    duplicate_isa13: int = 0
    consumed: int = 0  # files taken out of outbound folders by pick-up
    misrouted: int = 0  # ISA07/ISA08 not the partner's: received, never acknowledged
    usage_mismatch: int = 0  # ISA15 other than the partner expects: counted, not refused
    unparseable: int = 0  # no readable ISA


@dataclass
class _Waiting:
    file_id: str
    folder: Folder
    due: float


OnReceipt = Callable[[SandboxPartner, str, bytes], None]


class Pickup:
    """Routes uploads to the partners' received side; thread-safe (``store.lock``, then its own lock)."""

    def __init__(self, config: SandboxConfig, store: Store, clock: SandboxClock, delay: float | None,
                 on_receipt: OnReceipt) -> None:
        if delay is not None and delay < 0:
            raise ValueError(f"pickup_delay: got {delay!r}; expected None (files stay) or >= 0 seconds")
        self.config = config
        self.store = store
        self.clock = clock
        self.delay = delay
        self.on_receipt = on_receipt
        self.counts = ReceiptCounts()
        self._received: list[ReceivedInterchange] = []
        self._seen: dict[str, set[str]] = {}  # partner id → ISA13s received
        self._waiting: list[_Waiting] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def arrived(self, stored: StoredFile) -> None:
        """An upload was stored in a partner's outbound folder."""
        if self.delay is None:
            self.receive(stored.folder.partner_id, stored.name, stored.content)
            return
        with self._lock:
            self._waiting.append(_Waiting(stored.id, stored.folder, self.clock.monotonic() + self.delay))
        if self.delay == 0:
            self.pickup_due()

    def pickup_due(self) -> int:
        """Take every waiting file whose time has come out of its folder and hand it to its partner; returns
        how many this call took. Safe to call from any thread, any number of times."""
        taken: list[StoredFile] = []
        with self.store.lock, self._lock:
            now = self.clock.monotonic()
            due = [w for w in self._waiting if w.due <= now]
            if not due:
                return 0
            self._waiting = [w for w in self._waiting if w.due > now]
            for waiting in sorted(due, key=lambda w: (w.due, w.file_id)):
                stored = self.store.files.get(waiting.file_id)
                if stored is None or stored.folder is not waiting.folder:
                    continue  # deleted or moved away by the client first: the partner never gets it
                self.store.delete(stored)
                taken.append(stored)
            self.counts.consumed += len(taken)
        # Receipts outside the store lock: acknowledging writes into the store from other threads too.
        for stored in taken:
            self.receive(stored.folder.partner_id, stored.name, stored.content)
        return len(taken)

    def receive(self, partner_id: str, file_name: str, content: bytes) -> ReceivedInterchange:
        """Record what the partner got, then let it react (unless the interchange is not addressed to it)."""
        partner = self.config.partner(partner_id)
        checked = check_interchange(content)
        isa = checked.isa
        isa13 = isa[12] if len(isa) > 12 else ""
        misrouted = len(isa) > 7 and (isa[6].strip(), isa[7].strip()) != (partner.identity.qualifier,
                                                                           partner.identity.isa_id.strip())
        with self._lock:
            seen = self._seen.setdefault(partner.id, set())
            duplicate = bool(isa13) and isa13 in seen
            if isa13:
                seen.add(isa13)
            record = ReceivedInterchange(partner.id, file_name, content, hashlib.sha256(content).hexdigest(), isa13,
                                         self.clock.now(), duplicate)
            self._received.append(record)
            self.counts.received += 1
            self.counts.duplicate_isa13 += duplicate
            self.counts.unparseable += not checked.readable
            self.counts.misrouted += misrouted
            self.counts.usage_mismatch += bool(len(isa) > 14 and partner.usage and isa[14] != partner.usage)
        if not misrouted:  # a real partner does not acknowledge someone else's interchange
            self.on_receipt(partner, file_name, content)
        return record

    def received(self, partner_id: str | None = None) -> list[ReceivedInterchange]:
        with self._lock:
            return [r for r in self._received if partner_id is None or r.partner_id == partner_id]

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def start(self) -> None:
        """Pick up in the background too, so a sandbox nobody calls still empties its upload folders."""
        if not self.delay or self._ticker is not None:
            return
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="cleo-pickup", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            self.pickup_due()
