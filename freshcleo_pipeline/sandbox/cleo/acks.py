"""The emulator playing the trading partner: it reads what we upload and answers with 997s, 999s or TA1s.

Owns the decision for each uploaded interchange (accept, reject, stay silent), the partner's own control
numbers, the delay before the answer appears in the partner's inbound folder, and partner documents dropped
on demand. Decisions are drawn when the file arrives from a generator seeded once, so a run with the same
seed and the same uploads gives the same answers. Delivery happens on a background timer, or at once with
``delay=0``, or when a test calls ``deliver_due`` after advancing the clock.

Each partner answers with the acknowledgment its translator writes (``SandboxPartner.acknowledgment``: 999 for
the 5010 partners); ``dialect`` (see ``replies.DIALECTS``) makes every answer deviate the way real translators
do, so the reading side meets them in tests and demos.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass, field
from typing import Literal

from freshcleo_pipeline.sandbox.cleo.clock import SandboxClock
from freshcleo_pipeline.sandbox.cleo.config import SandboxConfig, SandboxPartner
from freshcleo_pipeline.sandbox.cleo.envelope import Checked, check_interchange
from freshcleo_pipeline.sandbox.cleo.replies import (
    DIALECTS,
    IMPLEMENTATION_999,
    Envelope,
    TransactionSet,
    ack_997_body,
    interchange,
    partner_document_body,
    ta1_interchange,
    ta1_segment,
)
from freshcleo_pipeline.sandbox.cleo.store import Store

Outcome = Literal["accepted", "rejected", "partial", "silent", "ta1", "unreadable"]
_ISA12 = {"004010": "00401", "005010": "00501"}


@dataclass
class AckRecord:
    """What the partner made of one uploaded file; ``reply`` names the file dropped (empty when none)."""

    partner_id: str
    file_name: str
    outcome: Outcome
    reason: str = ""
    reply: str = ""
    delivered: bool = False


@dataclass
class _Pending:
    due: float
    partner: SandboxPartner
    checked: Checked
    record: AckRecord
    forced_reject: bool


@dataclass
class _Numbers:
    """A partner's own control-number counters (its ISA13 and GS06 sequences)."""

    isa13: int = 700000000
    gs06: int = 7000


