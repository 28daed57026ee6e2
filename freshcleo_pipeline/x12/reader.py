"""The one reader of inbound X12: a partner's file as interchanges, groups and transaction sets.

Owns the structural reading of everything a partner sends (997, 999, TA1, 810, 850, 820, 856, sets we do not
know): any number of interchanges per file, any mix of groups and sets, delimiters from each ISA, line breaks
between segments, a byte-order mark, lower-case segment ids. Deviations from the envelope rules (a missing
trailer, a count or control number that disagrees, a segment outside any set) are reported as warnings on the
part they concern; the reading goes on, so a person sees what the partner sent and why it is odd. Strictness
belongs to the callers, where attribution needs it (which group and set an acknowledgment speaks for).

Inbound files are bytes from a partner's translator, so reading starts with ``inbound_text`` (which bytes
decode to what) and ``reading_form`` (a byte-order mark, leading blank lines and lower-case letters removed, since
the standard's case rules judge codes, not whether a file can be read).

It raises ``X12ParseError`` only when no interchange can be read at all. Must not do I/O, judge business
content, or validate element syntax (``validator.py`` does that for what we send).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from freshcleo_pipeline.x12.errors import X12ParseError
from freshcleo_pipeline.x12.tokens import RawSegment, ReadDelimiters, read_delimiters, tokenize


def element(segment: RawSegment, position: int) -> str:
    """Element ``position`` (1-based, as X12 numbers them) of a segment, "" when absent."""
    return segment.elements[position - 1].strip() if len(segment.elements) >= position else ""


@dataclass(frozen=True)
class ReadSet:
    """One transaction set, ST to SE inclusive."""

    set_id: str  # ST01
    control: str  # ST02
    version: str  # ST03 when present (5010 implementation guides), else the group's GS08
    segments: tuple[RawSegment, ...]
    warnings: tuple[str, ...] = ()

    @property
    def body(self) -> tuple[RawSegment, ...]:
        """The segments between ST and SE."""
        inner = self.segments[1:]
        return inner[:-1] if inner and inner[-1].tag == "SE" else inner


@dataclass(frozen=True)
class ReadGroup:
    """One functional group, GS to GE."""

    functional_id: str  # GS01
    sender: str  # GS02
    receiver: str  # GS03
    date: str  # GS04
    time: str  # GS05
    control: str  # GS06
    version: str  # GS08
    gs: RawSegment
    sets: tuple[ReadSet, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadInterchange:
    """One interchange, ISA to IEA, with TA1 segments that sit directly in it."""

    sender_qualifier: str  # ISA05
    sender: str  # ISA06, padding removed
    receiver_qualifier: str  # ISA07
    receiver: str  # ISA08
    date: str  # ISA09
    time: str  # ISA10
    version: str  # ISA12
    control: str  # ISA13
    ack_requested: bool  # ISA14 = 1: the sender asks for a TA1
    usage: str  # ISA15
    delimiters: ReadDelimiters
    isa: RawSegment
    ta1s: tuple[RawSegment, ...]
    groups: tuple[ReadGroup, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadFile:
    interchanges: tuple[ReadInterchange, ...]
    warnings: tuple[str, ...] = ()

    def all_warnings(self) -> list[str]:
        out = list(self.warnings)
        for interchange in self.interchanges:
            out += [f"ISA13 {interchange.control}: {w}" for w in interchange.warnings]
            for group in interchange.groups:
                out += [f"ISA13 {interchange.control} GS06 {group.control}: {w}" for w in group.warnings]
                for st in group.sets:
                    out += [f"ISA13 {interchange.control} GS06 {group.control} ST02 {st.control}: {w}"
                            for w in st.warnings]
        return out

    @property
    def set_ids(self) -> list[str]:
        """ST01 of every set, and 'TA1' for each TA1, in file order."""
        out: list[str] = []
        for interchange in self.interchanges:
            out += ["TA1"] * len(interchange.ta1s)
            out += [st.set_id for group in interchange.groups for st in group.sets]
        return out


def read_x12(text: str) -> ReadFile:
    """Every interchange of a partner's file (see the module docstring for what is tolerated)."""
    form = reading_form(text)
    if form[:3] != "ISA":
        raise X12ParseError("interchange start", form[:20], "the text to begin with an ISA segment")
    interchanges: list[ReadInterchange] = []
    warnings: list[str] = []
    rest = form
    while rest:
        chunk, rest, note = _next_interchange(rest)
        if note:
            warnings.append(note)
        try:
            interchanges.append(_interchange(chunk))
        except X12ParseError as exc:
            if not interchanges:
                raise
            warnings.append(f"text after interchange {interchanges[-1].control} cannot be read: {exc}")
            break
    return ReadFile(tuple(interchanges), tuple(warnings))


