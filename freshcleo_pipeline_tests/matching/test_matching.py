"""Matching partner documents: a supplier's 810 three ways, a customer's 850 and 820, the stored result."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from freshcleo_pipeline.documents import (
    DocumentKind,
    Invoice,
    Line,
    Party,
    PurchaseOrder,
    Remittance,
    RemittanceItem,
    SourceRef,
)
from freshcleo_pipeline.matching import (
    Difference,
    InvoiceStanding,
    MatchResult,
    match_customer_order,
    match_remittance,
    match_supplier_invoice,
    money_text,
    quantity_text,
)
from freshcleo_pipeline.partners import Tolerance

UPDATED = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
TOLERANCE = Tolerance()


def _source(kind: DocumentKind, source_id: str) -> SourceRef:
    return SourceRef(kind=kind, account_id="acct", source_id=source_id, version="v1", updated_at=UPDATED)


def _line(number: int, quantity: str, price: str, sku: str = "", name: str = "") -> Line:
    return Line(line_number=number, name=name or f"Item {number}", quantity=Decimal(quantity),
                unit_price=Decimal(price), amount=Decimal(quantity) * Decimal(price), sku=sku)


LINES = (_line(1, "10", "4.00", "BOX-S"), _line(2, "5", "12.00", "BOX-L"), _line(3, "2", "40.00", "WRAP"))


def _total(lines: tuple[Line, ...], tax: str = "0") -> Decimal:
    return sum((line.amount for line in lines), Decimal(tax))


def bill(lines: tuple[Line, ...] = LINES, *, tax: str = "0", vendor_id: str = "77",
         **overrides: object) -> PurchaseOrder:
    """FreshBooks bill 412 (our PO 412) from vendor Acme Packaging."""
    fields: dict[str, object] = {
        "source": _source(DocumentKind.BILL, "412"), "po_number": "412", "issue_date": dt.date(2026, 11, 1),
        "buyer": Party(name="Northwind Supply"), "seller": Party(name="Acme Packaging", source_id=vendor_id),
        "lines": lines, "tax_total": Decimal(tax), "total": _total(lines, tax),
    }
    fields.update(overrides)
    return PurchaseOrder(**fields)


def their_invoice(lines: tuple[Line, ...] = LINES, *, tax: str = "0", **overrides: object) -> Invoice:
    """Acme's invoice INV-9001 answering our PO 412, as read from their 810."""
    fields: dict[str, object] = {
        "source": _source(DocumentKind.BILL, "000000101-1-0001"), "invoice_number": "INV-9001", "po_number": "412",
        "issue_date": dt.date(2026, 11, 5), "seller": Party(name="Acme Packaging"),
        "bill_to": Party(name="Northwind Supply"), "lines": lines, "tax_total": Decimal(tax),
        "total": _total(lines, tax),
    }
    fields.update(overrides)
    return Invoice(**fields)


def _fields(result: MatchResult) -> list[str]:
    return [d.field for d in result.differences]


def _difference(result: MatchResult, field: str) -> Difference:
    found = [d for d in result.differences if d.field == field]
    assert len(found) == 1, (field, result.differences)
    return found[0]


# --- a supplier's invoice ------------------------------------------------------------------------------------