@dataclass
class AckDesk:
    config: SandboxConfig
    store: Store
    clock: SandboxClock
    enabled: bool = True
    delay: float = 0.0
    reject_rate: float = 0.0
    silence_rate: float = 0.0
    seed: int = 0
    dialect: frozenset[str] = frozenset()
    records: list[AckRecord] = field(default_factory=list)
    _pending: list[_Pending] = field(default_factory=list)
    _numbers: dict[str, _Numbers] = field(default_factory=dict)
    _timers: list[threading.Timer] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for name, rate in (("reject_rate", self.reject_rate), ("silence_rate", self.silence_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name}: got {rate!r}; expected a share between 0 and 1")
        if self.reject_rate + self.silence_rate > 1.0:
            raise ValueError(f"reject_rate + silence_rate: got {self.reject_rate + self.silence_rate}; "
                             "expected at most 1")
        if self.delay < 0:
            raise ValueError(f"ack_delay: got {self.delay!r}; expected >= 0 seconds")
        self.speak(*self.dialect)
        self._rng = random.Random(self.seed)

    def received(self, partner: SandboxPartner, file_name: str, content: bytes) -> None:
        """A file arrived in ``partner``'s outbound folder: decide the answer and schedule it."""
        if not self.enabled:
            return
        checked = check_interchange(content)
        with self._lock:
            draw = self._rng.random()
            valid = checked.readable and not checked.ta1_code and all(
                not g.errors and all(s.accepted for s in g.sets) for g in checked.groups)
            forced_reject = valid and draw < self.reject_rate
            silent = valid and not forced_reject and draw < self.reject_rate + self.silence_rate
            if not checked.readable:
                record = AckRecord(partner.id, file_name, "unreadable", checked.reason)
            elif silent:
                record = AckRecord(partner.id, file_name, "silent")
            elif checked.ta1_code:
                record = AckRecord(partner.id, file_name, "ta1", checked.reason)
            else:
                record = AckRecord(partner.id, file_name, "rejected" if forced_reject else _outcome(checked))
            self.records.append(record)
            if record.outcome in ("unreadable", "silent"):
                return
            self._pending.append(_Pending(self.clock.monotonic() + self.delay, partner, checked, record,
                                          forced_reject))
        if self.delay == 0:
            self.deliver_due()
        else:
            timer = threading.Timer(self.delay, self.deliver_due)
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()

    def speak(self, *dialect: str) -> None:
        """From now on, answer in ``dialect`` (names from ``replies.DIALECTS``; none = the textbook form)."""
        unknown = sorted(set(dialect) - DIALECTS)
        if unknown:
            raise ValueError(f"dialect: got {unknown}; expected names from {sorted(DIALECTS)}")
        with self._lock:
            self.dialect = frozenset(dialect)

    def deliver_due(self) -> int:
        """Drop every answer whose time has come into its partner's inbound folder; returns how many."""
        delivered = 0
        with self._lock:
            now = self.clock.monotonic()
            due = [p for p in self._pending if p.due <= now]
            self._pending = [p for p in self._pending if p.due > now]
            for pending in sorted(due, key=lambda p: p.due):
                self._deliver(pending)
                delivered += 1
        return delivered

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def drop_partner_document(self, partner: SandboxPartner, kind: str) -> str:
        """Put an 850 (customer) or 810 (supplier) from ``partner`` into its inbound folder; returns the name."""
        expected = "850" if partner.role == "customer" else "810"
        if kind != expected:
            raise ValueError(f"kind: got {kind!r} for {partner.role} {partner.id!r}; expected {expected}")
        with self._lock:
            numbers = self._numbers.setdefault(partner.id, _Numbers())
            numbers.isa13 += 1
            numbers.gs06 += 1
            when = self.clock.now()
            envelope = self._envelope(partner, None)
            gs01, body = partner_document_body(kind, numbers.gs06, when)
            text = interchange(envelope, numbers.isa13, when, gs01, numbers.gs06, partner.version,
                               [TransactionSet(kind, "0001", body)])
            name = f"{kind}_{partner.id}_{numbers.isa13:09d}.x12"
            self.store.put(self.store.folder_by_path(partner.inbound), name, text.encode("latin-1"), when)
            return name

    def stop(self) -> None:
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    def _deliver(self, pending: _Pending) -> None:
        partner, checked = pending.partner, pending.checked
        numbers = self._numbers.setdefault(partner.id, _Numbers())
        numbers.isa13 += 1
        when = self.clock.now()
        envelope = self._envelope(partner, checked)
        if checked.ta1_code:
            text = ta1_interchange(envelope, numbers.isa13, when, checked.isa, checked.ta1_code)
            name = f"TA1_{partner.id}_{numbers.isa13:09d}.x12"
        else:
            numbers.gs06 += 1
            dialect = self.dialect
            kind = partner.acknowledgment
            st03 = IMPLEMENTATION_999 if kind == "999" else ""
            sets = [TransactionSet(kind, f"{index:04d}", ack_997_body(group, forced_reject=pending.forced_reject,
                                                                      kind=kind, dialect=dialect), st03)
                    for index, group in enumerate(checked.groups, start=1)]
            version = checked.groups[0].version if checked.groups else partner.version
            if "version_003060" in dialect:
                version = "003060"
                envelope = dataclasses.replace(envelope, isa12="00306")
            ta1s = [ta1_segment(checked.isa, "A", "000")] if "ta1_with_997" in dialect else []
            text = interchange(envelope, numbers.isa13, when, "FA", numbers.gs06, version, sets, ta1s=ta1s,
                               gs_date="%y%m%d" if "short_gs_dates" in dialect else "%Y%m%d")
            prefix = "TA1-" if ta1s else ""
            name = f"{prefix}{kind}_{partner.id}_{numbers.isa13:09d}.x12"
        self.store.put(self.store.folder_by_path(partner.inbound), name, text.encode("latin-1"), when)
        pending.record.reply = name
        pending.record.delivered = True

    def _envelope(self, partner: SandboxPartner, checked: Checked | None) -> Envelope:
        """Answer in the received interchange's delimiters and versions when they are sound."""
        sound = checked is not None and checked.readable and checked.ta1_code == ""
        if checked is not None and sound:
            isa = checked.isa
            return Envelope(partner.identity, self.config.company, isa[14], isa[11], checked.element,
                            checked.component, isa[10] if isa[11] >= "00402" else partner.repetition,
                            checked.segment)
        return Envelope(partner.identity, self.config.company, "T", _ISA12.get(partner.version, "00401"),
                        partner.element, partner.component, partner.repetition, partner.segment)


def _outcome(checked: Checked) -> Outcome:
    results = [s.accepted and not g.errors for g in checked.groups for s in g.sets]
    if results and all(results):
        return "accepted"
    if any(results):
        return "partial"
    return "rejected"
