"""997 reading (accepted, accepted with errors, rejected with AK3/AK4, group-only) and the 997 builder."""

from __future__ import annotations

import pytest

from freshcleo_pipeline.x12 import (
    AckStatus,
    Delimiters,
    X12ParseError,
    X12ValidationError,
    build_997,
    read_997,
    render_interchange,
    validate_interchange,
)
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice

ISA = "ISA*00*          *00*          *ZZ*HARBORFOODS    *ZZ*NORTHWIND      *240311*1602*U*00401*000000005*0*T*>~"


def wrap(*body: str) -> str:
    segments = ["ST*997*0001", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    return ISA + "GS*FA*HARBORFOODS*NORTHWIND*20240311*1602*5*X*004010~" + "~".join(segments) + \
        "~GE*1*5~IEA*1*000000005~"


def test_read_accepted() -> None:
    (result,) = read_997(wrap("AK1*IN*17", "AK2*810*0001", "AK5*A", "AK9*A*1*1*1"))
    assert (result.functional_id, result.group_control_number, result.transaction_set_id,
            result.set_control_number, result.status) == ("IN", "17", "810", "0001", AckStatus.ACCEPTED)
    assert result.ack_sender == "ZZ:HARBORFOODS" and result.ack_interchange_control_number == "000000005"


def test_read_accepted_with_errors_and_rejected_with_detail() -> None:
    text = wrap("AK1*IN*17", "AK2*810*0001", "AK3*TXI*12**8", "AK4*1*963*7*XX", "AK5*E*5",
                "AK2*810*0002", "AK3*BIG*2**8", "AK4*2*76*5*00000000000000000000412", "AK4*1*373*8*20240230",
                "AK5*R*5", "AK9*P*2*2*1")
    first, second = read_997(text)
    assert first.status is AckStatus.ACCEPTED_WITH_ERRORS and first.group_code == "P"
    assert first.segment_notes[0].segment_id == "TXI" and first.segment_notes[0].elements[0].code == "7"
    assert second.status is AckStatus.REJECTED and second.set_errors == ("5",)
    (note,) = second.segment_notes
    assert (note.segment_id, note.position, note.code) == ("BIG", 2, "8")
    assert [(e.position, e.data_element, e.code, e.bad_data) for e in note.elements] == [
        (2, "76", "5", "00000000000000000000412"), (1, "373", "8", "20240230")]


def test_read_group_level_only() -> None:
    (result,) = read_997(wrap("AK1*PO*3", "AK9*R*2*2*0*5"))
    assert (result.set_control_number, result.status, result.group_errors) == ("", AckStatus.REJECTED, ("5",))
    (partial,) = read_997(wrap("AK1*PO*3", "AK9*P*2*2*1"))
    assert partial.status is AckStatus.NEEDS_REVIEW


def test_read_handles_crlf_and_refuses_broken_997_when_strict() -> None:
    text = wrap("AK1*IN*17", "AK2*810*0001", "AK5*A", "AK9*A*1*1*1")
    assert read_997(text.replace("~", "~\r\n"))[0].status is AckStatus.ACCEPTED
    broken = text.replace("AK5*A~", "")
    with pytest.raises(X12ValidationError, match="AK5"):
        read_997(broken)
    with pytest.raises(X12ParseError):
        read_997("not an interchange")


def _interchange(count: int = 2) -> str:
    docs = [invoice(invoice_number=f"INV-{i}") for i in range(count)]
    return render_interchange(docs, envelope(), interchange_control_number=17, group_control_number=17,
                              set_control_numbers=list(range(1, count + 1)), date=DATE, time=TIME).text


def ack(text: str, **kwargs: object) -> str:
    result = build_997(text, interchange_control_number=8, group_control_number=8, date=DATE, time=TIME,
                       **kwargs)  # type: ignore[arg-type]
    assert validate_interchange(result) == [], result
    return result


def test_build_accepts_valid_interchange_with_reversed_envelope() -> None:
    text = ack(_interchange())
    assert "*ZZ*HARBORFOODS    *ZZ*NORTHWIND      *" in text and "GS*FA*HARBORFOODS*NORTHWIND*" in text
    assert [r.status for r in read_997(text)] == [AckStatus.ACCEPTED, AckStatus.ACCEPTED]
    assert "AK9*A*2*2*2~" in text


def test_build_rejects_with_ak3_ak4_and_partial_group() -> None:
    bad = _interchange().replace("N1*BT*HARBOR FOODS", "N1*XX*HARBOR FOODS", 1)
    text = ack(bad)
    first, second = read_997(text)
    assert first.status is AckStatus.REJECTED and second.status is AckStatus.ACCEPTED
    assert first.group_code == "P" and "AK4*1*98*7*XX~" in text


def test_build_set_level_codes_and_accept_with_errors_and_force() -> None:
    bad = _interchange(1).replace("SE*16*0001", "SE*15*0001")
    (result,) = read_997(ack(bad))
    assert (result.status, result.set_errors) == (AckStatus.REJECTED, ("4",))
    element_only = _interchange(1).replace("N1*BT*", "N1*XX*")
    (lenient,) = read_997(ack(element_only, accept_with_errors=True))
    assert lenient.status is AckStatus.ACCEPTED_WITH_ERRORS and lenient.group_code == "E"
    (forced,) = read_997(ack(_interchange(1), force={("17", "0001"): "R"}))
    assert forced.status is AckStatus.REJECTED and forced.group_code == "R"


def test_build_group_errors_and_bad_data_made_safe() -> None:
    bad = _interchange(1).replace("GE*1*17", "GE*2*17")
    (result,) = read_997(ack(bad))
    assert result.status is AckStatus.REJECTED and result.group_errors == ("5",)
    with_delims = _interchange(1).replace("N1*BT*HARBOR FOODS", "N1*BT*HARBOR>FOODS")
    assert "AK4*2*93*6*HARBOR FOODS~" in ack(with_delims)  # the inbound delimiters: '>' cannot be copied
    assert "AK4|2|93|6|HARBOR>FOODS\n" in ack(with_delims, delimiters=Delimiters("|", ":", "^", "\n"))


def test_build_needs_a_group() -> None:
    with pytest.raises(X12ParseError):
        build_997(_interchange().split("GS*")[0] + "IEA*0*000000017~", interchange_control_number=1,
                  group_control_number=1, date=DATE, time=TIME)
