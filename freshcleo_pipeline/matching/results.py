"""What a match found: the differences, field by field, and the result a person and the ledger read.

Owns ``Difference`` and ``MatchResult``, their JSON form for storage and the one-line summary. Values are
canonical text (money ``12.50``, quantity ``10``) so a stored result reads the same in the UI, the CLI and a
test. Must not decide whether anything matches: that is ``supplier.py`` and ``customer.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

#: Column names of a difference, in the order a sentence reads them.
COLUMNS = ("theirs", "sent", "freshbooks")

_LINE_FIGURE = re.compile(r"^lines\[(\d+)\]\.(\w+)$")
_LINE = re.compile(r"^lines\[(\d+)\]$")
_FIGURE_WORDS = {"unit_price": "price", "quantity": "quantity", "amount": "line amount"}
_SIDES = {"theirs": "theirs", "sent": "sent", "freshbooks": "FreshBooks"}
_HEADER_WORDS = {"total": "total", "tax_total": "tax", "currency": "currency"}


def money_text(value: Decimal) -> str:
    """Money as canonical text: at least two decimals, more only when they carry something (12.5 → 12.50,
    12.505 → 12.505), never an exponent."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:  # a str exponent marks NaN or infinity: shown as is
        value = value.quantize(Decimal("0.01"))
    return _plain(value)


def quantity_text(value: Decimal) -> str:
    """A quantity as canonical text: no trailing zeros, never an exponent (10.000 → 10, 2.50 → 2.5)."""
    return _plain(value.normalize())


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return "0" + text[2:] if text.startswith("-0") and not any(c in "123456789" for c in text) else text


@dataclass(frozen=True)
class Difference:
    """One figure or fact on which their document and ours disagree.

    ``field`` names it as a person locates it: ``lines[2].unit_price``, ``lines[3]`` (a whole line only on
    one side), ``total``, ``tax_total``, ``currency``, ``vendor``, ``client``, ``items[1].amount_paid``. Line
    numbers are theirs for a line they sent and ours for a line they left out. The three columns hold the
    partner's value, the value in what we sent, and FreshBooks' value now; ``None`` where that side has no
    such document or line.
    """

    field: str
    theirs: str | None
    sent: str | None
    freshbooks: str | None
    note: str = ""

    def to_json(self) -> dict[str, str | None]:
        """JSON-native form for storage: ``{field, theirs, sent, freshbooks, note}``."""
        return {"field": self.field, "theirs": self.theirs, "sent": self.sent, "freshbooks": self.freshbooks,
                "note": self.note}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Difference:
        return cls(field=data["field"], theirs=data.get("theirs"), sent=data.get("sent"),
                   freshbooks=data.get("freshbooks"), note=data.get("note") or "")

    def sentence(self, columns: dict[str, str]) -> str:
        """The difference as a person reads it, with ``columns`` naming each column's value ("invoiced",
        "ordered"): ``price differs on line 2: 12.50 invoiced, 12.00 ordered``."""
        figure = _LINE_FIGURE.match(self.field)
        whole_line = _LINE.match(self.field)
        note = self.note
        values = [(self.theirs, "theirs"), (self.sent, "sent")]
        # What FreshBooks holds is worth a word only when it is not what we sent.
        if self.freshbooks is not None and (self.sent is None or self.freshbooks != self.sent):
            values.append((self.freshbooks, "freshbooks"))
        if figure and figure.group(2) in _FIGURE_WORDS:
            head = f"{_FIGURE_WORDS[figure.group(2)]} differs on line {figure.group(1)}"
        elif whole_line and note:
            head, note = f"line {whole_line.group(1)} {note}", ""
        elif self.field in _HEADER_WORDS:
            head = f"{_HEADER_WORDS[self.field]} differs"
        else:
            # A fact rather than a figure (vendor, client, an unknown invoice): the note says it, and the values
            # are labelled by side, leaving out any the note already names.
            head, note = note or f"{self.field} differs", ""
            shown = ", ".join(f"{_SIDES[column]} {value}" for value, column in values
                              if value is not None and value not in head)
            return head + (f": {shown}" if shown else "")
        shown = ", ".join(f"{value} {columns.get(column, column)}" for value, column in values if value is not None)
        return head + (f": {shown}" if shown else "") + (f" ({note})" if note else "")


@dataclass(frozen=True)
class MatchResult:
    """The outcome of matching one partner document.

    ``status``: ``matched`` / ``mismatched`` / ``unmatched`` (a supplier's 810), ``answered`` / ``unanswered``
    (a customer's 850), ``reported`` (a customer's 820: facts only). ``freshbooks_kind`` and ``freshbooks_id``
    name the FreshBooks document it was matched with (``bill``, ``invoice``, ``client``), ``our_reference``
    our number it answers (PO number, invoice number). ``detail`` is JSON-native (strings, numbers, booleans,
    lists, dicts) and always carries ``columns`` (the words for each column) and ``headline`` (what the
    result says apart from its differences, possibly empty).
    """

    status: str
    differences: tuple[Difference, ...] = ()
    freshbooks_kind: str | None = None
    freshbooks_id: str | None = None
    our_reference: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-native form for storage (``json.dumps`` takes it as is); ``from_json`` reads it back equal."""
        return {"status": self.status, "differences": [d.to_json() for d in self.differences],
                "freshbooks_kind": self.freshbooks_kind, "freshbooks_id": self.freshbooks_id,
                "our_reference": self.our_reference, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchResult:
        return cls(status=data["status"], differences=tuple(Difference.from_json(d) for d in data["differences"]),
                   freshbooks_kind=data.get("freshbooks_kind"), freshbooks_id=data.get("freshbooks_id"),
                   our_reference=data.get("our_reference"), detail=data.get("detail") or {})

    def summary(self) -> str:
        """One line for a finance person: the headline, then the first difference and how many more."""
        parts = [str(self.detail.get("headline") or "")]
        if self.differences:
            columns = self.detail.get("columns") or {}
            first = self.differences[0].sentence(columns)
            more = len(self.differences) - 1
            parts.append(first + (f"; and {more} more difference{'s' if more > 1 else ''}" if more else ""))
        return "; ".join(p for p in parts if p) or self.status
