"""Splitting interchange text into segments and elements, with the delimiters read from the ISA.

Owns the lexical layer of reading: the delimiters (character 4, ISA11 from 00402, ISA16 and the character
after it — located by counting element separators, so that a mis-padded ISA still reads), the segment list
with 1-based positions, and the tolerance of CR/LF between segments (outside X12; reference §2.1: most
translators ignore it, and so do we). Must not judge content: ``validator.py`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from freshcleo_pipeline.x12.errors import X12ParseError

ISA_ELEMENT_COUNT = 16


@dataclass(frozen=True)
class ReadDelimiters:
    element: str
    component: str
    repetition: str  # "" when the version has none (00401)
    segment: str


class RawSegment(NamedTuple):
    """One segment as read. A named tuple rather than a frozen dataclass: one is built per segment read,
    and a tuple is several times cheaper to construct."""

    position: int  # 1-based over the interchange (ISA = 1)
    tag: str
    elements: tuple[str, ...]  # element texts, composites not yet split


@dataclass(frozen=True)
class Tokens:
    delimiters: ReadDelimiters
    isa_text: str  # the ISA as found, with its terminator
    segments: tuple[RawSegment, ...]
    empty_segments: tuple[int, ...]  # positions of empty pieces between terminators
    trailing: str  # text after the last terminator (should be empty)


def read_delimiters(text: str) -> tuple[ReadDelimiters, int]:
    """The delimiters and the length of the ISA segment (106 when well formed)."""
    if not text.startswith("ISA") or len(text) < 4:
        raise X12ParseError("interchange start", text[:3], "the text to begin with 'ISA'")
    element = text[3]
    index = 3
    for _ in range(ISA_ELEMENT_COUNT - 1):
        index = text.find(element, index + 1)
        if index < 0:
            raise X12ParseError("ISA", text[:106], f"{ISA_ELEMENT_COUNT} elements separated by {element!r}")
    if index + 2 >= len(text):
        raise X12ParseError("ISA", text[:106], "ISA16 followed by a segment terminator")
    component, segment = text[index + 1], text[index + 2]
    isa_elements = text[4:index].split(element)
    version = isa_elements[11] if len(isa_elements) > 11 else ""
    repetition = isa_elements[10] if version >= "00402" and len(isa_elements[10]) == 1 else ""
    return ReadDelimiters(element, component, repetition, segment), index + 3


def tokenize(text: str) -> Tokens:
    delimiters, isa_length = read_delimiters(text)
    term, sep = delimiters.segment, delimiters.element
    pieces = text.split(term)
    trailing = pieces.pop()  # after the last terminator
    segments: list[RawSegment] = []
    empty: list[int] = []
    position = 0
    for piece in pieces:
        # CR/LF (and the other of the pair when the terminator is one of them) between segments
        cleaned = piece.strip("\r\n")
        if not cleaned:
            if piece == "":
                empty.append(position + 1)
            continue
        position += 1
        tag, *elements = cleaned.split(sep)
        segments.append(RawSegment(position, tag, tuple(elements)))
    return Tokens(delimiters, text[:isa_length], tuple(segments), tuple(empty), trailing.strip("\r\n"))
