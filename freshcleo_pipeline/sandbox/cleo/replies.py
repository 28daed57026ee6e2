"""What a partner sends us: 997 and 999 acknowledgments, TA1s, and its own 850s and 810s.

Owns the text of those interchanges, written by hand from the standard (fixed-width ISA, counts and matching
control numbers) and independent of ``freshcleo_pipeline.x12``. Pure: the control numbers and the time come
in as arguments.

Real translators do not all write the textbook form, so the answers can speak a dialect (``DIALECTS``): AK103
in a 4010 997, an AK904 that disagrees with the AK5s, a 003060 997, 6-digit GS04 dates, or a TA1 and the 997 in
one interchange.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from freshcleo_pipeline.sandbox.cleo.config import Identity
from freshcleo_pipeline.sandbox.cleo.envelope import GroupResult

Segment = list[str]


@dataclass(frozen=True)
class Envelope:
    """Who writes to whom and with which delimiters and versions."""

    sender: Identity
    receiver: Identity
    usage: str  # ISA15
    isa12: str  # 00401 | 00501
    element: str = "*"
    component: str = ">"
    repetition: str = "^"
    segment: str = "~"

    def isa(self, control: int, when: dt.datetime) -> Segment:
        isa11 = "U" if self.isa12 < "00402" else self.repetition
        return ["ISA", "00", " " * 10, "00", " " * 10, self.sender.qualifier, f"{self.sender.isa_id:<15}",
                self.receiver.qualifier, f"{self.receiver.isa_id:<15}", when.strftime("%y%m%d"),
                when.strftime("%H%M"), isa11, self.isa12, f"{control:09d}", "0", self.usage, self.component]

    def write(self, segments: list[Segment]) -> str:
        return "".join(self.element.join(s) + self.segment for s in segments)


#: Deviations a partner's translator may write (see the module docstring).
DIALECTS = frozenset({"ak103_in_4010", "ak904_disagrees", "version_003060", "short_gs_dates", "ta1_with_997"})
#: The 999's implementation convention reference (ST03).
IMPLEMENTATION_999 = "005010X231A1"


@dataclass(frozen=True)
class TransactionSet:
    st01: str
    st02: str
    body: list[Segment]  # between ST and SE
    st03: str = ""  # implementation convention reference (the 999's 005010X231A1)


def interchange(envelope: Envelope, control: int, when: dt.datetime, gs01: str, gs06: int, gs08: str,
                sets: list[TransactionSet], *, ta1s: list[Segment] | None = None,
                gs_date: str = "%Y%m%d") -> str:
    """One interchange with one functional group holding ``sets``, after any ``ta1s`` (TA1 segments sit between
    the ISA and the first GS)."""
    segments: list[Segment] = [envelope.isa(control, when), *(ta1s or []),
                               ["GS", gs01, envelope.sender.gs_id, envelope.receiver.gs_id,
                                when.strftime(gs_date), when.strftime("%H%M"), str(gs06), "X", gs08]]
    for ts in sets:
        segments.append(["ST", ts.st01, ts.st02, ts.st03] if ts.st03 else ["ST", ts.st01, ts.st02])
        segments.extend(ts.body)
        segments.append(["SE", str(len(ts.body) + 2), ts.st02])
    segments.append(["GE", str(len(sets)), str(gs06)])
    segments.append(["IEA", "1", f"{control:09d}"])
    return envelope.write(segments)


def ta1_segment(isa: list[str], acknowledgment: str, note: str) -> Segment:
    """A TA1 answering the received interchange (``isa`` = ISA01..ISA16): TA104 ``acknowledgment``, TA105
    ``note``."""
    original = isa[12] if len(isa) > 12 else ""
    received_date = isa[8] if len(isa) > 8 else ""
    received_time = isa[9] if len(isa) > 9 else ""
    return ["TA1", f"{original[:9]:0>9}", f"{received_date[:6]:0>6}", f"{received_time[:4]:0>4}", acknowledgment,
            note]


def ta1_interchange(envelope: Envelope, control: int, when: dt.datetime, isa: list[str], code: str) -> str:
    """An interchange carrying only a TA1 that rejects the received interchange with TA105 ``code``."""
    segments = [envelope.isa(control, when), ta1_segment(isa, "R", code), ["IEA", "0", f"{control:09d}"]]
    return envelope.write(segments)


def ack_997_body(group: GroupResult, *, forced_reject: bool, kind: str = "997",
                 dialect: frozenset[str] = frozenset()) -> list[Segment]:
    """AK1 … AK9 for one received functional group (without ST/SE): a 997, or with ``kind="999"`` a 999 (its
    IK3/IK4/IK5 in place of AK3/AK4/AK5, AK103 always)."""
    ak3, ak4, ak5 = ("IK3", "IK4", "IK5") if kind == "999" else ("AK3", "AK4", "AK5")
    ak1 = ["AK1", group.gs01, group.gs06]
    if group.version.startswith("005") or kind == "999" or "ak103_in_4010" in dialect:
        ak1.append(group.version)
    body: list[Segment] = [ak1]
    accepted = 0
    for result in group.sets:
        body.append(["AK2", result.st01, result.st02])
        errors = list(result.errors)
        notes = list(result.notes)
        if forced_reject and not errors:
            # A business refusal by the partner: the beginning segment holds a value it does not accept.
            second = result.segments[1] if len(result.segments) > 2 else ["ST", result.st01]
            bad = second[1] if len(second) > 1 else ""
            body.append([ak3, second[0], "2", "", "8"])
            code = "8" if len(bad) == 8 and bad.isdigit() else "7"  # invalid date, else invalid code value
            body.append(_trim([ak4, "1", "", code, bad[:99]]))
            errors = ["5"]
        for note in notes:
            body.append([ak3, note.tag, str(note.position), "", note.code])
            for element in note.elements:
                body.append(_trim([ak4, str(element.position), element.reference, element.code,
                                   element.bad[:99]]))
        if errors:
            body.append([ak5, "R", *errors[:5]])
        else:
            body.append([ak5, "A"])
            accepted += 1
    received = len(group.sets)
    declared = group.declared_sets if group.declared_sets.isdigit() else str(received)
    if group.errors:
        code, accepted = "R", 0
    elif accepted == received:
        code = "A"
    elif accepted == 0:
        code = "R"
    else:
        code = "P"
    if "ak904_disagrees" in dialect:
        # A translator that counts the sets it received as accepted, whatever the AK5s say.
        accepted = received if accepted != received else max(received - 1, 0)
    body.append(["AK9", code, declared, str(received), str(accepted), *group.errors[:5]])
    return body


def partner_document_body(kind: str, number: int, when: dt.datetime) -> tuple[str, list[Segment]]:
    """(GS01, body) of a small, valid 850 from a customer or 810 from a supplier."""
    date = when.strftime("%Y%m%d")
    if kind == "850":
        return "PO", [["BEG", "00", "SA", f"PO{number:06d}", "", date],
                      ["PO1", "1", "10", "EA", "12.5", "", "VP", "WIDGET-1"],
                      ["CTT", "1"]]
    if kind == "810":
        return "IN", [["BIG", date, f"INV{number:06d}", "", f"PO{number:06d}"],
                      ["IT1", "1", "10", "EA", "12.5", "", "VP", "BOLT-1"],
                      ["TDS", "12500"],
                      ["CTT", "1"]]
    raise ValueError(f"kind: got {kind!r}; expected 850 or 810")


def _trim(segment: Segment) -> Segment:
    """Drop trailing empty elements (X12 forbids trailing separators)."""
    while len(segment) > 1 and segment[-1] == "":
        segment = segment[:-1]
    return segment
