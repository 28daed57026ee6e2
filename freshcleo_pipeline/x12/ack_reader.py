"""Reading 997 functional acknowledgments into one result per acknowledged transaction set.

Owns the interpretation of AK1/AK2/AK3/AK4/AK5/AK9 (reference §8): the link to our GS06 (AK102) and ST02
(AK202), the status (AK501 A → accepted, E → accepted with errors, M/R/W/X → rejected) with the AK3/AK4
detail, and — when a group is acknowledged without AK2 loops — one group-level result carrying AK901 (P there
is ambiguous and comes back as ``needs_review``). Envelope parsing goes through ``badx12_adapter``. Must not
look up or update documents: matching results to the ledger is the pipeline's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from freshcleo_pipeline.x12.badx12_adapter import EnvelopeSegment, parse
from freshcleo_pipeline.x12.errors import X12ParseError, X12ValidationError
from freshcleo_pipeline.x12.validator import validate_interchange


class AckStatus(StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_WITH_ERRORS = "accepted_with_errors"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"


_STATUS = {"A": AckStatus.ACCEPTED, "E": AckStatus.ACCEPTED_WITH_ERRORS, "M": AckStatus.REJECTED,
           "R": AckStatus.REJECTED, "W": AckStatus.REJECTED, "X": AckStatus.REJECTED}


@dataclass(frozen=True)
class AckElementNote:
    """One AK4: which element of the segment was wrong, and how."""

    position: int | None  # AK401-1
    component: int | None  # AK401-2
    data_element: str  # AK402
    code: str  # AK403
    bad_data: str  # AK404


@dataclass(frozen=True)
class AckSegmentNote:
    """One AK3 with its AK4s."""

    segment_id: str  # AK301
    position: int | None  # AK302, ST = 1
    loop_id: str  # AK303
    code: str  # AK304
    elements: tuple[AckElementNote, ...]


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
    ack_sender: str  # "ISA05:ISA06" of the 997's interchange (the partner)
    ack_interchange_control_number: str  # ISA13 of the 997's interchange


def _el(segment: EnvelopeSegment, position: int) -> str:
    return segment.elements[position - 1] if position <= len(segment.elements) else ""


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def read_997(text: str | bytes, *, strict: bool = True) -> list[AckResult]:
    """Every acknowledgment in an inbound interchange, in order.

    ``strict`` (the default) first runs our validator and raises ``X12ValidationError`` on any finding, so a
    malformed 997 is never half-read; pass ``strict=False`` to read what badx12 can parse anyway. Groups that
    are not 997s (GS01 other than FA) are ignored. Raises ``X12ParseError`` when the envelope cannot be read.
    """
    parsed = parse(text)
    if strict:
        findings = validate_interchange(text if isinstance(text, str) else text.decode("utf-8", "replace"))
        if findings:
            raise X12ValidationError(findings, "inbound 997")
    isa = parsed.header
    sender = f"{_el(isa, 5)}:{_el(isa, 6).strip()}"
    isa13 = _el(isa, 13)
    results: list[AckResult] = []
    for group in parsed.groups:
        if _el(group.header, 1) != "FA":
            continue
        for ts in group.sets:
            if _el(ts.header, 1) != "997":
                continue
            results.extend(_read_set(ts.body, sender, isa13))
    return results


@dataclass
class _Pending:
    set_id: str
    control: str
    code: str = ""
    errors: tuple[str, ...] = ()
    notes: tuple[AckSegmentNote, ...] = ()


def _read_set(body: tuple[EnvelopeSegment, ...], sender: str, isa13: str) -> list[AckResult]:
    functional_id = group_number = ""
    pending: list[_Pending] = []
    current: _Pending | None = None
    notes: list[AckSegmentNote] = []
    out: list[AckResult] = []
    for segment in body:
        tag = segment.tag
        if tag == "AK1":
            functional_id, group_number = _el(segment, 1), _el(segment, 2)
        elif tag == "AK2":
            current = _Pending(_el(segment, 1), _el(segment, 2))
            notes = []
        elif tag == "AK3" and current is not None:
            notes.append(AckSegmentNote(_el(segment, 1), _int(_el(segment, 2)), _el(segment, 3),
                                        _el(segment, 4), ()))
        elif tag == "AK4" and notes:
            position, _, component = _el(segment, 1).partition(_component_separator(_el(segment, 1)))
            note = AckElementNote(_int(position), _int(component), _el(segment, 2), _el(segment, 3),
                                  _el(segment, 4))
            last = notes[-1]
            notes[-1] = AckSegmentNote(last.segment_id, last.position, last.loop_id, last.code,
                                       (*last.elements, note))
        elif tag == "AK5" and current is not None:
            current.code = _el(segment, 1)
            current.errors = tuple(e for e in segment.elements[1:6] if e)
            current.notes = tuple(notes)
            pending.append(current)
            current = None
        elif tag == "AK9":
            group_code = _el(segment, 1)
            group_errors = tuple(e for e in segment.elements[4:9] if e)
            for item in pending:
                out.append(AckResult(
                    functional_id, group_number, item.set_id, item.control,
                    _STATUS.get(item.code, AckStatus.NEEDS_REVIEW), item.code, item.errors,
                    group_code, group_errors, item.notes, sender, isa13,
                ))
            if not pending:
                status = AckStatus.NEEDS_REVIEW if group_code == "P" else _STATUS.get(group_code,
                                                                                       AckStatus.NEEDS_REVIEW)
                out.append(AckResult(functional_id, group_number, "", "", status, group_code, (), group_code,
                                     group_errors, (), sender, isa13))
            pending = []
    if not functional_id:
        raise X12ParseError("997", "no AK1", "an AK1 segment naming the acknowledged group")
    return out


def _component_separator(text: str) -> str:
    """AK401 is a composite; its separator is whatever non-digit follows the element position."""
    for ch in text:
        if not ch.isdigit():
            return ch
    return "\0"
