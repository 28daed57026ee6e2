"""Golden files (hand-checked against the reference sheet's illustrative 810/850/820/997) and round trips."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from freshcleo_pipeline.documents import Purpose
from freshcleo_pipeline.x12 import build_997, render_interchange, validate_interchange
from freshcleo_pipeline.x12.badx12_adapter import parse
from freshcleo_pipeline.x12.elements import parse_date, parse_n, parse_r
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice, purchase_order, remittance

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> str:
    return (GOLDEN / f"{name}.edi").read_text().replace("\n", "")


def render(document: object, **kwargs: object) -> str:
    result = render_interchange([document], envelope(**kwargs), interchange_control_number=17,  # type: ignore[list-item]
                                group_control_number=17, set_control_numbers=[1], date=DATE, time=TIME)
    return result.text


@pytest.mark.parametrize(("name", "factory"), [
    ("810_invoice_0000412", invoice), ("850_bill_412", purchase_order), ("820_payment_7720", remittance),
])
def test_rendered_sets_match_golden_files(name: str, factory: object) -> None:
    text = render(factory())  # type: ignore[operator]
    assert text == golden(name)
    assert validate_interchange(text) == []
    assert len(text.split("~")[0]) + 1 == 106


def test_997_golden_files() -> None:
    text = render(invoice())
    assert build_997(text, interchange_control_number=5, group_control_number=5, date=DATE, time=TIME) == \
        golden("997_accepted")
    bad = text.replace("BIG*20240308*0000412", "BIG*20240308*00000000000000000000412")
    assert build_997(bad, interchange_control_number=5, group_control_number=5, date=DATE, time=TIME) == \
        golden("997_rejected_big02")


def _body(text: str, tag: str) -> list[tuple[str, ...]]:
    parsed = parse(text)
    return [s.elements for g in parsed.groups for t in g.sets for s in t.body if s.tag == tag]


def test_810_round_trip_amounts_ids_dates_lines() -> None:
    doc = invoice()
    text = render(doc)
    parsed = parse(text)
    assert parsed.envelope_problems == ()
    big = _body(text, "BIG")[0]
    assert parse_date(big[0]) == doc.issue_date and big[1] == doc.invoice_number and big[3] == doc.po_number
    assert parse_n(_body(text, "TDS")[0][0], 2) == doc.total
    lines = _body(text, "IT1")
    assert len(lines) == len(doc.lines) == int(_body(text, "CTT")[0][0])
    for raw, line in zip(lines, doc.lines, strict=True):
        assert (parse_r(raw[1]), parse_r(raw[3]), raw[6]) == (line.quantity, line.unit_price, line.sku)
    assert parse_date(_body(text, "ITD")[0][5]) == doc.due_date


def test_850_and_820_round_trip() -> None:
    po = purchase_order()
    text = render(po)
    beg = _body(text, "BEG")[0]
    assert (beg[2], parse_date(beg[4])) == (po.po_number, po.issue_date)
    assert parse_r(_body(text, "AMT")[0][1]) == po.total
    assert len(_body(text, "PO1")) == len(po.lines)
    rem = remittance()
    text = render(rem)
    bpr = _body(text, "BPR")[0]
    assert (parse_r(bpr[1]), parse_date(bpr[15])) == (rem.amount, rem.payment_date)
    assert _body(text, "TRN")[0][1] == rem.trace_number
    rmr = _body(text, "RMR")[0]
    item = rem.items[0]
    assert (rmr[1], parse_r(rmr[3]), parse_r(rmr[4])) == (item.reference_number, item.amount_paid,
                                                           item.document_total)
    assert parse_date(_body(text, "DTM")[0][1]) == item.document_date


@pytest.mark.parametrize(("purpose", "code"), [(Purpose.ORIGINAL, "00"), (Purpose.REPLACE, "05"),
                                               (Purpose.CANCEL, "01")])
def test_purpose_codes(purpose: Purpose, code: str) -> None:
    assert _body(render(invoice(purpose=purpose)), "BIG")[0][7] == code
    assert _body(render(purchase_order(purpose=purpose)), "BEG")[0][0] == code


def test_credit_memo_and_currency() -> None:
    text = render(invoice(is_credit_memo=True, currency="CAD"))
    assert _body(text, "BIG")[0][6] == "CR"
    assert _body(text, "CUR")[0] == ("SE", "CAD")
    assert validate_interchange(text) == []


def test_line_less_invoice_is_valid_810_but_bill_needs_lines() -> None:
    from freshcleo_pipeline.x12 import X12MappingError

    text = render(invoice(lines=(), discount_amount=Decimal(0), tax_total=Decimal(0), total=Decimal(0)))
    assert validate_interchange(text) == []
    assert _body(text, "CTT")[0] == ("0",) and _body(text, "IT1") == []
    with pytest.raises(X12MappingError, match="PO1"):
        render(purchase_order(lines=()))


def test_several_documents_get_their_own_st02_and_adjustments() -> None:
    docs = [invoice(), invoice(invoice_number="0000413", bill_to=invoice().bill_to.model_copy(
        update={"name": "Caf\u00e9 * Deli ~ Co"}))]
    result = render_interchange(docs, envelope(), interchange_control_number=9, group_control_number=3,
                                set_control_numbers=[41, 42], date=dt.date(2024, 1, 2), time=dt.time(9, 5))
    assert [d.set_control_number for d in result.documents] == ["0041", "0042"]
    assert result.interchange_control_number == "000000009" and result.group_control_number == "3"
    assert "N1*BT*CAFE DELI CO~" in result.text
    names = [a for a in result.documents[1].adjustments if a.field == "bill_to.name"]
    assert names and {"transliterated", "delimiter_replaced", "uppercased"} <= {r.value for r in names[0].reasons}
    assert all(a.field != "bill_to.name" or a.result == "HARBOR FOODS" for a in result.documents[0].adjustments)
    assert validate_interchange(result.text) == []
