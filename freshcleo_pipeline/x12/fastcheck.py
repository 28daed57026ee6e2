"""The validator's quick acceptance: the ISA, the envelope and every element of an interchange in one pass.

Owns grammars compiled from ``specs.py`` per (version, character set, delimiters): one regular expression per
segment over its raw text (element types, lengths, codes, dates, times, the character set, which excludes
every delimiter, mandatory elements, too many elements, trailing separators, and the syntax notes as
lookaheads), looked up by tag. ``scan`` splits the text into segments once, accepts each segment by its tag's
expression (or as a text this grammar has accepted before), and reads the envelope sequence, counts, control
numbers and GS01/ST01 from the same split. What remains (each set's structure and totals) the validator
checks on the sets ``scan`` returns.

It only ever answers "nothing wrong so far": anything it does not accept (CR/LF between segments, an unknown
tag, a second version in one interchange, any error) goes to the detailed validator, which says what is wrong.
The contract is one way: ``scan(text)`` not None, and the sets' structure and totals clean, imply no finding.
Must not report findings or repair input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from freshcleo_pipeline.x12 import elements as fmt
from freshcleo_pipeline.x12.hygiene import Charset, allowed_characters
from freshcleo_pipeline.x12.specs import C_I05, ElementSpec, SegmentSpec, segments_for
from freshcleo_pipeline.x12.structures import FUNCTIONAL_ID, STRUCTURES

_SUPPORTED_VERSIONS = ("004010", "005010")
# Once the ISA has matched its fixed widths, its repetition separator, version and control number sit at fixed
# offsets.
ISA_LENGTH = 106
_ISA11 = 82
_ISA12 = slice(84, 89)
_ISA13 = slice(90, 99)

# CCYYMMDD that ``elements.parse_date`` accepts: year 0001-9999, real month and day, 29 February in leap
# years only (divisible by 4, and centuries only when divisible by 400).
_MONTH_DAY = ("(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)"
              "|02(?:0[1-9]|1[0-9]|2[0-8]))")
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE = f"(?:(?!0000)[0-9]{{4}}{_MONTH_DAY}|{_LEAP_YEAR}0229)"
_TIME = "(?:[01][0-9]|2[0-3])[0-5][0-9](?:[0-5][0-9](?:[0-9]{1,2})?)?"  # HHMM[SS[D[D]]], lengths 4, 6, 7, 8


# Segment texts accepted per grammar before the memo starts again (a few MB at most).
_MAX_ACCEPTED = 1 << 14


@dataclass(frozen=True)
class _Grammar:
    """One version's dictionary compiled for one character set and set of delimiters."""

    # tag → that segment's expression over its text without the terminator (None: the detailed checks decide)
    sources: dict[str, str | None]
    # tag → the fullmatch of its expression, compiled when a segment with the tag is first read: a run writes a
    # score of the dictionary's segments, and compiling all of them would cost a process more than checking a
    # day's interchanges.
    segments: dict[str, Callable[[str], re.Match[str] | None]]
    # Segment texts the expressions accepted, each with its tag. The verdict is a pure function of the text
    # under this grammar, and a run's interchanges repeat most segments (parties, items, taxes, descriptions,
    # envelope trailers).
    accepted: dict[str, str]

    def expression(self, tag: str) -> Callable[[str], re.Match[str] | None] | None:
        found = self.segments.get(tag)
        if found is None:
            source = self.sources.get(tag)
            if source is None:
                return None
            found = self.segments[tag] = re.compile(source).fullmatch
        return found


