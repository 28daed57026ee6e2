"""The one inbound reader and the acknowledgments read from it: 997 and 999, 4010 and 5010, TA1s beside groups,
the dialects real translators write (kept as warnings), and attribution (AK101) that refuses rather than guesses."""

from __future__ import annotations

from freshcleo_pipeline.x12.ack_reader import AckStatus, read_997, read_acknowledgments, read_inbound_997
from freshcleo_pipeline.x12.reader import read_x12


def isa(version: str = "00401", control: int = 5, isa11: str = "U", element: str = "*") -> str:
    return element.join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "ACMERETAIL     ", "ZZ", "HARBORSUPPLY   ",
                         "260302", "1404", isa11, version, f"{control:09d}", "0", "T", ":"]) + "~"


def ack_interchange(kind: str, body: list[str], *, gs08: str = "004010", isa12: str = "00401", gs04: str = "20260302",
                    ta1s: list[str] | None = None, st03: str = "") -> str:
    st = f"ST*{kind}*0001" + (f"*{st03}" if st03 else "")
    segments = [st, *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    head = isa(isa12, isa11="^" if isa12 >= "00402" else "U") + "".join(f"{t}~" for t in ta1s or [])
    return (head + f"GS*FA*ACMERETAIL*HARBORSUPPLY*{gs04}*1404*5*X*{gs08}~" + "~".join(segments)
            + "~GE*1*5~IEA*1*000000005~")


def test_a_file_with_two_interchanges_a_ta1_and_mixed_groups_is_read_whole() -> None:
    first = ack_interchange("997", ["AK1*IN*17", "AK2*810*0001", "AK5*A", "AK9*A*1*1*1"],
                            ta1s=["TA1*000000017*260302*1404*A*000"])
    second = first.replace("GS*FA*", "GS*PO*").replace("ST*997*0001", "ST*850*0001")
    read = read_x12(first + "\r\n" + second.replace("000000005", "000000006"))
    assert [i.control for i in read.interchanges] == ["000000005", "000000006"]
    assert read.set_ids == ["TA1", "997", "TA1", "850"]
    assert read.interchanges[0].groups[0].sets[0].body[0].tag == "AK1"


def test_999_accepted_and_rejected_with_ik3_ik4_and_ctx() -> None:
    text = ack_interchange("999", ["AK1*IN*17*005010", "AK2*810*0001", "IK5*A",
                                   "AK2*810*0002", "IK3*BIG*2**8", "CTX*SITUATIONAL TRIGGER*BIG*2",
                                   "IK4*2:1*76*5*00000000000000000000412", "IK5*R*5", "AK9*P*2*2*1"],
                           gs08="005010X231A1", isa12="00501", st03="005010X231A1")
    accepted, rejected = read_997(text, strict=False)
    assert (accepted.ack_kind, accepted.status, accepted.acknowledged_version) == ("999", AckStatus.ACCEPTED,
                                                                                   "005010")
    assert rejected.status is AckStatus.REJECTED and rejected.set_errors == ("5",)
    (note,) = rejected.segment_notes
    assert (note.segment_id, note.position, note.code) == ("BIG", 2, "8")
    assert note.context == ("SITUATIONAL TRIGGER*BIG*2",)
    assert [(e.position, e.component, e.data_element, e.code) for e in note.elements] == [(2, 1, "76", "5")]
    # The strict form reads the 999 too: the validator's "999 is not a set we define" is not held against it.
    assert [r.status for r in read_997(text)] == [AckStatus.ACCEPTED, AckStatus.REJECTED]


def test_ta1_and_997_in_one_interchange_are_both_read() -> None:
    text = ack_interchange("997", ["AK1*IN*17", "AK2*810*0001", "AK5*R*5", "AK9*R*1*1*0"],
                           ta1s=["TA1*000000017*260302*1404*E*023"])
    acks = read_acknowledgments(read_x12(text))
    (ta1,) = acks.ta1s
    assert (ta1.interchange_control_number, ta1.code, ta1.note_code) == ("000000017", "E", "023")
    assert [r.status for r in acks.results] == [AckStatus.REJECTED]


def test_ak904_disagreeing_with_the_ak5s_trusts_the_sets_and_warns() -> None:
    text = ack_interchange("997", ["AK1*IN*17", "AK2*810*0001", "AK5*R*5", "AK9*R*1*1*1"])
    results, warnings = read_inbound_997(text)
    assert [r.status for r in results] == [AckStatus.REJECTED]
    assert any("AK904 says '1'" in w for w in warnings)
    assert any("AK904" in w for w in results[0].warnings)


def test_translator_dialects_are_read_with_warnings() -> None:
    ak103 = ack_interchange("997", ["AK1*IN*17*004010", "AK2*810*0001", "AK5*A", "AK9*A*1*1*1"])
    (result,), warnings = read_inbound_997(ak103)
    assert result.status is AckStatus.ACCEPTED and result.acknowledged_version == "004010"
    assert any("AK103" in w for w in warnings)
    old = ack_interchange("997", ["AK1*IN*17", "AK2*810*0001", "AK5*R*5", "AK9*R*1*1*0"], gs08="003060",
                          isa12="00306")
    assert [r.status for r in read_inbound_997(old)[0]] == [AckStatus.REJECTED]
    short = ack_interchange("997", ["AK1*IN*17", "AK2*810*0001", "AK5*A", "AK9*A*1*1*1"], gs04="260302")
    assert [r.status for r in read_inbound_997(short)[0]] == [AckStatus.ACCEPTED]


def test_ak101_that_does_not_fit_the_set_is_refused_even_with_ak2() -> None:
    text = ack_interchange("997", ["AK1*PO*17", "AK2*810*0001", "AK5*R*5", "AK9*R*1*1*0",
                                   "AK1*IN*18", "AK2*810*0001", "AK5*A", "AK9*A*1*1*1"])
    acks = read_acknowledgments(read_x12(text))
    assert [(r.functional_id, r.group_control_number) for r in acks.results] == [("IN", "18")]
    (refused,) = acks.refused
    assert (refused.functional_id, refused.group_control_number) == ("PO", "17")
    assert "AK101 'PO' does not fit AK201 '810'" in refused.reason
    unknown = read_acknowledgments(read_x12(ack_interchange("997", ["AK1*XX*3", "AK9*A*1*1*1"])))
    assert unknown.results == [] and "not the functional id" in unknown.refused[0].reason


def test_an_ak2_without_ak5_gives_no_result_but_the_others_are_read() -> None:
    text = ack_interchange("997", ["AK1*IN*17", "AK2*810*0001", "AK2*810*0002", "AK5*R*5", "AK9*R*2*2*0"])
    results, warnings = read_inbound_997(text)
    assert [r.set_control_number for r in results] == ["0002"]
    assert any("AK2 810 0001 has no AK5" in w for w in warnings)
