"""The one door to badx12: its Python >= 3.10 import shim, CR/LF normalization, and envelope parsing.

Owns everything the reference sheet (§11.1) says badx12 0.2.2 needs: ``collections.Iterable`` restored before
the first import, line breaks removed (or a line-break terminator rewritten) before parsing, text only (no
bytes), and a translation of its objects into plain tuples so no other module touches badx12 types. badx12 is
used to *read* envelopes only — never to write (its serializer corrupts segments) and never as the validator
(it checks envelopes only; ``validator.py`` is the authority).
"""

from __future__ import annotations

import collections
import collections.abc
from dataclasses import dataclass
from typing import Any

if not hasattr(collections, "Iterable"):
    # badx12 0.2.2 imports Iterable from collections, removed in Python 3.10.
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

import badx12  # must follow the shim above

from freshcleo_pipeline.x12.errors import X12ParseError
from freshcleo_pipeline.x12.tokens import read_delimiters

_SPARE_TERMINATORS = "~|!`^"


@dataclass(frozen=True)
class EnvelopeSegment:
    tag: str
    elements: tuple[str, ...]


@dataclass(frozen=True)
class ParsedSet:
    header: EnvelopeSegment  # ST
    trailer: EnvelopeSegment  # SE
    body: tuple[EnvelopeSegment, ...]


@dataclass(frozen=True)
class ParsedGroup:
    header: EnvelopeSegment  # GS
    trailer: EnvelopeSegment  # GE
    sets: tuple[ParsedSet, ...]


@dataclass(frozen=True)
class ParsedInterchange:
    header: EnvelopeSegment  # ISA
    trailer: EnvelopeSegment  # IEA
    groups: tuple[ParsedGroup, ...]
    envelope_problems: tuple[str, ...]  # badx12's own envelope findings (counts, control numbers, widths)


def normalize(text: str | bytes) -> str:
    """Text badx12 can parse: decoded strictly, and without CR/LF (which X12 data can never contain)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise X12ParseError("encoding", exc.object[exc.start:exc.end], "ASCII or UTF-8 text") from None
    delimiters, _ = read_delimiters(text.lstrip("\r\n"))
    text = text.lstrip("\r\n")
    if delimiters.segment in "\r\n":
        spare = next((c for c in _SPARE_TERMINATORS if c not in text), None)
        if spare is None:
            raise X12ParseError("segment terminator", delimiters.segment, "a terminator badx12 can read")
        return text.replace("\r\n", spare).replace("\n", spare).replace("\r", spare)
    return text.replace("\r", "").replace("\n", "")


def _segment(node: Any) -> EnvelopeSegment:
    fields = [f.content for f in node.fields]
    return EnvelopeSegment(fields[0], tuple(fields[1:]))


def _body_segment(node: Any) -> EnvelopeSegment:
    fields = {f.name: f.content for f in node.fields}
    count = len(fields)
    return EnvelopeSegment(fields["GEN0"], tuple(fields[f"GEN{i}"] for i in range(1, count)))


def parse(text: str | bytes) -> ParsedInterchange:
    """Parse an interchange envelope with badx12; raises ``X12ParseError`` when it cannot."""
    clean = normalize(text)
    try:
        document = badx12.Parser(clean).document
        report = document.validate()
        interchange = document.interchange
        groups = tuple(
            ParsedGroup(_segment(group.header), _segment(group.trailer), tuple(
                ParsedSet(_segment(ts.header), _segment(ts.trailer),
                          tuple(_body_segment(s) for s in ts.transaction_body))
                for ts in group.transaction_sets))
            for group in interchange.groups
        )
        problems = tuple(str(e.msg) for e in report.error_list)
        return ParsedInterchange(_segment(interchange.header), _segment(interchange.trailer), groups, problems)
    except X12ParseError:
        raise
    except Exception as exc:  # noqa: BLE001  badx12 raises anything from IndexError to ValueError
        raise X12ParseError("interchange", clean[:106], f"an envelope badx12 can parse ({exc!r})") from None