def _class(chars: frozenset[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


def _value(es: ElementSpec, v: str, solid: str, allowed: frozenset[str]) -> str | None:
    """A pattern matching exactly the values of ``es`` the detailed checks pass (``v``: one allowed character,
    ``solid``: one allowed non-space character); None when the element needs the detailed checks."""
    lo, hi = es.min, es.max
    end = f"(?!{v})"
    if es.type == "AN":
        blanks = frozenset(c for c in allowed if c.isspace() and c not in "\r\n")
        lead = f"{_class(blanks)}*" if blanks else ""
        return f"(?={lead}{solid}){v}{{{lo},{hi}}}{end}"
    if es.type == "ID":
        if es.codes is None:
            return f"{v}{{{max(lo, 1)},{hi}}}"
        fitting = sorted((c for c in es.codes if lo <= len(c) <= hi and allowed.issuperset(c)),
                         key=lambda c: (-len(c), c))  # longest first: no reliance on backtracking order
        return f"(?:{'|'.join(map(re.escape, fitting))}){end}" if fitting else None
    minus = "-?" if "-" in allowed else ""
    if es.type.startswith("N") and es.type[1:].isdigit():
        return f"{minus}[0-9]{{{max(lo, 1)},{hi}}}{end}"
    if es.type == "R":
        if "." not in allowed:
            return f"(?={minus}[0-9]{{{max(lo, 1)},{hi}}}{end}){minus}[0-9]+{end}"
        return (f"(?={minus}\\.?(?:[0-9]\\.?){{{max(lo, 1)},{hi}}}{end})"
                f"{minus}(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+){end}")
    if es.type == "DT":
        return f"{_DATE}{end}"
    if es.type == "TM":
        return f"(?=[0-9]{{{lo},{hi}}}{end}){_TIME}{end}"
    return None


def _composite(es: ElementSpec, v: str, solid: str, allowed: frozenset[str], comp: str) -> str | None:
    """Components joined by the component separator; the required ones up to the last, the rest optional."""
    sources: list[str] = []
    for component in es.components:
        source = _value(component, v, solid, allowed)
        if source is None:
            return None
        sources.append(source if component.required else f"(?:{source})?")
    required = [i for i, component in enumerate(es.components, start=1) if component.required]
    last = required[-1] if required else 1
    tail = ""
    for source in reversed(sources[last:]):
        tail = f"(?:{comp}{source}{tail})?"
    return comp.join(sources[:last]) + tail


def _segment(spec: SegmentSpec, v: str, solid: str, allowed: frozenset[str], sep: str, comp: str, free: str
             ) -> str | None:
    """``TAG*…`` for one segment, without its terminator; ``free`` is one character that is no delimiter."""
    sources: list[str] = []
    for es in spec.elements:
        source = (_composite(es, v, solid, allowed, comp) if es.type == "COMP"
                  else _value(es, v, solid, allowed))
        if source is None:
            return None
        sources.append(source)
    last_required = spec.required_positions[-1] if spec.required_positions else 1
    # A pair note (P) on two adjacent optional elements of the tail is written into the sequence itself —
    # both, or neither — which costs the scan nothing; the other notes are lookaheads from the tag.
    paired = {note.positions[0]: note for note in spec.notes
              if note.kind == "P" and len(note.positions) == 2
              and note.positions[1] == note.positions[0] + 1 and note.positions[0] > last_required}
    lookaheads = "".join(_note(note.kind, note.positions, sep, free) for note in spec.notes
                         if note.positions[0] not in paired or paired[note.positions[0]] is not note)
    head = [f"(?={free}){source}" if es.required else f"(?:{source})?"
            for es, source in zip(spec.elements[:last_required], sources, strict=False)]
    units: list[str] = []  # each starts with the separator before its first element
    position = last_required + 1
    while position <= len(sources):
        if position in paired:
            first, second = sources[position - 1], sources[position]
            units.append(f"{sep}(?:{first}{sep}{second}|{sep}(?!{free}))")
            position += 2
        else:
            units.append(f"{sep}(?:{sources[position - 1]})?")
            position += 1
    tail = ""
    for unit in reversed(units):
        tail = f"(?:{unit}{tail})?"
    # Not ending in a separator: no trailing empty element, and at least one element with data.
    return f"{re.escape(spec.tag)}(?={sep}){lookaheads}{sep}{sep.join(head)}{tail}(?<!{sep})"


def _note(kind: str, positions: Sequence[int], sep: str, free: str) -> str:
    """A syntax note as lookaheads from just after the tag (reference: P paired, R required, C conditional,
    L list conditional, E exclusion; ``validator._note_violations`` is the rule)."""
    def here(p: int) -> str:  # element p has data
        return f"(?=(?:{sep}{free}*){{{p - 1}}}{sep}{free})"

    def absent(p: int) -> str:
        return f"(?!(?:{sep}{free}*){{{p - 1}}}{sep}{free})"

    first, rest = positions[0], positions[1:]
    if kind == "P":
        return f"(?:{''.join(map(here, positions))}|{''.join(map(absent, positions))})"
    if kind == "R":
        return f"(?:{'|'.join(map(here, positions))})"
    if kind == "C":
        return f"(?:{absent(first)}|{''.join(map(here, rest))})"
    if kind == "L":
        return f"(?:{absent(first)}|{'|'.join(map(here, rest))})"
    # E: no two present
    pairs = [(a, b) for i, a in enumerate(positions) for b in positions[i + 1:]]
    return "".join(f"(?!{here(a)}{here(b)})" for a, b in pairs)


@lru_cache(maxsize=64)
def _grammar(version: str, allowed: frozenset[str], delimiters: tuple[str, str, str]) -> _Grammar:
    sep, comp, term = (re.escape(d) for d in delimiters)
    free = f"[^{sep}{term}]"
    chars = allowed - {"\r", "\n"}  # CR/LF between segments are the tokenizer's to forgive, not ours
    v, solid = _class(chars), _class(frozenset(c for c in chars if not c.isspace()))
    sources = {spec.tag: _segment(spec, v, solid, allowed, sep, comp, free)
               for spec in segments_for(version).values() if spec.tag != "ISA"}
    return _Grammar(sources, {}, {})


@lru_cache(maxsize=64)
def _isa_pattern(sep: str, term: str) -> re.Pattern[str]:
    """The ISA's fixed widths and codes (``validator._check_isa``); date and time are tested after."""
    # CR and LF are excluded: the tokenizer strips them from the ends of the ISA it reads.
    s, any_ = re.escape(sep), f"[^{re.escape(sep)}{re.escape(term)}\\r\\n]"
    qualifier = "(?:" + "|".join(sorted(c for c in C_I05 if re.fullmatch("[0-9A-Z]{2}", c))) + ")"
    filled = f"(?={any_}*[^\\s{re.escape(sep)}{re.escape(term)}]){any_}{{15}}"  # not blank
    fields = ["ISA", "(?:00|03)", f"{any_}{{10}}", "(?:00|01)", f"{any_}{{10}}", qualifier, filled, qualifier,
              filled, "([0-9]{6})", "([0-9]{4})", f"({any_})", "(00401|00501)", "[0-9]{9}", "[01]", "[PTI]",
              any_]
    return re.compile(s.join(fields) + re.escape(term))


class Scan(NamedTuple):
    """An interchange whose ISA, envelope and every element passed: what remains for the validator."""

    element: str  # the element separator, to split the values the remaining checks read
    # (ST01, the tags from ST to SE, and the text of each of those segments without its terminator)
    sets: list[tuple[str, tuple[str, ...], Sequence[str]]]


def scan(text: str, charset: Charset) -> Scan | None:
    """The transaction sets of ``text`` when the ISA, the envelope (sequence, counts, control numbers,
    GS01/ST01) and every element would pass the detailed checks; None when any might not."""
    # A clean ISA has its fixed widths, so the delimiters sit at fixed offsets: the element separator after
    # the tag, the component separator and the terminator at the end (``tokens.read_delimiters`` finds the
    # same ones by counting separators, which only matters for an ISA this scan refuses anyway).
    if len(text) < ISA_LENGTH or not text.startswith("ISA"):
        return None
    sep, comp, term = text[3], text[ISA_LENGTH - 2], text[ISA_LENGTH - 1]
    isa_version = text[_ISA12]
    repetition = text[_ISA11] if isa_version >= "00402" else ""
    delims = (sep, comp, repetition, term) if repetition else (sep, comp, term)
    if not _isa_clean(text[:ISA_LENGTH], delims):
        return None
    allowed = allowed_characters(charset, "00501" if isa_version == "00501" else "00401", delims)
    pieces = text[ISA_LENGTH:].split(term)
    if pieces.pop() or not pieces:  # data after the last terminator, or nothing after the ISA
        return None
    gs = pieces[0].split(sep)
    if gs[0] != "GS" or len(gs) != 9 or gs[8][:6] not in _SUPPORTED_VERSIONS:
        return None
    version = gs[8]
    grammar = _grammar("00501" if version.startswith("00501") else "00401", allowed, (sep, comp, term))
    accepted = grammar.accepted
    try:
        tags = tuple(map(accepted.__getitem__, pieces))  # every segment seen before: its tag, in one C loop
    except KeyError:
        expression = grammar.expression
        found: list[str] = []
        for piece in pieces:
            tag = accepted.get(piece)
            if tag is None:
                tag = piece[:piece.find(sep)]
                fullmatch = expression(tag)
                if fullmatch is None or fullmatch(piece) is None:
                    return None
                if len(accepted) >= _MAX_ACCEPTED:
                    accepted.clear()
                accepted[piece] = tag
            found.append(tag)
        tags = tuple(found)
    sets = _envelope_sets(pieces, tags, text[_ISA13], sep, version)
    return None if sets is None else Scan(sep, sets)


def _isa_clean(isa: str, delims: tuple[str, ...]) -> bool:
    if not _delimiters_clean(delims):
        return False
    match = _isa_pattern(delims[0], delims[-1]).fullmatch(isa)
    if match is None:
        return False
    date, time, standards, version = match.groups()
    if version == "00401" and standards != "U":
        return False
    return _date_time_clean(date, time)


# Both below are pure, and a run's interchanges share their delimiters and, within a minute, date and time.
@lru_cache(maxsize=64)
def _delimiters_clean(delims: tuple[str, ...]) -> bool:
    return len(set(delims)) == len(delims) and not any(c.isalnum() or c == " " for c in delims)


@lru_cache(maxsize=1024)
def _date_time_clean(date: str, time: str) -> bool:
    return fmt.is_valid_isa_date(date) and fmt.is_valid_time(time)


def _envelope_sets(pieces: Sequence[str], tags: tuple[str, ...], isa13: str, sep: str, version: str
                   ) -> list[tuple[str, tuple[str, ...], Sequence[str]]] | None:
    """GS (ST … SE)+ GE, repeated, then IEA, with every count and control number and GS01/ST01 right; the
    sets found. ``pieces`` is the text of every segment after the ISA, all element-clean; ``tags`` theirs."""
    out: list[tuple[str, tuple[str, ...], Sequence[str]]] = []
    groups = 0
    group_numbers: set[str] = set()
    i, n = 0, len(pieces)
    while i < n and tags[i] == "GS":
        gs = pieces[i].split(sep)
        group, functional_id = gs[6], gs[1]
        if group in group_numbers or gs[8] != version:
            return None
        group_numbers.add(group)
        groups += 1
        i += 1
        sets = 0
        set_numbers: set[str] = set()
        while i < n and tags[i] == "ST":
            end = _set_end(tags, i)
            if end is None:
                return None
            st = pieces[i].split(sep)
            se = pieces[end].split(sep)
            set_id, control = st[1], st[2]
            if (control in set_numbers or se[1] != str(end - i + 1) or se[2] != control
                    or set_id not in STRUCTURES or FUNCTIONAL_ID[set_id] != functional_id):
                return None
            set_numbers.add(control)
            out.append((set_id, tags[i:end + 1], pieces[i:end + 1]))
            sets += 1
            i = end + 1
        if i >= n or tags[i] != "GE":
            return None
        ge = pieces[i].split(sep)
        if ge[1] != str(sets) or ge[2] != group:
            return None
        i += 1
    if groups == 0 or i != n - 1 or tags[i] != "IEA":
        return None
    iea = pieces[i].split(sep)
    return out if iea[1] == str(groups) and iea[2] == isa13 else None


def _set_end(tags: tuple[str, ...], start: int) -> int | None:
    """The index of the SE closing the set that starts at ``start``; None when another envelope segment
    comes first or none follows."""
    try:
        end = tags.index("SE", start + 1)
    except ValueError:
        return None
    return end if _ENVELOPE_TAGS.isdisjoint(tags[start + 1:end]) else None


_ENVELOPE_TAGS = frozenset(("ST", "GS", "GE", "IEA"))
