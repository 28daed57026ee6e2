"""Data hygiene: making FreshBooks text safe for X12, and reporting every change.

Owns the character sets (basic, extended; reference §2.3), transliteration of non-ASCII text, removal of
delimiters from data (§2.2), whitespace normalization, shortening free text at a word boundary, and the rule
that an identifier is never repaired beyond trimming and case: it either fits or is refused. Must not know
which document field goes to which element (the mappings decide) and must not raise mapping errors itself:
identifier problems come back as ``ValueError`` with the expectation, for the caller to wrap.
"""

from __future__ import annotations

import string
import unicodedata
from enum import StrEnum
from functools import cache, lru_cache
from typing import NamedTuple


class Charset(StrEnum):
    BASIC = "basic"
    EXTENDED = "extended"


_BASIC = frozenset(string.ascii_uppercase + string.digits + " !\"&'()*+,-./:;?=")
_EXTENDED_4010 = _BASIC | frozenset(string.ascii_lowercase + "%~@[]_{}\\|<>#$")
_EXTENDED_5010 = _EXTENDED_4010 | frozenset("^`")

# Letters NFKD does not decompose into ASCII.
_TRANSLITERATION = {
    "ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Ł": "L", "ł": "l",
    "Đ": "D", "đ": "d", "Þ": "TH", "þ": "th", "\u0131": "i", "\u2018": "'", "\u2019": "'", "\u201a": ",",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u2010": "-", "…": "...",
    "•": "-", "€": "EUR", "£": "GBP", "\u00d7": "x",
}


class Reason(StrEnum):
    """Why the X12 layer changed a value; stored with each adjustment in the audit trail."""

    WHITESPACE = "whitespace_normalized"  # CR, LF, tab, repeated or surrounding spaces
    TRANSLITERATED = "transliterated"  # non-ASCII letters written in ASCII
    DROPPED = "characters_dropped"  # characters with no representation removed
    UPPERCASED = "uppercased"  # basic character set has no lower case
    DELIMITER = "delimiter_replaced"  # a delimiter character in data replaced by a space
    REPLACED = "character_replaced"  # an ASCII character outside the character set replaced by a space
    TRUNCATED = "truncated"  # shortened to the element's maximum at a word boundary
    OMITTED = "omitted"  # too short or not a valid code: the element is left out
    DEFAULTED = "defaulted"  # an unknown code replaced by the documented default
    CODED = "coded"  # a name (state, country) replaced by its code


class Adjustment(NamedTuple):
    """One change made to document data on its way into X12, for the audit trail.

    A named tuple rather than a frozen dataclass: a document with mixed-case text under the basic character
    set records one per element, and a tuple is several times cheaper to build (same fields, same repr).
    """

    element: str  # e.g. "N102"
    field: str  # the document field, e.g. "bill_to.name" or "lines[3].description"
    original: str
    result: str
    reasons: tuple[Reason, ...]


@cache
def allowed_characters(charset: Charset, version: str, delimiters: tuple[str, ...]) -> frozenset[str]:
    """Characters that may appear in data: the character set minus every delimiter in use."""
    if charset is Charset.BASIC:
        base = _BASIC
    else:
        base = _EXTENDED_5010 if version.startswith("00501") else _EXTENDED_4010
    return base - frozenset(delimiters)


def _transliterate(text: str) -> tuple[str, bool, bool]:
    """ASCII form of ``text``; flags: something transliterated, something dropped."""
    if text.isascii():
        return text, False, False
    out: list[str] = []
    changed = dropped = False
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        if ch in _TRANSLITERATION:
            out.append(_TRANSLITERATION[ch])
            changed = True
            continue
        ascii_part = "".join(c for c in unicodedata.normalize("NFKD", ch) if c.isascii())
        if ascii_part:
            out.append(ascii_part)
            changed = True
        elif unicodedata.category(ch).startswith("Z"):  # non-ASCII spaces
            out.append(" ")
            changed = True
        else:
            dropped = True
    return "".join(out), changed, dropped


