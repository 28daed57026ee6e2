"""The emulator playing partners that send us business documents, and taking the acknowledgments we send back.

Owns two things of the partner's side:

- ``PartnerDesk.send``: a customer's 850 (purchase order), a supplier's 810 (an invoice answering a purchase
  order of ours) or either's 820, complete enough to read (N1 parties, dates, lines, totals), in the partner's
  version and delimiters, dropped into its inbound folder. Options: ``ta1`` sets ISA14 = 1 (the partner asks
  for a TA1), ``broken`` puts an impossible date in the beginning segment (a syntax error our 997/999 must
  reject with AK3/AK4), ``reference`` chooses the document's number, ``answers`` the PO number an 810 answers.
- ``PartnerDesk.took_acknowledgment``: a 997, 999 or TA1 we upload to a partner's outbound folder is recorded
  (what it says, per group) and never answered: an acknowledgment is not acknowledged.

Written by hand from the standard, independent of ``freshcleo_pipeline.x12`` (the code under test). The partner's
own control numbers start at 800000001 (ISA13) and 8001 (GS06), apart from the acknowledgment desk's.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from freshcleo_pipeline.sandbox.cleo.config import SandboxConfig, SandboxPartner
from freshcleo_pipeline.sandbox.cleo.replies import Envelope, Segment, TransactionSet
from freshcleo_pipeline.sandbox.cleo.store import Store

_ISA12 = {"004010": "00401", "005010": "00501"}
_GS01 = {"850": "PO", "810": "IN", "820": "RA"}
_ROLE_SENDS = {"customer": ("850", "820"), "supplier": ("810", "820")}


@dataclass
class AcknowledgmentReceived:
    """An acknowledgment we uploaded to a partner's outbound folder, as the partner read it."""

    partner_id: str
    file_name: str
    kind: str  # 997 | 999 | TA1
    isa13: str  # ours
    groups: list[dict[str, str]] = field(default_factory=list)  # AK1 group, AK9 code, set results
    ta1: list[str] = field(default_factory=list)  # TA101..TA105


@dataclass
class PartnerDesk:
    config: SandboxConfig
    store: Store
    received: list[AcknowledgmentReceived] = field(default_factory=list)
    _isa13: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, partner: SandboxPartner, kind: str, when: dt.datetime, *, reference: str = "",
             answers: str = "", ta1: bool = False, broken: bool = False) -> str:
        """Drop one business document from ``partner`` into its inbound folder; returns the file name."""
        allowed = _ROLE_SENDS.get(partner.role, ())
        if kind not in allowed:
            raise ValueError(f"kind: got {kind!r} for {partner.role} {partner.id!r}; expected one of {list(allowed)}")
        with self._lock:
            control = self._isa13.get(partner.id, 800000000) + 1
            self._isa13[partner.id] = control
        number = control - 800000000
        gs06 = 8000 + number
        body = _body(kind, partner, self.config, when, reference or f"{partner.identity.gs_id[:6]}-{kind}-{number:04d}",
                     answers, broken)
        isa12 = _ISA12.get(partner.version, "00401")
        envelope = Envelope(partner.identity, self.config.company, "T", isa12, partner.element, partner.component,
                            partner.repetition, partner.segment)
        isa = envelope.isa(control, when)
        isa[14] = "1" if ta1 else "0"
        st = TransactionSet(kind, "0001", body)
        segments: list[Segment] = [isa, ["GS", _GS01[kind], partner.identity.gs_id, self.config.company.gs_id,
                                         when.strftime("%Y%m%d"), when.strftime("%H%M"), str(gs06), "X",
                                         partner.version]]
        segments += [["ST", st.st01, st.st02], *st.body, ["SE", str(len(st.body) + 2), st.st02]]
        segments += [["GE", "1", str(gs06)], ["IEA", "1", f"{control:09d}"]]
        name = f"{kind}_{partner.id}_{control:09d}.x12"
        self.store.put(self.store.folder_by_path(partner.inbound), name, envelope.write(segments).encode("latin-1"),
                       when)
        return name

    def took_acknowledgment(self, partner: SandboxPartner, file_name: str, content: bytes) -> bool:
        """True (and recorded) when an uploaded file is an acknowledgment: the caller must not answer it."""
        read = _acknowledgment(content)
        if read is None:
            return False
        read.partner_id, read.file_name = partner.id, file_name
        with self._lock:
            self.received.append(read)
        return True


