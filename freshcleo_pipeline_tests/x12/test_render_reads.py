"""What the render stage reads back from an interchange it wrote, and how it hands documents to the renderer.

A valid interchange's totals and guide findings are read from the validator's quick split (``clean_scan``)
instead of a second tokenization; they must be those read from the tokens. The renderer reads its documents
once, in order, so a sequence that builds each as it is read costs one build per document. The mapping context
remembers segments from the second use of their values; the text is the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import overload

import pytest

from freshcleo_pipeline.documents import BusinessDocument, Line, Party
from freshcleo_pipeline.sync.reconcile import amounts_in, amounts_in_sets
from freshcleo_pipeline.x12 import Charset, render_interchange
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.guide import Guide, unmet_in_interchange, unmet_in_sets
from freshcleo_pipeline.x12.segments import Delimiters, seg
from freshcleo_pipeline.x12.tokens import tokenize
from freshcleo_pipeline.x12.validator import clean_scan, quickly_clean
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice, purchase_order, remittance

REQUIREMENTS = ["810:N1*BT:N104", "810:N1*ST:N104", "810:IT1:IT107", "810:BIG:BIG04", "850:PO1:PO107",
                "850:REF*IV:REF02", "850:N1*SE:N104", "820:N1*PR:N104", "820:TRN:TRN02"]


def _lineless(**overrides: object) -> BusinessDocument:
    return invoice(lines=(), discount_amount=Decimal("0"), discount_percent=Decimal("0"), tax_total=Decimal("0"),
                   total=Decimal("0"), **overrides)


def _text(documents: list[BusinessDocument], charset: Charset = Charset.EXTENDED) -> str:
    return render_interchange(documents, envelope(charset=charset), interchange_control_number=7,
                              group_control_number=3, set_control_numbers=list(range(1, len(documents) + 1)),
                              date=DATE, time=TIME).text


INTERCHANGES = {
    "invoices": _text([invoice(), invoice(invoice_number="0000413", po_number=""),
                       _lineless(bill_to=Party(name="Harbor Foods", edi_id="HF01"))]),
    "purchase orders": _text([purchase_order(), purchase_order(po_number="413", bill_number="INV-9")]),
    "payments": _text([remittance(), remittance(trace_number="7721", amount=Decimal("1.00"),
                                                items=())], Charset.BASIC),
}


@pytest.mark.parametrize("name", sorted(INTERCHANGES))
def test_totals_and_guide_read_from_the_quick_split_are_those_of_the_tokens(name: str) -> None:
    text = INTERCHANGES[name]
    scan = clean_scan(text, Charset.EXTENDED)
    assert scan is not None and quickly_clean(text, Charset.EXTENDED)
    tokens = tokenize(text)
    assert amounts_in_sets(scan.sets, scan.element) == amounts_in(tokens.segments)
    for count in range(len(REQUIREMENTS) + 1):
        guide = Guide.of(requires=REQUIREMENTS[:count])
        assert unmet_in_sets(scan.sets, scan.element, guide) == unmet_in_interchange(tokens, guide)


def test_the_guide_findings_name_each_set_that_breaks_it() -> None:
    scan = clean_scan(INTERCHANGES["invoices"], Charset.EXTENDED)
    assert scan is not None
    found = unmet_in_sets(scan.sets, scan.element, Guide.of(requires=["810:N1*BT:N104", "810:BIG:BIG04"]))
    assert [(st02, str(u.requirement)) for st02, u in found] == [
        ("0001", "810:N1*BT:N104"), ("0002", "810:N1*BT:N104"), ("0002", "810:BIG:BIG04")]


def test_no_quick_split_for_an_interchange_with_a_finding() -> None:
    broken = INTERCHANGES["invoices"].replace("CTT*2~", "CTT*3~", 1)
    assert clean_scan(broken, Charset.EXTENDED) is None
    assert clean_scan(INTERCHANGES["invoices"], "no such charset") is None


class _Built(Sequence[BusinessDocument]):
    """Documents built when read, counting the builds."""

    def __init__(self, documents: list[BusinessDocument]) -> None:
        self.documents, self.builds = documents, 0

    def __len__(self) -> int:
        return len(self.documents)

    @overload
    def __getitem__(self, index: int) -> BusinessDocument: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BusinessDocument]: ...

    def __getitem__(self, index: int | slice) -> BusinessDocument | Sequence[BusinessDocument]:
        if isinstance(index, slice):
            return self.documents[index]
        document = self.documents[index].model_copy()  # past the end: IndexError, which ends the iteration
        self.builds += 1
        return document


def test_the_renderer_reads_each_document_once_and_writes_the_same_text() -> None:
    documents: list[BusinessDocument] = [invoice(), invoice(invoice_number="0000413"), _lineless()]
    built = _Built(documents)
    result = render_interchange(built, envelope(charset=Charset.EXTENDED), interchange_control_number=7,
                                group_control_number=3, set_control_numbers=[1, 2, 3], date=DATE, time=TIME)
    assert built.builds == len(documents)
    assert result.text == _text(documents)
    assert [d.source for d in result.documents] == [d.source for d in documents]


def test_segments_are_remembered_from_the_second_use_of_their_values() -> None:
    builds: list[str] = []

    def build(ctx: MappingContext, name: str) -> list[object]:
        builds.append(name)
        return [seg("N1", "BT", ctx.text(name, "N102", "bill_to", ".name"))]

    def context() -> MappingContext:
        return MappingContext("test", version="004010", charset=Charset.BASIC, delimiters=Delimiters(element="|"))

    name = "Remembered Twice Ltd"
    key = ("test-remembered", name)
    first, second, third = (context() for _ in range(3))
    texts = [ctx.remembered(key, build, ctx, name) for ctx in (first, second, third)]
    assert builds == [name, name]  # built on first and second use, read from the memo on the third
    assert texts[0] == texts[1] == texts[2]
    assert first.adjustments == second.adjustments == third.adjustments != []


def test_a_line_seen_once_renders_the_same_as_one_remembered() -> None:
    line = Line(line_number=1, name="Once only item", quantity=Decimal("3"), unit_price=Decimal("2.50"),
                amount=Decimal("7.50"), sku="ONCE-1")
    doc = invoice(lines=(line,), discount_amount=Decimal("0"), discount_percent=Decimal("0"),
                  tax_total=Decimal("0"), total=Decimal("7.50"))
    assert _text([doc]) == _text([doc]) == _text([doc])
