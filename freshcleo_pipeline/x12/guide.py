"""A partner's implementation guide as data: what it asks beyond the standard, and the check that it is met.

Owns the rules the mappings follow per partner (credit-memo convention, the N103 qualifier for ids the partner
assigned, the product id qualifier) and the list of elements the guide makes mandatory, each written
``<set>:<tag>[*<qualifier>]:<element>`` — ``810:N1*BT:N104`` (the bill-to N1 must exist and carry N104),
``810:IT1:IT107`` (every IT1 carries a product id), ``850:REF*IV:REF02`` (a REF with the bill number). The check
is generic: it reads the requirements, never a partner's name. Must not read files or know partners.yaml: the
caller builds a ``Guide`` from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from freshcleo_pipeline.x12.specs import C_66, C_235
from freshcleo_pipeline.x12.tokens import Tokens, tokenize


class CreditMemoConvention(StrEnum):
    """How a credit memo reads (BIG07 and the sign of its amounts): the two conventions guides ask for."""

    CR_POSITIVE = "cr_positive"  # BIG07 `CR` credit memo, quantities and amounts positive: CR says the direction
    DI_NEGATIVE = "di_negative"  # BIG07 `DI` debit invoice with negative quantities and amounts


_REQUIREMENT = re.compile(r"^(?P<set>\d{3}):(?P<tag>[A-Z][A-Z0-9]{1,2})(?:\*(?P<qualifier>[A-Z0-9]{1,3}))?"
                          r":(?P<element>[A-Z][A-Z0-9]{1,2}\d{2})$")


@dataclass(frozen=True)
class Requirement:
    """One element a guide makes mandatory: in every ``tag`` segment (with ``qualifier`` as its first element,
    when given) of a ``set_id`` set; with a qualifier, at least one such segment must exist."""

    set_id: str
    tag: str
    qualifier: str
    element: str  # e.g. "N104"

    @classmethod
    def parse(cls, text: str) -> Requirement:
        match = _REQUIREMENT.match(text)
        if not match or not match.group("element").startswith(match.group("tag")):
            raise ValueError(f"guide requirement {text!r}: expected <set>:<tag>[*<qualifier>]:<element>, "
                             "e.g. 810:N1*ST:N104 or 850:PO1:PO107")
        return cls(match.group("set"), match.group("tag"), match.group("qualifier") or "", match.group("element"))

    @property
    def position(self) -> int:
        return int(self.element[len(self.tag):])

    def __str__(self) -> str:
        where = f"{self.tag}*{self.qualifier}" if self.qualifier else self.tag
        return f"{self.set_id}:{where}:{self.element}"


@dataclass(frozen=True)
class Guide:
    credit_memo: CreditMemoConvention = CreditMemoConvention.CR_POSITIVE
    party_id_qualifier: str = "ZZ"  # N103 for an id the partner assigned ("mutually defined" without a guide)
    product_id_qualifier: str = "VP"  # IT106 / PO106: the seller's part number unless the guide says UP/VN/BP/SK
    requires: tuple[Requirement, ...] = ()

    def __post_init__(self) -> None:
        if self.party_id_qualifier not in C_66:
            raise ValueError(f"party_id_qualifier: got {self.party_id_qualifier!r}; expected one of {sorted(C_66)}")
        if self.product_id_qualifier not in C_235:
            raise ValueError(f"product_id_qualifier: got {self.product_id_qualifier!r}; expected one of "
                             f"{sorted(C_235)}")

    @classmethod
    def of(cls, *, requires: Iterable[str] = (), **rules: object) -> Guide:
        return cls(requires=tuple(Requirement.parse(r) for r in requires), **rules)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Unmet:
    """A guide requirement a transaction set does not meet."""

    requirement: Requirement
    segment_position: int | None  # 1-based in the set (ST = 1); None when the segment is missing altogether
    message: str

    def __str__(self) -> str:
        return f"partner guide requires {self.requirement}: {self.message}"


def unmet(set_id: str, segments: Sequence[tuple[str, Sequence[object]]], guide: Guide) -> list[Unmet]:
    """The requirements of ``guide`` that one transaction set (its segments, ST to SE or the body) breaks."""
    out: list[Unmet] = []
    for req in guide.requires:
        if req.set_id != set_id:
            continue
        found = [(index, elements) for index, (tag, elements) in enumerate(segments, start=1)
                 if tag == req.tag and (not req.qualifier or (len(elements) > 0 and elements[0] == req.qualifier))]
        if req.qualifier and not found:
            out.append(Unmet(req, None, f"no {req.tag}*{req.qualifier} segment"))
            continue
        for index, elements in found:
            if len(elements) < req.position or not elements[req.position - 1]:
                out.append(Unmet(req, index, f"{req.element} is empty in segment {index} ({req.tag})"))
    return out


def unmet_in_interchange(text: str | Tokens, guide: Guide) -> list[tuple[str, Unmet]]:
    """(ST02, requirement broken) for every set of an interchange; run it after ``validate_interchange`` passed
    (the guide's requirements come on top of the standard's, on text that is already valid X12)."""
    out: list[tuple[str, Unmet]] = []
    current: list[tuple[str, Sequence[object]]] = []
    set_id = control = ""
    for segment in (tokenize(text) if isinstance(text, str) else text).segments:
        if segment.tag == "ST":
            set_id, control = (*segment.elements, "", "")[:2]
            current = []
        current.append((segment.tag, segment.elements))
        if segment.tag == "SE":
            out += [(control, u) for u in unmet(set_id, current, guide)]
    return out


def unmet_in_sets(sets: Iterable[tuple[str, Sequence[str], Sequence[str]]], separator: str, guide: Guide
                  ) -> list[tuple[str, Unmet]]:
    """``unmet_in_interchange`` for an interchange the validator's quick path has split (``validator.clean_scan``):
    ST01, the tags and the segment texts of each set, ST to SE. Only the segments a requirement reads are split
    into elements."""
    out: list[tuple[str, Unmet]] = []
    for set_id, tags, pieces in sets:
        read = {req.tag for req in guide.requires if req.set_id == set_id}
        if not read:
            continue
        segments = [(tag, piece.split(separator)[1:] if tag in read else ())
                    for tag, piece in zip(tags, pieces, strict=True)]
        control = pieces[0].split(separator, 3)[2]  # ST02, which a clean ST carries
        out += [(control, u) for u in unmet(set_id, segments, guide)]
    return out
