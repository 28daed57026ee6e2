"""The validator: checks a whole interchange against the spec tables and reports what a 997 would.

Owns every check of reference §13: ISA fixed widths and codes, delimiters, envelope nesting, control-number
pairs and uniqueness, SE01/GE01/IEA01 counts, GS01↔ST01, segment order, loops, repeats and mandatory
segments (walking ``structures.py``), element presence, types, lengths, dates, times, codes, syntax notes
(``specs.py``), no trailing separators, no empty segments, character set, no delimiter inside data, and the
business totals (CTT01, TDS01, AMT*TT, and an 820's BPR02 = Σ RMR04; ``totals.py``). Returns findings;
never raises on bad input and never repairs it.

Two paths to one answer: ``quickly_clean`` proves an interchange has no finding (``fastcheck.py`` splits the
text once and accepts the envelope and every element with expressions compiled from the spec tables; the
structure, remembered per shape of set, and the totals, read from the segment texts, then run on what it
found), and only what it cannot prove takes the detailed walk (``detailed_findings``), which locates every
finding. Valid interchanges, the usual case, never reach it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TypeVar, cast

from freshcleo_pipeline.x12 import elements as fmt
from freshcleo_pipeline.x12 import fastcheck, totals
from freshcleo_pipeline.x12.errors import Check, X12Error, X12ParseError
from freshcleo_pipeline.x12.hygiene import Charset, allowed_characters
from freshcleo_pipeline.x12.specs import ElementSpec, SegmentSpec, SyntaxNote, segments_for
from freshcleo_pipeline.x12.structures import FUNCTIONAL_ID, STRUCTURES, Loop, SegmentUse
from freshcleo_pipeline.x12.tokens import RawSegment, ReadDelimiters, Tokens, tokenize

_K = TypeVar("_K")
_T = TypeVar("_T")

# 997 codes per check (AK403 for element checks, AK304 for segment checks).
_ELEMENT_CODE = {
    Check.ELEMENT_MISSING: "1", Check.SYNTAX_NOTE: "2", Check.TOO_MANY_ELEMENTS: "3", Check.TOO_SHORT: "4",
    Check.TOO_LONG: "5", Check.INVALID_CHARACTER: "6", Check.DELIMITER_IN_DATA: "6", Check.INVALID_NUMBER: "6",
    Check.INVALID_CODE: "7", Check.INVALID_DATE: "8", Check.INVALID_TIME: "9", Check.EXCLUSION: "10",
}
_SEGMENT_CODE = {
    Check.SEGMENT_UNRECOGNIZED: "1", Check.SEGMENT_MISSING: "3", Check.LOOP_REPEAT: "4",
    Check.SEGMENT_REPEAT: "5", Check.SEGMENT_ORDER: "7", Check.EMPTY_SEGMENT: "8",
    Check.TRAILING_SEPARATOR: "8", Check.TOTALS: "8",
}
_SUPPORTED_VERSIONS = ("004010", "005010")
# ISA element widths (all min = max).
_QUALIFIER = re.compile(r"^[0-9A-Z]{2}$")
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)


@dataclass
class _Ctx:
    """Where the walker is: for locating findings."""

    version: str = "004010"
    allowed: frozenset[str] = frozenset()
    delimiters: ReadDelimiters = field(default_factory=lambda: ReadDelimiters("*", ">", "", "~"))
    group: str = ""
    set_control: str = ""
    set_start: int = 0  # interchange position of the current ST
    errors: list[X12Error] = field(default_factory=list)
    # (id of the segment spec, element texts) already checked without a finding in this interchange: the
    # element checks depend on nothing else, so a repeat (the same TXI or PID on many lines) is skipped.
    clean_segments: set[tuple[int, tuple[str, ...]]] = field(default_factory=set)

    def add(self, check: Check, level: str, message: str, *, raw: RawSegment | None = None, tag: str = "",
            element: int | None = None, component: int | None = None, de: str = "", value: str = "",
            code: str | None = None, loop_id: str = "", position: int | None = None) -> None:
        if code is None:
            code = (_ELEMENT_CODE if level == "element" else _SEGMENT_CODE).get(check, "")
        pos = raw.position if raw is not None else position
        in_set = pos is not None and self.set_start and pos >= self.set_start
        self.errors.append(X12Error(
            check=check, level=level, code=code, message=message,
            segment_id=tag or (raw.tag if raw is not None else ""),
            interchange_position=pos,
            segment_position=(pos - self.set_start + 1) if in_set and pos is not None else None,
            element_position=element, component_position=component, data_element=de, bad_value=value,
            group_control_number=self.group, set_control_number=self.set_control, loop_id=loop_id,
        ))


def validate_interchange(text: str, *, charset: Charset | str = Charset.EXTENDED,
                         tokens: Tokens | None = None) -> list[X12Error]:
    """Every problem found in ``text`` (empty list: valid). ``charset`` is the partner's agreed set; ``tokens``,
    when the caller already split ``text``, saves splitting it again."""
    if quickly_clean(text, charset):
        return []
    return detailed_findings(text, charset, tokens)


def detailed_findings(text: str, charset: Charset | str, tokens: Tokens | None = None) -> list[X12Error]:
    """The detailed walk: every finding, located. ``validate_interchange`` skips it when ``quickly_clean``
    proves there is none."""
    ctx = _Ctx()
    try:
        tokens = tokens if tokens is not None else tokenize(text)
    except X12ParseError as exc:
        ctx.add(Check.ENVELOPE_STRUCTURE, "interchange", str(exc), tag="ISA", position=1)
        return ctx.errors
    ctx.delimiters = tokens.delimiters
    segments = tokens.segments
    isa_version = _check_isa(ctx, tokens.isa_text, segments[0])
    delims = tuple(d for d in (tokens.delimiters.element, tokens.delimiters.component,
                               tokens.delimiters.repetition, tokens.delimiters.segment) if d)
    ctx.allowed = allowed_characters(Charset(charset), "00501" if isa_version == "00501" else "00401", delims)
    for position in tokens.empty_segments:
        ctx.add(Check.EMPTY_SEGMENT, "interchange", "an empty segment (two terminators in a row)",
                position=position, code="")
    if tokens.trailing.strip():
        ctx.add(Check.ENVELOPE_STRUCTURE, "interchange", "data after the last segment terminator",
                value=tokens.trailing[:40], position=len(segments) + 1)
    _walk_envelope(ctx, segments)
    return ctx.errors


def quickly_clean(text: str, charset: Charset | str) -> bool:
    """True when ``fastcheck`` accepts the envelope and elements and each set's structure and totals are clean:
    then the detailed walk would find nothing. Anything else takes the detailed walk, which says what is wrong."""
    return clean_scan(text, charset) is not None


def clean_scan(text: str, charset: Charset | str) -> fastcheck.Scan | None:
    """What ``quickly_clean`` split the text into (the element separator and each set's tags and segment texts)
    when it proves there is no finding; None when the detailed walk must look. A caller that reads the sets of
    a valid interchange (their totals, a partner's guide) reads them from here instead of splitting the text
    again."""
    if type(charset) is not Charset:
        try:
            charset = Charset(charset)
        except ValueError:
            return None  # the detailed walk treats an unknown character set as it always has
    found = fastcheck.scan(text, charset)
    if found is None:
        return None
    sep = found.element
    for set_id, tags, body in found.sets:
        if not _shape_clean(STRUCTURES[set_id].body, tags):
            return None
        if set_id in _LINE_TOTALS:
            if not _line_totals_clean(*_LINE_TOTALS[set_id], tags, body, sep):
                return None
            continue
        read = [_new_tuple(RawSegment, (0, tag, tuple(piece.split(sep)[1:])))
                for tag, piece in zip(tags, body, strict=True) if tag in _TOTAL_TAGS]
        scratch = _Ctx()
        _check_totals(scratch, set_id, read)
        if scratch.errors:
            return None
    return found


#: ``_check_line_totals``'s arguments per set: line tag, total tag, total position, implied places, charges.
_LINE_TOTALS: dict[str, tuple[str, str, int, int | None, bool]] = {
    "810": ("IT1", "TDS", 1, 2, True),
    "850": ("PO1", "AMT", 2, None, False),
}


def _line_totals_clean(line_tag: str, total_tag: str, total_pos: int, places: int | None, charges: bool,
                       tags: tuple[str, ...], body: Sequence[str], sep: str) -> bool:
    """``_check_line_totals`` finds nothing, read from segment texts whose elements are all well formed: the
    same rule, without building a ``RawSegment`` for every segment it reads."""
    try:
        return _line_totals_agree(line_tag, total_tag, total_pos, places, charges, tags, body, sep)
    except ValueError:  # a number the element check let through but parse_r/parse_n refuse: look closer
        return False


def _line_totals_agree(line_tag: str, total_tag: str, total_pos: int, places: int | None, charges: bool,
                       tags: tuple[str, ...], body: Sequence[str], sep: str) -> bool:
    # Where the segments the rule reads sit is a function of the set's tags, which come in few shapes; the
    # lines and taxes are then picked out and summed in C loops, each amount remembered by its text.
    where = _WHERE.get((line_tag, tags))
    if where is None:
        where = _where(line_tag, tags)
        if len(_WHERE) >= _MAX_WHERE:
            _WHERE.clear()
        _WHERE[(line_tag, tags)] = where
    lines_at, taxes_at, others_at = where
    lines = list(map(body.__getitem__, lines_at))
    try:
        amounts = list(map(_LINE_AMOUNTS.__getitem__, lines))
    except KeyError:  # a line not seen before
        amounts = [_line_amount_of(piece, sep) for piece in lines]
    # By type, not by value: False == Decimal(0), and a line can amount to nothing.
    arithmetic = bool not in map(type, amounts)  # false when a line lacks quantity or price: only CTT01 then
    subtotal = sum(cast(list[Decimal], amounts), Decimal(0)) if arithmetic else Decimal(0)
    txis = list(map(body.__getitem__, taxes_at))
    try:
        taxes = sum(map(_TAX_AMOUNTS.__getitem__, txis), Decimal(0))
    except KeyError:
        taxes = sum([_tax_amount_of(piece, sep) for piece in txis], Decimal(0))
    line_count = len(lines)
    charge = allowance = Decimal(0)
    total_text: str | None = None
    for index in others_at:
        tag, piece = tags[index], body[index]
        if tag == "CTT":
            if piece.split(sep, 2)[1] != str(line_count):
                return False
        elif tag == total_tag:
            values = piece.split(sep)
            if total_text is None and (total_tag != "AMT" or values[1] == "TT"):
                total_text = values[total_pos] if len(values) > total_pos else ""
        elif tag == "SAC" and charges:
            values = piece.split(sep)
            amount = fmt.parse_n(values[5], 2) if len(values) > 5 and values[5] else Decimal(0)
            if values[1] == "C":
                charge += amount
            elif values[1] == "A":
                allowance += amount
    if not total_text or not arithmetic:
        return True
    return _total_agrees(total_text, places, subtotal, line_count, taxes, charge, allowance)


# The comparison itself is pure, and documents of one customer often come to the same sums.
@lru_cache(maxsize=4096)
def _total_agrees(total_text: str, places: int | None, subtotal: Decimal, line_count: int, taxes: Decimal,
                  charge: Decimal, allowance: Decimal) -> bool:
    stated = fmt.parse_r(total_text) if places is None else fmt.parse_n(total_text, places)
    computed, allowed = totals.expected_from_subtotal(subtotal, line_count, taxes=taxes, charges=charge,
                                                      allowances=allowance)
    return totals.agrees(stated, computed, allowed)


_OTHER_TOTAL_TAGS = frozenset(("CTT", "TDS", "AMT", "SAC"))
# (line tag, a set's tags) → the indexes of its lines, its TXIs and its other segments the totals read.
_WHERE: dict[tuple[str, tuple[str, ...]], tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {}
_MAX_WHERE = 1024


def _where(line_tag: str, tags: Sequence[str]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    return (tuple(i for i, tag in enumerate(tags) if tag == line_tag),
            tuple(i for i, tag in enumerate(tags) if tag == "TXI"),
            tuple(i for i, tag in enumerate(tags) if tag in _OTHER_TOTAL_TAGS))


def _line_amount_of(piece: str, sep: str) -> Decimal | bool:
    amount = _LINE_AMOUNTS.get(piece)
    if amount is None:
        amount = _line_amount(piece.split(sep))
        _remember(_LINE_AMOUNTS, piece, amount)
    return amount


def _tax_amount_of(piece: str, sep: str) -> Decimal:
    tax = _TAX_AMOUNTS.get(piece)
    if tax is None:
        values = piece.split(sep, 3)
        tax = fmt.parse_r(values[2]) if len(values) > 2 and values[2] else Decimal(0)
        _remember(_TAX_AMOUNTS, piece, tax)
    return tax


def _line_amount(values: Sequence[str]) -> Decimal | bool:
    """A line segment's quantity x price to the cent (its elements after the tag); False without either."""
    if len(values) < 5 or not values[2] or not values[4]:
        return False
    # Lines seen for the first time (their numbers and product ids vary) still repeat quantities and prices.
    factors = (values[2], values[4])
    amount = _PRODUCTS.get(factors)
    if amount is None:
        amount = totals.line_amount(fmt.parse_r(values[2]), fmt.parse_r(values[4]))
        _remember(_PRODUCTS, factors, amount)
    return amount


# What a line or tax segment adds to the totals is a pure function of its text (the element separator is the
# character after the tag, so the text fixes it too), and items and taxes repeat across documents: remember a
# bounded number.
_LINE_AMOUNTS: dict[str, Decimal | bool] = {}
_TAX_AMOUNTS: dict[str, Decimal] = {}
_PRODUCTS: dict[tuple[str, str], Decimal] = {}  # (quantity text, price text) → their product to the cent
_MAX_AMOUNTS = 1 << 14


def _remember(memo: dict[_K, _T], key: _K, value: _T) -> None:
    if len(memo) >= _MAX_AMOUNTS:
        memo.clear()
    memo[key] = value


_new_tuple = tuple.__new__  # a RawSegment without the named tuple's keyword handling
#: Tags whose elements ``_check_totals`` reads.
_TOTAL_TAGS = frozenset(("IT1", "CTT", "TDS", "TXI", "SAC", "PO1", "AMT", "BPR", "RMR", "AK5", "AK9"))
# A set's structure verdict is a pure function of its tags, and a run's sets come in few shapes (lines with
# or without taxes, one or two descriptions): remember them, a bounded number per process.
_SHAPES: dict[tuple[int, tuple[str, ...]], bool] = {}
_MAX_SHAPES = 4096


def _shape_clean(loop: Loop, tags: tuple[str, ...]) -> bool:
    key = (id(loop), tags)  # the structures are module constants: their ids are stable
    verdict = _SHAPES.get(key)
    if verdict is None:
        scratch = _Ctx()
        _check_structure(scratch, loop, [RawSegment(position, tag, ()) for position, tag in enumerate(tags, 1)])
        verdict = not scratch.errors
        if len(_SHAPES) < _MAX_SHAPES:
            _SHAPES[key] = verdict
    return verdict


# ---------------------------------------------------------------- ISA

def _check_isa(ctx: _Ctx, isa_text: str, raw: RawSegment) -> str:
    d = ctx.delimiters
    chars = [d.element, d.component, d.segment] + ([d.repetition] if d.repetition else [])
    if len(set(chars)) != len(chars) or any(c.isalnum() or c == " " for c in chars):
        ctx.add(Check.DELIMITERS, "interchange", f"delimiters {chars!r} must be distinct and not letters, "
                "digits or space", raw=raw, code="")
    if len(isa_text) != 106:
        ctx.add(Check.ISA_FORMAT, "interchange", f"ISA is {len(isa_text)} characters; it must be exactly 106",
                raw=raw, value=str(len(isa_text)), code="")
    values = raw.elements
    spec = segments_for("004010")["ISA"]
    for index, width in enumerate(_ISA_WIDTHS, start=1):
        value = values[index - 1] if index - 1 < len(values) else ""
        es = spec.element(index)
        if len(value) != width:
            ctx.add(Check.ISA_FORMAT, "interchange", f"{es.ref} must be exactly {width} characters, "
                    f"got {len(value)}", raw=raw, element=index, de=es.de, value=value, code="")
            continue
        if es.codes is not None and value not in es.codes:
            ctx.add(Check.ISA_VALUE, "interchange", f"{es.ref} {value!r} is not one of {sorted(es.codes)}",
                    raw=raw, element=index, de=es.de, value=value, code="")
    version = values[11] if len(values) > 11 else ""
    if len(values) >= 16:
        if version == "00401" and values[10] != "U":
            ctx.add(Check.ISA_VALUE, "interchange", "ISA11 must be 'U' with ISA12 00401", raw=raw, element=11,
                    value=values[10], code="")
        for index in (5, 7):
            if not _QUALIFIER.match(values[index - 1]):
                ctx.add(Check.ISA_VALUE, "interchange", f"ISA{index:02d} must be a qualifier of 2 upper-case "
                        "letters or digits", raw=raw, element=index, value=values[index - 1], code="")
        if not fmt.is_valid_isa_date(values[8]):
            ctx.add(Check.ISA_VALUE, "interchange", "ISA09 must be a real date YYMMDD", raw=raw, element=9,
                    value=values[8], code="")
        if len(values[9]) == 4 and not fmt.is_valid_time(values[9]):
            ctx.add(Check.ISA_VALUE, "interchange", "ISA10 must be a real time HHMM", raw=raw, element=10,
                    value=values[9], code="")
        if not values[12].isdigit():
            ctx.add(Check.ISA_VALUE, "interchange", "ISA13 must be 9 digits", raw=raw, element=13,
                    value=values[12], code="")
        for index in (6, 8):
            if not values[index - 1].strip():
                ctx.add(Check.ISA_VALUE, "interchange", f"ISA{index:02d} must not be blank", raw=raw,
                        element=index, code="")
    if len(values) > 16:
        ctx.add(Check.ISA_FORMAT, "interchange", "ISA has more than 16 elements", raw=raw, code="")
    return version


# ---------------------------------------------------------------- envelope nesting

def _walk_envelope(ctx: _Ctx, segments: Sequence[RawSegment]) -> None:
    isa = segments[0]
    isa13 = isa.elements[12] if len(isa.elements) > 12 else ""
    i = 1
    groups = 0
    group_numbers: set[str] = set()
    seen_iea = False
    while i < len(segments):
        raw = segments[i]
        if raw.tag == "GS":
            groups += 1
            i = _walk_group(ctx, segments, i, group_numbers)
            continue
        if raw.tag == "IEA":
            seen_iea = True
            _check_segment(ctx, raw, segments_for("004010")["IEA"])
            if raw.elements[:1] and raw.elements[0] != str(groups):
                ctx.add(Check.COUNT_MISMATCH, "interchange", f"IEA01 says {raw.elements[0]} groups, the "
                        f"interchange has {groups}", raw=raw, element=1, value=raw.elements[0], code="")
            if len(raw.elements) > 1 and raw.elements[1] != isa13:
                ctx.add(Check.CONTROL_NUMBER_MISMATCH, "interchange", f"IEA02 {raw.elements[1]!r} differs from "
                        f"ISA13 {isa13!r}", raw=raw, element=2, value=raw.elements[1], code="")
            if i != len(segments) - 1:
                ctx.add(Check.ENVELOPE_STRUCTURE, "interchange", "segments after IEA",
                        raw=segments[i + 1], code="")
            break
        ctx.add(Check.ENVELOPE_STRUCTURE, "interchange", f"{raw.tag} outside a functional group (expected GS "
                "or IEA)", raw=raw, code="")
        i += 1
    if not seen_iea:
        ctx.add(Check.ENVELOPE_STRUCTURE, "interchange", "the interchange trailer IEA is missing", tag="IEA",
                position=len(segments) + 1, code="")
    if groups == 0:
        ctx.add(Check.ENVELOPE_STRUCTURE, "interchange", "the interchange holds no functional group", tag="GS",
                position=2, code="")


def _walk_group(ctx: _Ctx, segments: Sequence[RawSegment], start: int, group_numbers: set[str]) -> int:
    gs = segments[start]
    ctx.group, ctx.set_control, ctx.set_start = (gs.elements[5] if len(gs.elements) > 5 else ""), "", 0
    version = gs.elements[7] if len(gs.elements) > 7 else ""
    supported = version[:6] in _SUPPORTED_VERSIONS
    ctx.version = version if supported else "004010"
    _check_segment(ctx, gs, segments_for(ctx.version)["GS"])
    if not supported:
        ctx.add(Check.UNSUPPORTED, "group", f"GS08 version {version!r} is not supported "
                f"(expected one of {_SUPPORTED_VERSIONS})", raw=gs, element=8, value=version, code="2")
    if ctx.group in group_numbers:
        ctx.add(Check.DUPLICATE_CONTROL_NUMBER, "group", f"GS06 {ctx.group} is used twice in the interchange",
                raw=gs, element=6, value=ctx.group, code="6")
    group_numbers.add(ctx.group)
    functional_id = gs.elements[0] if gs.elements else ""
    set_numbers: set[str] = set()
    sets = 0
    i = start + 1
    while i < len(segments):
        raw = segments[i]
        if raw.tag == "ST":
            sets += 1
            i = _walk_set(ctx, segments, i, functional_id, set_numbers, supported)
            continue
        if raw.tag == "GE":
            ctx.set_control, ctx.set_start = "", 0
            _check_segment(ctx, raw, segments_for(ctx.version)["GE"])
            if raw.elements[:1] and raw.elements[0] != str(sets):
                ctx.add(Check.COUNT_MISMATCH, "group", f"GE01 says {raw.elements[0]} transaction sets, the group "
                        f"has {sets}", raw=raw, element=1, value=raw.elements[0], code="5")
            if len(raw.elements) > 1 and raw.elements[1] != ctx.group:
                ctx.add(Check.CONTROL_NUMBER_MISMATCH, "group", f"GE02 {raw.elements[1]!r} differs from GS06 "
                        f"{ctx.group!r}", raw=raw, element=2, value=raw.elements[1], code="4")
            return i + 1
        if raw.tag in ("GS", "IEA"):
            break
        ctx.add(Check.ENVELOPE_STRUCTURE, "group", f"{raw.tag} outside a transaction set (expected ST or GE)",
                raw=raw, code="")
        i += 1
    ctx.set_control, ctx.set_start = "", 0
    ctx.add(Check.ENVELOPE_STRUCTURE, "group", "the group trailer GE is missing", tag="GE",
            position=segments[i].position if i < len(segments) else None, code="3")
    return i


def _walk_set(ctx: _Ctx, segments: Sequence[RawSegment], start: int, functional_id: str,
              set_numbers: set[str], supported: bool) -> int:
    st = segments[start]
    set_id = st.elements[0] if st.elements else ""
    ctx.set_control = st.elements[1] if len(st.elements) > 1 else ""
    ctx.set_start = st.position
    body: list[RawSegment] = [st]
    i = start + 1
    closed = False
    while i < len(segments):
        raw = segments[i]
        if raw.tag in ("ST", "GE", "GS", "IEA"):
            break
        body.append(raw)
        i += 1
        if raw.tag == "SE":
            closed = True
            break
    if ctx.set_control in set_numbers:
        ctx.add(Check.DUPLICATE_CONTROL_NUMBER, "transaction_set", f"ST02 {ctx.set_control} is used twice in "
                "the group", raw=st, element=2, value=ctx.set_control, code="23")
    set_numbers.add(ctx.set_control)
    if not closed:
        ctx.add(Check.ENVELOPE_STRUCTURE, "transaction_set", "the transaction set trailer SE is missing",
                tag="SE", position=body[-1].position + 1, code="2")
    else:
        se = body[-1]
        if se.elements[:1] and se.elements[0] != str(len(body)):
            ctx.add(Check.COUNT_MISMATCH, "transaction_set", f"SE01 says {se.elements[0]} segments, the set has "
                    f"{len(body)} (ST to SE inclusive)", raw=se, element=1, value=se.elements[0], code="4")
        if len(se.elements) > 1 and se.elements[1] != ctx.set_control:
            ctx.add(Check.CONTROL_NUMBER_MISMATCH, "transaction_set", f"SE02 {se.elements[1]!r} differs from "
                    f"ST02 {ctx.set_control!r}", raw=se, element=2, value=se.elements[1], code="3")
    structure = STRUCTURES.get(set_id)
    if structure is None:
        ctx.add(Check.UNSUPPORTED, "transaction_set", f"transaction set {set_id!r} is not one we define "
                f"({sorted(STRUCTURES)})", raw=st, element=1, value=set_id, code="1")
        return i
    if FUNCTIONAL_ID[set_id] != functional_id:
        ctx.add(Check.FUNCTIONAL_ID_MISMATCH, "transaction_set", f"ST01 {set_id} belongs in a group with GS01 "
                f"{FUNCTIONAL_ID[set_id]}, not {functional_id!r}", raw=st, element=1, value=set_id, code="6")
    if supported:
        table = segments_for(ctx.version)
        for raw in body:
            spec = table.get(raw.tag)
            if spec is not None:
                _check_segment(ctx, raw, spec)
        _check_structure(ctx, structure.body, body)
        _check_totals(ctx, set_id, body)
    return i


# ---------------------------------------------------------------- structure

@dataclass
class _Frame:
    loop: Loop
    pos: int
    counts: list[int]


def _find(frame: _Frame, positions: tuple[int, ...]) -> int | None:
    """The first of a tag's ``positions`` in the frame's loop at or after where the frame is (the trigger
    only once per iteration)."""
    first = frame.pos if frame.pos or not frame.counts[0] else 1
    for k in positions:
        if k >= first:
            return k
    return None


def _close(ctx: _Ctx, frame: _Frame, until: int, at: RawSegment | None, end_position: int) -> None:
    """Report mandatory children of ``frame`` from its position up to ``until`` that never occurred."""
    for j in frame.loop.mandatory_indexes:
        if j < frame.pos:
            continue
        if j >= until:
            break
        child = frame.loop.children[j]
        if frame.counts[j] < child.min:
            tag = child.tag if isinstance(child, SegmentUse) else child.trigger
            ctx.add(Check.SEGMENT_MISSING, "segment", f"mandatory segment {tag} is missing"
                    + (f" (loop {frame.loop.id})" if frame.loop.id != tag else ""),
                    tag=tag, position=at.position if at is not None else end_position, loop_id=frame.loop.id)


def _check_structure(ctx: _Ctx, body_loop: Loop, body: Sequence[RawSegment]) -> None:
    known_here = body_loop.all_tags
    dictionary = segments_for(ctx.version)
    stack = [_Frame(body_loop, 0, [0] * len(body_loop.children))]
    for raw in body:
        tag = raw.tag
        # The innermost open loop that can take the segment at or after its position.
        depth = len(stack) - 1
        k: int | None = None
        while depth >= 0:
            frame = stack[depth]
            positions = frame.loop.child_positions.get(tag)
            if positions is not None:
                k = _find(frame, positions)
                if k is not None:
                    break
            depth -= 1
        if k is not None:
            while len(stack) - 1 > depth:
                inner = stack.pop()
                _close(ctx, inner, len(inner.loop.children), raw, raw.position)
            frame = stack[depth]
            if k > frame.pos:
                _close(ctx, frame, k, raw, raw.position)
            frame.pos = k
            frame.counts[k] += 1
            child = frame.loop.children[k]
            if child.max is not None and frame.counts[k] > child.max:
                check = Check.SEGMENT_REPEAT if isinstance(child, SegmentUse) else Check.LOOP_REPEAT
                what = "segment" if isinstance(child, SegmentUse) else "loop"
                ctx.add(check, "segment", f"{what} {tag} occurs more than {child.max} time(s)", raw=raw,
                        loop_id=frame.loop.id)
            if isinstance(child, Loop):
                counts = [0] * len(child.children)
                counts[0] = 1
                stack.append(_Frame(child, 0, counts))
            continue
        if not (2 <= len(raw.tag) <= 3 and raw.tag.isalnum() and raw.tag.isupper() and raw.tag[0].isalpha()):
            ctx.add(Check.SEGMENT_UNRECOGNIZED, "segment", f"{raw.tag!r} is not a segment identifier", raw=raw)
        elif raw.tag in known_here:
            ctx.add(Check.SEGMENT_ORDER, "segment", f"{raw.tag} is not in its proper sequence", raw=raw,
                    loop_id=stack[-1].loop.id)
        else:
            ctx.add(Check.SEGMENT_NOT_IN_SET, "segment", f"{raw.tag} is not defined in this transaction set",
                    raw=raw, code="2" if raw.tag in dictionary else "6")
    end = body[-1].position if body else 0
    while stack:
        frame = stack.pop()
        _close(ctx, frame, len(frame.loop.children), None, end)


# ---------------------------------------------------------------- elements

def _check_segment(ctx: _Ctx, raw: RawSegment, spec: SegmentSpec) -> None:
    key = (id(spec), raw.elements)
    if key in ctx.clean_segments:
        return
    found = len(ctx.errors)
    _check_elements(ctx, raw, spec)
    if len(ctx.errors) == found:
        ctx.clean_segments.add(key)


def _check_elements(ctx: _Ctx, raw: RawSegment, spec: SegmentSpec) -> None:
    values = raw.elements
    if not values or not any(values):
        ctx.add(Check.EMPTY_SEGMENT, "segment", f"{raw.tag} carries no data element", raw=raw)
        return
    if values[-1] == "":
        ctx.add(Check.TRAILING_SEPARATOR, "segment", f"{raw.tag} ends with an empty element: trailing "
                "separators must be omitted", raw=raw)
    specs = spec.elements
    if len(values) > len(specs):
        extra = len(specs) + 1
        ctx.add(Check.TOO_MANY_ELEMENTS, "element", f"{raw.tag} has {len(values)} elements; it defines "
                f"{len(specs)}", raw=raw, element=extra, value=values[extra - 1])
    plan = _PLANS.get(id(spec)) or _plan(spec)
    if (values[-1] and plan.segment_pattern is not None and ctx.allowed.issuperset("".join(values))
            and plan.segment_pattern.fullmatch(fmt.PATTERN_SEPARATOR.join(values))):
        # Every element well formed and in the character set: only the syntax notes remain.
        if spec.notes:
            _check_notes(ctx, raw, spec, plan)
        return
    # Quick acceptance of an element: the segment's data is in the character set (which excludes every
    # delimiter) and the value has its element's shape, so no check below can fail. Anything else is
    # checked in detail, to say what is wrong.
    in_charset = ctx.allowed.issuperset("".join(values))
    # The elements present, in order; then the mandatory ones after the last present element (a segment
    # rarely carries all of its optional tail, e.g. IT1's twenty product id pairs).
    present = zip(specs, plan.patterns, values, strict=False)  # stops at the last element given
    for index, (es, pattern, value) in enumerate(present, start=1):
        if not value:
            if es.required:
                _missing(ctx, raw, index, es)
            continue
        if in_charset and pattern is not None and pattern.fullmatch(value):
            continue
        if es.type == "COMP":
            _check_composite(ctx, raw, index, es, value)
            continue
        _check_value(ctx, raw, index, es, value, None)
    if spec.required_positions and spec.required_positions[-1] > len(values):
        for index in spec.required_positions:
            if index > len(values):
                _missing(ctx, raw, index, specs[index - 1])
    if spec.notes:
        _check_notes(ctx, raw, spec, plan)


@dataclass
class _SpecPlan:
    """What the checks derive from one segment spec, worked out once per spec object."""

    spec: SegmentSpec  # kept alive here, so that no other spec can come to have its id
    patterns: tuple[re.Pattern[str] | None, ...]  # each element's ``value_pattern``
    # The whole segment's values joined by PATTERN_SEPARATOR: matches only when every element is well
    # formed, mandatory ones present, none too many; None when an element has no pattern (DT, TM, COMP).
    segment_pattern: re.Pattern[str] | None
    notes_by_mask: dict[tuple[bool, ...], tuple[tuple[SyntaxNote, Check, int], ...]]


_PLANS: dict[int, _SpecPlan] = {}
_MAX_MASKS = 256  # distinct presence patterns remembered per spec; hostile input cannot grow it further


def _plan(spec: SegmentSpec) -> _SpecPlan:
    plan = _PLANS.get(id(spec))
    if plan is None:
        sources = [None if es.type == "COMP" else fmt.value_pattern(es.type, es.min, es.max, es.codes)
                   for es in spec.elements]
        patterns = tuple(None if source is None else re.compile(source) for source in sources)
        plan = _PLANS[id(spec)] = _SpecPlan(spec, patterns, _segment_pattern(spec, sources), {})
    return plan


def _segment_pattern(spec: SegmentSpec, sources: Sequence[str | None]) -> re.Pattern[str] | None:
    """Elements up to the last mandatory one in sequence, the optional rest nested: ``A␟B(?:␟C(?:␟D)?)?``."""
    if not sources or any(source is None for source in sources):
        return None
    sep = re.escape(fmt.PATTERN_SEPARATOR)
    parts = [rf"(?=[^{sep}]){source}" if es.required else f"(?:{source})?"
             for es, source in zip(spec.elements, sources, strict=True)]
    last_required = spec.required_positions[-1] if spec.required_positions else 1
    pattern = ""
    for part in reversed(parts[last_required:]):
        pattern = f"(?:{sep}{part}{pattern})?"
    return re.compile(sep.join(parts[:last_required]) + pattern)


def _missing(ctx: _Ctx, raw: RawSegment, index: int, es: ElementSpec) -> None:
    ctx.add(Check.ELEMENT_MISSING, "element", f"mandatory element {es.ref} ({es.name}) is missing", raw=raw,
            element=index, de=es.de)


def _check_composite(ctx: _Ctx, raw: RawSegment, index: int, es: ElementSpec, value: str) -> None:
    parts = value.split(ctx.delimiters.component)
    for c_index, component in enumerate(es.components, start=1):
        part = parts[c_index - 1] if c_index <= len(parts) else ""
        if part == "":
            if component.required:
                ctx.add(Check.ELEMENT_MISSING, "element", f"mandatory component {component.ref} is missing",
                        raw=raw, element=index, component=c_index, de=component.de)
            continue
        _check_value(ctx, raw, index, component, part, c_index)
    if len(parts) > len(es.components):
        ctx.add(Check.TOO_MANY_ELEMENTS, "element", f"{es.ref} has too many components", raw=raw,
                element=index, de=es.de, value=value)


def _check_value(ctx: _Ctx, raw: RawSegment, index: int, es: ElementSpec, value: str,
                 component: int | None) -> None:
    d = ctx.delimiters
    if component is None and (d.component in value or (d.repetition and d.repetition in value)):
        _value_error(ctx, raw, index, es, value, component, Check.DELIMITER_IN_DATA,
                     "a delimiter character inside data")
        return
    if not ctx.allowed.issuperset(value) and raw.tag != "ISA":
        bad = sorted({ch for ch in value if ch not in ctx.allowed})
        _value_error(ctx, raw, index, es, value, component, Check.INVALID_CHARACTER,
                     f"characters outside the character set: {bad!r}")
        return
    if es.is_numeric:
        valid = fmt.is_valid_n(value) if es.type.startswith("N") else fmt.is_valid_r(value)
        if not valid:
            _value_error(ctx, raw, index, es, value, component, Check.INVALID_NUMBER,
                         f"{value!r} is not a valid {es.type} number")
            return
        length = fmt.numeric_digits(value)
    elif es.type == "DT":
        if fmt.parse_date(value) is None:
            _value_error(ctx, raw, index, es, value, component, Check.INVALID_DATE,
                         f"{value!r} is not a date CCYYMMDD")
        return
    elif es.type == "TM":
        if not (es.min <= len(value) <= es.max and fmt.is_valid_time(value)):
            _value_error(ctx, raw, index, es, value, component, Check.INVALID_TIME,
                         f"{value!r} is not a time HHMM[SS[D[D]]]")
        return
    else:
        length = len(value)
        if es.type == "AN" and not value.strip():
            _value_error(ctx, raw, index, es, value, component, Check.TOO_SHORT,
                         "blank: an AN value needs at least one non-space character")
            return
    if length < es.min:
        _value_error(ctx, raw, index, es, value, component, Check.TOO_SHORT,
                     f"{length} character(s), minimum {es.min}")
    elif length > es.max:
        _value_error(ctx, raw, index, es, value, component, Check.TOO_LONG,
                     f"{length} character(s), maximum {es.max}")
    elif es.type == "ID" and es.codes is not None and value not in es.codes:
        _value_error(ctx, raw, index, es, value, component, Check.INVALID_CODE,
                     f"{value!r} is not one of {sorted(es.codes)}")


def _value_error(ctx: _Ctx, raw: RawSegment, index: int, es: ElementSpec, value: str, component: int | None,
                 check: Check, message: str) -> None:
    ctx.add(check, "element", f"{es.ref} ({es.name}): {message}", raw=raw, element=index, component=component,
            de=es.de, value=value)


def _check_notes(ctx: _Ctx, raw: RawSegment, spec: SegmentSpec, plan: _SpecPlan | None = None) -> None:
    for note, check, position in _note_violations(plan or _plan(spec), tuple(map(bool, raw.elements))):
        if check is Check.EXCLUSION:
            ctx.add(Check.EXCLUSION, "element", f"syntax note {note}: only one of "
                    f"{[f'{raw.tag}{p:02d}' for p in note.positions]} may be present", raw=raw, element=position,
                    de=spec.element(position).de)
        else:
            ctx.add(Check.SYNTAX_NOTE, "element", f"syntax note {note}: {raw.tag}{position:02d} is required "
                    "here", raw=raw, element=position, de=spec.element(position).de)


def _note_violations(plan: _SpecPlan, mask: tuple[bool, ...]) -> tuple[tuple[SyntaxNote, Check, int], ...]:
    """The notes broken when the elements flagged in ``mask`` are present: (note, check, element to name).

    A pure function of the spec and the mask, and a set repeats the same few masks, so it is kept per plan.
    """
    spec = plan.spec
    found = plan.notes_by_mask.get(mask)
    if found is not None:
        return found
    present = {i for i, flag in enumerate(mask, start=1) if flag}
    out: list[tuple[SyntaxNote, Check, int]] = []
    for note in spec.notes:
        first, rest = note.positions[0], note.positions[1:]
        here = [p for p in note.positions if p in present]
        missing: list[int] = []
        if note.kind == "P" and here and len(here) != len(note.positions):
            missing = [p for p in note.positions if p not in present]
        elif note.kind == "R" and not here:
            missing = list(note.positions)
        elif note.kind == "C" and first in present:
            missing = [p for p in rest if p not in present]
        elif note.kind == "L" and first in present and not any(p in present for p in rest):
            missing = list(rest)
        elif note.kind == "E" and len(here) > 1:
            out.append((note, Check.EXCLUSION, here[1]))
            continue
        if missing:
            out.append((note, Check.SYNTAX_NOTE, missing[0]))
    found = tuple(out)
    if len(plan.notes_by_mask) < _MAX_MASKS:
        plan.notes_by_mask[mask] = found
    return found


# ---------------------------------------------------------------- business totals

def _decimal(raw: RawSegment, position: int, places: int | None) -> Decimal | None:
    """An element as a number (``places`` for Nn, None for R), or None when absent or malformed."""
    if position > len(raw.elements) or not raw.elements[position - 1]:
        return None
    text = raw.elements[position - 1]
    try:
        return fmt.parse_r(text) if places is None else fmt.parse_n(text, places)
    except ValueError:
        return None


def _check_totals(ctx: _Ctx, set_id: str, body: Sequence[RawSegment]) -> None:
    if set_id == "810":
        _check_line_totals(ctx, body, "IT1", "TDS", 1, places=2, charges=True)
    elif set_id == "850":
        _check_line_totals(ctx, body, "PO1", "AMT", 2, places=None, charges=False)
    elif set_id == "820":
        _check_remittance_total(ctx, body)
    elif set_id == "997":
        _check_ack_counts(ctx, body)


def _check_line_totals(ctx: _Ctx, body: Sequence[RawSegment], line_tag: str, total_tag: str, total_pos: int,
                       *, places: int | None, charges: bool) -> None:
    # One pass sorting the segments the rule reads (the validator runs this on every set it accepts).
    lines: list[RawSegment] = []
    ctts: list[RawSegment] = []
    totals_found: list[RawSegment] = []
    txis: list[RawSegment] = []
    sacs: list[RawSegment] = []
    for raw in body:
        tag = raw.tag
        if tag == line_tag:
            lines.append(raw)
        elif tag == "TXI":
            txis.append(raw)
        elif tag == "CTT":
            ctts.append(raw)
        elif tag == total_tag and (total_tag != "AMT" or raw.elements[:1] == ("TT",)):
            totals_found.append(raw)
        elif tag == "SAC":
            sacs.append(raw)
    for ctt in ctts:
        if ctt.elements[:1] and ctt.elements[0] != str(len(lines)):
            ctx.add(Check.TOTALS, "segment", f"CTT01 says {ctt.elements[0]} line items, the set has {len(lines)} "
                    f"{line_tag} segments", raw=ctt, element=1, value=ctt.elements[0])
    if not totals_found:
        return
    total_raw = totals_found[0]
    stated = _decimal(total_raw, total_pos, places)
    pairs: list[tuple[Decimal, Decimal]] = []
    for raw in lines:  # _decimal(raw, 2, None) and _decimal(raw, 4, None), inline: once per line
        values = raw.elements
        if len(values) < 4 or not values[1] or not values[3]:
            return  # a line without quantity or price: the arithmetic rule does not apply
        try:
            pairs.append((fmt.parse_r(values[1]), fmt.parse_r(values[3])))
        except ValueError:
            return
    taxes = _sum(_decimal(raw, 2, None) for raw in txis)
    charge = allowance = Decimal(0)
    if charges:
        for raw in sacs:
            amount = _decimal(raw, 5, 2) or Decimal(0)
            if raw.elements[:1] == ("C",):
                charge += amount
            elif raw.elements[:1] == ("A",):
                allowance += amount
    if stated is None:
        return
    computed, allowed = totals.expected_total(pairs, taxes=taxes, charges=charge, allowances=allowance)
    if not totals.agrees(stated, computed, allowed):
        ctx.add(Check.TOTALS, "segment", f"{total_tag} total {stated} does not match the lines: {computed} "
                f"(± {allowed})", raw=total_raw, element=total_pos, value=str(stated))


def _check_remittance_total(ctx: _Ctx, body: Sequence[RawSegment]) -> None:
    """BPR02, signed by BPR03 (`D` debit: negative, as in a reversal), equals Σ RMR04 when every RMR states one:
    a receiver applies the RMR amounts and moves the BPR amount, and they must be the same money."""
    bpr = next((raw for raw in body if raw.tag == "BPR"), None)
    paid = [_decimal(raw, 4, None) for raw in body if raw.tag == "RMR"]
    stated = _decimal(bpr, 2, None) if bpr is not None else None
    if bpr is None or stated is None or not paid or any(p is None for p in paid):
        return
    signed = -stated if bpr.elements[2:3] == ("D",) else stated
    applied = _sum(paid)
    if signed != applied:
        ctx.add(Check.TOTALS, "segment", f"BPR02 {stated} ({'debit' if signed < 0 else 'credit'}) does not match "
                f"the RMR04 amounts, which add up to {applied}", raw=bpr, element=2, value=bpr.elements[1])


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), Decimal(0))


def _check_ack_counts(ctx: _Ctx, body: Sequence[RawSegment]) -> None:
    ak5 = [raw for raw in body if raw.tag == "AK5"]
    ak9 = next((raw for raw in body if raw.tag == "AK9"), None)
    if ak9 is None or not ak5 or len(ak9.elements) < 4:
        return
    accepted = sum(1 for raw in ak5 if raw.elements[:1] in (("A",), ("E",)))
    if ak9.elements[3] != str(accepted):
        ctx.add(Check.TOTALS, "segment", f"AK904 says {ak9.elements[3]} sets accepted, the AK5 segments accept "
                f"{accepted}", raw=ak9, element=4, value=ak9.elements[3])


def summarize(errors: Sequence[X12Error]) -> Mapping[str, int]:
    """Count of findings per check, for logs and metadata."""
    out: dict[str, int] = {}
    for error in errors:
        out[error.check.value] = out.get(error.check.value, 0) + 1
    return out
