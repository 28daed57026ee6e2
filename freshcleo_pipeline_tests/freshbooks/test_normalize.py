"""FreshBooks API objects → business documents: fields, arithmetic, states, routing keys, timestamps, errors.

Fixtures under ``data/`` follow the object shapes of the FreshBooks reference (§11); the expected figures are
the reference's worked examples, computed by hand, not by the code under test.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshcleo_pipeline.documents import Address, DocumentKind, Party
from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks.normalize import (
    NormalizeContext,
    document_state,
    normalize,
    normalize_bill,
    normalize_bill_payment,
    normalize_invoice,
    normalize_payment,
    partner_keys,
    party_from_company,
    source_version,
    updated_at,
)
from freshcleo_pipeline.partners import load_partners

DATA = Path(__file__).parent / "data"
PARTNERS = Path(__file__).parents[2] / "freshcleo_pipeline" / "sandbox" / "data" / "partners.yaml"
UTC = dt.UTC
OBSERVED = dt.datetime(2024, 3, 21, 12, 0, tzinfo=UTC)


@cache
def _load(name: str) -> str:
    return (DATA / f"{name}.json").read_text(encoding="utf-8")


def raw(name: str) -> dict[str, Any]:
    """A fresh, mutable copy of a fixture object."""
    data: dict[str, Any] = json.loads(_load(name))
    return data


COMPANY = Party(name="Harbor Supply Co.", edi_id="HARBORSUPPLY",
                address=Address(street="400 Wharf Street", city="Portland", province="ME", postal_code="04101",
                                country="US"))


def context(**overrides: Any) -> NormalizeContext:
    base: dict[str, Any] = dict(
        clients=[raw("client_5001"), raw("client_5002")],
        vendors=[raw("bill_vendor_88")],
        items=[raw("item_610")],
        invoices=[raw("invoice_31008")],
        bills=[raw("bill_412")],
    )
    base.update(overrides)
    return NormalizeContext.build("xK9pQ", COMPANY, **base)


# --- invoices --------------------------------------------------------------------------------------------


def test_invoice_reference_example_maps_every_field() -> None:
    doc, warnings = normalize_invoice(raw("invoice_31008"), context())

    assert warnings == ()
    assert doc.invoice_number == "0000412" and doc.po_number == "PO-7781"
    assert doc.issue_date == dt.date(2024, 3, 8) and doc.due_date == dt.date(2024, 4, 7)
    assert doc.currency == "USD" and not doc.is_credit_memo
    # 125.00 + 20.00 - 14.50 discount + 8 % of 112.50 (Widget A after the 10 % discount) = 139.50
    assert doc.total == Decimal("139.50")
    assert doc.discount_percent == Decimal("10") and doc.discount_amount == Decimal("14.50")
    assert doc.tax_total == Decimal("9.00")
    widget, setup = doc.lines
    assert (widget.line_number, widget.name, widget.description) == (1, "Widget A", "Blue, 10 cm")
    assert (widget.quantity, widget.unit_price, widget.amount) == (Decimal("10"), Decimal("12.50"), Decimal("125.00"))
    assert widget.sku == "WA-10-BLU"  # matched to item 610 by name
    assert [(t.name, t.percent, t.amount) for t in widget.taxes] == [("ST", Decimal("8"), Decimal("9.00"))]
    assert setup.taxes == () and setup.sku == ""
    assert doc.seller == COMPANY
    assert doc.bill_to.name == "Acme Retail Stores" and doc.bill_to.source_id == "5001"
    assert doc.bill_to.contact == "Rosa Diaz" and doc.bill_to.email == "ap@acmeretail.example"
    assert doc.bill_to.address == Address(street="88 Pier Rd", city="Portland", province="Maine",
                                          postal_code="04101", country="United States")
    assert doc.ship_to is not None and doc.ship_to.address.street == "12 Depot Way"
    assert doc.ship_to.address.postal_code == "04330"
    assert doc.terms == "Net 30" and doc.notes == ""
    assert doc.source.kind is DocumentKind.INVOICE and doc.source.source_id == "31008"
    assert doc.source.account_id == "xK9pQ"
    # "2024-03-11 16:02:05" Eastern is EDT (the change was on 10 March): +4 h
    assert doc.source.updated_at == dt.datetime(2024, 3, 11, 20, 2, 5, tzinfo=UTC)


def test_invoice_money_is_decimal_and_exact() -> None:
    doc, _ = normalize_invoice(raw("invoice_31008"), context())
    values = [doc.total, doc.tax_total, doc.discount_amount] + [line.unit_price for line in doc.lines]
    assert all(type(v) is Decimal for v in values)
    assert str(doc.total) == "139.50"  # the string FreshBooks sent, digit for digit


def test_two_taxes_on_one_line_round_half_up_per_tax() -> None:
    # zerospam fixture: 9.99 with 5 % (0.4995 → 0.50) and 9.975 % (0.9965 → 1.00) = 11.49
    doc, warnings = normalize_invoice(raw("invoice_two_taxes"), context())
    assert [w.code for w in warnings] == ["bill_to_address_from_client"]
    assert [t.amount for t in doc.lines[0].taxes] == [Decimal("0.50"), Decimal("1.00")]
    assert doc.tax_total == Decimal("1.50") and doc.total == Decimal("11.49") and doc.currency == "CAD"


def test_discount_applies_before_tax_as_in_the_java_fixture() -> None:
    # Lines 24.00 (untaxed) and 20.00 taxed 13 %, discount 10 % → -4.40; tax 13 % of 18.00 = 2.34; total 41.94
    invoice = raw("invoice_31008")
    invoice.update(discount_value="10", discount_total={"amount": "-4.40", "code": "USD"},
                   amount={"amount": "41.94", "code": "USD"})
    invoice["lines"][0].update(name="Bolts", qty="2", unit_cost={"amount": "12.00", "code": "USD"},
                               amount={"amount": "24.00", "code": "USD"}, taxName1=None, taxAmount1="0")
    invoice["lines"][1].update(taxName1="HST", taxAmount1="13")
    doc, warnings = normalize_invoice(invoice, context())
    assert warnings == ()
    assert doc.lines[1].taxes[0].amount == Decimal("2.34")
    assert (doc.discount_amount, doc.tax_total, doc.total) == (Decimal("4.40"), Decimal("2.34"), Decimal("41.94"))


def test_discount_without_discount_total_is_computed_from_the_percent() -> None:
    invoice = raw("invoice_31008")
    del invoice["discount_total"]
    doc, warnings = normalize_invoice(invoice, context())
    assert doc.discount_amount == Decimal("14.50") and warnings == ()


def test_totals_disagreement_keeps_freshbooks_amount_and_warns() -> None:
    invoice = raw("invoice_31008")
    invoice["amount"] = {"amount": "140.00", "code": "USD"}
    doc, warnings = normalize_invoice(invoice, context())
    assert doc.total == Decimal("140.00")
    assert [w.code for w in warnings] == ["totals_mismatch"]
    assert "139.50" in warnings[0].message and "140.00" in warnings[0].message


def test_one_cent_disagreement_is_tolerated() -> None:
    invoice = raw("invoice_31008")
    invoice["amount"] = {"amount": "139.51", "code": "USD"}
    doc, warnings = normalize_invoice(invoice, context())
    assert doc.total == Decimal("139.51") and warnings == ()


def test_credit_memo_has_negative_total() -> None:
    invoice = raw("invoice_31008")
    invoice.update(discount_value="0", discount_total={"amount": "0.00", "code": "USD"},
                   amount={"amount": "-25.00", "code": "USD"}, lines=[invoice["lines"][1]])
    invoice["lines"][0].update(qty="-1", amount={"amount": "-20.00", "code": "USD"}, taxName1="ST",
                               taxAmount1="25")
    doc, warnings = normalize_invoice(invoice, context())
    assert doc.is_credit_memo and doc.total == Decimal("-25.00")
    assert doc.tax_total == Decimal("-5.00") and warnings == ()


def test_line_without_quantity_is_derived_and_warned() -> None:
    invoice = raw("invoice_31008")
    invoice["lines"][0]["qty"] = None
    doc, warnings = normalize_invoice(invoice, context())
    assert doc.lines[0].quantity == Decimal("10")
    assert [(w.code, w.field) for w in warnings] == [("missing_quantity", "lines[0].qty")]


def test_line_amount_that_disagrees_with_quantity_times_price_is_warned() -> None:
    invoice = raw("invoice_31008")
    invoice["lines"][1]["qty"] = "2"  # 2 x 20.00 but the line says 20.00
    _, warnings = normalize_invoice(invoice, context())
    assert [(w.code, w.field) for w in warnings] == [("line_amount_mismatch", "lines[1].amount")]


def test_address_falls_back_to_the_client_and_missing_is_warned() -> None:
    doc, warnings = normalize_invoice(raw("invoice_two_taxes"), context())
    assert [w.code for w in warnings] == ["bill_to_address_from_client"]  # the invoice itself has none
    assert doc.bill_to.address.city == "Montreal"
    assert doc.ship_to is None  # client 5002 has no shipping address

    invoice = raw("invoice_two_taxes")
    doc, warnings = normalize_invoice(invoice, context(clients=[]))
    assert doc.bill_to.address.is_empty
    assert [w.code for w in warnings] == ["missing_address"]


def test_sku_match_ignores_case_and_spaces_and_skips_deleted_items() -> None:
    invoice = raw("invoice_31008")
    invoice["lines"][0]["name"] = "  widget   a "
    doc, _ = normalize_invoice(invoice, context())
    assert doc.lines[0].sku == "WA-10-BLU"

    deleted = raw("item_610") | {"vis_state": 1}
    doc, _ = normalize_invoice(raw("invoice_31008"), context(items=[deleted]))
    assert doc.lines[0].sku == ""


def test_invoice_without_lines_key_names_the_include() -> None:
    invoice = raw("invoice_31008")
    del invoice["lines"]
    with pytest.raises(DataError) as caught:
        normalize_invoice(invoice, context())
    assert caught.value.field == "lines" and "include[]=lines" in str(caught.value)


@pytest.mark.parametrize(
    ("path", "value", "field", "expected"),
    [
        (("lines", 1, "unit_cost", "amount"), "abc", "lines[1].unit_cost.amount", "decimal string"),
        (("lines", 0, "qty"), 10.0, "lines[0].qty", "decimal string"),  # a float is refused, not converted
        (("amount", "amount"), "NaN", "amount.amount", "finite"),
        (("create_date",), "08/03/2024", "create_date", "YYYY-MM-DD"),
        (("updated",), "2024-03-11T25:00:00", "updated", "US/Eastern"),
        (("lines", 0, "taxAmount1"), "8%", "lines[0].taxAmount1", "decimal string"),
    ],
)
def test_malformed_values_name_document_field_and_value(path: tuple[Any, ...], value: object, field: str,
                                                          expected: str) -> None:
    invoice = raw("invoice_31008")
    target: Any = invoice
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(DataError) as caught:
        normalize_invoice(invoice, context())
    error = caught.value
    assert error.document == "invoice 31008" and error.field == field and error.value == value
    assert expected in error.expected
    assert str(error).startswith(f"invoice 31008: field {field} = {value!r}; expected")


def test_missing_required_field_and_too_precise_amount() -> None:
    invoice = raw("invoice_31008")
    del invoice["create_date"]
    with pytest.raises(DataError, match="create_date = None; expected a value"):
        normalize_invoice(invoice, context())

    invoice = raw("invoice_31008")
    invoice["lines"][1]["unit_cost"]["amount"] = "20.0000001"  # more places than a document amount holds
    with pytest.raises(DataError) as caught:
        normalize_invoice(invoice, context())
    assert caught.value.field == "normalized unit_price"

    invoice = raw("invoice_31008")
    invoice["lines"][1]["unit_cost"]["amount"] = "20.00000000"  # trailing zeros are not precision
    doc, _ = normalize_invoice(invoice, context())
    assert doc.lines[1].unit_price == Decimal(20)


def test_a_line_tax_of_a_trillion_is_a_data_error_naming_the_rate() -> None:
    invoice = raw("invoice_31008")
    invoice["lines"][0]["taxAmount1"] = "1" + "0" * 15  # a percent rate: the tax is far over 10^12
    with pytest.raises(DataError) as caught:
        normalize_invoice(invoice, context())
    assert caught.value.document == "invoice 31008"
    assert (caught.value.field, caught.value.value) == ("lines[0].taxAmount1", "1" + "0" * 15)
    assert "the tax would be" in caught.value.expected


def test_empty_invoice_number_is_an_error_not_an_invention() -> None:
    invoice = raw("invoice_31008") | {"invoice_number": " "}
    with pytest.raises(DataError, match="invoice_number"):
        normalize_invoice(invoice, context())


# --- bills -----------------------------------------------------------------------------------------------


def test_bill_becomes_purchase_order_in_list_index_order() -> None:
    doc, warnings = normalize_bill(raw("bill_412"), context())
    assert warnings == ()
    assert doc.po_number == "412" and doc.issue_date == dt.date(2024, 3, 1) and doc.due_date == dt.date(2024, 3, 31)
    assert doc.buyer == COMPANY
    assert doc.seller.name == "Bolt Fasteners Inc." and doc.seller.source_id == "88"
    assert doc.seller.contact == "Lee Park" and doc.seller.address.city == "Boston"
    assert [(ln.line_number, ln.description, ln.quantity, ln.unit_price) for ln in doc.lines] == [
        (1, "Pallet wrap", Decimal("2"), Decimal("40.00")),
        (2, "Stretch film 18in", Decimal("3"), Decimal("4.00")),
    ]
    assert [(t.name, t.percent, t.amount) for t in doc.lines[1].taxes] == [("ST", Decimal("20"), Decimal("2.40"))]
    assert doc.tax_total == Decimal("2.40") and doc.total == Decimal("94.40")
    # bills carry naive UTC timestamps: no zone shift
    assert doc.source.updated_at == dt.datetime(2024, 3, 10, 6, 30, tzinfo=UTC)


def test_bill_uses_embedded_vendor_and_needs_one() -> None:
    bill = raw("bill_412") | {"vendor": raw("bill_vendor_88") | {"vendor_name": "Bolt (embedded)"}}
    doc, _ = normalize_bill(bill, context(vendors=[]))
    assert doc.seller.name == "Bolt (embedded)"
    with pytest.raises(DataError) as caught:
        normalize_bill(raw("bill_412"), context(vendors=[]))
    assert caught.value.field == "vendorid" and caught.value.value == "88"


def test_bill_total_disagreement_is_warned_and_freshbooks_total_kept() -> None:
    bill = raw("bill_412") | {"total_amount": {"amount": "100.00", "code": "USD"}}
    doc, warnings = normalize_bill(bill, context())
    assert doc.total == Decimal("100.00") and [w.code for w in warnings] == ["totals_mismatch"]


def test_bill_line_tax_from_percent_when_the_amount_is_absent() -> None:
    bill = raw("bill_412")
    bill["lines"][0]["tax_amount1"] = None
    doc, _ = normalize_bill(bill, context())
    assert doc.lines[1].taxes[0].amount == Decimal("2.40")


# --- payments --------------------------------------------------------------------------------------------


def test_payment_becomes_remittance_with_the_invoice_detail() -> None:
    doc, warnings = normalize_payment(raw("payment_7720"), context())
    assert warnings == ()
    assert doc.payment_date == dt.date(2024, 3, 11) and doc.amount == Decimal("39.50") and doc.currency == "USD"
    assert doc.method == "ACH" and doc.trace_number == "7720" and doc.notes == "Part payment"
    assert doc.payer.name == "Acme Retail Stores" and doc.payer.source_id == "5001"
    assert doc.payee == COMPANY
    (item,) = doc.items
    assert (item.reference_number, item.source_id, item.document_date) == ("0000412", "31008", dt.date(2024, 3, 8))
    assert (item.amount_paid, item.document_total) == (Decimal("39.50"), Decimal("139.50"))
    assert doc.source.updated_at == dt.datetime(2024, 3, 11, 20, 2, 5, tzinfo=UTC)


def test_payment_needs_its_invoice_in_the_context() -> None:
    with pytest.raises(DataError) as caught:
        normalize_payment(raw("payment_7720"), context(invoices=[]))
    assert caught.value.field == "invoiceid" and caught.value.value == "31008"


def test_payment_payer_falls_back_to_the_invoice_and_unapplied_payment_is_warned() -> None:
    doc, _ = normalize_payment(raw("payment_7720"), context(clients=[]))
    assert doc.payer.name == "Acme Retail Stores" and doc.payer.source_id == "5001"

    unapplied = raw("payment_7720") | {"invoiceid": None}
    doc, warnings = normalize_payment(unapplied, context())
    assert doc.items == () and [w.code for w in warnings] == ["no_invoice"]
    with pytest.raises(DataError, match="clientid"):
        normalize_payment(unapplied, context(clients=[]))


def test_bill_payment_is_from_us_to_the_vendor_at_the_observed_time() -> None:
    doc, warnings = normalize_bill_payment(raw("bill_payment_1490"), context(), observed_at=OBSERVED)
    assert warnings == ()
    assert doc.payer == COMPANY and doc.payee.name == "Bolt Fasteners Inc."
    assert doc.method == "Check" and doc.trace_number == "1490" and doc.payment_date == dt.date(2024, 3, 20)
    (item,) = doc.items
    assert (item.reference_number, item.source_id, item.amount_paid, item.document_total) == (
        "AP-55120", "412", Decimal("94.40"), Decimal("94.40"))
    assert doc.source.updated_at == OBSERVED and doc.source.kind is DocumentKind.BILL_PAYMENT


def test_bill_payment_without_bill_number_uses_the_bill_id_and_warns() -> None:
    bill = raw("bill_412") | {"bill_number": None}
    doc, warnings = normalize_bill_payment(raw("bill_payment_1490"), context(bills=[bill]), observed_at=OBSERVED)
    assert doc.items[0].reference_number == "412" and [w.code for w in warnings] == ["missing_bill_number"]


def test_bill_payment_needs_an_aware_observed_time_and_its_bill() -> None:
    with pytest.raises(ValueError, match="aware"):
        normalize_bill_payment(raw("bill_payment_1490"), context(), observed_at=dt.datetime(2024, 3, 21))
    with pytest.raises(DataError, match="billid"):
        normalize_bill_payment(raw("bill_payment_1490"), context(bills=[]), observed_at=OBSERVED)
    with pytest.raises(ValueError, match="observed_at"):
        normalize(DocumentKind.BILL_PAYMENT, raw("bill_payment_1490"), context())


def test_dispatch_by_kind_name() -> None:
    doc, _ = normalize("payment", raw("payment_7720"), context())
    assert doc.doc_type == "remittance"
    doc, _ = normalize("bill_payment", raw("bill_payment_1490"), context(), observed_at=OBSERVED)
    assert doc.doc_type == "remittance" and doc.source.kind is DocumentKind.BILL_PAYMENT


# --- versions --------------------------------------------------------------------------------------------


def test_recording_a_payment_keeps_the_invoice_version_but_an_edit_changes_it() -> None:
    before = raw("invoice_31008")
    after_payment = copy.deepcopy(before)
    after_payment.update(paid={"amount": "139.50", "code": "USD"}, outstanding={"amount": "0.00", "code": "USD"},
                         status=4, v3_status="paid", payment_status="paid", date_paid="2024-03-12",
                         updated="2024-03-12 10:00:00", version="2024-03-12 10:00:00.000001", vis_state=2)
    assert source_version("invoice", before) == source_version("invoice", after_payment)

    edited = copy.deepcopy(before)
    edited["lines"][0]["qty"] = "11"
    deleted = before | {"vis_state": 1}
    sent_from_draft = before | {"status": 1, "v3_status": "draft"}
    versions = {source_version("invoice", d) for d in (before, edited, deleted, sent_from_draft)}
    assert len(versions) == 4

    doc, _ = normalize_invoice(before, context())
    assert doc.source.version == source_version("invoice", before)


# --- states ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "changes", "state"),
    [
        ("invoice", {}, "active"),
        ("invoice", {"status": 1, "v3_status": "draft", "display_status": "draft"}, "draft"),
        ("invoice", {"status": 1, "vis_state": 2}, "draft"),  # an archived draft was still never sent
        ("invoice", {"status": 1, "vis_state": 1}, "deleted"),
        ("invoice", {"vis_state": 2}, "archived"),
        ("invoice", {"status": 2, "v3_status": "partial", "payment_status": "partial"}, "active"),
        ("bill", {"status": "overdue"}, "active"),
        ("bill", {"vis_state": 1}, "deleted"),
        ("payment", {"vis_state": "2"}, "archived"),
        ("bill_payment", {"vis_state": 1}, "deleted"),
    ],
)
def test_document_state(kind: str, changes: dict[str, Any], state: str) -> None:
    fixture = {"invoice": "invoice_31008", "bill": "bill_412", "payment": "payment_7720",
               "bill_payment": "bill_payment_1490"}[kind]
    got, reason = document_state(kind, raw(fixture) | changes)
    assert got == state and reason


def test_unknown_vis_state_is_an_error() -> None:
    with pytest.raises(DataError, match=r"vis_state = 7; expected 0 \(active\), 1 \(deleted\) or 2"):
        document_state("invoice", raw("invoice_31008") | {"vis_state": 7})


# --- routing keys ----------------------------------------------------------------------------------------


def test_partner_keys_route_each_kind_to_the_sandbox_partners() -> None:
    directory = load_partners(PARTNERS)
    ctx = context()
    cases = [
        ("invoice", raw("invoice_31008"), ("5001", "Acme Retail Stores", "ap@acmeretail.example"), "acme-retail"),
        ("payment", raw("payment_7720"), ("5001", "Acme Retail Stores", "ap@acmeretail.example"), "acme-retail"),
        ("bill", raw("bill_412"), ("88", "Bolt Fasteners Inc.", "AR@boltfasteners.example"), "bolt-fasteners"),
        ("bill_payment", raw("bill_payment_1490"), ("88", "Bolt Fasteners Inc.", "AR@boltfasteners.example"),
         "bolt-fasteners"),
        ("invoice", raw("invoice_two_taxes"), ("5002", "Northwind Grocers", "payables@northwind.example"),
         "northwind-grocers"),
    ]
    for kind, document, keys, partner in cases:
        got = partner_keys(kind, document, ctx)
        assert got == keys
        source_id, organization, email = got
        routed = directory.route(DocumentKind(kind), source_id=source_id, organization=organization, email=email)
        assert routed is not None and routed.id == partner


def test_partner_keys_follow_a_renamed_client_and_work_without_lookups() -> None:
    renamed = raw("client_5001") | {"organization": "Acme Retail Stores"}
    invoice = raw("invoice_31008") | {"organization": "Acme Retail (old name)"}
    assert partner_keys("invoice", invoice, context(clients=[renamed]))[1] == "Acme Retail Stores"
    assert partner_keys("invoice", invoice, context(clients=[])) == ("5001", "Acme Retail Stores", "")
    assert partner_keys("bill", raw("bill_412"), context(vendors=[])) == ("88", "", "")


# --- timestamps ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field", "value", "expected"),
    [
        # spring forward, 10 March 2024 02:00 EST → 03:00 EDT
        ("invoice", "updated", "2024-03-10 01:59:59", dt.datetime(2024, 3, 10, 6, 59, 59, tzinfo=UTC)),
        ("invoice", "updated", "2024-03-10 03:00:00", dt.datetime(2024, 3, 10, 7, 0, 0, tzinfo=UTC)),
        # fall back, 3 November 2024: 01:30 happens twice; the first (EDT) is taken
        ("payment", "updated", "2024-11-03 01:30:00", dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC)),
        ("payment", "updated", "2024-11-03 02:30:00", dt.datetime(2024, 11, 3, 7, 30, tzinfo=UTC)),
        ("invoice", "updated", "2024-07-01 23:30:00", dt.datetime(2024, 7, 2, 3, 30, tzinfo=UTC)),
        ("invoice", "updated", "2024-12-31 20:00:00", dt.datetime(2025, 1, 1, 1, 0, tzinfo=UTC)),
        # bills are UTC already, on DST days too
        ("bill", "updated_at", "2024-03-10 02:30:00", dt.datetime(2024, 3, 10, 2, 30, tzinfo=UTC)),
        ("bill", "updated_at", "2024-11-03 01:30:00", dt.datetime(2024, 11, 3, 1, 30, tzinfo=UTC)),
    ],
)
def test_updated_at_converts_to_utc_around_dst(kind: str, field: str, value: str, expected: dt.datetime) -> None:
    fixture = {"invoice": "invoice_31008", "bill": "bill_412", "payment": "payment_7720"}[kind]
    got = updated_at(kind, raw(fixture) | {field: value})
    assert got == expected and got is not None and got.utcoffset() == dt.timedelta(0)


def test_updated_at_fallbacks_and_errors() -> None:
    assert updated_at("bill_payment", raw("bill_payment_1490")) is None
    bill = raw("bill_412") | {"updated_at": None}
    assert updated_at("bill", bill) == dt.datetime(2024, 3, 1, 15, 20, 11, tzinfo=UTC)  # created_at
    with pytest.raises(DataError, match="updated = 'yesterday'"):
        updated_at("invoice", raw("invoice_31008") | {"updated": "yesterday"})
    invoice = raw("invoice_31008")
    del invoice["updated"]
    assert updated_at("invoice", invoice) is None
    with pytest.raises(DataError, match="updated"):
        normalize_invoice(invoice, context())


def test_party_from_company_uses_partners_yaml() -> None:
    party = party_from_company(load_partners(PARTNERS).company)
    assert party.name == "Harbor Supply Co." and party.edi_id == "HARBORSUPPLY"
    assert party.address.postal_code == "04101" and party.address.province == "ME"


# --- property: any well-formed invoice keeps FreshBooks' amount ------------------------------------------

CENT = Decimal("0.01")
money = st.decimals(min_value=Decimal("-999.99"), max_value=Decimal("9999.99"), places=2)
rates = st.sampled_from([Decimal(0), Decimal(5), Decimal("8"), Decimal("9.975"), Decimal(13), Decimal("20")])
line_st = st.tuples(st.integers(min_value=0, max_value=500), money, rates, rates)


def _fb_invoice(lines: list[tuple[int, Decimal, Decimal, Decimal]], discount: Decimal) -> dict[str, Any]:
    """An invoice as FreshBooks computes it (reference §11.1 arithmetic, written out independently here)."""
    raw_lines = []
    subtotal = Decimal(0)
    taxes = Decimal(0)
    for qty, unit, rate1, rate2 in lines:
        amount = (qty * unit).quantize(CENT)
        subtotal += amount
        after = amount * (100 - discount) / 100
        for rate in (rate1, rate2):
            taxes += (after * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        raw_lines.append({"type": 0, "name": f"Item {qty}", "description": "", "qty": str(qty),
                          "unit_cost": {"amount": str(unit), "code": "USD"},
                          "amount": {"amount": str(amount), "code": "USD"},
                          "taxName1": "A", "taxAmount1": str(rate1), "taxName2": "B", "taxAmount2": str(rate2),
                          "compounded_tax": False})
    discount_total = -(subtotal * discount / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    total = subtotal + discount_total + taxes
    return raw("invoice_31008") | {
        "discount_value": str(discount), "discount_total": {"amount": str(discount_total), "code": "USD"},
        "amount": {"amount": str(total), "code": "USD"}, "lines": raw_lines,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(line_st, min_size=0, max_size=12), discount=st.sampled_from([Decimal(0), Decimal(10),
                                                                                    Decimal("12.5")]))
def test_any_well_formed_invoice_keeps_freshbooks_amount(lines: list[tuple[int, Decimal, Decimal, Decimal]],
                                                         discount: Decimal) -> None:
    invoice = _fb_invoice(lines, discount)
    doc, warnings = normalize_invoice(invoice, context())
    assert doc.total == Decimal(invoice["amount"]["amount"])
    assert doc.is_credit_memo == (doc.total < 0)
    assert len(doc.lines) == len(lines)
    assert not [w for w in warnings if w.code == "totals_mismatch"]
    # the document is self-consistent to the cent: lines - discount + taxes == total
    assert sum((ln.amount for ln in doc.lines), Decimal(0)) - doc.discount_amount + doc.tax_total == doc.total


# --- parsing once ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name", "model"), [
    ("invoice", "invoice_31008", "Invoice"), ("payment", "payment_7720", "Payment"), ("bill", "bill_412", "Bill"),
    ("bill_payment", "bill_payment_1490", "BillPayment"),
])
def test_routing_then_normalizing_a_document_parses_it_once(monkeypatch: pytest.MonkeyPatch, kind: str, name: str,
                                                            model: str) -> None:
    from freshcleo_pipeline.freshbooks import normalize as module

    parsed: list[str] = []
    real = module.parse

    def counting(model_type: Any, document: Any, label: str) -> Any:
        parsed.append(model_type.__name__)
        return real(model_type, document, label)

    monkeypatch.setattr(module, "parse", counting)
    ctx, document = context(), raw(name)
    keys = partner_keys(kind, document, ctx)
    result = normalize(kind, document, ctx, observed_at=OBSERVED)
    assert parsed.count(model) == 1
    # The same answers as with a context of its own for each call.
    assert keys == partner_keys(kind, raw(name), context())
    assert result == normalize(kind, raw(name), context(), observed_at=OBSERVED)


def test_a_document_that_cannot_be_parsed_fails_every_time_and_an_equal_copy_is_parsed_anew() -> None:
    ctx = context()
    broken = raw("invoice_31008")
    broken["create_date"] = "31/12/2024"
    for _ in range(2):
        with pytest.raises(DataError, match="create_date"):
            partner_keys("invoice", broken, ctx)
        with pytest.raises(DataError, match="create_date"):
            normalize("invoice", broken, ctx)
    good = raw("invoice_31008")
    partner_keys("invoice", good, ctx)
    changed = copy.deepcopy(good) | {"invoice_number": "X-1"}
    assert normalize("invoice", changed, ctx).document.invoice_number == "X-1"


@pytest.mark.parametrize("text", [
    "12.50", " 12.50 ", "-0.01", "0", "100", "1E+2", "1e2", "12.5000000", "12.5000001", "1_000.5", ".5", "5.",
    "+3.000001", "1.0000000", "-0", "NaN", "Infinity", "-inf", "sNaN", "", " ", "abc", "1.2.3", "١٢٣.٤",
    "99999999999999.999999",
])
def test_a_plain_decimal_string_reads_as_the_general_path_reads_it(text: str) -> None:
    from freshcleo_pipeline.freshbooks.schemas import _to_decimal, _to_decimal_checked

    def read(parser: Any) -> tuple[str, str]:
        try:
            value = parser(text)
        except Exception as exc:  # noqa: BLE001  the failure itself is compared
            return "error", str(exc)
        return "value", f"{value!r}"

    assert read(_to_decimal) == read(_to_decimal_checked)