def test_an_invoice_that_agrees_with_what_we_sent_and_the_bill_is_matched() -> None:
    result = match_supplier_invoice(their_invoice(), sent=bill(), bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert result.status == "matched"
    assert result.differences == ()
    assert (result.freshbooks_kind, result.freshbooks_id, result.our_reference) == ("bill", "412", "412")
    assert result.detail["bill_changed_since_sent"] is False
    assert result.summary() == "matches the purchase order we sent and the FreshBooks bill"


def test_a_price_half_a_dollar_off_on_line_2_is_a_mismatch_naming_the_line_and_both_values() -> None:
    theirs = their_invoice((LINES[0], _line(2, "5", "12.50", "BOX-L"), LINES[2]))
    result = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert result.status == "mismatched"
    assert _fields(result) == ["lines[2].unit_price", "lines[2].amount", "total"]
    price = _difference(result, "lines[2].unit_price")
    assert (price.theirs, price.sent, price.freshbooks) == ("12.50", "12.00", "12.00")
    assert _difference(result, "total").theirs == "182.50"
    assert result.summary() == "price differs on line 2: 12.50 invoiced, 12.00 ordered; and 2 more differences"


def test_a_price_off_by_less_than_the_tolerance_matches() -> None:
    line = Line(line_number=2, name="Item 2", quantity=Decimal("5"), unit_price=Decimal("12.005"),
                amount=Decimal("60.00"), sku="BOX-L")
    theirs = their_invoice((LINES[0], line, LINES[2]))
    result = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert result.status == "matched", result.differences
    exact = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True,
                                   tolerance=Tolerance(amount=Decimal("0")))
    assert _fields(exact) == ["lines[2].unit_price"]
    assert _difference(exact, "lines[2].unit_price").theirs == "12.005"


def test_a_line_they_left_out_is_a_difference_on_our_line() -> None:
    theirs = their_invoice(LINES[:2])
    result = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert result.status == "mismatched"
    assert _fields(result) == ["lines[3]", "total"]
    missing = _difference(result, "lines[3]")
    assert (missing.theirs, missing.sent, missing.freshbooks) == (None, "2 x 40.00 Item 3 (WRAP)",
                                                                  "2 x 40.00 Item 3 (WRAP)")
    assert result.summary().startswith("line 3 missing from their invoice: 2 x 40.00 Item 3 (WRAP) ordered")


def test_an_extra_line_on_their_invoice_is_a_difference() -> None:
    theirs = their_invoice((*LINES, _line(4, "1", "15.00", "FREIGHT", "Freight")))
    result = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert _fields(result) == ["lines[4]", "total"]
    extra = _difference(result, "lines[4]")
    assert (extra.theirs, extra.sent, extra.freshbooks) == ("1 x 15.00 Freight (FREIGHT)", None, None)
    assert extra.note == "not on the purchase order we sent nor the FreshBooks bill"


def test_a_quantity_difference_uses_the_quantity_tolerance() -> None:
    theirs = their_invoice((_line(1, "9", "4.00", "BOX-S"), *LINES[1:]))
    result = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert _fields(result) == ["lines[1].quantity", "lines[1].amount", "total"]
    quantity = _difference(result, "lines[1].quantity")
    assert (quantity.theirs, quantity.sent, quantity.freshbooks) == ("9", "10", "10")
    loose = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True,
                                   tolerance=Tolerance(amount=Decimal("5"), quantity=Decimal("1")))
    assert loose.status == "matched"


def test_lines_pair_by_sku_when_they_renumber() -> None:
    renumbered = tuple(line.model_copy(update={"line_number": line.line_number * 10}) for line in reversed(LINES))
    result = match_supplier_invoice(their_invoice(renumbered), sent=bill(), bill=bill(), vendor_ok=True,
                                    tolerance=TOLERANCE)
    assert result.status == "matched", result.differences


def test_lines_without_numbers_in_common_or_skus_pair_by_position() -> None:
    ours = (_line(1, "1", "5.00"), _line(2, "2", "6.00"))
    theirs = (_line(7, "1", "5.00"), _line(8, "2", "6.50"))
    result = match_supplier_invoice(their_invoice(theirs), sent=bill(ours), bill=None, vendor_ok=None,
                                    tolerance=TOLERANCE)
    assert _fields(result) == ["lines[8].unit_price", "lines[8].amount", "total"]
    assert _difference(result, "lines[8].unit_price").note == "our line 2"


