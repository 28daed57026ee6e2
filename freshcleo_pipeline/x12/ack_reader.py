"""Reading acknowledgments — 997, 999 (005010X231A1) and TA1 — into one result per acknowledged transaction set.

Owns the interpretation of AK1/AK2/AK3/AK4/AK5/AK9 (reference §8) and of their 999 forms IK3/IK4/CTX/IK5: the
link to our GS06 (AK102) and ST02 (AK202), the status (AK501/IK501 A → accepted, E → accepted with errors,
M/R/W/X → rejected) with the AK3/AK4 (IK3/IK4) detail, and — when a group is acknowledged without AK2 loops —
one group-level result carrying AK901 (P there is ambiguous and comes back as ``needs_review``). TA1s come back
as they are, for the interchange they name.

Built on ``reader.read_x12``: the file is tokenized once, and the structure comes from the one inbound reader.
Formatting deviations real translators produce are warnings, not reasons to drop an acknowledgment: AK103 in a
4010 997, an AK904 that disagrees with the AK5s (the per-set results are trusted), an older version such as
003060, 6-digit GS04. Strictness is kept for attribution: an AK101 that does not fit the acknowledged set (or is
no functional id of ours) makes the result ``refused`` — it is reported, never applied — and an AK2 without its
AK5 gives no result. Must not look up or update documents: matching results to the ledger is the pipeline's job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum

from freshcleo_pipeline.x12.errors import Check, X12Error, X12ParseError, X12ValidationError
from freshcleo_pipeline.x12.reader import (
    InboundText,
    ReadFile,
    ReadInterchange,
    ReadSet,
    element,
    foreign_characters,
    inbound_text,
    read_x12,
    reading_form,
)
from freshcleo_pipeline.x12.tokens import RawSegment
from freshcleo_pipeline.x12.validator import validate_interchange

__all__ = [
    "ACK_SETS",
    "FUNCTIONAL_ID_OF_SET",
    "TRANSACTION_SET_OF_GROUP",
    "AckElementNote",
    "AckReading",
    "AckResult",
    "AckSegmentNote",
    "AckStatus",
    "InboundText",
    "RefusedAck",
    "Ta1Result",
    "ack_findings",
    "foreign_characters",
    "inbound_text",
    "read_997",
    "read_acknowledgments",
    "read_inbound_997",
    "reading_form",
]


class AckStatus(StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_WITH_ERRORS = "accepted_with_errors"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"


_STATUS = {"A": AckStatus.ACCEPTED, "E": AckStatus.ACCEPTED_WITH_ERRORS, "M": AckStatus.REJECTED,
           "R": AckStatus.REJECTED, "W": AckStatus.REJECTED, "X": AckStatus.REJECTED}
_ACCEPTING = ("A", "E")

#: The functional group (GS01) our transaction sets travel in; AK101 must name it.
FUNCTIONAL_ID_OF_SET = {"810": "IN", "850": "PO", "820": "RA"}
#: AK101 → the transaction set of our group it acknowledges (for group-level results without AK2).
TRANSACTION_SET_OF_GROUP = {gs01: set_id for set_id, gs01 in FUNCTIONAL_ID_OF_SET.items()}
#: Transaction sets that acknowledge groups, read here (GS01 FA).
ACK_SETS = ("997", "999")


@dataclass(frozen=True)
class AckElementNote:
    """One AK4 (IK4): which element of the segment was wrong, and how."""

    position: int | None  # AK401-1
    component: int | None  # AK401-2
    data_element: str  # AK402
    code: str  # AK403
    bad_data: str  # AK404


@dataclass(frozen=True)
class AckSegmentNote:
    """One AK3 (IK3) with its AK4s (IK4s), and the 999's CTX context segments as written."""

    segment_id: str  # AK301
    position: int | None  # AK302, ST = 1
    loop_id: str  # AK303
    code: str  # AK304
    elements: tuple[AckElementNote, ...]
    context: tuple[str, ...] = ()  # CTX segments (999 only), elements joined by '*'


