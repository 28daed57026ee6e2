"""X12 data-element types: formatting Python values into element text, and checking element text.

Owns the rules for AN, ID, DT, TM, N0/Nn (implied decimals) and R (explicit decimal) per X12.6 as summarized
in the reference sheet (§3). Pure and table-free: which element has which type lives in ``specs.py``.
Money arrives as ``Decimal`` and never passes through float.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, getcontext
from functools import lru_cache

_N_TEXT = re.compile(r"^-?[0-9]+$")
_R_TEXT = re.compile(r"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_TIME_LENGTHS = (4, 6, 7, 8)


#: ``value_pattern`` sources stop at this character (it is in no character set), so that a segment's values
#: joined by it can be matched in one go.
PATTERN_SEPARATOR = "\x1f"
_ANY = r"[^\x1f]"  # any character of a value
_END = r"(?![^\x1f])"  # the value ends here


def value_pattern(type_: str, min_length: int, max_length: int, codes: frozenset[str] | None = None) -> str | None:
    """The source of a pattern matching only values that pass every type, length and code rule below.

    For the validator's quick acceptance of well-formed values; it says nothing about the character set or
    delimiters, and a value it refuses still needs the detailed checks to say what is wrong. ``None`` when a
    rule needs more than a pattern (DT and TM are calendar checks; COMP is split first).
    """
    if type_ == "AN":  # the length, and at least one non-space character
        return rf"(?={_ANY}{{{min_length},{max_length}}}{_END}){_ANY}*[^\x1f\s]{_ANY}*"
    if type_ == "ID":
        if codes is None:
            return rf"{_ANY}{{{min_length},{max_length}}}{_END}"
        fitting = sorted(c for c in codes if min_length <= len(c) <= max_length)
        return f"(?:{'|'.join(map(re.escape, fitting))}){_END}" if fitting else None
    if type_.startswith("N") and type_[1:].isdigit():  # at least one digit, whatever the minimum
        return rf"-?[0-9]{{{max(min_length, 1)},{max_length}}}{_END}"
    if type_ == "R":  # digits counted without sign and point
        return (rf"(?=-?\.?(?:[0-9]\.?){{{min_length},{max_length}}}{_END})"
                rf"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+){_END}")
    return None


def format_n(value: Decimal | int, places: int = 0) -> str:
    """Nn: implied decimal point with ``places`` digits; half-up rounding; '-' only (139.50, 2 → '13950')."""
    if type(value) is int and places == 0:  # counts (CTT01, ENT01): nothing to scale or round
        return str(value)
    scaled = (Decimal(value) * (Decimal(10) ** places)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return str(int(scaled))


def format_r(value: Decimal | int) -> str:
    """R: a point only when a fraction exists, no leading or trailing zeros (12.50 → '12.5', 0.5 → '.5')."""
    number = value if type(value) is Decimal else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"R element needs a finite number, got {value!r}")
    return _r_text(number)


# Quantities, prices and rates repeat across lines and documents. Equal numbers (12.5 and 12.50) give the
# same text, so the numeric value is a sound key (under the decimal context the product never changes).
@lru_cache(maxsize=4096)
def _r_text(number: Decimal) -> str:
    text = str(number)
    # Money and quantities print in plain notation with no more digits than the context keeps; then
    # normalize() would only strip the trailing zeros that rstrip removes below, so skip its cost.
    if "E" in text or len(text) > getcontext().prec:
        # format "f" after normalize(): normalize alone would print 100 as 1E+2.
        text = format(number.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("0", "-0", ""):
        return "0"
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


@lru_cache(maxsize=4096)  # a run writes the same few dates (today, issue and due dates) in every document
def format_date(value: dt.date) -> str:
    """DT, CCYYMMDD (every 4010 date element except ISA09)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


@lru_cache(maxsize=1024)
def format_isa_date(value: dt.date) -> str:
    """ISA09, YYMMDD."""
    return f"{value.year % 100:02d}{value.month:02d}{value.day:02d}"


@lru_cache(maxsize=4096)  # the minutes of a run's interchanges
def format_time(value: dt.time) -> str:
    """TM, HHMM (the form ISA10 requires and GS05 accepts)."""
    return f"{value.hour:02d}{value.minute:02d}"


def numeric_digits(text: str) -> int:
    """Length of an N or R value as X12 counts it: digits only, not sign or point."""
    return sum(map(str.isdigit, text))


def is_valid_n(text: str) -> bool:
    return bool(_N_TEXT.match(text)) and not text.startswith("+")


def is_valid_r(text: str) -> bool:
    return bool(_R_TEXT.match(text))


def parse_n(text: str, places: int = 0) -> Decimal:
    """Read an Nn element back into a Decimal ('13950', 2 → 139.50)."""
    if not is_valid_n(text):
        raise ValueError(f"not an N{places} value: {text!r}")
    return Decimal(text).scaleb(-places)


@lru_cache(maxsize=4096)  # the validator reads the same quantities, prices and amounts many times
def parse_r(text: str) -> Decimal:
    if not is_valid_r(text):
        raise ValueError(f"not an R value: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # the regex should have excluded this; keep the message useful
        raise ValueError(f"not an R value: {text!r}") from exc


def parse_date(text: str) -> dt.date | None:
    """CCYYMMDD → date, or None when the text is not a real calendar date."""
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def is_valid_isa_date(text: str) -> bool:
    """YYMMDD; the century is irrelevant to validity except for 29 February, so test in both."""
    if len(text) != 6 or not text.isdigit():
        return False
    return any(parse_date(century + text) is not None for century in ("20", "19"))


def is_valid_time(text: str) -> bool:
    """HHMM[SS[D[D]]] with a real hour, minute and second."""
    if len(text) not in _TIME_LENGTHS or not text.isdigit():
        return False
    hour, minute = int(text[:2]), int(text[2:4])
    second = int(text[4:6]) if len(text) >= 6 else 0
    return hour <= 23 and minute <= 59 and second <= 59
