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
from dataclasses import dataclass
from enum import StrEnum
from functools import cache


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


@dataclass(frozen=True)
class Adjustment:
    """One change made to document data on its way into X12, for the audit trail."""

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


def clean_text(value: str, *, max_length: int, allowed: frozenset[str], delimiters: tuple[str, ...],
               uppercase: bool) -> tuple[str, tuple[Reason, ...]]:
    """Free text → a value that fits the element (may be ``""``), and the reasons for each change."""
    reasons: list[Reason] = []
    text, transliterated, dropped = _transliterate(value)
    if transliterated:
        reasons.append(Reason.TRANSLITERATED)
    if dropped:
        reasons.append(Reason.DROPPED)
    if uppercase and text != text.upper():
        text = text.upper()
        reasons.append(Reason.UPPERCASED)
    chars: list[str] = []
    delimiter_hit = replaced = whitespace = False
    for ch in text:
        if ch in allowed:
            chars.append(ch)
        elif ch in delimiters:
            delimiter_hit = True
            chars.append(" ")
        elif ch.isspace():
            whitespace = True
            chars.append(" ")
        else:
            replaced = True
            chars.append(" ")
    if delimiter_hit:
        reasons.append(Reason.DELIMITER)
    if replaced:
        reasons.append(Reason.REPLACED)
    joined = "".join(chars)
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
    reasons: list[Reason] = []
    text = value.strip()
    if text != value:
        reasons.append(Reason.WHITESPACE)
    if uppercase and text != text.upper():
        text = text.upper()
        reasons.append(Reason.UPPERCASED)
    bad = sorted({ch for ch in text if ch not in allowed})
    if bad:
        raise ValueError(f"only characters of the partner's character set, no delimiters; found {bad!r}")
    if len(text) > max_length:
        raise ValueError(f"at most {max_length} characters (got {len(text)}); identifiers are never cut")
    if len(text) < min_length:
        raise ValueError(f"at least {min_length} character(s)")
    return text, tuple(reasons)