@dataclass(frozen=True)
class AckResult:
    """The partner's verdict on one of our transaction sets (or on a whole group when no AK2 was sent)."""

    functional_id: str  # AK101: our GS01
    group_control_number: str  # AK102: our GS06
    transaction_set_id: str  # AK201: our ST01 ("" for a group-level result)
    set_control_number: str  # AK202: our ST02 ("" for a group-level result)
    status: AckStatus
    code: str  # AK501 (or AK901 for a group-level result)
    set_errors: tuple[str, ...]  # AK502-AK506
    group_code: str  # AK901
    group_errors: tuple[str, ...]  # AK905-AK909
    segment_notes: tuple[AckSegmentNote, ...]
    ack_sender: str  # "ISA05:ISA06" of the acknowledgment's interchange (the partner)
    ack_interchange_control_number: str  # ISA13 of the acknowledgment's interchange
    ack_kind: str = "997"  # 997 | 999
    acknowledged_version: str = ""  # AK103 when sent
    group_sender: str = ""  # GS02 of the acknowledgment's group
    warnings: tuple[str, ...] = ()  # deviations in the acknowledgment that speaks for this result

    @property
    def transaction_set(self) -> str:
        """The transaction set of ours this result speaks for (from AK201, else from AK101)."""
        return self.transaction_set_id or TRANSACTION_SET_OF_GROUP.get(self.functional_id, "")


@dataclass(frozen=True)
class RefusedAck:
    """An acknowledgment that cannot be attributed to one of our groups and is therefore never applied."""

    ack_kind: str
    functional_id: str  # AK101 as sent
    group_control_number: str  # AK102
    transaction_set_id: str  # AK201 ("" when none)
    set_control_number: str  # AK202
    ack_interchange_control_number: str
    reason: str


@dataclass(frozen=True)
class Ta1Result:
    """One TA1: the partner's verdict on an interchange of ours (TA101 = our ISA13)."""

    interchange_control_number: str  # TA101
    date: str  # TA102
    time: str  # TA103
    code: str  # TA104: A accepted, E accepted with errors, R rejected
    note_code: str  # TA105
    ack_sender: str
    ack_interchange_control_number: str


@dataclass
class AckReading:
    """Every acknowledgment in a file: results to apply, TA1s, what was refused, and the deviations noticed."""

    results: list[AckResult] = field(default_factory=list)
    ta1s: list[Ta1Result] = field(default_factory=list)
    refused: list[RefusedAck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.results or self.ta1s or self.refused)


def read_acknowledgments(read: ReadFile) -> AckReading:
    """Every 997, 999 and TA1 in a file read by ``read_x12``; other groups and sets are left to their readers."""
    out = AckReading()
    for interchange in read.interchanges:
        sender = f"{interchange.sender_qualifier}:{interchange.sender}"
        for ta1 in interchange.ta1s:
            out.ta1s.append(Ta1Result(element(ta1, 1), element(ta1, 2), element(ta1, 3), element(ta1, 4),
                                      element(ta1, 5), sender, interchange.control))
        for group in interchange.groups:
            for st in group.sets:
                if st.set_id not in ACK_SETS:
                    continue
                where = f"ISA13 {interchange.control} GS06 {group.control} ST02 {st.control}"
                inherited = [f"{where}: {w}" for w in (*group.warnings, *st.warnings)]
                if group.functional_id != "FA":
                    inherited.append(f"{where}: {st.set_id} in a group with GS01 {group.functional_id!r}; "
                                     "expected FA")
                _read_ack_set(st, interchange, group.sender, inherited, out)
    return out


@dataclass
class _Pending:
    set_id: str
    control: str
    code: str = ""
    errors: tuple[str, ...] = ()
    notes: tuple[AckSegmentNote, ...] = ()


