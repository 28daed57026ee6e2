"""Building a 997 that answers an inbound interchange: what a receiving partner's translator would send.

Owns the translation of validator findings into 997 content (reference §8): one 997 transaction set per
inbound functional group, AK1 (GS01, GS06), one AK2 per transaction set with AK3 per faulty segment (AK304)
and AK4 per faulty element (AK401 position, AK402 data element, AK403 code, AK404 copy of the bad data made
safe), AK5 (A accepted, E accepted with errors, R rejected, with AK502-AK506 codes), and AK9 (A, E, P, R with
counts and AK905-AK909 codes). The 997's envelope mirrors the inbound one: sender and receiver swapped.
Used by the Cleo emulator to play the partner. Interchange-level problems (bad ISA, IEA mismatch) belong in
a TA1, which we do not build: here they reject every group.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from freshcleo_pipeline.x12 import writer
from freshcleo_pipeline.x12.envelope import EnvelopeParams, format_st02
from freshcleo_pipeline.x12.errors import X12Error, X12ParseError
from freshcleo_pipeline.x12.hygiene import Charset, allowed_characters, clean_text
from freshcleo_pipeline.x12.segments import Delimiters, Segment, seg
from freshcleo_pipeline.x12.tokens import RawSegment, tokenize
from freshcleo_pipeline.x12.validator import validate_interchange

MAX_AK4_PER_AK3 = 99
MAX_CODES = 5  # AK502-AK506, AK905-AK909


@dataclass
class _Set:
    set_id: str
    control: str
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
            open_set = _Set(_el(raw, 1), _el(raw, 2), raw.position, raw.position)
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


def _set_segments(errors: Sequence[X12Error], delimiters: Delimiters) -> list[Segment]:
    """AK3/AK4 for the segment- and element-level findings of one transaction set."""
    by_segment: dict[tuple[int, str], list[X12Error]] = {}
    for error in errors:
        if error.level in ("segment", "element") and error.segment_position is not None:
            by_segment.setdefault((error.segment_position, error.segment_id), []).append(error)
    out: list[Segment] = []
    for (position, tag), found in sorted(by_segment.items()):
        segment_level = [e for e in found if e.level == "segment" and e.code]
        code = segment_level[0].code if segment_level else "8"
        out.append(seg("AK3", tag, str(position), "", code))
        element_level = [e for e in found if e.level == "element" and e.code and e.element_position]
        for error in element_level[:MAX_AK4_PER_AK3]:
            assert error.element_position is not None
            where: str | tuple[str, ...] = (str(error.element_position),
                                            str(error.component_position)) if error.component_position else str(
                error.element_position)
            de = error.data_element if error.data_element.isdigit() else ""
            out.append(seg("AK4", where, de, error.code, _bad_data(error.bad_value, delimiters)))
    return out


def _codes(values: Sequence[str]) -> list[str]:
    unique: list[str] = []
    for value in values:
        if value and value not in unique:
            unique.append(value)
    return unique[:MAX_CODES]


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
) -> str:
    """A complete 997 interchange acknowledging every functional group of ``inbound``.

    ``inbound`` is validated with ``validate_interchange`` (``charset`` = the agreed character set). A set
    with findings is rejected (AK5 ``R``) unless ``accept_with_errors`` is set and all its findings are
    segment/element level, in which case it is accepted with errors (``E``). ``force`` maps
    (inbound GS06, ST02) to an AK501 code (``A``/``E``/``R``) to play a partner that answers otherwise (fault
    injection). The 997 is written with ``delimiters`` (default: the inbound ones), ISA13 =
    ``interchange_control_number``, GS06 = ``group_control_number`` and ST02 = 0001, 0002, … one per inbound
    group. Raises ``X12ParseError`` when the inbound text has no readable ISA or no functional group (a TA1,
    not a 997, is the answer to that).
    """
    tokens = tokenize(inbound)
    errors = validate_interchange(inbound, charset=charset)
    groups = _outline(tokens.segments)
    if not groups:
        raise X12ParseError("functional groups", 0, "at least one GS…GE group to acknowledge")
    isa = tokens.segments[0]
    first_gs = groups[0].gs
    read = tokens.delimiters
    if delimiters is None:
        repetition = read.repetition or next(c for c in "^|!`" if c not in (read.element, read.component,
                                                                             read.segment))
        delimiters = Delimiters(read.element, read.component, repetition, read.segment)
    version = _el(first_gs, 8)
    # answer in the acknowledged group's version (common practice, reference §8); 4010 when unsupported
    version = version[:6] if version[:6] in ("004010", "005010") else "004010"
    envelope = EnvelopeParams(
        sender_qualifier=_el(isa, 7), sender_id=_el(isa, 8).strip(),
        receiver_qualifier=_el(isa, 5), receiver_id=_el(isa, 6).strip(),
        sender_group_id=_el(first_gs, 3), receiver_group_id=_el(first_gs, 2),
        version=version, usage=_el(isa, 15) if _el(isa, 15) in ("T", "P", "I") else "T",
        delimiters=delimiters,
    )
    interchange_rejected = any(e.level == "interchange" for e in errors)
    bodies: list[writer.SetBody] = []
    for number, group in enumerate(groups, start=1):
        bodies.append(writer.SetBody("997", format_st02(number),
                                     _group_body(group, errors, interchange_rejected, delimiters,
                                                 accept_with_errors, force or {})))
    text, _ = writer.render_interchange(envelope, "FA", bodies, interchange_control_number=interchange_control_number,
                                        group_control_number=group_control_number, date=date, time=time)
    return text


def _group_body(group: _Group, errors: Sequence[X12Error], interchange_rejected: bool, delimiters: Delimiters,
                accept_with_errors: bool, force: Mapping[tuple[str, str], str]) -> list[Segment]:
    gs06 = _el(group.gs, 6)
    body: list[Segment] = [seg("AK1", _el(group.gs, 1), gs06)]
    in_group = [e for e in errors if e.interchange_position is not None
                and group.first <= e.interchange_position <= group.last]
    group_codes = _codes([e.code for e in in_group if e.level == "group"])
    group_rejected = interchange_rejected or any(e.level == "group" for e in in_group)
    accepted = 0
    statuses: list[str] = []
    for item in group.sets:
        found = [e for e in in_group if e.interchange_position is not None
                 and item.first <= e.interchange_position <= item.last and e.level != "group"]
        set_level = [e for e in found if e.level == "transaction_set"]
        segment_notes = _set_segments(found, delimiters)
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
        body.append(seg("AK2", item.set_id, item.control))
        body.extend(segment_notes)
        body.append(seg("AK5", status, *(codes if status != "A" else [])))
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
    return body
