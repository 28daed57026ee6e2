"""Comparing a partner document's figures with one or two versions of ours: lines aligned, then field by field.

Owns line alignment and the tolerance test shared by the supplier and customer matches. Each of our versions
sits in its own column (``sent``: the document as delivered, ``freshbooks``: FreshBooks now); a figure differs
when it strays beyond tolerance from any version present. Must not decide a status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from freshcleo_pipeline.documents import Invoice, Line, PurchaseOrder
from freshcleo_pipeline.matching.results import Difference, money_text, quantity_text
from freshcleo_pipeline.partners import Tolerance

#: Our columns, in the order they are compared.
OURS = ("sent", "freshbooks")


@dataclass(frozen=True)
class Figures:
    """What is compared of a document: the same for an invoice and a purchase order."""

    currency: str
    lines: tuple[Line, ...]
    tax_total: Decimal
    total: Decimal

    @classmethod
    def of(cls, document: Invoice | PurchaseOrder) -> Figures:
        return cls(currency=document.currency, lines=document.lines, tax_total=document.tax_total,
                   total=document.total)


@dataclass(frozen=True)
class Wording:
    """How notes name each side's document: ``their invoice``, ``the purchase order we sent``…"""

    theirs: str
    sent: str
    freshbooks: str

    def of(self, column: str) -> str:
        return {"theirs": self.theirs, "sent": self.sent, "freshbooks": self.freshbooks}[column]


def within(theirs: Decimal, ours: Decimal, limit: Decimal) -> bool:
    """The tolerance test: the absolute difference is at most ``limit`` (zero: equal as numbers)."""
    return abs(theirs - ours) <= limit


def align(theirs: Sequence[Line], ours: Sequence[Line]) -> dict[int, int]:
    """Pair their lines with ours: by line number, then by SKU, then by position among what is left.

    Returns their index → our index. Two lines whose SKUs are both given and differ are different products
    and never pair, whatever their numbers: a substitution reads as one line missing and one extra.
    """
    pairs: dict[int, int] = {}
    taken: set[int] = set()

    def compatible(a: Line, b: Line) -> bool:
        return not a.sku or not b.sku or a.sku == b.sku

    def pass_(fits: Callable[[Line, Line], bool]) -> None:
        for ti, line in enumerate(theirs):
            if ti in pairs:
                continue
            for oi, mine in enumerate(ours):
                if oi not in taken and fits(line, mine):
                    pairs[ti] = oi
                    taken.add(oi)
                    break

    pass_(lambda a, b: a.line_number == b.line_number and compatible(a, b))
    pass_(lambda a, b: bool(a.sku) and a.sku == b.sku)
    pass_(compatible)
    return pairs


def line_text(line: Line) -> str:
    """A whole line in a few words: ``2 x 40.00 Pallet wrap (WA-10)``."""
    text = f"{quantity_text(line.quantity)} x {money_text(line.unit_price)}"
    name = line.name or line.description
    if name:
        text += f" {name}"
    # FreshBooks item names often end with the SKU already: said once.
    return text + (f" ({line.sku})" if line.sku and line.sku not in name else "")


def compare(theirs: Figures, ours: Mapping[str, Figures], tolerance: Tolerance, wording: Wording) -> list[Difference]:
    """Every difference between their figures and each of our versions present (``ours`` keyed by column):
    currency, then lines in their order and the lines they left out, then tax and total."""
    differences: list[Difference] = []
    columns = [c for c in OURS if c in ours]

    def header(name: str, value: Callable[[Figures], str], same: Callable[[Figures], bool]) -> None:
        if all(same(ours[c]) for c in columns):
            return
        values = {c: value(ours[c]) if c in ours else None for c in OURS}
        differences.append(Difference(name, value(theirs), values["sent"], values["freshbooks"],
                                      _changed_note(values, wording)))

    header("currency", lambda f: f.currency, lambda f: f.currency == theirs.currency)

    pairs = {c: align(theirs.lines, ours[c].lines) for c in columns}
    for ti, line in enumerate(theirs.lines):
        matched = {c: ours[c].lines[pairs[c][ti]] for c in columns if ti in pairs[c]}
        label = f"lines[{line.line_number}]"
        absent = [c for c in columns if c not in matched]
        if absent:
            text = {c: line_text(matched[c]) if c in matched else None for c in OURS}
            note = "not on " + " nor ".join(wording.of(c) for c in absent)
            differences.append(Difference(label, line_text(line), text["sent"], text["freshbooks"], note))
        if not matched:
            continue
        renumbered = sorted({m.line_number for m in matched.values() if m.line_number != line.line_number})
        numbered = f"our line {', '.join(map(str, renumbered))}" if renumbered else ""
        for name, limit, show in (("quantity", tolerance.quantity, quantity_text),
                                  ("unit_price", tolerance.amount, money_text),
                                  ("amount", tolerance.amount, money_text)):
            mine: Decimal = getattr(line, name)
            if all(within(mine, getattr(m, name), limit) for m in matched.values()):
                continue
            values = {c: show(getattr(matched[c], name)) if c in matched else None for c in OURS}
            note = "; ".join(n for n in (numbered, _changed_note(values, wording)) if n)
            differences.append(Difference(f"{label}.{name}", show(mine), values["sent"], values["freshbooks"], note))

    # Our lines they left out: one difference per our line number, with what each version of ours holds.
    missing: dict[int, dict[str, str]] = {}
    for c in columns:
        paired = set(pairs[c].values())
        for oi, our_line in enumerate(ours[c].lines):
            if oi not in paired:
                missing.setdefault(our_line.line_number, {})[c] = line_text(our_line)
    for number in sorted(missing):
        found = missing[number]
        differences.append(Difference(f"lines[{number}]", None, found.get("sent"), found.get("freshbooks"),
                                      f"missing from {wording.theirs}"))

    header("tax_total", lambda f: money_text(f.tax_total),
           lambda f: within(theirs.tax_total, f.tax_total, tolerance.amount))
    header("total", lambda f: money_text(f.total), lambda f: within(theirs.total, f.total, tolerance.amount))
    return differences


def _changed_note(values: Mapping[str, str | None], wording: Wording) -> str:
    sent, now = values.get("sent"), values.get("freshbooks")
    if sent is not None and now is not None and sent != now:
        return f"{wording.freshbooks} changed since {wording.sent}"
    return ""
