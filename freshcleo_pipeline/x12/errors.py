"""Errors of the X12 layer, and the structured finding the validator reports.

Owns the exception types raised by mapping, writing and reading, and ``X12Error``, the finding (not an
exception) the validator returns: where (segment position, segment id, element position) and what (a 997-style
code and a message). Must not format or parse X12 itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from freshcleo_pipeline.errors import DataError, FreshcleoError


class X12MappingError(DataError):
    """A document cannot be expressed in the transaction set (names the document, field, value, expectation).

    Raised for data the X12 layer must not repair: an over-long or unrepresentable identifier, a number with
    more digits than its element allows, a purchase order without lines, totals that do not add up.
    """


class X12EnvelopeError(FreshcleoError):
    """Envelope parameters (ids, control numbers, delimiters) given by the caller are unusable."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        super().__init__(f"X12 envelope: {field} = {value!r}; expected {expected}")
        self.field = field
        self.value = value
        self.expected = expected


class X12ParseError(FreshcleoError):
    """Inbound text is not an interchange that can be read at all (no ISA, unreadable delimiters...)."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        super().__init__(f"X12 input: {field} = {value!r}; expected {expected}")
        self.field = field
        self.value = value
        self.expected = expected


class Check(StrEnum):
    """The classes of problems the validator detects; each ``X12Error`` carries exactly one."""

    ISA_FORMAT = "isa_format"  # length, fixed widths, separator positions
    ISA_VALUE = "isa_value"  # a code or date/time in the ISA that is not allowed
    DELIMITERS = "delimiters"  # delimiters not distinct, alphanumeric or space
    ENVELOPE_STRUCTURE = "envelope_structure"  # missing/misplaced ISA, GS, ST, SE, GE, IEA
    CONTROL_NUMBER_MISMATCH = "control_number_mismatch"  # ISA13/IEA02, GS06/GE02, ST02/SE02
    DUPLICATE_CONTROL_NUMBER = "duplicate_control_number"  # ST02 within a group, GS06 within interchange
    COUNT_MISMATCH = "count_mismatch"  # SE01, GE01, IEA01
    FUNCTIONAL_ID_MISMATCH = "functional_id_mismatch"  # GS01 does not fit ST01
    UNSUPPORTED = "unsupported"  # transaction set or version we have no spec for
    SEGMENT_UNRECOGNIZED = "segment_unrecognized"  # tag is not a segment id at all
    SEGMENT_NOT_IN_SET = "segment_not_in_set"  # a segment this transaction set does not define
    SEGMENT_ORDER = "segment_order"  # defined, but out of sequence
    SEGMENT_MISSING = "segment_missing"  # mandatory segment or loop absent
    SEGMENT_REPEAT = "segment_repeat"  # a segment over its maximum use
    LOOP_REPEAT = "loop_repeat"  # a loop over its maximum repeats
    EMPTY_SEGMENT = "empty_segment"  # a tag with no data element
    TRAILING_SEPARATOR = "trailing_separator"  # empty trailing element(s) not omitted
    ELEMENT_MISSING = "element_missing"  # a mandatory element is empty
    TOO_MANY_ELEMENTS = "too_many_elements"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    INVALID_NUMBER = "invalid_number"  # N0/Nn/R not well formed
    INVALID_DATE = "invalid_date"
    INVALID_TIME = "invalid_time"
    INVALID_CODE = "invalid_code"  # an ID value not in the element's code list
    INVALID_CHARACTER = "invalid_character"  # outside the character set
    DELIMITER_IN_DATA = "delimiter_in_data"  # a component or repetition separator inside a simple element
    SYNTAX_NOTE = "syntax_note"  # P, R, C, L relational conditions
    EXCLUSION = "exclusion"  # E relational condition
    TOTALS = "totals"  # CTT01 count, TDS01 or AMT*TT against the lines


@dataclass(frozen=True)
class X12Error:
    """One finding of the validator, located the way a 997 locates it.

    ``code`` is the 997 code of the matching level: AK403 (element), AK304 (segment), AK502 (transaction
    set), AK905 (group); interchange-level problems have no 997 code (a TA1 would carry them) and use ``""``.
    Positions are 1-based: ``segment_position`` counts from ST = 1 inside a transaction set (AK302), and
    ``interchange_position`` counts from ISA = 1 over the whole text.
    """

    check: Check
    level: str  # "interchange" | "group" | "transaction_set" | "segment" | "element"
    code: str
    message: str
    segment_id: str = ""
    interchange_position: int | None = None
    segment_position: int | None = None
    element_position: int | None = None
    component_position: int | None = None
    data_element: str = ""  # the data element reference number (AK402), e.g. "76" for BIG02
    loop_id: str = ""  # the loop the segment was in (AK303), by its trigger tag
    bad_value: str = ""
    group_control_number: str = ""
    set_control_number: str = ""

    def __str__(self) -> str:
        where = [self.segment_id or "?"]
        if self.element_position is not None:
            where.append(f"{self.element_position:02d}")
        pos = f" at segment {self.interchange_position}" if self.interchange_position else ""
        return f"[{self.check.value}] {''.join(where)}{pos}: {self.message}"


class X12ValidationError(FreshcleoError):
    """Output we produced (or input we must act on) failed validation; carries every finding."""

    def __init__(self, errors: Sequence[X12Error], context: str = "interchange") -> None:
        shown = "; ".join(str(e) for e in list(errors)[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{context} failed X12 validation: {shown}{more}")
        self.errors = tuple(errors)