def _next_interchange(text: str) -> tuple[str, str, str]:
    """(this interchange's text, the rest from the next ISA, a warning about text between them)."""
    delimiters, _ = read_delimiters(text)
    end_tag = f"{delimiters.segment}IEA{delimiters.element}"
    at = text.upper().find(end_tag.upper())
    if at < 0:
        return text, "", ""
    close = text.find(delimiters.segment, at + len(end_tag))
    if close < 0:
        return text, "", ""
    chunk, rest = text[:close + 1], text[close + 1:]
    stripped = rest.lstrip(" \r\n\t")
    if not stripped:
        return chunk, "", ""
    start = stripped.upper().find("ISA")
    if start < 0:
        return chunk, "", f"text after the last IEA ignored: {stripped[:40]!r}"
    note = f"text between interchanges ignored: {stripped[:start][:40]!r}" if start else ""
    return chunk, stripped[start:], note


def _interchange(text: str) -> ReadInterchange:
    tokens = tokenize(text)
    segments = list(tokens.segments)
    isa = segments[0]
    warnings: list[str] = []
    if len(isa.elements) < 16:
        raise X12ParseError("ISA", tokens.isa_text[:106], "16 elements")
    ta1s: list[RawSegment] = []
    groups: list[ReadGroup] = []
    iea: RawSegment | None = None
    index = 1
    while index < len(segments):
        segment = segments[index]
        tag = segment.tag.upper()
        if tag == "TA1":
            ta1s.append(segment)
        elif tag == "GS":
            group, index = _group(segments, index)
            groups.append(group)
            continue
        elif tag == "IEA":
            iea = segment
            if index + 1 < len(segments):
                warnings.append(f"{len(segments) - index - 1} segment(s) after IEA ignored")
            break
        else:
            warnings.append(f"segment {segment.tag} at position {segment.position} is outside any group; ignored")
        index += 1
    control = element(isa, 13)
    warnings += _trailer_warnings(iea, "IEA", "ISA13", control, len(groups), "groups; the interchange holds")
    if tokens.trailing:
        warnings.append(f"text after the last segment terminator ignored: {tokens.trailing[:40]!r}")
    return ReadInterchange(
        sender_qualifier=element(isa, 5), sender=element(isa, 6), receiver_qualifier=element(isa, 7),
        receiver=element(isa, 8), date=element(isa, 9), time=element(isa, 10), version=element(isa, 12),
        control=control, ack_requested=element(isa, 14) == "1", usage=element(isa, 15),
        delimiters=tokens.delimiters, isa=isa, ta1s=tuple(ta1s), groups=tuple(groups), warnings=tuple(warnings))


def _trailer_warnings(trailer: RawSegment | None, tag: str, header: str, control: str, count: int,
                      counted: str) -> list[str]:
    """What an IEA or GE trailer gets wrong: missing, another control number, another count."""
    if trailer is None:
        return [f"no {tag} trailer"]
    out: list[str] = []
    if element(trailer, 2) != control:
        out.append(f"{tag}02 {element(trailer, 2)!r} differs from {header} {control!r}")
    if element(trailer, 1) != str(count):
        out.append(f"{tag}01 says {element(trailer, 1)!r} {counted} {count}")
    return out


def _group(segments: list[RawSegment], start: int) -> tuple[ReadGroup, int]:
    """The group opened at ``start``; returns it and the index after its GE (or where it stopped)."""
    gs = segments[start]
    warnings: list[str] = []
    sets: list[ReadSet] = []
    index = start + 1
    ge: RawSegment | None = None
    while index < len(segments):
        segment = segments[index]
        tag = segment.tag.upper()
        if tag == "ST":
            st, index = _set(segments, index, element(gs, 8))
            sets.append(st)
            continue
        if tag == "GE":
            ge = segment
            index += 1
            break
        if tag in ("GS", "IEA"):
            break
        warnings.append(f"segment {segment.tag} at position {segment.position} is outside any set; ignored")
        index += 1
    control = element(gs, 6)
    warnings += _trailer_warnings(ge, "GE", "GS06", control, len(sets), "sets; the group holds")
    return ReadGroup(functional_id=element(gs, 1), sender=element(gs, 2), receiver=element(gs, 3),
                     date=element(gs, 4), time=element(gs, 5), control=control, version=element(gs, 8), gs=gs,
                     sets=tuple(sets), warnings=tuple(warnings)), index


def _set(segments: list[RawSegment], start: int, group_version: str) -> tuple[ReadSet, int]:
    st = segments[start]
    warnings: list[str] = []
    body: list[RawSegment] = [st]
    index = start + 1
    closed = False
    while index < len(segments):
        segment = segments[index]
        tag = segment.tag.upper()
        if tag in ("ST", "GE", "GS", "IEA"):
            break
        body.append(segment)
        index += 1
        if tag == "SE":
            closed = True
            break
    control = element(st, 2)
    if not closed:
        warnings.append("no SE trailer")
    else:
        se = body[-1]
        if element(se, 2) != control:
            warnings.append(f"SE02 {element(se, 2)!r} differs from ST02 {control!r}")
        if element(se, 1) != str(len(body)):
            warnings.append(f"SE01 says {element(se, 1)!r} segments; the set holds {len(body)}")
    return ReadSet(set_id=element(st, 1), control=control, version=element(st, 3) or group_version,
                   segments=tuple(body), warnings=tuple(warnings)), index


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
