"""The mapping context: turns document values into element texts for one document, and keeps the record.

Owns the per-document glue between the mappings and the rules: it looks up each element's spec, cleans free
text and identifiers (``hygiene.py``), formats numbers and dates (``elements.py``), refuses values that do not
fit, and collects the adjustments made. Every mapping module writes its elements through it, so no mapping can
bypass hygiene. What it works out from document values is a pure function of them under one partner setup
(version, character set, delimiters), so it is remembered across documents, up to a bound: element texts, and
whole segments the mappings ask it to remember (``remembered``, from the second use of their values) with the
adjustments made building them. Must not decide which field goes where (the mapping modules do).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import ParamSpec, TypeVar

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
from freshcleo_pipeline.x12.segments import Delimiters, Segment
from freshcleo_pipeline.x12.specs import ElementSpec, elements_for

_P = ParamSpec("_P")
_K = TypeVar("_K")
_V = TypeVar("_V")


_DEFAULT_GUIDE = Guide()
_new_tuple = tuple.__new__  # an Adjustment without the named tuple's keyword handling: one per changed value
# Entries per memo of a ``_Profile`` before it starts again: a run's texts, codes and numbers are far fewer.
_MAX_MEMO = 1 << 14
# Hashes of keys built once kept before starting again: integers, which cost the garbage collector nothing.
_MAX_SEEN = 1 << 17


class _Profile:
    """What every document under one (version, character set, delimiters) shares: the element specs, the
    allowed characters, and memos of the element texts already worked out.

    Each memo maps (element ref, document value) to what the element gets. That is a pure function of the
    two under the profile, and a run repeats values across documents (party names, items, units, prices), so
    a repeat is one dictionary lookup instead of the hygiene and formatting again.
    """

    def __init__(self, version: str, charset: Charset, delimiters: tuple[str, str, str, str]) -> None:
        self.version = version
        self.uppercase = charset is Charset.BASIC
        self.delimiters = delimiters
        self.allowed = allowed_characters(charset, version, delimiters)
        self.specs = elements_for(version)
        self.texts: dict[tuple[str, str], tuple[str, tuple[Reason, ...]]] = {}  # clean_text, min applied
        self.idents: dict[tuple[str, str], tuple[str, tuple[Reason, ...]]] = {}  # identifiers that fit
        self.codes: dict[tuple[str, str], str | None] = {}  # the valid code, or None
        self.numbers: dict[tuple[str, Decimal | int], str] = {}  # R and N texts that fit
        # Whole segments from the document values they are built of (a party's N1 loop, a line's segments, a
        # tax's TXI), with the adjustments made on the way.
        self.segments: dict[Hashable, tuple[tuple[Segment, ...], tuple[Adjustment, ...]]] = {}
        # Hashes of the keys built once and not yet remembered: segments are remembered the second time their
        # values come (see ``MappingContext.remembered``).
        self.seen: set[int] = set()


@lru_cache(maxsize=64)
def _profile(version: str, charset: Charset, delimiters: tuple[str, str, str, str]) -> _Profile:
    return _Profile(version, charset, delimiters)


def _remember(memo: dict[_K, _V], key: _K, value: _V) -> None:
    if len(memo) >= _MAX_MEMO:
        memo.clear()
    memo[key] = value


class MappingContext:
    """Element formatting for one document under one partner's version, charset and delimiters.

    ``field`` names the document field in adjustments and errors; ``part``, when given, is appended to it,
    so that a caller naming fields per line pays for the concatenation only when a label is written.
    """

    def __init__(self, document: str | Callable[[], str], *, version: str, charset: Charset,
                 delimiters: Delimiters, guide: Guide | None = None) -> None:
        # A label for errors, e.g. "invoice 0000412 (FreshBooks 1234)"; or what makes it, since most documents
        # never need one.
        self._document = document
        self.guide = guide or _DEFAULT_GUIDE  # the partner's guide: conventions the mappings follow
        profile = self._profile = _profile(version, charset, delimiters.as_tuple())
        self.version = version
        self.uppercase = profile.uppercase
        self.delimiters = profile.delimiters
        self.allowed = profile.allowed
        self.adjustments: list[Adjustment] = []
        self._specs = profile.specs
        self._texts, self._idents, self._codes, self._numbers = (profile.texts, profile.idents, profile.codes,
                                                                 profile.numbers)
        self._segments, self._seen = profile.segments, profile.seen

    def remembered(self, key: Hashable, build: Callable[_P, Sequence[Segment]], *args: _P.args,
                   **kwargs: _P.kwargs) -> Sequence[Segment]:
        """``build(*args, **kwargs)``, remembered under ``key`` for every document under the same partner setup.

        ``key`` must hold every value ``build`` reads besides this context's version, character set and
        delimiters, including the field labels it gives adjustments: the adjustments are remembered with the
        segments and recorded again on each use. Errors are not remembered: a failing build fails each time.

        Segments are remembered the second time their key comes, not the first: a day of varied documents
        builds most lines once, and remembering each would keep its segments alive for nothing, objects that
        the garbage collector's full collections then walk again and again. Parties, taxes and the items of
        recurring invoices come back, and are remembered from their second use.
        """
        try:
            found = self._segments.get(key)
        except TypeError:  # a value without a hash (a signaling NaN): built, for the checks to say what is wrong
            return tuple(build(*args, **kwargs))
        if found is None:
            start = len(self.adjustments)
            segments = tuple(build(*args, **kwargs))
            seen, digest = self._seen, hash(key)
            if digest in seen:  # (a hash shared by two keys only remembers one of them sooner)
                _remember(self._segments, key, (segments, tuple(self.adjustments[start:])))
            else:
                if len(seen) >= _MAX_SEEN:
                    seen.clear()
                seen.add(digest)
            return segments
        segments, adjustments = found
        if adjustments:
            self.adjustments += adjustments
        return segments

    @property
    def document(self) -> str:
        return self._document if isinstance(self._document, str) else self._document()

    def spec(self, ref: str) -> ElementSpec:
        return self._specs[ref]

    def fail(self, field: str, value: object, expected: str) -> X12MappingError:
        return X12MappingError(self.document, field, value, expected)

    def record(self, ref: str, field: str, original: str, result: str, reasons: tuple[Reason, ...]) -> None:
        if reasons:
            self.adjustments.append(Adjustment(ref, field, original, result, reasons))

    def text(self, value: str, ref: str, field: str, part: str = "") -> str:
        """Free text: cleaned and shortened; ``""`` when nothing representable (or too little) remains."""
        key = (ref, value)
        found = self._texts.get(key)
        if found is None:
            spec = self._specs[ref]
            result, reasons = clean_text(value, max_length=spec.max, allowed=self.allowed,
                                         delimiters=self.delimiters, uppercase=self.uppercase)
            if result and len(result) < spec.min:
                result, reasons = "", (*reasons, Reason.OMITTED)
            found = (result, reasons)
            _remember(self._texts, key, found)
        result, reasons = found
        if reasons:
            self.adjustments.append(_new_tuple(Adjustment, (ref, field + part, value, result, reasons)))
        return result

    def ident(self, value: str, ref: str, field: str, part: str = "") -> str:
        """An identifier: fits whole or raises X12MappingError naming field, value and expectation."""
        key = (ref, value)
        found = self._idents.get(key)
        if found is None:
            spec = self._specs[ref]
            try:
                found = clean_identifier(value, min_length=spec.min, max_length=spec.max, allowed=self.allowed,
                                         uppercase=self.uppercase)
            except ValueError as exc:
                raise self.fail(field + part, value, f"{ref} ({spec.name}): {exc}") from None
            _remember(self._idents, key, found)
        result, reasons = found
        if reasons:
            self.adjustments.append(_new_tuple(Adjustment, (ref, field + part, value, result, reasons)))
        return result

    def code(self, value: str, ref: str, field: str, part: str = "", *, default: str = "") -> str:
        """A code taken from document data (unit, state, country): kept if valid, else default or omitted."""
        key = (ref, value)
        memo = self._codes
        if key in memo:
            candidate = memo[key]
        else:
            spec = self._specs[ref]
            candidate = value.strip().upper()
            valid = (spec.min <= len(candidate) <= spec.max and candidate.isascii() and candidate.isalnum()
                     and (spec.codes is None or candidate in spec.codes))
            if not valid:
                candidate = None
            _remember(memo, key, candidate)
        if candidate is not None:
            if candidate != value:
                self.record(ref, field + part, value, candidate, (Reason.UPPERCASED,))
            return candidate
        if value:
            self.record(ref, field + part, value, default, (Reason.DEFAULTED if default else Reason.OMITTED,))
        return default

    def r(self, value: Decimal, ref: str, field: str, part: str = "") -> str:
        """R (explicit decimal); too many digits for the element is an error, never a rounding."""
        if type(value) is Decimal and value.is_finite():  # the usual case: quantities, prices, rates repeat
            key = (ref, value)
            text = self._numbers.get(key)
            if text is not None:
                return text
            spec = self._specs[ref]
            text = _fitted_r(value, spec.min, spec.max)
            if text is not None:
                _remember(self._numbers, key, text)
                return text
        return self._numeric(fmt.format_r(value), value, ref, field + part)

    def n(self, value: Decimal | int, ref: str, field: str) -> str:
        """N0/Nn (implied decimal), rounded half-up to the element's places (cents for N2; reference §3)."""
        key = (ref, value)
        try:
            text = self._numbers.get(key)
        except TypeError:  # a signaling NaN: format_n says what is wrong with it
            text = None
        if text is None:
            spec = self._specs[ref]
            text = self._numeric(fmt.format_n(value, spec.implied_places), value, ref, field)
            _remember(self._numbers, key, text)
        return text

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
