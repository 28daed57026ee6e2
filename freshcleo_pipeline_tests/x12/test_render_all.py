"""``render_all`` (the writer's inline join of usual segments) writes what ``Segment.render`` writes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshcleo_pipeline.x12 import Delimiters
from freshcleo_pipeline.x12.segments import Segment, render_all

value = st.sampled_from(["", "A", "12.5", "WIDGET 1 BLUE"])
element = value | st.lists(value, max_size=3).map(tuple)
segment = st.builds(Segment, st.sampled_from(["IT1", "REF", "PID"]), st.lists(element, max_size=6).map(tuple))


@given(st.lists(segment, max_size=5), st.sampled_from([Delimiters(), Delimiters("|", ":", "^", "\n")]))
def test_render_all_matches_rendering_each_segment(segments: list[Segment], delimiters: Delimiters) -> None:
    try:
        expected = "".join(s.render(delimiters) for s in segments)
    except ValueError:  # a segment without data: both refuse it
        with pytest.raises(ValueError, match="no data element"):
            render_all(segments, delimiters)
        return
    assert render_all(segments, delimiters) == expected
