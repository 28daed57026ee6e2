"""One deliberately broken sample per validator check, each starting from a valid golden 810/850/997."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from freshcleo_pipeline.x12 import Check, validate_interchange
from freshcleo_pipeline.x12.specs import SegmentSpec, SyntaxNote, _e
from freshcleo_pipeline.x12.tokens import RawSegment
from freshcleo_pipeline.x12.validator import _check_notes, _Ctx

GOLDEN = Path(__file__).parent / "golden"
INVOICE = (GOLDEN / "810_invoice_0000412.edi").read_text().replace("\n", "")
ACK = (GOLDEN / "997_accepted.edi").read_text().replace("\n", "")


def sub(old: str, new: str, text: str = INVOICE) -> Callable[[], str]:
    def mutate() -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return mutate


def two_sets_same_st02() -> str:
    body = INVOICE[INVOICE.index("ST*810"):INVOICE.index("GE*")]
    text = INVOICE.replace(body, body + body).replace("GE*1*17", "GE*2*17")
    return text


CASES: list[tuple[Check, Callable[[], str], str]] = [
    (Check.ISA_FORMAT, sub("*NORTHWIND      *", "*NORTHWIND     *"), "extended"),
    (Check.ISA_VALUE, sub("*0*T*>~", "*0*X*>~"), "extended"),
    (Check.DELIMITERS, sub("*0*T*>~", "*0*T*A~"), "extended"),
    (Check.ENVELOPE_STRUCTURE, sub("IEA*1*000000017~", ""), "extended"),
    (Check.CONTROL_NUMBER_MISMATCH, sub("SE*16*0001~", "SE*16*0002~"), "extended"),
    (Check.DUPLICATE_CONTROL_NUMBER, two_sets_same_st02, "extended"),
    (Check.COUNT_MISMATCH, sub("SE*16*0001~", "SE*15*0001~"), "extended"),
    (Check.FUNCTIONAL_ID_MISMATCH, sub("GS*IN*", "GS*PO*"), "extended"),
    (Check.UNSUPPORTED, sub("*X*004010~", "*X*003050~"), "extended"),
    (Check.SEGMENT_UNRECOGNIZED, sub("CTT*2~", "x1*A~CTT*2~"), "extended"),
    (Check.SEGMENT_NOT_IN_SET, sub("CTT*2~", "BEG*00*SA*1**20240101~CTT*2~"), "extended"),
    (Check.SEGMENT_ORDER, sub("TDS*13950~SAC*A*C310***1450~CTT*2~", "CTT*2~TDS*13950~SAC*A*C310***1450~"),
     "extended"),
    (Check.SEGMENT_MISSING, sub("TDS*13950~", ""), "extended"),
    (Check.SEGMENT_REPEAT, sub("N1*BT*", "CUR*SE*CAD~CUR*SE*CAD~N1*BT*"), "extended"),
    (Check.LOOP_REPEAT, sub("CTT*2~", "SAC*C*D240***0~" * 25 + "CTT*2~"), "extended"),
    (Check.EMPTY_SEGMENT, sub("CTT*2~", "~CTT*2~"), "extended"),
    (Check.TRAILING_SEPARATOR, sub("CTT*2~", "CTT*2*~"), "extended"),
    (Check.ELEMENT_MISSING, sub("BIG*20240308*", "BIG**"), "extended"),
    (Check.TOO_MANY_ELEMENTS, sub("TDS*13950~", "TDS*13950*1*1*1*1~"), "extended"),
    (Check.TOO_SHORT, sub("N4*PORTLAND*", "N4*P*"), "extended"),
    (Check.TOO_LONG, sub("*0000412*", "*00000000000000000000412*"), "extended"),
    (Check.INVALID_NUMBER, sub("IT1*1*10*", "IT1*1*1O*"), "extended"),
    (Check.INVALID_DATE, sub("BIG*20240308*", "BIG*20240230*"), "extended"),
    (Check.INVALID_TIME, sub("*20240311*1602*17*", "*20240311*2460*17*"), "extended"),
    (Check.INVALID_CODE, sub("N1*BT*", "N1*XX*"), "extended"),
    (Check.INVALID_CHARACTER, sub("N1*BT*HARBOR FOODS", "N1*BT*Harbor Foods"), "basic"),
    (Check.DELIMITER_IN_DATA, sub("N1*BT*HARBOR FOODS", "N1*BT*HARBOR>FOODS"), "extended"),
    (Check.SYNTAX_NOTE, sub("N1*BT*HARBOR FOODS~", "N1*BT~"), "extended"),
    (Check.TOTALS, sub("TDS*13950~", "TDS*13960~"), "extended"),
]


def test_the_golden_samples_are_valid() -> None:
    assert validate_interchange(INVOICE) == []
    assert validate_interchange(INVOICE, charset="basic") == []
    assert validate_interchange(ACK) == []


@pytest.mark.parametrize(("check", "mutate", "charset"), CASES, ids=[c[0].value for c in CASES])
def test_each_check_catches_its_broken_sample(check: Check, mutate: Callable[[], str], charset: str) -> None:
    errors = validate_interchange(mutate(), charset=charset)
    assert check in {e.check for e in errors}, errors


def test_every_check_has_a_broken_sample() -> None:
    covered = {c[0] for c in CASES} | {Check.EXCLUSION}  # exclusion: below, no E note in our segments
    assert covered == set(Check)


def test_exclusion_note() -> None:
    spec = SegmentSpec("ZZZ", "test", (_e("ZZZ01", "1", "a", "O", "AN", 1, 5), _e("ZZZ02", "2", "b", "O", "AN", 1, 5)),
                       (SyntaxNote.parse("E0102"),))
    ctx = _Ctx()
    _check_notes(ctx, RawSegment(3, "ZZZ", ("A", "B")), spec)
    assert [(e.check, e.code, e.element_position) for e in ctx.errors] == [(Check.EXCLUSION, "10", 2)]
    ctx = _Ctx()
    _check_notes(ctx, RawSegment(3, "ZZZ", ("A",)), spec)
    assert ctx.errors == []


def test_findings_are_located_like_a_997() -> None:
    errors = validate_interchange(sub("*0000412*", "*00000000000000000000412*")())
    (error,) = errors
    assert (error.segment_id, error.segment_position, error.element_position, error.data_element, error.code) == \
        ("BIG", 2, 2, "76", "5")
    assert (error.group_control_number, error.set_control_number, error.interchange_position) == ("17", "0001", 4)


def test_missing_segment_and_order_codes() -> None:
    errors = validate_interchange(CASES[11][1]())
    assert {(e.check, e.segment_id, e.code) for e in errors} >= {(Check.SEGMENT_MISSING, "TDS", "3"),
                                                                 (Check.SEGMENT_ORDER, "TDS", "7")}


def test_line_breaks_between_segments_are_tolerated_but_not_inside_data() -> None:
    assert validate_interchange(INVOICE.replace("~", "~\r\n")) == []
    broken = INVOICE.replace("HARBOR FOODS", "HARBOR\tFOODS")
    assert Check.INVALID_CHARACTER in {e.check for e in validate_interchange(broken)}


def test_unreadable_input_is_a_finding_not_a_crash() -> None:
    (error,) = validate_interchange("hello")
    assert error.check is Check.ENVELOPE_STRUCTURE
    assert validate_interchange(INVOICE[:50])


def test_totals_count_lines_and_tolerate_cent_rounding() -> None:
    assert validate_interchange(sub("TDS*13950~", "TDS*13951~")()) == []  # one cent per line tolerated
    (error,) = validate_interchange(sub("CTT*2~", "CTT*3~")())
    assert (error.check, error.segment_id) == (Check.TOTALS, "CTT")
    po = (GOLDEN / "850_bill_412.edi").read_text().replace("\n", "")
    assert validate_interchange(po) == []
    assert {e.check for e in validate_interchange(po.replace("AMT*TT*80~", "AMT*TT*81~"))} == {Check.TOTALS}


# ---- issue 12: syntax notes, code lists and the 820 sum rule the validator did not check ----

REMITTANCE = (GOLDEN / "820_payment_7720.edi").read_text().replace("\n", "")
SAC = "SAC*A*C310***1450~"


def _sac(*elements: str) -> Callable[[], str]:
    return sub(SAC, "SAC*" + "*".join(elements) + "~")


GAPS: list[tuple[str, Callable[[], str], Check, str]] = [
    # (what the mutant breaks, mutant, check, text the finding must carry)
    ("TXI R020306", sub("TXI*ST*9*8~", "TXI*ST~"), Check.SYNTAX_NOTE, "R020306"),
    ("SAC R0203", _sac("A"), Check.SYNTAX_NOTE, "R0203"),
    ("SAC P0304", _sac("A", "C310", "VI", "", "1450"), Check.SYNTAX_NOTE, "P0304"),
    ("SAC P0607", _sac("A", "C310", "", "", "1450", "3"), Check.SYNTAX_NOTE, "P0607"),
    ("SAC P0910", _sac("A", "C310", "", "", "1450", "", "", "", "EA"), Check.SYNTAX_NOTE, "P0910"),
    ("SAC C1110", _sac("A", "C310", "", "", "1450", "", "", "", "", "", "2"), Check.SYNTAX_NOTE, "C1110"),
    ("SAC C1413", _sac("A", "C310", "", "", "1450", "", "", "", "", "", "", "", "", "7"), Check.SYNTAX_NOTE,
     "C1413"),
    ("SAC C1615", _sac("A", "C310", "", "", "1450", "", "", "", "", "", "", "", "", "", "", "EN"),
     Check.SYNTAX_NOTE, "C1615"),
    ("SAC L130204", _sac("A", "", "VI", "", "1450", "", "", "", "", "", "", "", "R1"), Check.SYNTAX_NOTE,
     "L130204"),
    ("ISA05 code list", sub("*ZZ*NORTHWIND      *", "*QQ*NORTHWIND      *"), Check.ISA_VALUE, "ISA05"),
    ("ISA07 code list", sub("*ZZ*HARBORFOODS    *", "*QQ*HARBORFOODS    *"), Check.ISA_VALUE, "ISA07"),
    ("N402 code", sub("N4*PORTLAND*ME*", "N4*PORTLAND*XQ*"), Check.INVALID_CODE, "N402"),
    ("N404 code", sub("*04101*US~", "*04101*QQ~"), Check.INVALID_CODE, "N404"),
    ("820 BPR02 = Σ RMR04", sub("BPR*I*39.5*C*", "BPR*I*39.6*C*", REMITTANCE), Check.TOTALS, "RMR04"),
    ("820 debit is negative", sub("BPR*I*39.5*C*", "BPR*I*39.5*D*", REMITTANCE), Check.TOTALS, "RMR04"),
]


@pytest.mark.parametrize(("gap", "mutate", "check", "mentions"), GAPS, ids=[g[0] for g in GAPS])
def test_the_validator_now_rejects(gap: str, mutate: Callable[[], str], check: Check, mentions: str) -> None:
    errors = validate_interchange(mutate())
    assert [e for e in errors if e.check is check and mentions in e.message], (gap, errors)


def test_the_820_golden_and_a_reversal_are_valid() -> None:
    assert validate_interchange(REMITTANCE) == []
    reversal = REMITTANCE.replace("BPR*I*39.5*C*", "BPR*I*39.5*D*").replace("*PI*39.5*", "*PI*-39.5*")
    assert validate_interchange(reversal) == []