def test_a_bill_changed_since_sent_shows_both_columns() -> None:
    changed = bill((LINES[0], _line(2, "5", "11.00", "BOX-L"), LINES[2]))
    result = match_supplier_invoice(their_invoice(), sent=bill(), bill=changed, vendor_ok=True, tolerance=TOLERANCE)
    assert result.status == "mismatched"
    assert result.detail["bill_changed_since_sent"] is True
    price = _difference(result, "lines[2].unit_price")
    assert (price.theirs, price.sent, price.freshbooks) == ("12.00", "12.00", "11.00")
    assert price.note == "the FreshBooks bill changed since the purchase order we sent"
    total = _difference(result, "total")
    assert (total.theirs, total.sent, total.freshbooks) == ("180.00", "180.00", "175.00")
    assert result.summary().startswith(
        "price differs on line 2: 12.00 invoiced, 12.00 ordered, 11.00 on the FreshBooks bill")


def test_a_line_added_to_the_bill_after_sending_is_missing_in_the_freshbooks_column_only() -> None:
    grown = bill((*LINES, _line(4, "1", "9.00", "TAPE")))
    result = match_supplier_invoice(their_invoice(), sent=bill(), bill=grown, vendor_ok=True, tolerance=TOLERANCE)
    missing = _difference(result, "lines[4]")
    assert (missing.theirs, missing.sent, missing.freshbooks) == (None, None, "1 x 9.00 Item 4 (TAPE)")


def test_the_wrong_vendor_is_a_difference_even_when_the_figures_agree() -> None:
    result = match_supplier_invoice(their_invoice(), sent=bill(), bill=bill(vendor_id="99"), vendor_ok=False,
                                    tolerance=TOLERANCE)
    assert result.status == "mismatched"
    vendor = _difference(result, "vendor")
    assert (vendor.theirs, vendor.freshbooks) == ("Acme Packaging", "Acme Packaging (99)")
    assert result.summary() == ("the bill's vendor is not this supplier's FreshBooks vendor: theirs Acme Packaging, "
                                "sent Acme Packaging (77), FreshBooks Acme Packaging (99)")


