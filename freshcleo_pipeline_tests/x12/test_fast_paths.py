"""The single-pass validator and the remembered mapping steps give the answers of the detailed ones.

The quick acceptance (``fastcheck.scan`` and the totals read from segment texts) keeps memos of the segments
and amounts it has accepted, and the mapping context remembers the segments it built from document values.
Neither may change a verdict, a finding or an adjustment: a text validated after a clean one that shares most
of its segments is judged on its own, and a document rendered after a similar one gets its own labels.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from freshcleo_pipeline.documents import Line, Party, Tax
from freshcleo_pipeline.x12 import Charset, Check, Delimiters, render_interchange, validate_interchange
from freshcleo_pipeline.x12.segments import Segment, render_all
from freshcleo_pipeline.x12.validator import detailed_findings, quickly_clean
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice

GOLDEN = Path(__file__).parent / "golden"
INVOICE = (GOLDEN / "810_invoice_0000412.edi").read_text().replace("\n", "")

BROKEN: list[tuple[str, str, str, Check]] = [
    ("too long", "BIG*20240308*0000412*", "BIG*20240308*" + "9" * 23 + "*", Check.TOO_LONG),
    ("too short", "ST*810*0001~", "ST*810*001~", Check.TOO_SHORT),
    ("bad code", "TXI*ST*9*8~", "TXI*ZZ*9*8~", Check.INVALID_CODE),
    ("bad date", "ITD*01*3****20240407*30~", "ITD*01*3****20240431*30~", Check.INVALID_DATE),
    ("bad number", "IT1*2*1*EA*20**", "IT1*2*1*EA*2.0.0**", Check.INVALID_NUMBER),
    ("missing mandatory", "N1*RE*NORTHWIND SUPPLY~", "N1**NORTHWIND SUPPLY~", Check.ELEMENT_MISSING),
    ("segment count", "SE*16*0001~", "SE*17*0001~", Check.COUNT_MISMATCH),
    ("set count", "GE*1*17~", "GE*2*17~", Check.COUNT_MISMATCH),
    ("line count", "CTT*2~", "CTT*3~", Check.TOTALS),
    ("total", "TDS*13950~", "TDS*13960~", Check.TOTALS),
    ("trailing separator", "N3*88 PIER RD~", "N3*88 PIER RD*~", Check.TRAILING_SEPARATOR),
    ("lower case in basic", "N3*88 PIER RD~", "N3*88 Pier Rd~", Check.INVALID_CHARACTER),
]


@pytest.mark.parametrize(("old", "new", "check"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_a_broken_interchange_after_its_clean_original_gets_the_detailed_findings(old: str, new: str,
                                                                                 check: Check) -> None:
    assert validate_interchange(INVOICE, charset="basic") == []  # every segment of the original now remembered
    broken = INVOICE.replace(old, new, 1)
    assert broken != INVOICE
    assert not quickly_clean(broken, Charset.BASIC)
    found = validate_interchange(broken, charset="basic")
    assert found == detailed_findings(broken, Charset.BASIC)
    assert check in {error.check for error in found}
    assert validate_interchange(broken, charset="basic") == found  # and again, with everything remembered


def test_a_segment_accepted_under_one_character_set_is_judged_again_under_another() -> None:
    lower = INVOICE.replace("N3*88 PIER RD~", "N3*88 Pier Rd~")
    assert validate_interchange(lower, charset="extended") == []
    assert {e.check for e in validate_interchange(lower, charset="basic")} == {Check.INVALID_CHARACTER}


def test_segments_accepted_with_one_separator_are_judged_again_with_another() -> None:
    assert validate_interchange(INVOICE) == []
    swapped = INVOICE.replace("*", "|")  # '|' separates; '*' would be data
    assert validate_interchange(swapped, charset="basic") == []
    # With '*' separating again, '|' is data, and not in the basic set.
    piped = INVOICE.replace("N1*RE*NORTHWIND SUPPLY~", "N1*RE*NORTHWIND|SUPPLY~")
    found = validate_interchange(piped, charset="basic")
    assert found == detailed_findings(piped, Charset.BASIC)
    assert {e.check for e in found} == {Check.INVALID_CHARACTER}


def zero_line_invoice(total: str) -> str:
    lines = (Line(line_number=1, name="Sample", quantity=Decimal(0), unit_price=Decimal("12.50"),
                  amount=Decimal(0), sku="S-1"),
             Line(line_number=2, name="Widget", quantity=Decimal(2), unit_price=Decimal("5.00"),
                  amount=Decimal("10.00"), sku="W-2"))
    doc = invoice(lines=lines, tax_total=Decimal(0), discount_amount=Decimal(0), discount_percent=Decimal(0),
                  total=Decimal("10.00"))
    text = render_interchange([doc], envelope(), interchange_control_number=5, group_control_number=5,
                              set_control_numbers=[1], date=DATE, time=TIME).text
    return text.replace("TDS*1000~", f"TDS*{total}~")


def test_a_line_that_amounts_to_nothing_still_counts_in_the_total() -> None:
    assert validate_interchange(zero_line_invoice("1000")) == []
    wrong = zero_line_invoice("1300")
    assert not quickly_clean(wrong, Charset.EXTENDED)
    assert {e.check for e in validate_interchange(wrong)} == {Check.TOTALS}


def render_adjustments(lines: tuple[Line, ...], name: str) -> list[tuple[str, str, str]]:
    doc = invoice(lines=lines, bill_to=Party(name=name), tax_total=sum(
        (t.amount for line in lines for t in line.taxes), Decimal(0)), discount_amount=Decimal(0),
        discount_percent=Decimal(0), total=sum((line.quantity * line.unit_price for line in lines), Decimal(0))
        + sum((t.amount for line in lines for t in line.taxes), Decimal(0)))
    result = render_interchange([doc], envelope(), interchange_control_number=1, group_control_number=1,
                                set_control_numbers=[1], date=DATE, time=TIME)
    return [(a.element, a.field, a.result) for a in result.adjustments]


def test_remembered_lines_and_parties_record_their_adjustments_under_each_documents_labels() -> None:
    taxed = Line(line_number=1, name="Widget blue", quantity=Decimal(3), unit_price=Decimal("12.50"),
                 amount=Decimal("37.50"), sku="wa-1", unit="ea",
                 taxes=(Tax(name="Sales tax", percent=Decimal(8), amount=Decimal("3.00")),))
    plain = Line(line_number=2, name="Setup", quantity=Decimal(1), unit_price=Decimal(20), amount=Decimal(20),
                 sku="SETUP")
    first = render_adjustments((taxed, plain), "Harbor Foods")
    assert ("PID05", "lines[0].name", "WIDGET BLUE") in first
    assert ("IT107", "lines[0].sku", "WA-1") in first
    assert ("IT103", "lines[0].unit", "EA") in first
    assert ("N102", "bill_to.name", "HARBOR FOODS") in first
    assert render_adjustments((taxed, plain), "Harbor Foods") == first  # everything remembered: the same record
    # The same line values in another position carry that position's label.
    moved = plain.model_copy(update={"line_number": 1}), taxed.model_copy(update={"line_number": 2})
    second = render_adjustments(moved, "Harbor Foods")
    assert ("PID05", "lines[1].name", "WIDGET BLUE") in second
    assert not any(field.startswith("lines[0].") and field != "lines[0].name" for _, field, _ in second)


def test_render_all_omits_trailing_empty_elements_within_a_list_of_usual_segments() -> None:
    d = Delimiters()
    segments = [Segment("N3", ("88 PIER RD", "")), Segment("PID", ("F", "", "", "", "WIDGET")),
                Segment("N1", ("RE", "NORTHWIND", "", ""))]
    assert render_all(segments, d) == "N3*88 PIER RD~PID*F****WIDGET~N1*RE*NORTHWIND~"
    assert render_all([], d) == ""
    assert render_all(iter(segments[1:2]), d) == "PID*F****WIDGET~"
    with pytest.raises(ValueError, match="no data element"):
        render_all([Segment("PID", ("F",)), Segment("N1", ("", ""))], d)
