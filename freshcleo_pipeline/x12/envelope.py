"""Envelope parameters and the envelope segments (ISA/IEA, GS/GE, ST/SE) as text.

Owns ``EnvelopeParams`` (what the caller knows about one partner: identities, version, usage, delimiters,
character set; built by the pipeline from a ``TradingPartner``) and the fixed-width ISA (exactly 106
characters, reference §1.1). Control numbers, date and time are arguments: nothing here reads a clock or
allocates a number. Must not map documents.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from freshcleo_pipeline.x12 import elements as fmt
from freshcleo_pipeline.x12.errors import X12EnvelopeError
from freshcleo_pipeline.x12.hygiene import Charset, allowed_characters
from freshcleo_pipeline.x12.segments import Delimiters, Segment, seg

ISA_LENGTH = 106
MAX_CONTROL_NUMBER = 999_999_999
_VERSION = re.compile(r"^00(4010|5010)[A-Z0-9]{0,6}$")
_QUALIFIER = re.compile(r"^[0-9A-Z]{2}$")
_ST02 = re.compile(r"^[0-9A-Za-z]{4,9}$")


@dataclass(frozen=True)
class EnvelopeParams:
    """Everything the writer needs to know about the sender, the receiver and their agreement."""

    sender_qualifier: str  # ISA05
    sender_id: str  # ISA06 (unpadded; the writer pads to 15)
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08
    sender_group_id: str = ""  # GS02; defaults to the ISA id
    receiver_group_id: str = ""  # GS03; defaults to the ISA id
    version: str = "004010"  # GS08: 004010 or 005010, optionally with an industry suffix
    usage: str = "T"  # ISA15: T test, P production
    delimiters: Delimiters = field(default_factory=Delimiters)
    charset: Charset = Charset.BASIC
    acknowledgment_requested: bool = False  # ISA14: a TA1, not a 997

    def __post_init__(self) -> None:
        if not _VERSION.match(self.version):
            raise X12EnvelopeError("version", self.version, "004010 or 005010 (optionally with a suffix)")
        if self.usage not in ("T", "P", "I"):
            raise X12EnvelopeError("usage", self.usage, "T (test), P (production) or I (information)")
        allowed = allowed_characters(Charset.BASIC, self.version, self.delimiters.as_tuple())
        for name, qualifier in (("sender_qualifier", self.sender_qualifier),
                                ("receiver_qualifier", self.receiver_qualifier)):
            if not _QUALIFIER.match(qualifier):
                raise X12EnvelopeError(name, qualifier, "two upper-case letters or digits (ISA05/ISA07)")
        for name, value, low, high in (("sender_id", self.sender_id, 1, 15),
                                       ("receiver_id", self.receiver_id, 1, 15),
                                       ("sender_group_id", self.gs_sender, 2, 15),
                                       ("receiver_group_id", self.gs_receiver, 2, 15)):
            text = value.strip()
            if not low <= len(text) <= high or any(ch not in allowed for ch in text) or text != value.rstrip():
                raise X12EnvelopeError(name, value, f"{low}-{high} characters of the basic character set, "
                                                    "no delimiter, no leading space")

    @property
    def isa_version(self) -> str:
        return "00501" if self.version.startswith("00501") else "00401"

    @property
    def gs_sender(self) -> str:
        return self.sender_group_id or self.sender_id.strip()

    @property
    def gs_receiver(self) -> str:
        return self.receiver_group_id or self.receiver_id.strip()

    def reversed(self) -> EnvelopeParams:
        """The same agreement seen from the other side (for acknowledgments)."""
        return EnvelopeParams(
            self.receiver_qualifier, self.receiver_id, self.sender_qualifier, self.sender_id,
            self.gs_receiver, self.gs_sender, self.version, self.usage, self.delimiters, self.charset,
        )


def check_control_number(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTROL_NUMBER:
        raise X12EnvelopeError(name, value, f"an integer from 1 to {MAX_CONTROL_NUMBER}")
    return value


def format_st02(value: int | str) -> str:
    """ST02 as written: integers zero-padded to 4 digits (AN 4/9); strings must already fit."""
    if isinstance(value, int) and not isinstance(value, bool):
        check_control_number("ST02", value)
        return f"{value:04d}"
    if isinstance(value, str) and _ST02.match(value):
        return value
    raise X12EnvelopeError("ST02", value, "an integer 1-999999999 or 4-9 letters/digits")


def isa(env: EnvelopeParams, control_number: int, date: dt.date, time: dt.time) -> str:
    """The ISA segment, exactly 106 characters with its terminator."""
    check_control_number("ISA13", control_number)
    head, middle, tail = _isa_parts(env)
    sep = env.delimiters.element
    text = (head + fmt.format_isa_date(date) + sep + fmt.format_time(time) + middle + f"{control_number:09d}"
            + tail)
    assert len(text) == ISA_LENGTH, f"ISA must be {ISA_LENGTH} characters, built {len(text)}"
    return text


# The parts of the ISA that depend on the envelope only, per envelope object (kept here, so that its id is
# not reused while the entry lives): a run renders many interchanges for one partner.
_ISA_PARTS: dict[int, tuple[EnvelopeParams, tuple[str, str, str]]] = {}


def _isa_parts(env: EnvelopeParams) -> tuple[str, str, str]:
    """ISA01-ISA08 with the separators around them; ISA11-ISA12; ISA14-ISA16 with the terminator."""
    entry = _ISA_PARTS.get(id(env))
    if entry is not None and entry[0] is env:
        return entry[1]
    d = env.delimiters
    sep = d.element
    head = sep.join(("ISA", "00", " " * 10, "00", " " * 10, env.sender_qualifier, env.sender_id.strip().ljust(15),
                     env.receiver_qualifier, env.receiver_id.strip().ljust(15), ""))
    middle = sep.join(("", "U" if env.isa_version == "00401" else d.repetition, env.isa_version, ""))
    tail = sep.join(("", "1" if env.acknowledgment_requested else "0", env.usage, d.component)) + d.segment
    if len(_ISA_PARTS) >= 256:
        _ISA_PARTS.clear()
    _ISA_PARTS[id(env)] = (env, (head, middle, tail))
    return head, middle, tail


def iea(group_count: int, control_number: int) -> Segment:
    return seg("IEA", str(group_count), f"{control_number:09d}")


def gs(env: EnvelopeParams, functional_id: str, control_number: int, date: dt.date, time: dt.time) -> Segment:
    check_control_number("GS06", control_number)
    return seg("GS", functional_id, env.gs_sender, env.gs_receiver, fmt.format_date(date), fmt.format_time(time),
               str(control_number), "X", env.version)


def ge(set_count: int, control_number: int) -> Segment:
    return seg("GE", str(set_count), str(control_number))
