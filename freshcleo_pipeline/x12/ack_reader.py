"""Reading 997 functional acknowledgments into one result per acknowledged transaction set.

Owns the interpretation of AK1/AK2/AK3/AK4/AK5/AK9 (reference §8): the link to our GS06 (AK102) and ST02
(AK202), the status (AK501 A → accepted, E → accepted with errors, M/R/W/X → rejected) with the AK3/AK4
detail, and — when a group is acknowledged without AK2 loops — one group-level result carrying AK901 (P there
is ambiguous and comes back as ``needs_review``). Envelope parsing goes through ``badx12_adapter``. Must not
look up or update documents: matching results to the ledger is the pipeline's job.

Inbound files are bytes from a partner's translator, so reading starts with ``inbound_text`` (which bytes
decode to what) and ``reading_form`` (a byte-order mark, leading blank lines and lower-case letters removed, since
the standard's case rules judge codes, not whether a file can be read).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from enum import StrEnum

from freshcleo_pipeline.x12.badx12_adapter import EnvelopeSegment, parse
from freshcleo_pipeline.x12.errors import Check, X12Error, X12ParseError, X12ValidationError
from freshcleo_pipeline.x12.tokens import read_delimiters
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


# ---- inbound bytes ----

#: Control characters that may sit between segments without being data (X12 itself never contains them).
_LINE_BREAKS = "\r\n\t"


@dataclass(frozen=True)
class InboundText:
    """What a partner's file reads as: the text, and the reading that produced it."""

    text: str
    encoding: str  # utf-8 | latin-1 | utf-16


def inbound_text(content: bytes) -> InboundText:
    """The text of an inbound file, never failing on a byte.

    X12's character sets are byte-oriented, so a file that is not UTF-8 (a Latin-1 name, ISA11 = 0xFF) is read
    as Latin-1, which maps every byte to one character and gives the same bytes back when encoded again. Only a
    UTF-16 byte-order mark changes the reading (UTF-16 with an odd length raises ``X12ParseError``).
    """
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return InboundText(content.decode("utf-16"), "utf-16")
        except UnicodeDecodeError as exc:
            raise X12ParseError("encoding", content[:2].hex(), f"UTF-16 text after its byte-order mark ({exc.reason})"
                                ) from None
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8):]
    try:
        return InboundText(content.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        return InboundText(content.decode("latin-1"), "latin-1")


def reading_form(text: str) -> str:
    """The text the readers take: without a byte-order mark or blank lines before the ISA, and upper-cased when
    its segment ids are written in lower case (codes are upper case in the standard; a translator that writes
    them lower-cased still means them)."""
    text = text.lstrip("\ufeff").lstrip(" " + _LINE_BREAKS)
    if text[:3].upper() != "ISA" or len(text) < 4:
        return text
    if text[:3] != "ISA" or _lower_case_tags(text):
        return text.upper()
    return text


def foreign_characters(text: str) -> list[str]:
    """Control characters in an interchange that are neither its delimiters nor line breaks between segments:
    signs of bytes that are not X12 text at all (binary data, a wrong encoding). At most five, for the reason."""
    try:
        delimiters, _ = read_delimiters(text)
    except X12ParseError:
        return []
    allowed = set(_LINE_BREAKS) | {delimiters.element, delimiters.component, delimiters.segment,
                                   delimiters.repetition} - {""}
    found: list[str] = []
    for ch in text:
        if (ch < " " or ch == "\x7f") and ch not in allowed and ch not in found:
            found.append(ch)
            if len(found) == 5:
                break
    return found


def _lower_case_tags(text: str, segments: int = 50) -> bool:
    """Whether the first segments' ids are written in lower case (looking at a bounded head of the text, so
    a large file is not copied to decide)."""
    try:
        delimiters, _ = read_delimiters(text)
    except X12ParseError:
        return False
    start = 0
    for _ in range(segments):
        end = text.find(delimiters.segment, start)
        piece = text[start:end if end >= 0 else start + 200].strip(_LINE_BREAKS)
        tag = piece.split(delimiters.element, 1)[0][:3]
        if tag != tag.upper():
            return True
        if end < 0:
            break
        start = end + 1
    return False


def _character_finding(error: X12Error) -> bool:
    """Findings about characters, not structure: which group and set a 997 speaks for does not depend on them."""
    return error.check == Check.INVALID_CHARACTER or (
        error.check == Check.ISA_VALUE and error.segment_id == "ISA" and error.element_position == 11)


def read_inbound_997(text: str) -> tuple[list[AckResult], list[str]]:
    """(results, warnings) of a partner's 997, read strictly except for its characters.

    A 997 whose only findings are characters outside the character set or an unusual ISA11 (real translators
    send 0xFF there) is read anyway and the findings come back as warnings; any structural finding raises
    ``X12ValidationError`` as ``read_997`` does.
    """
    form = reading_form(text)
    try:
        return read_997(form), []
    except X12ValidationError as exc:
        if not exc.errors or not all(_character_finding(e) for e in exc.errors):
            raise
        return read_997(form, strict=False), [str(e) for e in exc.errors]
