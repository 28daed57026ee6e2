"""X12 for freshcleo, pure: documents in, interchange text out; interchange text in, findings and acks out.

The facade the rest of the product uses (import from here, not from the modules):

* ``render_interchange(documents, envelope, *, interchange_control_number, group_control_number,
  set_control_numbers, date, time, validate=True) -> RenderResult`` — one partner, one transaction set, one
  ST02 per document; per-document ST02 and adjustments in ``RenderResult.documents``.
* ``validate_interchange(text, *, charset="extended") -> list[X12Error]`` — every finding, 997-style.
* ``read_997(text) -> list[AckResult]`` — one result per acknowledged transaction set (or per group when a 997
  carries no AK2).
* ``build_997(inbound_text, *, interchange_control_number, group_control_number, date, time, ...) -> str`` —
  a 997 interchange answering an inbound one (used by the Cleo emulator).

This package does no I/O, reads no clock and imports nothing of the product but ``documents.py`` and
``errors.py``.
"""

from freshcleo_pipeline.x12.ack import build_997
from freshcleo_pipeline.x12.ack_reader import AckElementNote, AckResult, AckSegmentNote, AckStatus, read_997
from freshcleo_pipeline.x12.envelope import EnvelopeParams
from freshcleo_pipeline.x12.errors import (
    Check,
    X12EnvelopeError,
    X12Error,
    X12MappingError,
    X12ParseError,
    X12ValidationError,
)
from freshcleo_pipeline.x12.hygiene import Adjustment, Charset, Reason
from freshcleo_pipeline.x12.render import RenderedDocument, RenderResult, render_interchange, transaction_set_of
from freshcleo_pipeline.x12.segments import Delimiters
from freshcleo_pipeline.x12.validator import validate_interchange

__all__ = [
    "AckElementNote",
    "AckResult",
    "AckSegmentNote",
    "AckStatus",
    "Adjustment",
    "Charset",
    "Check",
    "Delimiters",
    "EnvelopeParams",
    "Reason",
    "RenderResult",
    "RenderedDocument",
    "X12EnvelopeError",
    "X12Error",
    "X12MappingError",
    "X12ParseError",
    "X12ValidationError",
    "build_997",
    "read_997",
    "render_interchange",
    "transaction_set_of",
    "validate_interchange",
]
