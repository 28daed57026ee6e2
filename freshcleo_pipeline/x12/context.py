"""The mapping context: turns document values into element texts for one document, and keeps the record.

Owns the per-document glue between the mappings and the rules: it looks up each element's spec, cleans free
text and identifiers (``hygiene.py``), formats numbers and dates (``elements.py``), refuses values that do not
fit, and collects the adjustments made. Every mapping module writes its elements through it, so no mapping can
bypass hygiene. Must not decide which field goes where (the mapping modules do).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from freshcleo_pipeline.x12 import elements as fmt
from freshcleo_pipeline.x12.errors import X12MappingError
from freshcleo_pipeline.x12.guide import Guide
from freshcleo_pipeline.x12.hygiene import (
    Adjustment,
    Charset,
    Reason,
    allowed_characters,
    clean_identifier,
    clean_text,
)
from freshcleo_pipeline.x12.segments import Delimiters
from freshcleo_pipeline.x12.specs import ElementSpec, elements_for


class MappingContext:
    """Element formatting for one document under one partner's version, charset and delimiters."""

    def __init__(self, document: str, *, version: str, charset: Charset, delimiters: Delimiters,
                 guide: Guide | None = None) -> None:
        self.document = document  # a label for errors, e.g. "invoice 0000412 (FreshBooks 1234)"
        self.guide = guide or Guide()  # the partner's guide: conventions the mappings follow
        self.version = version
        self.uppercase = charset is Charset.BASIC
        self.delimiters = delimiters.as_tuple()
        self.allowed = allowed_characters(charset, version, self.delimiters)
        self.adjustments: list[Adjustment] = []
        self._specs = elements_for(version)

    def spec(self, ref: str) -> ElementSpec:
        return self._specs[ref]

    def fail(self, field: str, value: object, expected: str) -> X12MappingError:
        return X12MappingError(self.document, field, value, expected)

    def record(self, ref: str, field: str, original: str, result: str, reasons: tuple[Reason, ...]) -> None:
        if reasons:
            self.adjustments.append(Adjustment(ref, field, original, result, reasons))

    def text(self, value: str, ref: str, field: str) -> str:
        """Free text: cleaned and shortened; ``""`` when nothing representable (or too little) remains."""
        spec = self._specs[ref]
        result, reasons = clean_text(value, max_length=spec.max, allowed=self.allowed,
                                     delimiters=self.delimiters, uppercase=self.uppercase)
        if result and len(result) < spec.min:
            result, reasons = "", (*reasons, Reason.OMITTED)
        if reasons:
            self.adjustments.append(Adjustment(ref, field, value, result, reasons))
        return result

    def ident(self, value: str, ref: str, field: str) -> str:
        """An identifier: fits whole or raises X12MappingError naming field, value and expectation."""
        spec = self._specs[ref]
        try:
            result, reasons = clean_identifier(value, min_length=spec.min, max_length=spec.max,
                                               allowed=self.allowed, uppercase=self.uppercase)
        except ValueError as exc:
            raise self.fail(field, value, f"{ref} ({spec.name}): {exc}") from None
        if reasons:
            self.adjustments.append(Adjustment(ref, field, value, result, reasons))
        return result

    def code(self, value: str, ref: str, field: str, *, default: str = "") -> str:
        """A code taken from document data (unit, state, country): kept if valid, else default or omitted."""
        spec = self._specs[ref]
        candidate = value.strip().upper()
        valid = (spec.min <= len(candidate) <= spec.max and candidate.isascii() and candidate.isalnum()
                 and (spec.codes is None or candidate in spec.codes))
        if valid:
            if candidate != value:
                self.record(ref, field, value, candidate, (Reason.UPPERCASED,))
            return candidate
        if value:
            self.record(ref, field, value, default, (Reason.DEFAULTED if default else Reason.OMITTED,))
        return default

    def r(self, value: Decimal, ref: str, field: str) -> str:
        """R (explicit decimal); too many digits for the element is an error, never a rounding."""
        spec = self._specs[ref]
        if type(value) is Decimal and value.is_finite():  # the usual case, remembered per value and width
            text = _fitted_r(value, spec.min, spec.max)
            if text is not None:
                return text
        return self._numeric(fmt.format_r(value), value, ref, field)

    def n(self, value: Decimal | int, ref: str, field: str) -> str:
        """N0/Nn (implied decimal), rounded half-up to the element's places (cents for N2; reference §3)."""
        spec = self._specs[ref]
        text = fmt.format_n(value, spec.implied_places)
        return self._numeric(text, value, ref, field)

    def _numeric(self, text: str, value: object, ref: str, field: str) -> str:
        spec = self._specs[ref]
        # ``text`` comes from format_r/format_n: digits with at most a leading '-' and one '.'.
        digits = len(text) - text.startswith("-") - ("." in text)
        if digits > spec.max:
            raise self.fail(field, str(value), f"{ref} ({spec.name}): at most {spec.max} digits, got {digits}")
        if digits < spec.min:
            text = ("-" if text.startswith("-") else "") + text.lstrip("-").zfill(spec.min)
        return text

    @staticmethod
    def date(value: dt.date) -> str:
        return fmt.format_date(value)


# Quantities, prices and rates repeat across lines and documents, and the text of an R element is a pure
# function of the number and the element's width: remember it (None: too many digits, which raises).
@lru_cache(maxsize=4096)
def _fitted_r(value: Decimal, min_length: int, max_length: int) -> str | None:
    text = fmt.format_r(value)
    digits = len(text) - text.startswith("-") - ("." in text)
    if digits > max_length:
        return None
    if digits < min_length:
        text = ("-" if text.startswith("-") else "") + text.lstrip("-").zfill(min_length)
    return text