def _acknowledgment(content: bytes) -> AcknowledgmentReceived | None:
    """What an acknowledgment interchange says; None for anything else (business documents, unreadable text)."""
    text = content.decode("latin-1").lstrip("\ufeff \r\n")
    if not text.startswith("ISA") or len(text) < 106:
        return None
    element, terminator = text[3], text[105]
    segments = [s.strip("\r\n").split(element) for s in text.split(terminator) if s.strip("\r\n")]
    isa13 = segments[0][13] if len(segments[0]) > 13 else ""
    groups = [s for s in segments if s[0] == "GS"]
    ta1s = [s for s in segments if s[0] == "TA1"]
    if groups and any(g[1:2] != ["FA"] for g in groups):
        return None
    if not groups and not ta1s:
        return None
    kind = next((s[1] for s in segments if s[0] == "ST" and len(s) > 1), "TA1")
    found = AcknowledgmentReceived("", "", kind, isa13, ta1=ta1s[0][1:] if ta1s else [])
    current: dict[str, str] | None = None
    for segment in segments:
        if segment[0] == "AK1":
            current = {"functional_id": _at(segment, 1), "gs06": _at(segment, 2), "sets": "", "notes": ""}
            found.groups.append(current)
        elif current is None:
            continue
        elif segment[0] in ("AK5", "IK5"):
            current["sets"] += _at(segment, 1)
        elif segment[0] in ("AK3", "IK3", "AK4", "IK4"):
            current["notes"] += element.join(segment) + terminator
        elif segment[0] == "AK9":
            current["status"] = _at(segment, 1)
    return found


def _at(segment: list[str], position: int) -> str:
    return segment[position] if len(segment) > position else ""


def _body(kind: str, partner: SandboxPartner, config: SandboxConfig, when: dt.datetime, reference: str,
          answers: str, broken: bool) -> list[Segment]:
    """A readable document: parties, dates, two lines and totals that add up."""
    date = "20261399" if broken else when.strftime("%Y%m%d")
    us, them = config.company, partner.identity
    lines = [("1", "10", "EA", "12.50", "WIDGET-1", "Blue widget"), ("2", "4", "CA", "30.25", "BOLT-7", "Bolts, case")]
    total = sum((Decimal(q) * Decimal(p) for _, q, _, p, _, _ in lines), Decimal(0))
    if kind == "850":
        out: list[Segment] = [["BEG", "00", "SA", reference, "", date],
                              ["N1", "BY", partner.id.upper(), "92", them.isa_id.strip()],
                              ["N1", "SE", us.gs_id, "92", us.isa_id.strip()]]
        for number, qty, unit, price, sku, name in lines:
            out += [["PO1", number, qty, unit, price, "", "VP", sku], ["PID", "F", "", "", "", name]]
        return [*out, ["CTT", str(len(lines))], ["AMT", "TT", f"{total:.2f}"]]
    if kind == "810":
        out = [["BIG", date, reference, "", answers or "PO-UNKNOWN"],
               ["N1", "RE", partner.id.upper(), "92", them.isa_id.strip()],
               ["N1", "BT", us.gs_id, "92", us.isa_id.strip()],
               ["ITD", "01", "3", "", "", "", (when + dt.timedelta(days=30)).strftime("%Y%m%d"), "30"]]
        for number, qty, unit, price, sku, name in lines:
            out += [["IT1", number, qty, unit, price, "", "VP", sku], ["PID", "F", "", "", "", name]]
        return [*out, ["TDS", str(int(total * 100))], ["CTT", str(len(lines))]]
    return [["BPR", "I", f"{total:.2f}", "C", "ACH", "", "", "", "", "", "", "", "", "", "", "", date],
            ["TRN", "1", reference], ["N1", "PR", partner.id.upper()], ["N1", "PE", us.gs_id],
            ["ENT", "1"], ["RMR", "IV", answers or "INV-UNKNOWN", "PI", f"{total:.2f}", f"{total:.2f}"]]
