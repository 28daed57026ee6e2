"""Segment and element specifications as data: the X12 4010 dictionary freshcleo writes and reads.

Owns, for every segment of the 810/850/820/997 subsets we use plus the envelope: element id, data element
number, name, requirement, type, min/max length, the code values we emit or accept for ID elements, and the
segment's syntax notes (P, R, C, E, L). Source: reference sheet Appendix A, §1, §4, §8 and §9; 005010
differences from §10 as overrides. No code here interprets the tables: the writer and validator do.

``codes=None`` on an ID element means "no list held here" (state, country, currency codes...): the validator
then checks only length and character set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property
from types import MappingProxyType


@dataclass(frozen=True)
class ElementSpec:
    ref: str  # e.g. "BIG02"
    de: str  # data element reference number, e.g. "76" (AK402)
    name: str
    required: bool
    type: str  # AN, ID, DT, TM, N0, N2, R, or COMP for a composite
    min: int
    max: int
    codes: frozenset[str] | None = None
    components: tuple[ElementSpec, ...] = ()

    # Derived once per spec (cached_property): the validator asks for them for every element it reads.
    @cached_property
    def is_numeric(self) -> bool:
        return self.type == "R" or self.type.startswith("N")

    @cached_property
    def implied_places(self) -> int:
        return int(self.type[1:]) if self.type.startswith("N") else 0


_NOTE = re.compile(r"^([PRCEL])((?:\d\d){2,})$")


@dataclass(frozen=True)
class SyntaxNote:
    """A relational condition: P paired, R required, C conditional, E exclusion, L list conditional."""

    kind: str
    positions: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> SyntaxNote:
        match = _NOTE.match(text)
        if not match:
            raise ValueError(f"syntax note {text!r}: expected a letter P/R/C/E/L and two-digit positions")
        digits = match.group(2)
        return cls(match.group(1), tuple(int(digits[i:i + 2]) for i in range(0, len(digits), 2)))

    def __str__(self) -> str:
        return self.kind + "".join(f"{p:02d}" for p in self.positions)


@dataclass(frozen=True)
class SegmentSpec:
    tag: str
    name: str
    elements: tuple[ElementSpec, ...]
    notes: tuple[SyntaxNote, ...] = ()

    @cached_property
    def required_positions(self) -> tuple[int, ...]:
        """1-based positions of the mandatory elements."""
        return tuple(index for index, element in enumerate(self.elements, start=1) if element.required)

    def element(self, position: int) -> ElementSpec:
        """The spec of element ``position`` (1-based)."""
        return self.elements[position - 1]

    def position_of(self, ref: str) -> int:
        for index, element in enumerate(self.elements, start=1):
            if element.ref == ref:
                return index
        raise KeyError(f"{self.tag} has no element {ref}")


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---- code lists (what we emit, and for the 997 what partners send) ----
C_143 = _codes("810 850 820 997")  # transaction set id
C_479 = _codes("IN PO RA FA")  # functional identifier (GS01 / AK101)
C_98 = _codes("ST BT BY SE SF VN SU RE RI II PR PE")  # entity identifier
C_66 = _codes("1 9 91 92 UL ZZ")  # identification code qualifier
#: reference identification qualifier; TN (transaction reference number) carries the trace an 820 corrects
C_128 = _codes("IA DP VR PO IV BM CK CR IT OI VN R7 TN")
C_353 = _codes("00 01 05 06 07 15 18 22")  # transaction set purpose
C_355 = _codes("EA CA BX DZ LB PC PK HR DA")  # unit of measure (HR hours, DA days for services)
C_235 = _codes("VP VN BP IN UP UI UK EN SK MG CB")  # product/service id qualifier
C_639 = _codes("PE CP NT QT UM WE CT")  # basis of unit price
C_478 = _codes("C D")  # credit/debit flag
C_506 = _codes("01 02 03 04")  # DFI id qualifier
C_569 = _codes("DA SG 03")  # account number qualifier
C_374 = _codes("002 003 004 009 010 011 017 020 036 037 038 063 064 097")  # date/time qualifier
#: Interchange id qualifier (ISA05 / ISA07): the 004010 list of I05 and the codes 00501 adds (07 GLN, 35, 36,
#: AM, SA), since one ISA table serves both envelope versions (https://stedi.com/edi/x12-004010/element/I05).
C_I05 = _codes("01 02 03 04 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 "
               "34 35 36 AM NR SA SN ZZ")
#: State or province (DE 156, N402): US states, DC, US territories and military post codes, Canadian provinces
#: and territories. A code outside the list is omitted by the mapping and reported, never sent.
C_156 = _codes(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY "
    "PR VI GU AS MP FM MH PW UM AA AE AP "
    "AB BC MB NB NL NS NT NU ON PE QC SK YT"
)
#: Country (DE 26, N404): ISO 3166-1 alpha-2, the code source DE 26 names.
C_26 = _codes(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT "
    "BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH "
    "ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT "
    "HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS "
    "LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI "
    "NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG "
    "SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG "
    "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
)

_FILLER = "Product/Service ID"


def _e(ref: str, de: str, name: str, req: str, typ: str, mn: int, mx: int,
       codes: frozenset[str] | None = None, components: tuple[ElementSpec, ...] = ()) -> ElementSpec:
    return ElementSpec(ref, de, name, req == "M", typ, mn, mx, codes, components)


def _seg(tag: str, name: str, elements: Iterable[ElementSpec], notes: str = "") -> SegmentSpec:
    return SegmentSpec(tag, name, tuple(elements), tuple(SyntaxNote.parse(n) for n in notes.split()))


def _product_pairs(tag: str, first: int) -> list[ElementSpec]:
    """IT106/IT107 … IT124/IT125 (and PO1 likewise): product id qualifier / id pairs."""
    out: list[ElementSpec] = []
    for pos in range(first, 26, 2):
        out.append(_e(f"{tag}{pos:02d}", "235", "Product/Service ID Qualifier", "O", "ID", 2, 2, C_235))
        out.append(_e(f"{tag}{pos + 1:02d}", "234", _FILLER, "O", "AN", 1, 48))
    return out


def _pair_notes(first: int) -> str:
    return " ".join(f"P{p:02d}{p + 1:02d}" for p in range(first, 26, 2))


_SEGMENT_LIST: tuple[SegmentSpec, ...] = (
    # ---- envelope (§1.1, §1.2); ISA widths are fixed: min = max ----
    _seg("ISA", "Interchange Control Header", [
        _e("ISA01", "I01", "Authorization Information Qualifier", "M", "ID", 2, 2, _codes("00 03")),
        _e("ISA02", "I02", "Authorization Information", "M", "AN", 10, 10),
        _e("ISA03", "I03", "Security Information Qualifier", "M", "ID", 2, 2, _codes("00 01")),
        _e("ISA04", "I04", "Security Information", "M", "AN", 10, 10),
        _e("ISA05", "I05", "Interchange ID Qualifier", "M", "ID", 2, 2, C_I05),
        _e("ISA06", "I06", "Interchange Sender ID", "M", "AN", 15, 15),
        _e("ISA07", "I05", "Interchange ID Qualifier", "M", "ID", 2, 2, C_I05),
        _e("ISA08", "I07", "Interchange Receiver ID", "M", "AN", 15, 15),
        _e("ISA09", "I08", "Interchange Date", "M", "DT", 6, 6),
        _e("ISA10", "I09", "Interchange Time", "M", "TM", 4, 4),
        _e("ISA11", "I10", "Interchange Control Standards Identifier", "M", "ID", 1, 1),
        _e("ISA12", "I11", "Interchange Control Version Number", "M", "ID", 5, 5, _codes("00401 00501")),
        _e("ISA13", "I12", "Interchange Control Number", "M", "N0", 9, 9),
        _e("ISA14", "I13", "Acknowledgment Requested", "M", "ID", 1, 1, _codes("0 1")),
        _e("ISA15", "I14", "Usage Indicator", "M", "ID", 1, 1, _codes("P T I")),
        _e("ISA16", "I15", "Component Element Separator", "M", "AN", 1, 1),
    ]),
    _seg("IEA", "Interchange Control Trailer", [
        _e("IEA01", "I16", "Number of Included Functional Groups", "M", "N0", 1, 5),
        _e("IEA02", "I12", "Interchange Control Number", "M", "N0", 9, 9),
    ]),
    _seg("GS", "Functional Group Header", [
        _e("GS01", "479", "Functional Identifier Code", "M", "ID", 2, 2, C_479),
        _e("GS02", "142", "Application Sender's Code", "M", "AN", 2, 15),
        _e("GS03", "124", "Application Receiver's Code", "M", "AN", 2, 15),
        _e("GS04", "373", "Date", "M", "DT", 8, 8),
        _e("GS05", "337", "Time", "M", "TM", 4, 8),
        _e("GS06", "28", "Group Control Number", "M", "N0", 1, 9),
        _e("GS07", "455", "Responsible Agency Code", "M", "ID", 1, 2, _codes("X")),
        _e("GS08", "480", "Version / Release / Industry Identifier Code", "M", "AN", 1, 12),
    ]),
    _seg("GE", "Functional Group Trailer", [
        _e("GE01", "97", "Number of Transaction Sets Included", "M", "N0", 1, 6),
        _e("GE02", "28", "Group Control Number", "M", "N0", 1, 9),
    ]),
    _seg("ST", "Transaction Set Header", [
        _e("ST01", "143", "Transaction Set Identifier Code", "M", "ID", 3, 3, C_143),
        _e("ST02", "329", "Transaction Set Control Number", "M", "AN", 4, 9),
    ]),
    _seg("SE", "Transaction Set Trailer", [
        _e("SE01", "96", "Number of Included Segments", "M", "N0", 1, 10),
        _e("SE02", "329", "Transaction Set Control Number", "M", "AN", 4, 9),
    ]),
    # ---- beginning segments ----
    _seg("BIG", "Beginning Segment for Invoice", [
        _e("BIG01", "373", "Date", "M", "DT", 8, 8),
        _e("BIG02", "76", "Invoice Number", "M", "AN", 1, 22),
        _e("BIG03", "373", "Date", "O", "DT", 8, 8),
        _e("BIG04", "324", "Purchase Order Number", "O", "AN", 1, 22),
        _e("BIG05", "328", "Release Number", "O", "AN", 1, 30),
        _e("BIG06", "327", "Change Order Sequence Number", "O", "AN", 1, 8),
        _e("BIG07", "640", "Transaction Type Code", "O", "ID", 2, 2, _codes("DI CR DR CN CI FD DC PR")),
        _e("BIG08", "353", "Transaction Set Purpose Code", "O", "ID", 2, 2, C_353),
        _e("BIG09", "306", "Action Code", "O", "ID", 1, 2),
        _e("BIG10", "76", "Invoice Number", "O", "AN", 1, 22),
    ]),
    _seg("BEG", "Beginning Segment for Purchase Order", [
        _e("BEG01", "353", "Transaction Set Purpose Code", "M", "ID", 2, 2, C_353),
        _e("BEG02", "92", "Purchase Order Type Code", "M", "ID", 2, 2, _codes("SA NE RO BK RL DS CN KN OS RE")),
        _e("BEG03", "324", "Purchase Order Number", "M", "AN", 1, 22),
        _e("BEG04", "328", "Release Number", "O", "AN", 1, 30),
        _e("BEG05", "373", "Date", "M", "DT", 8, 8),
        _e("BEG06", "367", "Contract Number", "O", "AN", 1, 30),
        _e("BEG07", "587", "Acknowledgment Type", "O", "ID", 2, 2),
        _e("BEG08", "1019", "Invoice Type Code", "O", "ID", 3, 3),
        _e("BEG09", "1166", "Contract Type Code", "O", "ID", 2, 2),
        _e("BEG10", "1232", "Purchase Category", "O", "ID", 2, 2),
        _e("BEG11", "786", "Security Level Code", "O", "ID", 2, 2),
        _e("BEG12", "640", "Transaction Type Code", "O", "ID", 2, 2),
    ]),
    _seg("BPR", "Beginning Segment for Payment Order/Remittance Advice", [
        _e("BPR01", "305", "Transaction Handling Code", "M", "ID", 1, 2, _codes("C D I P U X H Z")),
        _e("BPR02", "782", "Monetary Amount", "M", "R", 1, 18),
        _e("BPR03", "478", "Credit/Debit Flag Code", "M", "ID", 1, 1, C_478),
        _e("BPR04", "591", "Payment Method Code", "M", "ID", 3, 3, _codes("ACH CHK FWT BOP NON SWT")),
        _e("BPR05", "812", "Payment Format Code", "O", "ID", 1, 10, _codes("CCP CTX CCD PPD CTP CBC")),
        _e("BPR06", "506", "(DFI) ID Number Qualifier", "O", "ID", 2, 2, C_506),
        _e("BPR07", "507", "(DFI) Identification Number", "O", "AN", 3, 12),
        _e("BPR08", "569", "Account Number Qualifier", "O", "ID", 1, 3, C_569),
        _e("BPR09", "508", "Account Number", "O", "AN", 1, 35),
        _e("BPR10", "509", "Originating Company Identifier", "O", "AN", 10, 10),
        _e("BPR11", "510", "Originating Company Supplemental Code", "O", "AN", 9, 9),
        _e("BPR12", "506", "(DFI) ID Number Qualifier", "O", "ID", 2, 2, C_506),
        _e("BPR13", "507", "(DFI) Identification Number", "O", "AN", 3, 12),
        _e("BPR14", "569", "Account Number Qualifier", "O", "ID", 1, 3, C_569),
        _e("BPR15", "508", "Account Number", "O", "AN", 1, 35),
        _e("BPR16", "373", "Date", "O", "DT", 8, 8),
        _e("BPR17", "1048", "Business Function Code", "O", "ID", 1, 3),
        _e("BPR18", "506", "(DFI) ID Number Qualifier", "O", "ID", 2, 2, C_506),
        _e("BPR19", "507", "(DFI) Identification Number", "O", "AN", 3, 12),
        _e("BPR20", "569", "Account Number Qualifier", "O", "ID", 1, 3, C_569),
        _e("BPR21", "508", "Account Number", "O", "AN", 1, 35),
    ], "P0607 P0809 P1213 P1415 P1819 P2021"),
    _seg("TRN", "Trace", [
        _e("TRN01", "481", "Trace Type Code", "M", "ID", 1, 2, _codes("1 2 3")),
        _e("TRN02", "127", "Reference Identification", "M", "AN", 1, 30),
        _e("TRN03", "509", "Originating Company Identifier", "O", "AN", 10, 10),
        _e("TRN04", "127", "Reference Identification", "O", "AN", 1, 30),
    ]),
    # ---- header detail ----
    _seg("CUR", "Currency", [
        _e("CUR01", "98", "Entity Identifier Code", "M", "ID", 2, 3, C_98),
        _e("CUR02", "100", "Currency Code", "M", "ID", 3, 3),
        _e("CUR03", "280", "Exchange Rate", "O", "R", 4, 10),
    ]),
    _seg("REF", "Reference Identification", [
        _e("REF01", "128", "Reference Identification Qualifier", "M", "ID", 2, 3, C_128),
        _e("REF02", "127", "Reference Identification", "O", "AN", 1, 30),
        _e("REF03", "352", "Description", "O", "AN", 1, 80),
        _e("REF04", "C040", "Reference Identifier", "O", "COMP", 1, 1, None, (
            _e("C04001", "128", "Reference Identification Qualifier", "M", "ID", 2, 3, C_128),
            _e("C04002", "127", "Reference Identification", "M", "AN", 1, 30),
            _e("C04003", "128", "Reference Identification Qualifier", "O", "ID", 2, 3, C_128),
            _e("C04004", "127", "Reference Identification", "O", "AN", 1, 30),
            _e("C04005", "128", "Reference Identification Qualifier", "O", "ID", 2, 3, C_128),
            _e("C04006", "127", "Reference Identification", "O", "AN", 1, 30),
        )),
    ], "R0203"),
    _seg("PER", "Administrative Communications Contact", [
        _e("PER01", "366", "Contact Function Code", "M", "ID", 2, 2),
        _e("PER02", "93", "Name", "O", "AN", 1, 60),
        _e("PER03", "365", "Communication Number Qualifier", "O", "ID", 2, 2, _codes("TE EM FX")),
        _e("PER04", "364", "Communication Number", "O", "AN", 1, 80),
        _e("PER05", "365", "Communication Number Qualifier", "O", "ID", 2, 2, _codes("TE EM FX")),
        _e("PER06", "364", "Communication Number", "O", "AN", 1, 80),
        _e("PER07", "365", "Communication Number Qualifier", "O", "ID", 2, 2, _codes("TE EM FX")),
        _e("PER08", "364", "Communication Number", "O", "AN", 1, 80),
        _e("PER09", "443", "Contact Inquiry Reference", "O", "AN", 1, 20),
    ]),
    _seg("N1", "Name", [
        _e("N101", "98", "Entity Identifier Code", "M", "ID", 2, 3, C_98),
        _e("N102", "93", "Name", "O", "AN", 1, 60),
        _e("N103", "66", "Identification Code Qualifier", "O", "ID", 1, 2, C_66),
        _e("N104", "67", "Identification Code", "O", "AN", 2, 80),
        _e("N105", "706", "Entity Relationship Code", "O", "ID", 2, 2),
        _e("N106", "98", "Entity Identifier Code", "O", "ID", 2, 3, C_98),
    ], "R0203 P0304"),
    _seg("N2", "Additional Name Information", [
        _e("N201", "93", "Name", "M", "AN", 1, 60),
        _e("N202", "93", "Name", "O", "AN", 1, 60),
    ]),
    _seg("N3", "Address Information", [
        _e("N301", "166", "Address Information", "M", "AN", 1, 55),
        _e("N302", "166", "Address Information", "O", "AN", 1, 55),
    ]),
    _seg("N4", "Geographic Location", [
        _e("N401", "19", "City Name", "O", "AN", 2, 30),
        _e("N402", "156", "State or Province Code", "O", "ID", 2, 2, C_156),
        _e("N403", "116", "Postal Code", "O", "ID", 3, 15),
        _e("N404", "26", "Country Code", "O", "ID", 2, 3, C_26),
        _e("N405", "309", "Location Qualifier", "O", "ID", 1, 2),
        _e("N406", "310", "Location Identifier", "O", "AN", 1, 30),
    ]),
    _seg("ITD", "Terms of Sale/Deferred Terms of Sale", [
        _e("ITD01", "336", "Terms Type Code", "O", "ID", 2, 2, _codes("01 02 03 05 08 12 14")),
        _e("ITD02", "333", "Terms Basis Date Code", "O", "ID", 1, 2, _codes("1 2 3 4 5")),
        _e("ITD03", "338", "Terms Discount Percent", "O", "R", 1, 6),
        _e("ITD04", "370", "Terms Discount Due Date", "O", "DT", 8, 8),
        _e("ITD05", "351", "Terms Discount Days Due", "O", "N0", 1, 3),
        _e("ITD06", "446", "Terms Net Due Date", "O", "DT", 8, 8),
        _e("ITD07", "386", "Terms Net Days", "O", "N0", 1, 3),
        _e("ITD08", "362", "Terms Discount Amount", "O", "N2", 1, 10),
        _e("ITD09", "388", "Terms Deferred Due Date", "O", "DT", 8, 8),
        _e("ITD10", "389", "Deferred Amount Due", "O", "N2", 1, 10),
        _e("ITD11", "342", "Percent of Invoice Payable", "O", "R", 1, 5),
        _e("ITD12", "352", "Description", "O", "AN", 1, 80),
        _e("ITD13", "765", "Day of Month", "O", "N0", 1, 2),
        _e("ITD14", "107", "Payment Method Code", "O", "ID", 1, 2),
        _e("ITD15", "954", "Percent", "O", "R", 1, 10),
    ]),
    _seg("DTM", "Date/Time Reference", [
        _e("DTM01", "374", "Date/Time Qualifier", "M", "ID", 3, 3, C_374),
        _e("DTM02", "373", "Date", "O", "DT", 8, 8),
        _e("DTM03", "337", "Time", "O", "TM", 4, 8),
        _e("DTM04", "623", "Time Code", "O", "ID", 2, 2),
        _e("DTM05", "1250", "Date Time Period Format Qualifier", "O", "ID", 2, 3),
        _e("DTM06", "1251", "Date Time Period", "O", "AN", 1, 35),
    ], "R020305"),
    # ---- line items ----
    _seg("IT1", "Baseline Item Data (Invoice)", [
        _e("IT101", "350", "Assigned Identification", "O", "AN", 1, 20),
        _e("IT102", "358", "Quantity Invoiced", "O", "R", 1, 10),
        _e("IT103", "355", "Unit or Basis for Measurement Code", "O", "ID", 2, 2, C_355),
        _e("IT104", "212", "Unit Price", "O", "R", 1, 17),
        _e("IT105", "639", "Basis of Unit Price Code", "O", "ID", 2, 2, C_639),
        *_product_pairs("IT1", 6),
    ], _pair_notes(6)),
    _seg("PO1", "Baseline Item Data", [
        _e("PO101", "350", "Assigned Identification", "O", "AN", 1, 20),
        _e("PO102", "330", "Quantity Ordered", "O", "R", 1, 15),
        _e("PO103", "355", "Unit or Basis for Measurement Code", "O", "ID", 2, 2, C_355),
        _e("PO104", "212", "Unit Price", "O", "R", 1, 17),
        _e("PO105", "639", "Basis of Unit Price Code", "O", "ID", 2, 2, C_639),
        *_product_pairs("PO1", 6),
    ], _pair_notes(6)),
    _seg("PID", "Product/Item Description", [
        _e("PID01", "349", "Item Description Type", "M", "ID", 1, 1, _codes("F S X")),
        _e("PID02", "750", "Product/Process Characteristic Code", "O", "ID", 2, 3),
        _e("PID03", "559", "Agency Qualifier Code", "O", "ID", 2, 2),
        _e("PID04", "751", "Product Description Code", "O", "AN", 1, 12),
        _e("PID05", "352", "Description", "O", "AN", 1, 80),
        _e("PID06", "752", "Surface/Layer/Position Code", "O", "ID", 2, 2),
        _e("PID07", "822", "Source Subqualifier", "O", "AN", 1, 15),
        _e("PID08", "1073", "Yes/No Condition or Response Code", "O", "ID", 1, 1),
        _e("PID09", "819", "Language Code", "O", "ID", 2, 3),
    ], "C0403 R0405"),
    _seg("TXI", "Tax Information", [
        _e("TXI01", "963", "Tax Type Code", "M", "ID", 2, 2, _codes("ST TX LS CP CT GS VA")),
        _e("TXI02", "782", "Monetary Amount", "O", "R", 1, 18),
        _e("TXI03", "954", "Percent", "O", "R", 1, 10),
        _e("TXI04", "955", "Tax Jurisdiction Code Qualifier", "O", "ID", 2, 2),
        _e("TXI05", "956", "Tax Jurisdiction Code", "O", "AN", 1, 10),
        _e("TXI06", "441", "Tax Exempt Code", "O", "ID", 1, 1),
        _e("TXI07", "1325", "Claim Frequency Type Code", "O", "ID", 1, 1),
        _e("TXI08", "828", "Dollar Basis For Percent", "O", "R", 1, 9),
        _e("TXI09", "325", "Tax Identification Number", "O", "AN", 1, 20),
        _e("TXI10", "350", "Assigned Identification", "O", "AN", 1, 20),
    ], "R020306"),
    _seg("SAC", "Service, Promotion, Allowance, or Charge Information", [
        _e("SAC01", "248", "Allowance or Charge Indicator", "M", "ID", 1, 1, _codes("A C N")),
        _e("SAC02", "1300", "Service, Promotion, Allowance, or Charge Code", "O", "ID", 4, 4,
           _codes("D240 C310 F050 H850 D500 G830")),
        _e("SAC03", "559", "Agency Qualifier Code", "O", "ID", 2, 2),
        _e("SAC04", "1301", "Agency Service, Promotion, Allowance, or Charge Code", "O", "AN", 1, 10),
        _e("SAC05", "610", "Amount", "O", "N2", 1, 15),
        _e("SAC06", "378", "Allowance/Charge Percent Qualifier", "O", "ID", 1, 1),
        _e("SAC07", "332", "Percent", "O", "R", 1, 6),
        _e("SAC08", "118", "Rate", "O", "R", 1, 9),
        _e("SAC09", "355", "Unit or Basis for Measurement Code", "O", "ID", 2, 2, C_355),
        _e("SAC10", "380", "Quantity", "O", "R", 1, 15),
        _e("SAC11", "380", "Quantity", "O", "R", 1, 15),
        _e("SAC12", "331", "Allowance or Charge Method of Handling Code", "O", "ID", 2, 2),
        _e("SAC13", "127", "Reference Identification", "O", "AN", 1, 30),
        _e("SAC14", "770", "Option Number", "O", "AN", 1, 20),
        _e("SAC15", "352", "Description", "O", "AN", 1, 80),
        _e("SAC16", "819", "Language Code", "O", "ID", 2, 3),
    ], "R0203 P0304 P0607 P0910 C1110 C1413 C1615 L130204"),
    _seg("TDS", "Total Monetary Value Summary", [
        _e("TDS01", "610", "Amount", "M", "N2", 1, 15),
        _e("TDS02", "610", "Amount", "O", "N2", 1, 15),
        _e("TDS03", "610", "Amount", "O", "N2", 1, 15),
        _e("TDS04", "610", "Amount", "O", "N2", 1, 15),
    ]),
    _seg("CAD", "Carrier Detail", [
        _e("CAD01", "91", "Transportation Method/Type Code", "O", "ID", 1, 2, _codes("M A U D H")),
        _e("CAD02", "206", "Equipment Initial", "O", "AN", 1, 4),
        _e("CAD03", "207", "Equipment Number", "O", "AN", 1, 10),
        _e("CAD04", "140", "Standard Carrier Alpha Code", "O", "ID", 2, 4),
        _e("CAD05", "387", "Routing", "O", "AN", 1, 35),
        _e("CAD06", "368", "Shipment/Order Status Code", "O", "ID", 2, 2),
        _e("CAD07", "128", "Reference Identification Qualifier", "O", "ID", 2, 3, C_128),
        _e("CAD08", "127", "Reference Identification", "O", "AN", 1, 30),
        _e("CAD09", "284", "Service Level Code", "O", "ID", 2, 2),
    ], "R0405"),
    _seg("CTT", "Transaction Totals", [
        _e("CTT01", "354", "Number of Line Items", "M", "N0", 1, 6),
        _e("CTT02", "347", "Hash Total", "O", "R", 1, 10),
        _e("CTT03", "81", "Weight", "O", "R", 1, 10),
        _e("CTT04", "355", "Unit or Basis for Measurement Code", "O", "ID", 2, 2, C_355),
        _e("CTT05", "183", "Volume", "O", "R", 1, 8),
        _e("CTT06", "355", "Unit or Basis for Measurement Code", "O", "ID", 2, 2, C_355),
        _e("CTT07", "352", "Description", "O", "AN", 1, 80),
    ], "P0304 P0506"),
    _seg("AMT", "Monetary Amount", [
        _e("AMT01", "522", "Amount Qualifier Code", "M", "ID", 1, 3, _codes("TT 1 GV N")),
        _e("AMT02", "782", "Monetary Amount", "M", "R", 1, 18),
        _e("AMT03", "478", "Credit/Debit Flag Code", "O", "ID", 1, 1, C_478),
    ]),
    # ---- remittance ----
    _seg("ENT", "Entity", [
        _e("ENT01", "554", "Assigned Number", "O", "N0", 1, 6),
        _e("ENT02", "98", "Entity Identifier Code", "O", "ID", 2, 3, C_98),
        _e("ENT03", "66", "Identification Code Qualifier", "O", "ID", 1, 2, C_66),
        _e("ENT04", "67", "Identification Code", "O", "AN", 2, 80),
        _e("ENT05", "98", "Entity Identifier Code", "O", "ID", 2, 3, C_98),
        _e("ENT06", "66", "Identification Code Qualifier", "O", "ID", 1, 2, C_66),
        _e("ENT07", "67", "Identification Code", "O", "AN", 2, 80),
        _e("ENT08", "128", "Reference Identification Qualifier", "O", "ID", 2, 3, C_128),
        _e("ENT09", "127", "Reference Identification", "O", "AN", 1, 30),
    ]),
    _seg("RMR", "Remittance Advice Accounts Receivable Open Item Reference", [
        _e("RMR01", "128", "Reference Identification Qualifier", "O", "ID", 2, 3, C_128),
        _e("RMR02", "127", "Reference Identification", "O", "AN", 1, 30),
        _e("RMR03", "482", "Payment Action Code", "O", "ID", 2, 2, _codes("PO PI PA")),
        _e("RMR04", "782", "Monetary Amount", "O", "R", 1, 18),
        _e("RMR05", "782", "Monetary Amount", "O", "R", 1, 18),
        _e("RMR06", "782", "Monetary Amount", "O", "R", 1, 18),
        _e("RMR07", "426", "Adjustment Reason Code", "O", "ID", 2, 2),
        _e("RMR08", "782", "Monetary Amount", "O", "R", 1, 18),
    ], "P0102"),
    _seg("ADX", "Adjustment", [
        _e("ADX01", "782", "Monetary Amount", "M", "R", 1, 18),
        _e("ADX02", "426", "Adjustment Reason Code", "M", "ID", 2, 2, _codes("01 04 06 CS")),
        _e("ADX03", "128", "Reference Identification Qualifier", "O", "ID", 2, 3, C_128),
        _e("ADX04", "127", "Reference Identification", "O", "AN", 1, 30),
    ]),
    # ---- 997 (§8) ----
    _seg("AK1", "Functional Group Response Header", [
        _e("AK101", "479", "Functional Identifier Code", "M", "ID", 2, 2, C_479),
        _e("AK102", "28", "Group Control Number", "M", "N0", 1, 9),
    ]),
    _seg("AK2", "Transaction Set Response Header", [
        _e("AK201", "143", "Transaction Set Identifier Code", "M", "ID", 3, 3, C_143),
        _e("AK202", "329", "Transaction Set Control Number", "M", "AN", 4, 9),
    ]),
    _seg("AK3", "Data Segment Note", [
        _e("AK301", "721", "Segment ID Code", "M", "ID", 2, 3),
        _e("AK302", "719", "Segment Position in Transaction Set", "M", "N0", 1, 6),
        _e("AK303", "447", "Loop Identifier Code", "O", "AN", 1, 6),
        _e("AK304", "720", "Segment Syntax Error Code", "O", "ID", 1, 3, _codes("1 2 3 4 5 6 7 8")),
    ]),
    _seg("AK4", "Data Element Note", [
        _e("AK401", "C030", "Position in Segment", "M", "COMP", 1, 1, None, (
            _e("C03001", "722", "Element Position in Segment", "M", "N0", 1, 2),
            _e("C03002", "1528", "Component Data Element Position in Composite", "O", "N0", 1, 2),
        )),
        _e("AK402", "725", "Data Element Reference Number", "O", "N0", 1, 4),
        _e("AK403", "723", "Data Element Syntax Error Code", "M", "ID", 1, 3, _codes("1 2 3 4 5 6 7 8 9 10")),
        _e("AK404", "724", "Copy of Bad Data Element", "O", "AN", 1, 99),
    ]),
    _seg("AK5", "Transaction Set Response Trailer", [
        _e("AK501", "717", "Transaction Set Acknowledgment Code", "M", "ID", 1, 1, _codes("A E M R W X")),
        *[_e(f"AK50{i}", "718", "Transaction Set Syntax Error Code", "O", "ID", 1, 3,
             _codes(" ".join(str(n) for n in [*range(1, 18), *range(23, 28)]))) for i in range(2, 7)],
    ]),
    _seg("AK9", "Functional Group Response Trailer", [
        _e("AK901", "715", "Functional Group Acknowledge Code", "M", "ID", 1, 1, _codes("A E M P R W X")),
        _e("AK902", "97", "Number of Transaction Sets Included", "M", "N0", 1, 6),
        _e("AK903", "123", "Number of Received Transaction Sets", "M", "N0", 1, 6),
        _e("AK904", "2", "Number of Accepted Transaction Sets", "M", "N0", 1, 6),
        *[_e(f"AK90{i}", "716", "Functional Group Syntax Error Code", "O", "ID", 1, 3,
             _codes(" ".join(str(n) for n in [*range(1, 7), *range(10, 27)]))) for i in range(5, 10)],
    ]),
)

SEGMENTS_4010: Mapping[str, SegmentSpec] = MappingProxyType({s.tag: s for s in _SEGMENT_LIST})

# ---- 005010 (§10): longer elements and a few new trailing elements ----
_LENGTHS_5010: dict[str, tuple[int, int]] = {
    "REF02": (1, 50), "TRN02": (1, 50), "TRN04": (1, 50), "RMR02": (1, 50), "ADX04": (1, 50),
    "SAC13": (1, 50), "ENT09": (1, 50), "CAD08": (1, 50), "PER04": (1, 256), "PER06": (1, 256),
    "PER08": (1, 256), "IT102": (1, 15), "CAD03": (1, 15), "AK302": (1, 10), "AK303": (1, 4),
}
_ADDED_5010: dict[str, ElementSpec] = {
    "ST": _e("ST03", "1705", "Implementation Convention Reference", "O", "AN", 1, 35),
    "BIG": _e("BIG11", "1005", "Hierarchical Structure Code", "O", "ID", 4, 4),
    "AK1": _e("AK103", "480", "Version / Release / Industry Identifier Code", "O", "AN", 1, 12),
    "AK2": _e("AK203", "1705", "Implementation Convention Reference", "O", "AN", 1, 35),
}


@cache
def segments_for(version: str) -> Mapping[str, SegmentSpec]:
    """The segment dictionary for a GS08 version ('004010…' or '005010…')."""
    if not version.startswith("00501"):
        return SEGMENTS_4010
    table: dict[str, SegmentSpec] = {}
    for tag, spec in SEGMENTS_4010.items():
        elements = tuple(
            replace(e, min=_LENGTHS_5010[e.ref][0], max=_LENGTHS_5010[e.ref][1]) if e.ref in _LENGTHS_5010 else e
            for e in spec.elements
        )
        if tag in _ADDED_5010:
            elements = (*elements, _ADDED_5010[tag])
        table[tag] = replace(spec, elements=elements)
    return MappingProxyType(table)


@cache
def elements_for(version: str) -> Mapping[str, ElementSpec]:
    """Every segment element of the version's dictionary by its reference ('BIG02'), for direct lookup."""
    return MappingProxyType({f"{tag}{position:02d}": element
                             for tag, spec in segments_for(version).items()
                             for position, element in enumerate(spec.elements, start=1)})


def element_spec(version: str, ref: str) -> ElementSpec:
    """Look up one element by its reference ('BIG02')."""
    return elements_for(version)[ref]