@cache
def _blanking_table(allowed: frozenset[str]) -> dict[int, str]:
    """``str.translate`` table turning every ASCII character outside ``allowed`` into a space."""
    return {code: " " for code in range(128) if chr(code) not in allowed}


def _is_clean(text: str, max_length: int, allowed: frozenset[str], uppercase: bool) -> bool:
    """True when ``clean_text`` would return ``text`` unchanged and give no reason (the common case)."""
    return (len(text) <= max_length and text.isascii() and allowed.issuperset(text)
            and not (uppercase and text != text.upper()) and text == " ".join(text.split()))


def clean_text(value: str, *, max_length: int, allowed: frozenset[str], delimiters: tuple[str, ...],
               uppercase: bool) -> tuple[str, tuple[Reason, ...]]:
    """Free text → a value that fits the element (may be ``""``), and the reasons for each change."""
    return _clean_text(value, max_length, allowed, delimiters, uppercase)


# The same texts come back again and again (party names on every invoice, a catalogue's item names and
# descriptions), and the result is a pure function of the arguments: remember the recent ones.
@lru_cache(maxsize=4096)
def _clean_text(value: str, max_length: int, allowed: frozenset[str], delimiters: tuple[str, ...],
                uppercase: bool) -> tuple[str, tuple[Reason, ...]]:
    if _is_clean(value, max_length, allowed, uppercase):
        return value, ()
    reasons: list[Reason] = []
    text, transliterated, dropped = _transliterate(value)
    if transliterated:
        reasons.append(Reason.TRANSLITERATED)
    if dropped:
        reasons.append(Reason.DROPPED)
    if uppercase and text != text.upper():
        text = text.upper()
        reasons.append(Reason.UPPERCASED)
    # ``text`` is ASCII now: classify each distinct outside character once, then blank them all in one pass.
    delimiter_hit = replaced = whitespace = False
    outside = () if allowed.issuperset(text) else set(text).difference(allowed)
    for ch in outside:
        if ch in delimiters:
            delimiter_hit = True
        elif ch.isspace():
            whitespace = True
        else:
            replaced = True
    if delimiter_hit:
        reasons.append(Reason.DELIMITER)
    if replaced:
        reasons.append(Reason.REPLACED)
    joined = text.translate(_blanking_table(allowed)) if delimiter_hit or whitespace or replaced else text
    text = " ".join(joined.split())
    if whitespace or text != joined:
        reasons.append(Reason.WHITESPACE)
    if len(text) > max_length:
        text = shorten(text, max_length)
        reasons.append(Reason.TRUNCATED)
    return text, tuple(reasons)


def shorten(text: str, max_length: int) -> str:
    """Cut at the last word boundary that keeps at least half the room; a single long word is cut hard."""
    if len(text) <= max_length:
        return text
    cut = text[: max_length + 1].rfind(" ")
    if cut >= max_length // 2:
        return text[:cut].rstrip()
    return text[:max_length].rstrip()


def clean_identifier(value: str, *, min_length: int, max_length: int, allowed: frozenset[str],
                     uppercase: bool) -> tuple[str, tuple[Reason, ...]]:
    """An identifier fits as it is (after trimming and, in the basic set, upper-casing) or raises ValueError."""
    if (min_length <= len(value) <= max_length and allowed.issuperset(value) and value == value.strip()
            and not (uppercase and value != value.upper())):
        return value, ()  # fits untouched: the usual case
    reasons: list[Reason] = []
    text = value.strip()
    if text != value:
        reasons.append(Reason.WHITESPACE)
    if uppercase and text != text.upper():
        text = text.upper()
        reasons.append(Reason.UPPERCASED)
    if not allowed.issuperset(text):
        bad = sorted({ch for ch in text if ch not in allowed})
        raise ValueError(f"only characters of the partner's character set, no delimiters; found {bad!r}")
    if len(text) > max_length:
        raise ValueError(f"at most {max_length} characters (got {len(text)}); identifiers are never cut")
    if len(text) < min_length:
        raise ValueError(f"at least {min_length} character(s)")
    return text, tuple(reasons)
