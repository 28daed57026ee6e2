"""Acknowledgments we send (997, 999, TA1) and partner documents read back into data, without I/O."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from freshcleo_pipeline.documents import Invoice, PurchaseOrder, Remittance
from freshcleo_pipeline.x12 import EnvelopeParams, render_interchange
from freshcleo_pipeline.x12.ack import acknowledge, build_997, build_999, build_ta1
from freshcleo_pipeline.x12.partner_documents import (
    PartnerDocument,
    PartnerDocumentError,
    interchange_text,
    read_partner_document,
)
from freshcleo_pipeline.x12.reader import ReadSet, read_x12
from freshcleo_pipeline.x12.validator import validate_interchange
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice, purchase_order, remittance

RECEIVED = dt.datetime(2024, 3, 11, 17, 0, tzinfo=dt.UTC)
ISA = "ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*HARBORSUPPLY   *240311*1602*U*00401*000000042*{ta1}*T*>~"


def _850(*, date: str = "20240311", ta1: str = "0", gs08: str = "004010", more: str = "") -> str:
    body = [f"BEG*00*SA*PO-77**{date}", "N1*BY*ACME RETAIL", "PO1*1*10*EA*12.5**VP*WIDGET-1",
            "PID*F****Blue widget", "CTT*1", "AMT*TT*125"]
    segments = ["ST*850*0001", *body, f"SE*{len(body) + 2}*0001"]
    return (ISA.format(ta1=ta1) + f"GS*PO*ACMERETAIL*HARBORSUPPLY*20240311*1602*9*X*{gs08}~" + "~".join(segments)
            + "~GE*1*9~" + more + "IEA*1*000000042~")


def _ours() -> EnvelopeParams:
    return envelope(sender_id="HARBORSUPPLY", receiver_id="ACMERETAIL")


def test_997_for_a_clean_850_accepts_it_in_our_envelope() -> None:
    ack = acknowledge(_850(), interchange_control_number=5, group_control_number=6, date=DATE, time=TIME,
                      envelope=_ours())
    assert ack.kind == "997" and [(g.functional_id, g.control, g.status) for g in ack.groups] == [("PO", "9", "A")]
    assert "*ZZ*HARBORSUPPLY   *ZZ*ACMERETAIL     *" in ack.text
    assert "GS*FA*HARBORSUPPLY*ACMERETAIL*20240311*1602*6*X*004010~ST*997*0001~AK1*PO*9~AK2*850*0001~AK5*A~" \
           "AK9*A*1*1*1~SE*6*0001~GE*1*6~IEA*1*000000005~" in ack.text
    assert validate_interchange(ack.text) == []


def test_a_syntax_error_is_rejected_with_ak3_and_ak4() -> None:
    text = build_997(_850(date="20241399"), interchange_control_number=5, group_control_number=6, date=DATE,
                     time=TIME)
    assert "AK2*850*0001~AK3*BEG*2**8~AK4*5*373*8*20241399~AK5*R*5~AK9*R*1*1*0~" in text
    assert validate_interchange(text) == []


def test_999_carries_the_same_findings_as_ik3_ik4_ik5() -> None:
    text = build_999(_850(date="20241399", gs08="005010"), interchange_control_number=5, group_control_number=6,
                     date=DATE, time=TIME)
    assert "GS*FA*HARBORSUPPLY*ACMERETAIL*20240311*1602*6*X*005010X231A1~ST*999*0001~" in text
    assert "AK1*PO*9*005010~AK2*850*0001~IK3*BEG*2**8~IK4*5*373*8*20241399~IK5*R*5~AK9*R*1*1*0~" in text
    assert "*00501*000000005*0*T*" in text
    clean = build_999(_850(gs08="005010"), interchange_control_number=5, group_control_number=6, date=DATE,
                      time=TIME)
    assert "AK2*850*0001~IK5*A~AK9*A*1*1*1~" in clean


def test_only_the_chosen_group_is_acknowledged() -> None:
    with pytest.raises(Exception, match="functional groups"):
        acknowledge(_850(), interchange_control_number=5, group_control_number=6, date=DATE, time=TIME,
                    groups=["10"])


def test_ta1_accepts_a_sound_envelope_and_rejects_a_broken_one() -> None:
    text, code, note = build_ta1(_850(ta1="1"), envelope=_ours(),
                                 interchange_control_number=7, date=DATE, time=TIME)
    assert (code, note) == ("A", "000")
    assert text.endswith("TA1*000000042*240311*1602*A*000~IEA*0*000000007~") and "*00401*000000007*0*T*" in text
    broken = _850().replace("IEA*1*000000042~", "IEA*1*000000043~")
    _, code, note = build_ta1(broken, envelope=_ours(),
                              interchange_control_number=8, date=DATE, time=TIME)
    assert (code, note) == ("R", "001")


def _one_set(text: str) -> ReadSet:
    return read_x12(text).interchanges[0].groups[0].sets[0]


def _read(text: str) -> PartnerDocument:
    return read_partner_document(_one_set(text), partner_id="acme-retail", source_id="42/9/0001",
                                 received_at=RECEIVED)


def test_our_own_810_850_820_read_back_into_the_same_models() -> None:
    for doc, model in ((invoice(), Invoice), (purchase_order(), PurchaseOrder), (remittance(), Remittance)):
        result = render_interchange([doc], envelope(), interchange_control_number=1, group_control_number=1,
                                    set_control_numbers=[1], date=DATE, time=TIME)
        read = _read(result.text)
        assert isinstance(read.document, model)
        assert read.total == getattr(doc, "total", getattr(doc, "amount", None))
        number = getattr(doc, "invoice_number", None) or getattr(doc, "po_number", None) or \
            getattr(doc, "trace_number", None)
        assert read.reference == number


def test_a_partner_850_is_read_with_numbers_dates_and_money() -> None:
    read = _read(_850())
    assert (read.reference, read.document_date, read.currency, read.total) == (
        "PO-77", dt.date(2024, 3, 11), "USD", Decimal("125"))
    order = read.document
    assert isinstance(order, PurchaseOrder)
    assert order.buyer.name == "ACME RETAIL" and order.lines[0].sku == "WIDGET-1"
    assert order.lines[0].name == "Blue widget" and order.source.account_id == "acme-retail"


def test_an_unreadable_set_names_the_element_and_value() -> None:
    with pytest.raises(PartnerDocumentError, match=r"BEG05: got '20241399'; expected a real date"):
        _read(_850(date="20241399"))


def test_an_interchange_is_written_out_again_as_read() -> None:
    text = _850()
    assert interchange_text(read_x12(text).interchanges[0]) == text
