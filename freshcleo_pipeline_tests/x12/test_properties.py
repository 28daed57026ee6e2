"""Property tests: hostile documents always render to output our validator accepts, with no injected segment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshcleo_pipeline.documents import (
    Address,
    DocumentKind,
    Invoice,
    Line,
    Party,
    PurchaseOrder,
    Remittance,
    RemittanceItem,
    Tax,
)
from freshcleo_pipeline.x12 import (
    Charset,
    Delimiters,
    X12MappingError,
    render_interchange,
    validate_interchange,
)
from freshcleo_pipeline.x12.structures import STRUCTURES
from freshcleo_pipeline.x12.tokens import tokenize
from freshcleo_pipeline.x12.totals import cents
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, source

HOSTILE = ["*", "~", ">", "^", ":", "|", "\\", "'", "\r\n", "\n", "\t", "\u00e9", "\u6771\u4eac", "\u00df",
           "\u201cq\u201d", "", " ", "ISA*00*", "~ST*810*0001~", "\x00", "\u00a0"]
text = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from([*HOSTILE, "Acme", "Deli", "blue", "10"]), max_size=8).map(" ".join),
    st.text(alphabet="ab *~>\u00e9", min_size=490, max_size=510),
)
money = st.integers(-10**6, 10**7).map(lambda c: Decimal(c) / 100)
quantity = st.integers(0, 10**4).map(Decimal) | st.integers(0, 10**5).map(lambda q: Decimal(q) / 100)
delimiters = st.sampled_from([Delimiters(), Delimiters("|", ":", "^", "\n"), Delimiters("!", "\\", "{", "'"),
                              Delimiters("^", "<", "}", "~")])
params = st.builds(dict, delimiters=delimiters, charset=st.sampled_from(list(Charset)),
                   version=st.sampled_from(["004010", "005010"]))
ident = st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,15}", fullmatch=True)
address = st.builds(Address, street=text, street2=text, city=text, province=text, postal_code=text, country=text)
party = st.builds(Party, name=text, address=address, edi_id=st.sampled_from(["", "PARTNER01"]))


@st.composite
def lines(draw: st.DrawFn, max_lines: int = 4) -> tuple[Line, ...]:
    out = []
    for number in range(1, draw(st.integers(0, max_lines)) + 1):
        q, p = draw(quantity), draw(money)
        taxes = tuple(Tax(name=draw(text), percent=Decimal(draw(st.integers(0, 25))), amount=draw(money))
                      for _ in range(draw(st.integers(0, 2))))
        out.append(Line(line_number=number, name=draw(text), description=draw(text), quantity=q, unit_price=p,
                        amount=cents(q * p), unit=draw(st.sampled_from(["EA", "hr", "", "bogus"])),
                        sku=draw(st.sampled_from(["", "SKU-1"])), taxes=taxes))
    return tuple(out)


def subtotal(items: tuple[Line, ...]) -> Decimal:
    return sum((cents(line.quantity * line.unit_price) for line in items), Decimal(0))


@st.composite
def invoices(draw: st.DrawFn, max_lines: int = 4) -> Invoice:
    items = draw(lines(max_lines))
    taxes = sum((t.amount for line in items for t in line.taxes), Decimal(0)) + draw(money)
    discount = draw(st.sampled_from([Decimal(0), Decimal("1.50")]))
    return Invoice(source=source(DocumentKind.INVOICE), invoice_number=draw(ident), po_number=draw(ident | st.just("")),
                   issue_date=dt.date(2024, 3, 8), due_date=draw(st.none() | st.just(dt.date(2024, 4, 7))),
                   currency=draw(st.sampled_from(["USD", "CAD"])), seller=draw(party), bill_to=draw(party),
                   ship_to=draw(st.none() | party), lines=items, discount_amount=discount, tax_total=taxes,
                   total=subtotal(items) - discount + taxes, notes=draw(text))


@st.composite
def orders(draw: st.DrawFn) -> PurchaseOrder:
    items = draw(lines(4))
    taxes = sum((t.amount for line in items for t in line.taxes), Decimal(0))
    return PurchaseOrder(source=source(DocumentKind.BILL), po_number=draw(ident), issue_date=dt.date(2024, 3, 1),
                         buyer=draw(party), seller=draw(party), lines=items, tax_total=taxes,
                         total=subtotal(items) + taxes)


remittances = st.builds(
    Remittance, source=st.just(source(DocumentKind.PAYMENT)), payment_date=st.just(dt.date(2024, 3, 11)),
    amount=money, method=text, trace_number=ident, payer=party, payee=party,
    items=st.lists(st.builds(RemittanceItem, reference_number=ident, amount_paid=money,
                             document_total=st.none() | money, document_date=st.none() | st.just(DATE)),
                   max_size=3).map(tuple),
).map(lambda r: r.model_copy(update={"amount": sum((i.amount_paid for i in r.items), Decimal(0))}) if r.items
      else r)  # what was paid is what the items say was applied (BPR02 = Σ RMR04)


def check(document: Invoice | PurchaseOrder | Remittance, env: dict[str, object]) -> None:
    params = envelope(**env)
    try:
        result = render_interchange([document], params, interchange_control_number=1, group_control_number=1,
                                    set_control_numbers=[1], date=DATE, time=TIME)
    except X12MappingError as exc:
        # Only two refusals are legitimate for these documents: a party name with nothing representable
        # (and no id), or a bill without lines.
        assert exc.field.endswith(".name") or exc.field == "lines", exc
        if exc.field == "lines":
            assert isinstance(document, PurchaseOrder) and not document.lines
        return
    assert validate_interchange(result.text, charset=params.charset) == []
    tokens = tokenize(result.text)
    set_id = result.transaction_set_id
    allowed_tags = set(STRUCTURES[set_id].body.tags()) | {"ISA", "GS", "GE", "IEA"}
    tags = [s.tag for s in tokens.segments]
    assert set(tags) <= allowed_tags
    assert tags.count("ST") == tags.count("SE") == 1 and tags[0] == "ISA" and tags[-1] == "IEA"
    if isinstance(document, Invoice):
        assert tags.count("IT1") == len(document.lines)
        assert tags.count("N1") == 2 + (document.ship_to is not None)
    elif isinstance(document, PurchaseOrder):
        assert tags.count("PO1") == len(document.lines) and tags.count("N1") == 2
    else:
        assert tags.count("RMR") == len(document.items) and tags.count("N1") == 2


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(invoices(), params)
def test_invoices(document: Invoice, env: dict[str, object]) -> None:
    check(document, env)


@FAST
@given(orders(), params)
def test_purchase_orders(document: PurchaseOrder, env: dict[str, object]) -> None:
    check(document, env)


@FAST
@given(remittances, params)
def test_remittances(document: Remittance, env: dict[str, object]) -> None:
    check(document, env)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(invoices(max_lines=0), params)
def test_thousand_lines(document: Invoice, env: dict[str, object]) -> None:
    line = Line(line_number=1, name="Widget *~>", quantity=Decimal("3"), unit_price=Decimal("0.333"),
                amount=Decimal("1.00"))
    items = tuple(line.model_copy(update={"line_number": n}) for n in range(1, 1001))
    big = document.model_copy(update={"lines": items, "discount_amount": Decimal(0), "tax_total": Decimal(0),
                                      "total": Decimal("1000.00")})
    check(big, env)
