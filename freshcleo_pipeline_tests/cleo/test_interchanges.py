"""The hand-made test interchange is itself well formed, so tests that rely on it prove something."""

from __future__ import annotations

from freshcleo_pipeline_tests.cleo.interchanges import acme_810, segments


def test_sample_isa_has_fixed_widths_and_matching_trailers() -> None:
    content = acme_810(control=123)
    isa = content[:106].decode()
    assert len(isa) == 106 and isa.endswith("~")
    assert [len(f) for f in isa[:105].split("*")[1:]] == [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1]
    segs = segments(content)
    tags = [s[0] for s in segs]
    assert tags == ["ISA", "GS", "ST", "BIG", "N1", "IT1", "TDS", "CTT", "SE", "GE", "IEA"]
    assert segs[0][13] == segs[-1][2] == "000000123"
    assert segs[1][6] == segs[-2][2] == "123"
    assert segs[8] == ["SE", str(tags.index("SE") - tags.index("ST") + 1), "0001"]
