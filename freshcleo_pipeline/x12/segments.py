"""Segments as values and their rendering: the one place that joins elements with delimiters.

Owns ``Delimiters`` and ``Segment`` (a tag and its already-formatted element texts) and the rule that
trailing empty elements and components are omitted together with their separators (reference §3.1). Must not
clean or check data: values reaching here are already safe (``hygiene.py``, ``context.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from freshcleo_pipeline.x12.errors import X12EnvelopeError

#: A simple element's text, or a composite's component texts.
Element = str | tuple[str, ...]


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    component: str = ">"
    repetition: str = "^"  # only written (ISA11) from version 00402 on
    segment: str = "~"

    def __post_init__(self) -> None:
        chars = (self.element, self.component, self.repetition, self.segment)
        if any(len(c) != 1 for c in chars) or len(set(chars)) != 4:
            raise X12EnvelopeError("delimiters", chars, "four distinct single characters")
        if any(c.isalnum() or c == " " for c in chars):
            raise X12EnvelopeError("delimiters", chars, "no letter, digit or space as a delimiter")

    def as_tuple(self) -> tuple[str, str, str, str]:
        return (self.element, self.component, self.repetition, self.segment)


class Segment(NamedTuple):
    """A segment to write. A named tuple rather than a frozen dataclass: the mappings build one per segment,
    and a tuple is several times cheaper to construct."""

    tag: str
    elements: tuple[Element, ...]

    def render(self, delimiters: Delimiters) -> str:
        elements = self.elements
        end = len(elements)
        while end and not elements[end - 1]:
            end -= 1
        kept = elements if end == len(elements) else elements[:end]
        try:
            # Simple elements only, the usual case: joined as they are. A composite makes join() refuse.
            data = delimiters.element.join(kept)  # type: ignore[arg-type]
        except TypeError:
            component = delimiters.component
            texts = [e if isinstance(e, str) else _composite_text(e, component) for e in elements]
            while texts and not texts[-1]:
                texts.pop()
            end = len(texts)
            data = delimiters.element.join(texts)
        if not end:
            raise ValueError(f"segment {self.tag} has no data element; an empty segment is invalid X12")
        return self.tag + delimiters.element + data + delimiters.segment


def _composite_text(element: tuple[str, ...], component: str) -> str:
    parts = list(element)
    while parts and not parts[-1]:
        parts.pop()
    return component.join(parts)


def render_all(segments: Iterable[Segment], delimiters: Delimiters) -> str:
    """Segments as text, each with its terminator: ``Segment.render`` of each, joined. The usual list (simple
    elements, each segment's last one present) is joined in one go, since a set renders one segment per line
    item detail; any other goes segment by segment."""
    sep, term = delimiters.element, delimiters.segment
    items: Sequence[Segment] = segments if isinstance(segments, (list, tuple)) else list(segments)
    if not items:
        return ""
    try:
        text = term.join([f"{segment[0]}{sep}{sep.join(segment[1])}" for segment in items]) + term  # type: ignore[arg-type]
    except TypeError:  # a composite among the elements
        return "".join([segment.render(delimiters) for segment in items])
    # A segment whose last element is empty (or that has none) ends in a separator before its terminator:
    # ``Segment.render`` omits the trailing empties (or refuses the segment).
    if sep + term in text:
        return "".join([f"{segment[0]}{sep}{sep.join(elements)}{term}"  # type: ignore[arg-type]
                        if (elements := segment[1]) and elements[-1] else segment.render(delimiters)
                        for segment in items])
    return text


_new_tuple = tuple.__new__


def seg(tag: str, *elements: Element) -> Segment:
    """Shorthand used by the mappings: ``seg("N1", "BT", name)``. Built as the tuple it is, without the
    named tuple's keyword handling: the mappings build one per segment."""
    return _new_tuple(Segment, (tag, elements))