def _read_ack_set(st: ReadSet, interchange: ReadInterchange, group_sender: str, inherited: list[str],
                  out: AckReading) -> None:
    kind = st.set_id
    ak3, ak4, ak5 = ("IK3", "IK4", "IK5") if kind == "999" else ("AK3", "AK4", "AK5")
    sender = f"{interchange.sender_qualifier}:{interchange.sender}"
    isa13 = interchange.control
    where = f"{kind} ISA13 {isa13} ST02 {st.control}"
    warnings = list(inherited)
    functional_id = group_number = version = ""
    pending: list[_Pending] = []
    current: _Pending | None = None
    notes: list[AckSegmentNote] = []
    results: list[AckResult] = []
    for segment in st.body:
        tag = segment.tag.upper()
        if tag == "AK1":
            functional_id, group_number, version = element(segment, 1), element(segment, 2), element(segment, 3)
            if version and kind == "997" and not version.startswith("005"):
                warnings.append(f"{where}: AK103 {version!r} sent in a {version[:6]} 997 (AK103 exists from 005010)")
        elif tag == "AK2":
            if current is not None:
                warnings.append(f"{where}: AK2 {current.set_id} {current.control} has no {ak5}; no result for it")
            current = _Pending(element(segment, 1), element(segment, 2))
            notes = []
        elif tag == ak3 and current is not None:
            notes.append(AckSegmentNote(element(segment, 1), _int(element(segment, 2)), element(segment, 3),
                                        element(segment, 4), ()))
        elif tag == ak4 and notes:
            notes[-1] = _with_element(notes[-1], segment, interchange.delimiters.component)
        elif tag == "CTX" and notes:
            last = notes[-1]
            notes[-1] = AckSegmentNote(last.segment_id, last.position, last.loop_id, last.code, last.elements,
                                       (*last.context, "*".join(segment.elements)))
        elif tag == ak5 and current is not None:
            current.code = element(segment, 1)
            current.errors = tuple(e.strip() for e in segment.elements[1:6] if e.strip())
            current.notes = tuple(notes)
            pending.append(current)
            current = None
        elif tag == "AK9":
            if current is not None:
                warnings.append(f"{where}: AK2 {current.set_id} {current.control} has no {ak5}; no result for it")
                current = None
            group_code = element(segment, 1)
            group_errors = tuple(e.strip() for e in segment.elements[4:9] if e.strip())
            accepted = sum(1 for item in pending if item.code in _ACCEPTING)
            declared = element(segment, 4)
            if pending and declared != str(accepted):
                warnings.append(f"{where}: AK904 says {declared!r} sets accepted; its {ak5}s accept {accepted} "
                                f"(the per-set results are applied)")
            for item in pending:
                results.append(AckResult(
                    functional_id, group_number, item.set_id, item.control,
                    _STATUS.get(item.code, AckStatus.NEEDS_REVIEW), item.code, item.errors,
                    group_code, group_errors, item.notes, sender, isa13, kind, version, group_sender,
                ))
            if not pending:
                status = AckStatus.NEEDS_REVIEW if group_code == "P" else _STATUS.get(group_code,
                                                                                       AckStatus.NEEDS_REVIEW)
                results.append(AckResult(functional_id, group_number, "", "", status, group_code, (), group_code,
                                         group_errors, (), sender, isa13, kind, version, group_sender))
            pending = []
    if not functional_id:
        warnings.append(f"{where}: no AK1 naming the acknowledged group; nothing in it can be applied")
    elif pending or current is not None:
        warnings.append(f"{where}: no AK9 after the AK2 loops; they are read without the group's code")
        for item in pending:
            results.append(AckResult(functional_id, group_number, item.set_id, item.control,
                                     _STATUS.get(item.code, AckStatus.NEEDS_REVIEW), item.code, item.errors, "",
                                     (), item.notes, sender, isa13, kind, version, group_sender))
    out.warnings += warnings
    for result in results:
        reason = _attribution_problem(result)
        if reason:
            out.refused.append(RefusedAck(kind, result.functional_id, result.group_control_number,
                                          result.transaction_set_id, result.set_control_number, isa13, reason))
            out.warnings.append(f"{where}: {reason}; not applied")
        elif not result.group_control_number.isdigit():
            reason = f"AK102 {result.group_control_number!r} is not a group control number"
            out.refused.append(RefusedAck(kind, result.functional_id, result.group_control_number,
                                          result.transaction_set_id, result.set_control_number, isa13, reason))
            out.warnings.append(f"{where}: {reason}; not applied")
        else:
            out.results.append(_with_warnings(result, tuple(warnings)))


