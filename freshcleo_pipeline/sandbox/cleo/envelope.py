"""The partner's own reading of an interchange we send: envelope structure, widths, control numbers, counts.

Owns the checks a receiving translator makes before it acknowledges: the ISA is exactly 106 characters with
fixed-width fields, ISA13 = IEA02, IEA01 = number of groups, GS06 = GE02, GE01 = number of sets, ST01 fits
GS01, ST02 = SE02 and unique in its group, SE01 = segment count. Interchange-level failures are reported as TA1
codes (a 997 cannot be addressed to a broken envelope); group and set failures as 997 AK codes.

Written independently of ``freshcleo_pipeline.x12`` on purpose: that package is the code under test. Does not
check the content of the transaction sets beyond their envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ISA01..ISA15 widths, and the TA105 code for a bad value in each (X12 I18 list).
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1)
_ISA_TA1_CODES = ("010", "011", "012", "013", "005", "006", "007", "008", "014", "015", "016", "017", "018",
                  "019", "020")
ISA_LENGTH = 106
FUNCTIONAL_IDS = {"IN": "810", "PO": "850", "RA": "820", "FA": "997"}


@dataclass
class ElementNote:
    """An AK4: element position, data element reference number, error code (723), copy of the bad data."""

    position: int
    reference: str
    code: str
    bad: str = ""


@dataclass
class SegmentNote:
    """An AK3: segment tag, position in the set (ST = 1), syntax error code (720), element notes."""

    tag: str
    position: int
    code: str
    elements: list[ElementNote] = field(default_factory=list)


@dataclass
class SetResult:
    st01: str
    st02: str
    segments: list[list[str]]
    errors: list[str] = field(default_factory=list)  # AK502..AK506 codes (718)
    notes: list[SegmentNote] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.errors


@dataclass
class GroupResult:
    gs01: str
    gs06: str
    version: str
    declared_sets: str  # GE01 as received (AK902)
    sets: list[SetResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # AK905..AK909 codes (716)


@dataclass
class Checked:
    """The outcome for one file: unreadable, rejected at interchange level (TA1), or per-group results."""

    readable: bool
    reason: str = ""
    ta1_code: str = ""  # set when the interchange as a whole is rejected
    isa: list[str] = field(default_factory=list)  # ISA01..ISA16
    element: str = "*"
    segment: str = "~"
    groups: list[GroupResult] = field(default_factory=list)

    @property
    def component(self) -> str:
        return self.isa[15] if len(self.isa) == 16 else ">"


def check_interchange(content: bytes) -> Checked:
    text = content.decode("latin-1").lstrip("\ufeff\r\n\t ")
    if len(text) < ISA_LENGTH or not text.startswith("ISA"):
        return Checked(False, f"not an interchange: starts with {text[:3]!r}, {len(text)} characters")
    element = text[3]
    parts = text.split(element, 16)
    if len(parts) < 17 or len(parts[16]) < 2:
        return Checked(False, "ISA has fewer than 16 elements")
    isa = [*parts[1:16], parts[16][0]]
    segment = parts[16][1]
    checked = Checked(True, isa=isa, element=element, segment=segment)
    for index, width in enumerate(_ISA_WIDTHS):
        if len(isa[index]) != width:
            return _ta1(checked, _ISA_TA1_CODES[index],
                        f"ISA{index + 1:02d} is {len(isa[index])} characters; expected {width}")
    if not isa[12].isdigit():
        return _ta1(checked, "018", f"ISA13 {isa[12]!r} is not numeric")
    if segment.isalnum() or segment in (element, isa[15]) or segment == " ":
        return _ta1(checked, "004", f"segment terminator {segment!r} is not a delimiter")

    segments = [s.strip("\r\n").split(element) for s in text[ISA_LENGTH:].split(segment)]
    segments = [s for s in segments if s != [""]]
    position = 0
    groups = 0
    while position < len(segments) and segments[position][0] == "GS":
        position = _read_group(segments, position, checked)
        groups += 1
    if position >= len(segments):
        return _ta1(checked, "023", "interchange ends without IEA")
    trailer = segments[position]
    if trailer[0] != "IEA":
        return _ta1(checked, "024", f"unexpected {trailer[0]!r} segment outside a functional group")
    if len(trailer) < 3 or trailer[2] != isa[12]:
        return _ta1(checked, "001", f"IEA02 {_el(trailer, 2)!r} differs from ISA13 {isa[12]!r}")
    if _el(trailer, 1) != str(groups):
        return _ta1(checked, "021", f"IEA01 {_el(trailer, 1)!r} but {groups} functional groups")
    return checked


def _read_group(segments: list[list[str]], position: int, checked: Checked) -> int:
    header = segments[position]
    group = GroupResult(_el(header, 1), _el(header, 6), _el(header, 8), "")
    checked.groups.append(group)
    position += 1
    seen: set[str] = set()
    while position < len(segments) and segments[position][0] == "ST":
        position = _read_set(segments, position, group, seen)
    if position >= len(segments) or segments[position][0] != "GE":
        group.errors.append("3")  # group trailer missing
        group.declared_sets = str(len(group.sets))
        return position
    trailer = segments[position]
    group.declared_sets = _el(trailer, 1)
    if _el(trailer, 2) != group.gs06:
        group.errors.append("4")  # group control number in header and trailer do not agree
    if _el(trailer, 1) != str(len(group.sets)):
        group.errors.append("5")  # number of included sets does not match actual count
    return position + 1


def _read_set(segments: list[list[str]], position: int, group: GroupResult, seen: set[str]) -> int:
    header = segments[position]
    result = SetResult(_el(header, 1), _el(header, 2), [])
    group.sets.append(result)
    start = position
    position += 1
    while position < len(segments) and segments[position][0] not in ("SE", "ST", "GE", "GS", "IEA"):
        position += 1
    has_trailer = position < len(segments) and segments[position][0] == "SE"
    end = position + 1 if has_trailer else position
    result.segments = segments[start:end]

    if FUNCTIONAL_IDS.get(group.gs01) != result.st01:
        result.errors.append("6")  # missing or invalid transaction set identifier
    if not 4 <= len(result.st02) <= 9:
        result.errors.append("7")  # missing or invalid transaction set control number
        code = "1" if not result.st02 else ("4" if len(result.st02) < 4 else "5")
        result.notes.append(SegmentNote("ST", 1, "8", [ElementNote(2, "329", code, result.st02)]))
    elif result.st02 in seen:
        result.errors.append("23")  # control number not unique within the group
    seen.add(result.st02)
    if not has_trailer:
        result.errors.append("2")  # transaction set trailer missing
        return end
    trailer = segments[position]
    count = end - start
    if _el(trailer, 2) != result.st02:
        result.errors.append("3")  # control number in header and trailer do not match
    if not _el(trailer, 1).isdigit():
        result.errors.append("4")
        result.notes.append(SegmentNote("SE", count, "8", [ElementNote(1, "96", "6", _el(trailer, 1))]))
    elif int(_el(trailer, 1)) != count:
        result.errors.append("4")  # number of included segments does not match actual count
    return end


def _el(segment: list[str], index: int) -> str:
    return segment[index] if index < len(segment) else ""


def _ta1(checked: Checked, code: str, reason: str) -> Checked:
    checked.ta1_code = code
    checked.reason = reason
    return checked
