"""Transaction-set structures as data: segment order, loops, repeats and mandatory segments.

Owns the 4010 structures of 810, 850, 820 and 997 (reference sheet §5-§8), reduced to the segments named in
``specs.py``: a segment of the standard that we neither write nor read is absent here, so the validator reports
it as "not in defined transaction set" (AK304 6). Repeat counts are the standard's; ``None`` means the
standard's ">1" (unbounded). Must not contain validation logic: ``validator.py`` walks these trees.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType


@dataclass(frozen=True)
class SegmentUse:
    tag: str
    min: int
    max: int | None  # None: unbounded


@dataclass(frozen=True)
class Loop:
    """A loop: its first child is the trigger segment, used once per iteration (min 1, max 1)."""

    id: str
    min: int
    max: int | None
    children: tuple[SegmentUse | Loop, ...]

    @property
    def trigger(self) -> str:
        first = self.children[0]
        assert isinstance(first, SegmentUse), "a loop starts with a segment"
        return first.tag

    @cached_property
    def child_positions(self) -> Mapping[str, tuple[int, ...]]:
        """For each tag that starts a child (a segment, or a loop's trigger), the child indexes, ascending."""
        out: dict[str, tuple[int, ...]] = {}
        for index, child in enumerate(self.children):
            tag = child.tag if isinstance(child, SegmentUse) else child.trigger
            out[tag] = (*out.get(tag, ()), index)
        return out  # a plain dict: read for every segment validated, and a proxy costs a call

    @cached_property
    def mandatory_indexes(self) -> tuple[int, ...]:
        """Indexes of the children with a minimum occurrence, ascending."""
        return tuple(index for index, child in enumerate(self.children) if child.min > 0)

    @cached_property
    def all_tags(self) -> frozenset[str]:
        """``tags()`` as a set, computed once per loop."""
        return frozenset(self.tags())

    def tags(self) -> Iterator[str]:
        """Every segment tag that may appear anywhere in the loop."""
        for child in self.children:
            if isinstance(child, SegmentUse):
                yield child.tag
            else:
                yield from child.tags()


@dataclass(frozen=True)
class TransactionSetStructure:
    id: str  # ST01
    functional_id: str  # GS01
    name: str
    body: Loop  # the whole set, ST … SE, as a loop that occurs exactly once


def _s(tag: str, mn: int = 0, mx: int | None = 1) -> SegmentUse:
    return SegmentUse(tag, mn, mx)


def _m(tag: str) -> SegmentUse:
    return SegmentUse(tag, 1, 1)


def _loop(loop_id: str, mn: int, mx: int | None, *children: SegmentUse | Loop) -> Loop:
    return Loop(loop_id, mn, mx, children)


def _party_loop(mx: int | None) -> Loop:
    return _loop("N1", 0, mx, _m("N1"), _s("N2", 0, 2), _s("N3", 0, 2), _s("N4", 0, 1), _s("REF", 0, 12),
                 _s("PER", 0, 3))


INVOICE_810 = TransactionSetStructure("810", "IN", "Invoice", _loop(
    "810", 1, 1,
    _m("ST"),
    _m("BIG"),
    _s("CUR", 0, 1), _s("REF", 0, 12), _s("PER", 0, 3),
    _party_loop(200),
    _s("ITD", 0, None), _s("DTM", 0, 10), _s("PID", 0, 200),
    _loop("IT1", 0, 200000,
          _m("IT1"), _s("CUR", 0, 1), _s("TXI", 0, 10),
          _loop("PID", 0, 1000, _m("PID")),
          _s("ITD", 0, 2), _s("REF", 0, None), _s("PER", 0, 5), _s("DTM", 0, 10), _s("CAD", 0, 1),
          _loop("SAC", 0, 25, _m("SAC"), _s("TXI", 0, 10)),
          _party_loop(200)),
    _m("TDS"),
    _s("TXI", 0, 10), _s("CAD", 0, 1), _s("AMT", 0, None),
    _loop("SAC", 0, 25, _m("SAC"), _s("TXI", 0, 10)),
    _s("CTT", 0, 1),
    _m("SE"),
))

PURCHASE_ORDER_850 = TransactionSetStructure("850", "PO", "Purchase Order", _loop(
    "850", 1, 1,
    _m("ST"),
    _m("BEG"),
    _s("CUR", 0, 1), _s("REF", 0, None), _s("PER", 0, 3),
    _loop("SAC", 0, 25, _m("SAC"), _s("CUR", 0, 1)),
    _s("ITD", 0, None), _s("DTM", 0, 10), _s("PID", 0, 200), _s("TXI", 0, None),
    _party_loop(200),
    _loop("PO1", 1, 100000,
          _m("PO1"), _s("CUR", 0, 1),
          _loop("PID", 0, 1000, _m("PID")),
          _s("REF", 0, None), _s("PER", 0, 3),
          _loop("SAC", 0, 25, _m("SAC"), _s("CUR", 0, 1)),
          _s("ITD", 0, 2), _s("DTM", 0, 10), _s("TXI", 0, None),
          _party_loop(200)),
    _loop("CTT", 0, 1, _m("CTT"), _s("AMT", 0, 1)),
    _m("SE"),
))

REMITTANCE_820 = TransactionSetStructure("820", "RA", "Payment Order/Remittance Advice", _loop(
    "820", 1, 1,
    _m("ST"),
    _m("BPR"),
    _s("TRN", 0, 1), _s("CUR", 0, 1), _s("REF", 0, None), _s("DTM", 0, None),
    _loop("N1", 0, None, _m("N1"), _s("N2", 0, 2), _s("N3", 0, 2), _s("N4", 0, 1), _s("REF", 0, None),
          _s("PER", 0, None), _s("DTM", 0, 1)),
    _loop("ENT", 0, None,
          _m("ENT"),
          _loop("ADX", 0, None, _m("ADX"), _s("PER", 0, None), _s("DTM", 0, 1), _s("REF", 0, None)),
          _loop("RMR", 0, None, _m("RMR"), _s("REF", 0, None), _s("DTM", 0, None),
                _loop("ADX", 0, None, _m("ADX"), _s("PER", 0, None), _s("REF", 0, None)))),
    _m("SE"),
))

ACKNOWLEDGMENT_997 = TransactionSetStructure("997", "FA", "Functional Acknowledgment", _loop(
    "997", 1, 1,
    _m("ST"),
    _m("AK1"),
    _loop("AK2", 0, 999999,
          _m("AK2"),
          _loop("AK3", 0, 999999, _m("AK3"), _s("AK4", 0, 99)),
          _m("AK5")),
    _m("AK9"),
    _m("SE"),
))

STRUCTURES: Mapping[str, TransactionSetStructure] = MappingProxyType({
    s.id: s for s in (INVOICE_810, PURCHASE_ORDER_850, REMITTANCE_820, ACKNOWLEDGMENT_997)
})

#: GS01 for each ST01 (reference §0 item 6).
FUNCTIONAL_ID: Mapping[str, str] = MappingProxyType({s.id: s.functional_id for s in STRUCTURES.values()})
