"""Element formatting and data hygiene: N2/R/DT, delimiters, character sets, shortening, identifiers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from freshcleo_pipeline.x12 import Delimiters, X12EnvelopeError, X12MappingError, render_interchange
from freshcleo_pipeline.x12.elements import format_n, format_r
from freshcleo_pipeline.x12.hygiene import Charset, Reason, allowed_characters, clean_text, shorten
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice, remittance


@pytest.mark.parametrize(("value", "n2", "r"), [
    ("139.50", "13950", "139.5"), ("150.00", "15000", "150"), ("-5", "-500", "-5"), ("0.01", "1", ".01"),
    ("0", "0", "0"), ("100", "10000", "100"), ("0.50", "50", ".5"), ("-0.5", "-50", "-.5"),
    ("12.345", "1235", "12.345"),
])
def test_numeric_formats(value: str, n2: str, r: str) -> None:
    assert format_n(Decimal(value), 2) == n2
    assert format_r(Decimal(value)) == r


def allowed(charset: Charset = Charset.BASIC) -> frozenset[str]:
    return allowed_characters(charset, "004010", ("*", ">", "^", "~"))


def test_clean_text_removes_delimiters_and_reports() -> None:
    text, reasons = clean_text("Acme *Deli*~\r\n\tCaf\u00e9 > Bar^", max_length=60, allowed=allowed(),
                               delimiters=("*", ">", "^", "~"), uppercase=True)
    assert text == "ACME DELI CAFE BAR"
    assert {Reason.DELIMITER, Reason.WHITESPACE, Reason.TRANSLITERATED, Reason.UPPERCASED} <= set(reasons)
    text, reasons = clean_text("Tokyo \u6771\u4eac", max_length=60, allowed=allowed(Charset.EXTENDED),
                               delimiters=("*", ">", "^", "~"), uppercase=False)
    assert (text, Reason.DROPPED in reasons) == ("Tokyo", True)


def test_free_text_is_shortened_at_a_word_boundary() -> None:
    assert shorten("THE QUICK BROWN FOX", 12) == "THE QUICK"
    assert shorten("A" * 30, 10) == "A" * 10
    text, reasons = clean_text("word " * 100, max_length=60, allowed=allowed(), delimiters=(), uppercase=True)
    assert len(text) <= 60 and text.endswith("WORD") and Reason.TRUNCATED in reasons


def render(document: object, **kwargs: object) -> str:
    return render_interchange([document], envelope(**kwargs), interchange_control_number=1,  # type: ignore[list-item]
                              group_control_number=1, set_control_numbers=[1], date=DATE, time=TIME).text


@pytest.mark.parametrize(("fields", "field"), [
    ({"invoice_number": "X" * 23}, "invoice_number"),
    ({"invoice_number": "INV*1"}, "invoice_number"),
    ({"invoice_number": "INV\n1"}, "invoice_number"),
    ({"po_number": "P" * 23}, "po_number"),
    ({"invoice_number": "   "}, "invoice_number"),
])
def test_bad_identifiers_raise_naming_field_value_and_expectation(fields: dict[str, str], field: str) -> None:
    with pytest.raises(X12MappingError) as info:
        render(invoice(**fields))
    assert info.value.field == field and info.value.value == fields[field]
    assert "BIG0" in info.value.expected


def test_identifier_limits_follow_the_version() -> None:
    trace = "T" * 40
    with pytest.raises(X12MappingError, match="TRN02"):
        render(remittance(trace_number=trace))
    assert f"TRN*1*{trace}~" in render(remittance(trace_number=trace), version="005010")


def test_totals_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(X12MappingError, match="TDS"):
        render(invoice(total=Decimal("140.50")))


def test_name_that_cannot_be_represented_needs_an_id() -> None:
    from freshcleo_pipeline.documents import Party

    with pytest.raises(X12MappingError) as info:
        render(invoice(bill_to=Party(name="\u6771\u4eac")))
    assert info.value.field == "bill_to.name"
    assert "N1*BT**ZZ*TOKYO01~" in render(invoice(bill_to=Party(name="\u6771\u4eac", edi_id="TOKYO01")))


def test_partner_delimiters_and_extended_charset() -> None:
    text = render(invoice(notes="x", bill_to=invoice().bill_to.model_copy(update={"name": "Harbor | Foods: ok"})),
                  delimiters=Delimiters("|", ":", "^", "\n"), charset=Charset.EXTENDED)
    assert "N1|BT|Harbor Foods ok\n" in text and text.startswith("ISA|00|")
    with pytest.raises(X12EnvelopeError):
        envelope(sender_id="TOO LONG SENDER ID 1")
    with pytest.raises(X12EnvelopeError):
        Delimiters("*", "*", "^", "~")
