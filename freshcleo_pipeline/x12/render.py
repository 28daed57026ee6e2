"""Rendering documents into one interchange: the entry point the pipeline calls to produce X12.

Owns the dispatch from document model to transaction set and mapping, the per-document context (so each
document's adjustments and ST02 come back separately), and the final self-check with the validator.
Must not allocate control numbers or read a clock: both are arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from freshcleo_pipeline.documents import BusinessDocument, Invoice, PurchaseOrder, Remittance, SourceRef
from freshcleo_pipeline.x12 import writer
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.envelope import EnvelopeParams, format_st02
from freshcleo_pipeline.x12.errors import X12EnvelopeError, X12ValidationError
from freshcleo_pipeline.x12.guide import Guide
from freshcleo_pipeline.x12.hygiene import Adjustment
from freshcleo_pipeline.x12.map_810 import map_invoice
from freshcleo_pipeline.x12.map_820 import map_remittance
from freshcleo_pipeline.x12.map_850 import map_purchase_order
from freshcleo_pipeline.x12.segments import Segment
from freshcleo_pipeline.x12.structures import FUNCTIONAL_ID
from freshcleo_pipeline.x12.validator import validate_interchange

_MAPPINGS: dict[type, tuple[str, Callable[[Any, MappingContext], list[Segment]]]] = {
    Invoice: ("810", map_invoice),
    PurchaseOrder: ("850", map_purchase_order),
    Remittance: ("820", map_remittance),
}


@dataclass(frozen=True)
class RenderedDocument:
    """What happened to one document: its ST02, its size, and every change made to its data."""

    index: int  # position in the ``documents`` argument
    source: SourceRef
    transaction_set_id: str  # ST01
    set_control_number: str  # ST02 as written (= SE02)
    segment_count: int  # SE01
    adjustments: tuple[Adjustment, ...]


@dataclass(frozen=True)
class RenderResult:
    text: str  # the complete interchange, ISA … IEA, no line breaks
    functional_id: str  # GS01
    transaction_set_id: str  # ST01 of every set
    interchange_control_number: str  # ISA13 as written (9 digits)
    group_control_number: str  # GS06 as written
    documents: tuple[RenderedDocument, ...]

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        return tuple(a for d in self.documents for a in d.adjustments)


def transaction_set_of(document: BusinessDocument) -> str:
    """The ST01 a document maps to (810, 850, 820)."""
    return _MAPPINGS[type(document)][0]


def document_label(document: BusinessDocument) -> str:
    number = (document.invoice_number if isinstance(document, Invoice)
              else document.po_number if isinstance(document, PurchaseOrder) else document.trace_number)
    return f"{document.source.kind.value} {number!r} (FreshBooks id {document.source.source_id})"


def map_document(document: BusinessDocument, envelope: EnvelopeParams, guide: Guide | None = None
                 ) -> tuple[list[Segment], MappingContext]:
    """The body (between ST and SE) for one document, and the context holding its adjustments."""
    _, mapping = _MAPPINGS[type(document)]
    ctx = MappingContext(partial(document_label, document), version=envelope.version, charset=envelope.charset,
                         delimiters=envelope.delimiters, guide=guide)
    return mapping(document, ctx), ctx


def render_interchange(
    documents: Sequence[BusinessDocument],
    envelope: EnvelopeParams,
    *,
    interchange_control_number: int,
    group_control_number: int,
    set_control_numbers: Sequence[int | str],
    date: dt.date,
    time: dt.time,
    validate: bool = True,
    guide: Guide | None = None,
) -> RenderResult:
    """One interchange (ISA, one GS group, one ST…SE per document, GE, IEA) for one partner.

    All documents must map to the same transaction set; ``set_control_numbers`` gives one ST02 per document,
    in order. Raises ``X12MappingError`` for a document that cannot be expressed (the message names the
    document, field, value and expectation), ``X12EnvelopeError`` for bad envelope arguments, and — when
    ``validate`` — ``X12ValidationError`` if the result fails our own validator (a bug, never expected).

    ``documents`` is read once, in order, and each set is written as soon as its document is mapped: what is
    kept of a document is its text, its source and its adjustments, so a sequence that builds each document
    as it is read (the pipeline's, from stored bodies) never holds a whole interchange of them.
    """
    if not documents:
        raise X12EnvelopeError("documents", 0, "at least one document per interchange")
    if len(set_control_numbers) != len(documents):
        raise X12EnvelopeError("set_control_numbers", len(set_control_numbers),
                               f"one ST02 per document ({len(documents)})")
    st02s = list(map(format_st02, set_control_numbers))
    if len(set(st02s)) != len(st02s):
        raise X12EnvelopeError("set_control_numbers", st02s, "distinct ST02 values within the group")
    set_id = ""
    texts: list[str] = []
    rendered: list[RenderedDocument] = []
    for index, (document, st02) in enumerate(zip(documents, st02s, strict=True)):
        this = transaction_set_of(document)
        if this != set_id:
            if set_id:
                raise X12EnvelopeError("documents", sorted(set(map(transaction_set_of, documents))),
                                       "documents of one transaction set per group")
            set_id = this
        body, ctx = map_document(document, envelope, guide)
        text, count = writer.render_set(writer.SetBody(set_id, st02, body), envelope.delimiters)
        texts.append(text)
        rendered.append(RenderedDocument(index, document.source, set_id, st02, count, tuple(ctx.adjustments)))
    functional_id = FUNCTIONAL_ID[set_id]
    text = writer.enveloped(
        envelope, functional_id, texts, interchange_control_number=interchange_control_number,
        group_control_number=group_control_number, date=date, time=time)
    if validate:
        errors = validate_interchange(text, charset=envelope.charset)
        if errors:
            raise X12ValidationError(errors, f"rendered {set_id} interchange {interchange_control_number:09d}")
    return RenderResult(
        text=text,
        functional_id=functional_id,
        transaction_set_id=set_id,
        interchange_control_number=f"{interchange_control_number:09d}",
        group_control_number=str(group_control_number),
        documents=tuple(rendered),
    )