def test_currency_and_tax_are_compared() -> None:
    theirs = their_invoice(tax="8.00", currency="CAD")
    result = match_supplier_invoice(theirs, sent=bill(), bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert _fields(result) == ["currency", "tax_total", "total"]
    assert (_difference(result, "currency").theirs, _difference(result, "currency").sent) == ("CAD", "USD")
    assert (_difference(result, "tax_total").theirs, _difference(result, "tax_total").sent) == ("8.00", "0.00")


def test_nothing_to_compare_with_is_unmatched() -> None:
    result = match_supplier_invoice(their_invoice(), sent=None, bill=None, vendor_ok=None, tolerance=TOLERANCE)
    assert result.status == "unmatched"
    assert (result.differences, result.freshbooks_id, result.our_reference) == ((), None, "412")
    assert result.summary() == "unmatched: no purchase order 412 sent and no such FreshBooks bill"


def test_a_bill_we_never_sent_is_compared_alone() -> None:
    result = match_supplier_invoice(their_invoice(), sent=None, bill=bill(), vendor_ok=True, tolerance=TOLERANCE)
    assert (result.status, result.freshbooks_id) == ("matched", "412")
    assert result.detail["sent_found"] is False


# --- a customer's purchase order and remittance --------------------------------------------------------------


def their_order(lines: tuple[Line, ...] = LINES) -> PurchaseOrder:
    """Harbor Foods' purchase order PO-7781, as read from their 850."""
    return bill(lines, po_number="PO-7781", source=_source(DocumentKind.INVOICE, "000000202-1-0001"),
                buyer=Party(name="Harbor Foods"), seller=Party(name="Northwind Supply"))


def our_invoice(lines: tuple[Line, ...] = LINES, client_id: str = "5501") -> Invoice:
    return their_invoice(lines, invoice_number="0000412", po_number="PO-7781",
                         source=_source(DocumentKind.INVOICE, "88123"), seller=Party(name="Northwind Supply"),
                         bill_to=Party(name="Harbor Foods", source_id=client_id))


def test_an_order_with_an_invoice_is_answered() -> None:
    result = match_customer_order(their_order(), invoice=our_invoice(), client_id="5501", tolerance=TOLERANCE)
    assert (result.status, result.differences, result.detail["differs"]) == ("answered", (), False)
    assert (result.freshbooks_kind, result.freshbooks_id, result.our_reference) == ("invoice", "88123", "0000412")
    assert result.summary() == "answered by invoice 0000412"


def test_an_answered_order_reports_differences_but_stays_answered() -> None:
    invoice = our_invoice((_line(1, "8", "4.00", "BOX-S"), *LINES[1:]))
    result = match_customer_order(their_order(), invoice=invoice, client_id="5501", tolerance=TOLERANCE)
    assert result.status == "answered"
    assert result.detail["differs"] is True
    quantity = _difference(result, "lines[1].quantity")
    assert (quantity.theirs, quantity.sent, quantity.freshbooks) == ("10", None, "8")
    assert result.summary().startswith("answered by invoice 0000412, which differs from the order; "
                                       "quantity differs on line 1: 10 ordered, 8 invoiced")


def test_an_order_without_an_invoice_is_unanswered() -> None:
    result = match_customer_order(their_order(), invoice=None, client_id="5501", tolerance=TOLERANCE)
    assert (result.status, result.differences) == ("unanswered", ())
    assert (result.freshbooks_kind, result.freshbooks_id, result.our_reference) == ("client", "5501", None)


def test_an_order_from_a_partner_without_a_client_is_a_difference_on_client() -> None:
    result = match_customer_order(their_order(), invoice=None, client_id=None, tolerance=TOLERANCE)
    assert result.status == "unanswered"
    assert _fields(result) == ["client"]
    assert _difference(result, "client").note == "no FreshBooks client for this partner"
    assert "no FreshBooks client for this partner" in result.summary()


def test_an_invoice_for_another_client_is_a_difference_on_client() -> None:
    result = match_customer_order(their_order(), invoice=our_invoice(client_id="6000"), client_id="5501",
                                  tolerance=TOLERANCE)
    assert result.status == "answered"
    assert _fields(result) == ["client"]
    assert result.detail["differs"] is False


def _remittance(*items: tuple[str, str]) -> Remittance:
    return Remittance(source=_source(DocumentKind.PAYMENT, "000000303-1-0001"), payment_date=dt.date(2026, 11, 20),
                      amount=sum((Decimal(a) for _, a in items), Decimal(0)), trace_number="7720",
                      payer=Party(name="Harbor Foods"), payee=Party(name="Northwind Supply"),
                      items=tuple(RemittanceItem(reference_number=n, amount_paid=Decimal(a)) for n, a in items))


STANDINGS = {
    "0000412": InvoiceStanding("88123", "0000412", Decimal("139.50"), Decimal("139.50"), Decimal("0")),
    "0000413": InvoiceStanding("88124", "0000413", Decimal("80.00"), Decimal("0"), Decimal("80.00")),
}


def test_a_remittance_reports_paid_unpaid_and_unknown_invoices() -> None:
    result = match_remittance(_remittance(("0000412", "139.50"), ("0000413", "80.00"), ("0000999", "10.00")),
                              invoices=STANDINGS)
    assert result.status == "reported"
    items = {i["reference_number"]: i for i in result.detail["items"]}
    assert items["0000412"]["found"] is True
    assert items["0000412"]["not_yet_paid_in_freshbooks"] is False
    assert (items["0000412"]["freshbooks_paid"], items["0000412"]["freshbooks_outstanding"]) == ("139.50", "0.00")
    assert items["0000413"]["not_yet_paid_in_freshbooks"] is True
    assert (items["0000413"]["amount_paid"], items["0000413"]["freshbooks_outstanding"]) == ("80.00", "80.00")
    assert (items["0000999"]["found"], items["0000999"]["not_yet_paid_in_freshbooks"]) == (False, None)
    assert _fields(result) == ["items[3].reference_number"]
    assert result.detail["not_yet_paid_in_freshbooks"] == 1
    assert result.freshbooks_id is None  # several invoices: their ids are in the detail
    assert result.summary() == ("payment 7720 of 229.50: 3 invoices, 1 not yet paid in FreshBooks, 1 unknown; "
                                "no FreshBooks invoice numbered 0000999")


def test_a_remittance_paying_more_than_the_total_is_a_difference() -> None:
    result = match_remittance(_remittance(("0000413", "90.00")), invoices=STANDINGS)
    over = _difference(result, "items[1].amount_paid")
    assert (over.theirs, over.freshbooks) == ("90.00", "80.00")
    assert (result.freshbooks_id, result.our_reference) == ("88124", "0000413")


# --- canonical text and storage --------------------------------------------------------------------------------


def test_canonical_text() -> None:
    assert [money_text(Decimal(v)) for v in ("12.5", "12.500000", "12.505", "1E+2", "-0.00", "0")] == [
        "12.50", "12.50", "12.505", "100.00", "0.00", "0.00"]
    assert [quantity_text(Decimal(v)) for v in ("10.000", "2.50", "1E+1", "0.0")] == ["10", "2.5", "10", "0"]


money = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999"), places=2, allow_nan=False)
quantities = st.decimals(min_value=Decimal("0"), max_value=Decimal("9999"), places=3, allow_nan=False)
skus = st.sampled_from(["", "A", "B", "C-1"])


@st.composite
def line_sets(draw: st.DrawFn) -> tuple[Line, ...]:
    count = draw(st.integers(min_value=0, max_value=6))
    numbers = draw(st.lists(st.integers(min_value=1, max_value=9), min_size=count, max_size=count))
    lines = []
    for number in numbers:
        quantity, price = draw(quantities), draw(money)
        lines.append(Line(line_number=number, quantity=quantity, unit_price=price,
                          amount=(quantity * price).quantize(Decimal("0.01")), sku=draw(skus)))
    return tuple(lines)


@settings(max_examples=150, deadline=None)
@given(lines=line_sets(), tax=money, currency=st.sampled_from(["USD", "CAD"]))
def test_a_document_matched_against_itself_matches(lines: tuple[Line, ...], tax: Decimal, currency: str) -> None:
    ours = bill(lines, tax=str(tax), currency=currency)
    theirs = their_invoice(lines, tax=str(tax), currency=currency)
    result = match_supplier_invoice(theirs, sent=ours, bill=ours, vendor_ok=True,
                                    tolerance=Tolerance(amount=Decimal("0")))
    assert (result.status, result.differences) == ("matched", ())
    order = match_customer_order(ours, invoice=theirs, client_id="1", tolerance=Tolerance(amount=Decimal("0")))
    assert (order.status, order.differences, order.detail["differs"]) == ("answered", (), False)


@settings(max_examples=150, deadline=None)
@given(theirs=line_sets(), sent=line_sets(), now=line_sets(), vendor_ok=st.sampled_from([True, False, None]),
       tolerance=st.builds(Tolerance, amount=money, quantity=quantities))
def test_any_result_round_trips_through_json(theirs: tuple[Line, ...], sent: tuple[Line, ...],
                                             now: tuple[Line, ...], vendor_ok: bool | None,
                                             tolerance: Tolerance) -> None:
    result = match_supplier_invoice(their_invoice(theirs), sent=bill(sent), bill=bill(now), vendor_ok=vendor_ok,
                                    tolerance=tolerance)
    assert MatchResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    assert result.summary()
    # Every line difference names a line; every value is canonical text.
    for difference in result.differences:
        assert difference.field.startswith(("lines[", "vendor", "currency", "tax_total", "total"))
        for value in (difference.theirs, difference.sent, difference.freshbooks):
            assert value is None or "E" not in value


def test_customer_results_round_trip_through_json() -> None:
    for result in (
        match_customer_order(their_order(), invoice=our_invoice(LINES[:1]), client_id=None, tolerance=TOLERANCE),
        match_remittance(_remittance(("0000412", "139.50"), ("nope", "1")), invoices=STANDINGS),
    ):
        assert MatchResult.from_json(json.loads(json.dumps(result.to_json()))) == result