def _attribution_problem(result: AckResult) -> str:
    """Why a result cannot speak for one of our sets: AK101 must be the GS01 of the set it names."""
    expected_set = TRANSACTION_SET_OF_GROUP.get(result.functional_id)
    if expected_set is None:
        return (f"AK101 {result.functional_id!r} is not the functional id of a group we send "
                f"(expected one of {sorted(TRANSACTION_SET_OF_GROUP)})")
    if result.transaction_set_id and result.transaction_set_id != expected_set:
        return (f"AK101 {result.functional_id!r} does not fit AK201 {result.transaction_set_id!r} "
                f"(expected {FUNCTIONAL_ID_OF_SET.get(result.transaction_set_id, '?')!r})")
    return ""


def _with_warnings(result: AckResult, warnings: tuple[str, ...]) -> AckResult:
    return dataclasses.replace(result, warnings=warnings) if warnings else result


def _with_element(note: AckSegmentNote, segment: RawSegment, component: str) -> AckSegmentNote:
    composite = element(segment, 1)
    separator = component if component in composite else _separator(composite)
    position, _, rest = composite.partition(separator)
    component_position = rest.partition(separator)[0]
    item = AckElementNote(_int(position), _int(component_position), element(segment, 2), element(segment, 3),
                          element(segment, 4))
    return AckSegmentNote(note.segment_id, note.position, note.loop_id, note.code, (*note.elements, item),
                          note.context)


def _separator(text: str) -> str:
    """AK401 is a composite; when the ISA16 does not split it, whatever non-digit follows the position does."""
    for ch in text:
        if not ch.isdigit():
            return ch
    return "\0"


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


# ---- the strict and the inbound forms ----

def _finding_we_read_anyway(error: X12Error) -> bool:
    """The validator has no spec for the 999; it reports it unsupported, and this module reads it."""
    return error.check == Check.UNSUPPORTED and error.bad_value == "999"


def read_997(text: str | bytes, *, strict: bool = True) -> list[AckResult]:
    """Every attributable acknowledgment result (997 and 999 sets) in an interchange, in order.

    ``strict`` (the default) first runs our validator and raises ``X12ValidationError`` on any finding, so a
    malformed 997 is never half-read; pass ``strict=False`` to read what the reader can attribute anyway.
    Groups that are not acknowledgments are ignored. Raises ``X12ParseError`` when no interchange can be read.
    """
    form = reading_form(text if isinstance(text, str) else inbound_text(text).text)
    read = read_x12(form)
    if strict:
        findings = [e for e in validate_interchange(form) if not _finding_we_read_anyway(e)]
        if findings:
            raise X12ValidationError(findings, "inbound 997")
    acks = read_acknowledgments(read)
    if strict and not acks.results and acks.warnings:
        raise X12ParseError("acknowledgment", acks.warnings[0], "an AK1 naming the acknowledged group")
    return acks.results


def ack_findings(form: str, read: ReadFile) -> list[str]:
    """What our validator finds in a file that holds only acknowledgments, as warnings: they describe how the
    partner's translator writes (a Latin-1 name, ISA11 = 0xFF, AK103 in 4010), not which set an
    acknowledgment speaks for, so they are kept for a person and never stop the reading. Files holding other
    sets are left to their own readers."""
    if not read.set_ids or any(kind not in (*ACK_SETS, "TA1") for kind in read.set_ids):
        return []
    return [str(e) for e in validate_interchange(form) if not _finding_we_read_anyway(e)]


def read_inbound_997(text: str) -> tuple[list[AckResult], list[str]]:
    """(results, warnings) of a partner's acknowledgment file, read tolerantly (see the module docstring)."""
    form = reading_form(text)
    read = read_x12(form)
    acks = read_acknowledgments(read)
    return acks.results, [*read.all_warnings(), *acks.warnings, *ack_findings(form, read)]
