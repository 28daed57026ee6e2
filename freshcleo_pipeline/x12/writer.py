"""The writer: transaction-set bodies → ST…SE, and sets → one complete interchange ISA…IEA.

Owns framing and counting: SE01 (ST to SE inclusive), GE01 (sets in the group), IEA01 (groups), the control
number pairs (ISA13 = IEA02, GS06 = GE02, ST02 = SE02), one functional group per interchange (the pipeline
renders one partner and one transaction set at a time). Must not map documents or clean data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from freshcleo_pipeline.x12 import envelope
from freshcleo_pipeline.x12.envelope import EnvelopeParams
from freshcleo_pipeline.x12.segments import Delimiters, Segment, render_all, seg


class SetBody(NamedTuple):
    """A named tuple, like ``Segment``: cheap to build, one per document rendered."""

    transaction_set_id: str  # ST01
    control_number: str  # ST02, already formatted
    body: Sequence[Segment]  # the segments between ST and SE


def render_set(item: SetBody, delimiters: Delimiters) -> tuple[str, int]:
    """ST … SE as text, and SE01 (the segment count including ST and SE)."""
    return render_all(_framed(item), delimiters), len(item.body) + 2


def _framed(item: SetBody) -> list[Segment]:
    """ST, the body, SE."""
    return [seg("ST", item.transaction_set_id, item.control_number), *item.body,
            seg("SE", str(len(item.body) + 2), item.control_number)]


def render_interchange(env: EnvelopeParams, functional_id: str, sets: Sequence[SetBody], *,
                       interchange_control_number: int, group_control_number: int, date: dt.date,
                       time: dt.time) -> tuple[str, tuple[int, ...]]:
    """ISA, one GS…GE group holding ``sets``, IEA; and each set's SE01."""
    rendered = [render_set(item, env.delimiters) for item in sets]
    text = enveloped(env, functional_id, [text for text, _ in rendered],
                     interchange_control_number=interchange_control_number,
                     group_control_number=group_control_number, date=date, time=time)
    return text, tuple(count for _, count in rendered)


def enveloped(env: EnvelopeParams, functional_id: str, set_texts: Sequence[str], *, interchange_control_number: int,
              group_control_number: int, date: dt.date, time: dt.time) -> str:
    """ISA, one GS…GE group around sets already rendered (``render_set``), IEA. Segments render the same one by
    one or together, so a caller of many sets can write each as soon as it is mapped and keep only its text."""
    d = env.delimiters
    group = render_all([envelope.gs(env, functional_id, group_control_number, date, time)], d)
    trailers = render_all([envelope.ge(len(set_texts), group_control_number),
                           envelope.iea(1, interchange_control_number)], d)
    return envelope.isa(env, interchange_control_number, date, time) + group + "".join(set_texts) + trailers
