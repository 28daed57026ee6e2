"""Building the acknowledgments a receiver sends: 997 and 999 for functional groups, TA1 for an interchange.

Owns the translation of validator findings into acknowledgment content (reference §8): one 997 (or 999)
transaction set per inbound functional group, AK1 (GS01, GS06; the 999 adds GS08), one AK2 per transaction set
with AK3 per faulty segment (AK304) and AK4 per faulty element (AK401 position, AK402 data element, AK403 code,
AK404 copy of the bad data made safe), AK5 (A accepted, E accepted with errors, R rejected, with AK502-AK506
codes), and AK9 (A, E, P, R with counts and AK905-AK909 codes). The 999 (005010X231A1) carries the same
findings as IK3/IK4/IK5. Interchange-level problems (bad ISA, IEA mismatch) reject every group, and are what a
TA1 reports (``build_ta1``).

Without an envelope the acknowledgment mirrors the inbound one (sender and receiver swapped): the Cleo
emulator plays a partner that way. The pipeline passes its own envelope for the partner. Pure: control
numbers, date and time come in as arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from freshcleo_pipeline.x12 import envelope as envelope_segments
from freshcleo_pipeline.x12 import writer
from freshcleo_pipeline.x12.envelope import EnvelopeParams, format_st02
from freshcleo_pipeline.x12.errors import Check, X12Error, X12ParseError
from freshcleo_pipeline.x12.hygiene import Charset, allowed_characters, clean_text
from freshcleo_pipeline.x12.segments import Delimiters, Segment, seg
from freshcleo_pipeline.x12.tokens import RawSegment, tokenize
from freshcleo_pipeline.x12.validator import validate_interchange

MAX_AK4_PER_AK3 = 99
MAX_CODES = 5  # AK502-AK506, AK905-AK909
#: GS08 of a 999: the implementation guide it follows.
IMPLEMENTATION_999 = "005010X231A1"

AckKind = Literal["997", "999"]
#: Segment tags of each acknowledgment: (segment note, element note, set trailer).
_TAGS: dict[str, tuple[str, str, str]] = {"997": ("AK3", "AK4", "AK5"), "999": ("IK3", "IK4", "IK5")}


@dataclass
class _Set:
    set_id: str
    control: str
    convention: str  # ST03, the implementation convention reference (5010), echoed in a 999's AK203
    first: int  # interchange positions of ST and SE (or the last segment of an unclosed set)
    last: int


@dataclass
class _Group:
    gs: RawSegment
    stated_sets: str = ""
    first: int = 0
    last: int = 0
    sets: list[_Set] = field(default_factory=list)


def _el(raw: RawSegment, position: int) -> str:
    return raw.elements[position - 1] if position <= len(raw.elements) else ""


def _outline(segments: Sequence[RawSegment]) -> list[_Group]:
    """The groups and sets of an interchange, by position, tolerating missing trailers."""
    groups: list[_Group] = []
    current: _Group | None = None
    open_set: _Set | None = None
    for raw in segments:
        if raw.tag == "GS":
            current = _Group(raw, first=raw.position, last=raw.position)
            groups.append(current)
            open_set = None
        elif current is None:
            continue
        elif raw.tag == "ST":
            open_set = _Set(_el(raw, 1), _el(raw, 2), _el(raw, 3), raw.position, raw.position)
            current.sets.append(open_set)
        elif raw.tag == "GE":
            current.stated_sets = _el(raw, 1)
            current.last = raw.position
            current, open_set = None, None
            continue
        if current is not None:
            current.last = raw.position
            if open_set is not None:
                open_set.last = raw.position
                if raw.tag == "SE":
                    open_set = None
    return groups


def _bad_data(value: str, delimiters: Delimiters) -> str:
    """AK404 must itself be valid data: no delimiters, in the extended set, at most 99 characters."""
    allowed = allowed_characters(Charset.EXTENDED, "004010", delimiters.as_tuple())
    text, _ = clean_text(value, max_length=99, allowed=allowed, delimiters=delimiters.as_tuple(),
                         uppercase=False)
    return text


def _set_segments(errors: Sequence[X12Error], delimiters: Delimiters, kind: str = "997") -> list[Segment]:
    """AK3/AK4 (IK3/IK4 in a 999) for the segment- and element-level findings of one transaction set."""
    segment_tag, element_tag, _ = _TAGS[kind]
    by_segment: dict[tuple[int, str], list[X12Error]] = {}
    for error in errors:
        if error.level in ("segment", "element") and error.segment_position is not None:
            by_segment.setdefault((error.segment_position, error.segment_id), []).append(error)
    out: list[Segment] = []
    for (position, tag), found in sorted(by_segment.items()):
        segment_level = [e for e in found if e.level == "segment" and e.code]
        code = segment_level[0].code if segment_level else "8"
        out.append(seg(segment_tag, tag, str(position), "", code))
        element_level = [e for e in found if e.level == "element" and e.code and e.element_position]
        for error in element_level[:MAX_AK4_PER_AK3]:
            assert error.element_position is not None
            where: str | tuple[str, ...] = (str(error.element_position),
                                            str(error.component_position)) if error.component_position else str(
                error.element_position)
            de = error.data_element if error.data_element.isdigit() else ""
            out.append(seg(element_tag, where, de, error.code, _bad_data(error.bad_value, delimiters)))
    return out


def _codes(values: Sequence[str]) -> list[str]:
    unique: list[str] = []
    for value in values:
        if value and value not in unique:
            unique.append(value)
    return unique[:MAX_CODES]


@dataclass(frozen=True)
class AckedSet:
    set_id: str  # AK201
    control: str  # AK202
    status: str  # AK501 / IK501: A, E or R


@dataclass(frozen=True)
class AckedGroup:
    functional_id: str  # AK101
    control: str  # AK102, the acknowledged GS06
    status: str  # AK901: A, E, P or R
    sets: tuple[AckedSet, ...]


@dataclass(frozen=True)
class Acknowledgment:
    """A built 997 or 999 interchange and what it says about each acknowledged group."""

    kind: str  # 997 | 999
    text: str
    groups: tuple[AckedGroup, ...]


def acknowledge(
    inbound: str,
    *,
    kind: AckKind = "997",
    interchange_control_number: int,
    group_control_number: int,
    date: dt.date,
    time: dt.time,
    envelope: EnvelopeParams | None = None,
    groups: Collection[str] | None = None,
    delimiters: Delimiters | None = None,
    charset: Charset | str = Charset.EXTENDED,
    accept_with_errors: bool = False,
    force: Mapping[tuple[str, str], str] | None = None,
) -> Acknowledgment:
    """A complete 997 or 999 interchange acknowledging the functional groups of ``inbound`` (one interchange).

    ``inbound`` is validated with ``validate_interchange`` (``charset`` = the agreed character set). A set
    with findings is rejected (AK5 ``R``) unless ``accept_with_errors`` is set and all its findings are
    segment/element level, in which case it is accepted with errors (``E``). ``force`` maps
    (inbound GS06, ST02) to an AK501 code (``A``/``E``/``R``) to play a partner that answers otherwise (fault
    injection). ``groups`` limits the answer to the groups with these GS06 (default: all), one 997/999 set per
    group, ST02 = 0001, 0002, …. ``envelope`` is who writes to whom (default: the inbound envelope reversed,
    written with ``delimiters`` or the inbound ones); its version is replaced by the acknowledged group's for a
    997 and by 005010X231A1 for a 999. Raises ``X12ParseError`` when the inbound text has no readable ISA or no
    functional group to acknowledge (a TA1, not a 997, is the answer to that).
    """
    tokens = tokenize(inbound)
    errors = validate_interchange(inbound, charset=charset)
    outline = _outline(tokens.segments)
    chosen = [g for g in outline if groups is None or _el(g.gs, 6) in groups]
    if not chosen:
        raise X12ParseError("functional groups", sorted(groups) if groups is not None else 0,
                            "at least one GS…GE group to acknowledge")
    isa = tokens.segments[0]
    first_gs = chosen[0].gs
    version = _el(first_gs, 8)
    # answer in the acknowledged group's version (common practice, reference §8); 4010 when unsupported
    version = version[:6] if version[:6] in ("004010", "005010") else "004010"
    if kind == "999":
        version = IMPLEMENTATION_999
    if envelope is None:
        read = tokens.delimiters
        if delimiters is None:
            repetition = read.repetition or next(c for c in "^|!`" if c not in (read.element, read.component,
                                                                                 read.segment))
            delimiters = Delimiters(read.element, read.component, repetition, read.segment)
        envelope = EnvelopeParams(
            sender_qualifier=_el(isa, 7), sender_id=_el(isa, 8).strip(),
            receiver_qualifier=_el(isa, 5), receiver_id=_el(isa, 6).strip(),
            sender_group_id=_el(first_gs, 3), receiver_group_id=_el(first_gs, 2),
            version=version, usage=_el(isa, 15) if _el(isa, 15) in ("T", "P", "I") else "T",
            delimiters=delimiters,
        )
    else:
        envelope = replace(envelope, version=version, acknowledgment_requested=False)
    interchange_rejected = any(e.level == "interchange" for e in errors)
    bodies: list[writer.SetBody] = []
    results: list[AckedGroup] = []
    for number, group in enumerate(chosen, start=1):
        body, result = _group_body(group, errors, interchange_rejected, envelope.delimiters, accept_with_errors,
                                   force or {}, kind)
        bodies.append(writer.SetBody(kind, format_st02(number), body))
        results.append(result)
    text, _ = writer.render_interchange(envelope, "FA", bodies, interchange_control_number=interchange_control_number,
                                        group_control_number=group_control_number, date=date, time=time)
    return Acknowledgment(kind, text, tuple(results))


def build_997(
    inbound: str,
    *,
    interchange_control_number: int,
    group_control_number: int,
    date: dt.date,
    time: dt.time,
    delimiters: Delimiters | None = None,
    charset: Charset | str = Charset.EXTENDED,
    accept_with_errors: bool = False,
    force: Mapping[tuple[str, str], str] | None = None,
    envelope: EnvelopeParams | None = None,
    groups: Collection[str] | None = None,
) -> str:
    """The text of a 997 acknowledging ``inbound`` (see ``acknowledge``)."""
    return acknowledge(inbound, kind="997", interchange_control_number=interchange_control_number,
                       group_control_number=group_control_number, date=date, time=time, envelope=envelope,
                       groups=groups, delimiters=delimiters, charset=charset, accept_with_errors=accept_with_errors,
                       force=force).text


def build_999(
    inbound: str,
    *,
    interchange_control_number: int,
    group_control_number: int,
    date: dt.date,
    time: dt.time,
    delimiters: Delimiters | None = None,
    charset: Charset | str = Charset.EXTENDED,
    envelope: EnvelopeParams | None = None,
    groups: Collection[str] | None = None,
) -> str:
    """The text of a 999 (005010X231A1) acknowledging ``inbound`` (see ``acknowledge``)."""
    return acknowledge(inbound, kind="999", interchange_control_number=interchange_control_number,
                       group_control_number=group_control_number, date=date, time=time, envelope=envelope,
                       groups=groups, delimiters=delimiters, charset=charset).text


def _group_body(group: _Group, errors: Sequence[X12Error], interchange_rejected: bool, delimiters: Delimiters,
                accept_with_errors: bool, force: Mapping[tuple[str, str], str],
                kind: str = "997") -> tuple[list[Segment], AckedGroup]:
    gs06 = _el(group.gs, 6)
    _, _, trailer_tag = _TAGS[kind]
    # The 999's AK1 names the acknowledged group's version, its AK2 the set's implementation convention.
    body: list[Segment] = [seg("AK1", _el(group.gs, 1), gs06, *([_el(group.gs, 8)] if kind == "999" else []))]
    in_group = [e for e in errors if e.interchange_position is not None
                and group.first <= e.interchange_position <= group.last]
    group_codes = _codes([e.code for e in in_group if e.level == "group"])
    group_rejected = interchange_rejected or any(e.level == "group" for e in in_group)
    accepted = 0
    statuses: list[str] = []
    sets: list[AckedSet] = []
    for item in group.sets:
        found = [e for e in in_group if e.interchange_position is not None
                 and item.first <= e.interchange_position <= item.last and e.level != "group"]
        set_level = [e for e in found if e.level == "transaction_set"]
        segment_notes = _set_segments(found, delimiters, kind)
        codes = _codes([e.code for e in set_level] + (["5"] if segment_notes else []))
        if (gs06, item.control) in force:
            status = force[(gs06, item.control)]
        elif group_rejected or set_level or (found and not accept_with_errors):
            status = "R"
        elif found:
            status = "E"
        else:
            status = "A"
        if status in ("A", "E"):
            accepted += 1
        statuses.append(status)
        sets.append(AckedSet(item.set_id, item.control, status))
        convention = [item.convention] if kind == "999" and item.convention else []
        body.append(seg("AK2", item.set_id, item.control, *convention))
        body.extend(segment_notes)
        body.append(seg(trailer_tag, status, *(codes if status != "A" else [])))
    if group_rejected or (statuses and accepted == 0):
        group_status = "R"
    elif accepted < len(statuses):
        group_status = "P"
    elif "E" in statuses:
        group_status = "E"
    else:
        group_status = "A"
    stated = group.stated_sets if group.stated_sets.isdigit() else str(len(group.sets))
    body.append(seg("AK9", group_status, stated, str(len(group.sets)), str(accepted), *group_codes))
    return body, AckedGroup(_el(group.gs, 1), gs06, group_status, tuple(sets))


#: TA105 (I18) for a bad value in an ISA element, by element position.
_TA1_ISA_ELEMENT = {5: "005", 6: "006", 7: "007", 8: "008", 9: "014", 10: "015", 11: "016", 12: "017", 13: "018",
                    14: "019", 15: "020", 16: "027"}


def ta1_note(errors: Sequence[X12Error]) -> tuple[str, str]:
    """(TA104, TA105) for an interchange's validator findings: ``A``/``000`` without interchange-level ones,
    else ``R`` with the I18 code of the first."""
    first = next((e for e in errors if e.level == "interchange"), None)
    if first is None:
        return "A", "000"
    if first.check is Check.DELIMITERS:
        return "R", "026"
    if first.segment_id == "IEA":
        return "R", "001" if first.check is Check.CONTROL_NUMBER_MISMATCH else "021"
    if first.check is Check.ISA_VALUE and first.element_position in _TA1_ISA_ELEMENT:
        return "R", _TA1_ISA_ELEMENT[first.element_position]
    if first.check is Check.ENVELOPE_STRUCTURE:
        return "R", "022"
    return "R", "024"


def build_ta1(
    inbound: str,
    *,
    envelope: EnvelopeParams,
    interchange_control_number: int,
    date: dt.date,
    time: dt.time,
    charset: Charset | str = Charset.EXTENDED,
) -> tuple[str, str, str]:
    """An interchange holding one TA1 that answers ``inbound``'s envelope; returns (text, TA104, TA105).

    TA101-TA103 repeat the inbound ISA13, ISA09 and ISA10; TA104/TA105 come from ``ta1_note``. The TA1's own
    interchange carries no functional group (IEA01 = 0) and asks for no TA1 in return.
    """
    tokens = tokenize(inbound)
    isa = tokens.segments[0]
    code, note = ta1_note(validate_interchange(inbound, charset=charset))
    env = replace(envelope, acknowledgment_requested=False)
    d = env.delimiters
    text = (envelope_segments.isa(env, interchange_control_number, date, time)
            + seg("TA1", _el(isa, 13).strip(), _el(isa, 9).strip(), _el(isa, 10).strip(), code, note).render(d)
            + envelope_segments.iea(0, interchange_control_number).render(d))
    return text, code, note
