"""The FreshBooks emulator's accounting API over HTTP: envelope, paging, filters, visibility, includes,
computed fields, errors, generated books, faults and counters."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.sandbox.httpserver import FaultRule

Tokens = Callable[..., dict[str, Any]]
Factory = Callable[..., FreshBooksEmulator]
EASTERN = ZoneInfo("America/New_York")
INVOICES = "/accounting/account/{account_id}/invoices/invoices"
WRITE = ("user:profile:read user:invoices:read user:invoices:write user:payments:read user:payments:write "
         "user:bills:read user:bill_payments:read user:bill_vendors:read user:clients:read "
         "user:billable_items:read")


class Api:
    """A bare FreshBooks caller for these tests (deliberately not the product's client)."""

    def __init__(self, emulator: FreshBooksEmulator, access_token: str) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    def url(self, path: str) -> str:
        return f"{self.emulator.url}/accounting/account/{self.emulator.account_id}/{path}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url(path), params=params, timeout=30)

    def put(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.put(self.url(path), json=body, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=30)

    def result(self, path: str, **params: Any) -> dict[str, Any]:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()["response"]["result"]
        return found

    def all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        first = self.result(path, per_page=100, **params)
        docs = list(first[key])
        for page in range(2, first["pages"] + 1):
            docs.extend(self.result(path, per_page=100, page=page, **params)[key])
        assert len(docs) == first["total"]
        return docs


@pytest.fixture
def api(freshbooks_emulator: FreshBooksEmulator, freshbooks_tokens: Tokens) -> Api:
    return Api(freshbooks_emulator, freshbooks_tokens(freshbooks_emulator, scope=WRITE)["access_token"])


def make_api(emulator: FreshBooksEmulator, tokens: Tokens) -> Api:
    return Api(emulator, tokens(emulator, scope=WRITE)["access_token"])


def fixed_clock(moment: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: moment


# ---- paging ----

def test_paging_caps_per_page_reads_page_zero_as_one_and_ends_empty(freshbooks_emulator_factory: Factory,
                                                                     freshbooks_tokens: Tokens) -> None:
    emulator = freshbooks_emulator_factory(invoices=260)
    api = make_api(emulator, freshbooks_tokens)
    first = api.result("invoices/invoices", per_page=500)
    total = first["total"]
    assert 230 < total <= 260  # deleted invoices are not listed
    assert (first["page"], first["per_page"], first["pages"]) == (1, 100, math.ceil(total / 100))
    assert len(first["invoices"]) == 100
    assert api.result("invoices/invoices", per_page=100, page=0)["invoices"] == first["invoices"]
    assert api.result("invoices/invoices")["per_page"] == 15
    beyond = api.result("invoices/invoices", per_page=100, page=first["pages"] + 1)
    assert beyond["invoices"] == []
    assert beyond["total"] == total
    ids = [doc["id"] for doc in api.all("invoices/invoices", "invoices")]
    assert len(ids) == len(set(ids)) == total


def test_listing_costs_one_request_per_hundred(freshbooks_emulator_factory: Factory,
                                               freshbooks_tokens: Tokens) -> None:
    emulator = freshbooks_emulator_factory(invoices=1000)
    api = make_api(emulator, freshbooks_tokens)
    emulator.counters.clear()
    docs = api.all("invoices/invoices", "invoices", **{"include[]": "lines"})
    assert emulator.requests_to(INVOICES) == math.ceil(len(docs) / 100)
    assert emulator.requests_to(INVOICES + "/{id}") == 0
    assert all(doc["lines"] for doc in docs)


@pytest.mark.parametrize(("name", "value", "errno"), [("page", "-1", 1014), ("page", "two", 1014),
                                                      ("per_page", "x", 1013), ("per_page", "0", 1013)])
def test_bad_paging_values_are_errors(api: Api, name: str, value: str, errno: int) -> None:
    answer = api.get("invoices/invoices", **{name: value})
    assert answer.status_code == 400
    assert answer.json()["response"]["errors"][0]["errno"] == errno


def test_empty_result_has_zero_pages(api: Api) -> None:
    empty = api.result("invoices/invoices", **{"search[updated_min]": "2999-01-01"})
    assert (empty["total"], empty["pages"], empty["invoices"]) == (0, 0, [])


# ---- filters and time zones ----

def test_updated_filters_are_eastern_days_min_inclusive_max_exclusive(freshbooks_emulator_factory: Factory,
                                                                      freshbooks_tokens: Tokens) -> None:
    # 2024-03-10 04:30 UTC is 2024-03-09 23:30 EST; an hour later it is 00:30 on the 10th in Eastern.
    late = dt.datetime(2024, 3, 10, 4, 30, tzinfo=dt.UTC)
    emulator = freshbooks_emulator_factory(invoices=0, clock=fixed_clock(late))
    api = make_api(emulator, freshbooks_tokens)
    customer = emulator.client_id_of("Acme Retail Stores")
    before = emulator.create_invoice(customerid=customer, lines=[{"name": "x", "qty": 1, "unit_cost": "5"}])
    emulator.advance_clock(3600)
    after = emulator.create_invoice(customerid=customer, lines=[{"name": "y", "qty": 1, "unit_cost": "5"}])
    assert before["updated"] == "2024-03-09 23:30:00"
    assert after["updated"] == "2024-03-10 00:30:00"

    def ids(**search: str) -> set[int]:
        params = {f"search[{k}]": v for k, v in search.items()}
        return {doc["id"] for doc in api.result("invoices/invoices", **params)["invoices"]}

    assert ids(updated_min="2024-03-10") == {after["id"]}
    assert ids(updated_max="2024-03-10") == {before["id"]}
    assert ids(updated_min="2024-03-09", updated_max="2024-03-11") == {before["id"], after["id"]}
    assert ids(updated_min="2024-03-11") == set()
    timestamp = api.get("invoices/invoices", **{"search[updated_min]": "2024-03-10 00:00:00"})
    assert timestamp.status_code == 400
    assert timestamp.json()["response"]["errors"][0]["errno"] == 1004


def test_summer_timestamps_render_as_edt(freshbooks_emulator_factory: Factory) -> None:
    emulator = freshbooks_emulator_factory(invoices=0, clock=fixed_clock(dt.datetime(2024, 7, 1, 3, 15,
                                                                                     tzinfo=dt.UTC)))
    made = emulator.create_invoice(customerid=emulator.client_id_of("Northwind Grocers"))
    assert made["updated"] == "2024-06-30 23:15:00"
    assert made["create_date"] == "2024-06-30"


def test_updated_filter_matches_exactly_the_documents_of_those_eastern_days(api: Api) -> None:
    everything = api.all("invoices/invoices", "invoices")
    days = sorted({doc["updated"][:10] for doc in everything})
    lo, hi = days[len(days) // 3], days[2 * len(days) // 3]
    window = api.all("invoices/invoices", "invoices", **{"search[updated_min]": lo, "search[updated_max]": hi})
    expected = {doc["id"] for doc in everything if lo <= doc["updated"][:10] < hi}
    assert {doc["id"] for doc in window} == expected
    assert expected


def test_field_filters(api: Api, freshbooks_emulator: FreshBooksEmulator) -> None:
    acme = freshbooks_emulator.client_id_of("Acme Retail Stores")
    mine = api.all("invoices/invoices", "invoices", **{"search[customerid]": acme})
    assert mine
    assert all(doc["customerid"] == acme and doc["organization"] == "Acme Retail Stores" for doc in mine)
    paid = api.all("invoices/invoices", "invoices", **{"search[statusids][]": ["4"]})
    assert paid
    assert all(doc["status"] == 4 and doc["outstanding"]["amount"] == "0.00" for doc in paid)
    invoice = mine[0]["id"]
    payments = api.all("payments/payments", "payments", **{"search[invoiceid]": invoice})
    assert all(p["invoiceid"] == invoice for p in payments)


def test_a_list_by_ids_returns_exactly_the_documents_named(api: Api) -> None:
    some = [doc["id"] for doc in api.result("invoices/invoices", per_page=5)["invoices"]]
    named = [str(some[0]), f" {some[1]}", str(some[2]), "0", "²", "x", "99999999"]
    got = api.all("invoices/invoices", "invoices", **{"search[invoiceids][]": named})
    # Ids match as text, as every filter does: the padded one names nothing, and neither do the odd values.
    assert sorted(doc["id"] for doc in got) == sorted([some[0], some[2]])


def test_bills_ignore_updated_filters(api: Api) -> None:
    everything = api.result("bills/bills", per_page=100)["total"]
    filtered = api.result("bills/bills", per_page=100, **{"search[updated_min]": "2999-01-01"})["total"]
    assert filtered == everything > 0


# ---- visibility ----

def test_sort_orders_by_id_or_update_stamp_and_other_sorts_are_ignored(api: Api) -> None:
    def ids(path: str, key: str, **params: Any) -> list[int]:
        return [int(d["id"]) for d in api.all(path, key, **params)]

    plain = ids("bills/bills", "bills")
    assert plain == sorted(plain)  # ascending id by default
    assert ids("bills/bills", "bills", sort="id_desc") == plain[::-1]
    newest = api.all("bills/bills", "bills", sort="updated_at_desc")
    stamps = [b["updated_at"] for b in newest]
    assert stamps == sorted(stamps, reverse=True) and stamps != sorted(stamps)
    invoices = api.all("invoices/invoices", "invoices", sort="updated_asc")
    assert [i["updated"] for i in invoices] == sorted(i["updated"] for i in invoices)
    assert ids("bills/bills", "bills", sort="vendor_name_desc") == plain  # not a sortable field: ignored
    assert ids("bill_payments/bill_payments", "bill_payments", sort="updated_desc") == sorted(
        ids("bill_payments/bill_payments", "bill_payments"))  # bill payments have no update stamp


def test_a_server_that_ignores_sort_is_available(freshbooks_emulator_factory: Factory, freshbooks_tokens: Tokens
                                                 ) -> None:
    api = make_api(freshbooks_emulator_factory(seed=4, invoices=40, sort_honoured=False), freshbooks_tokens)
    plain = [int(b["id"]) for b in api.all("bills/bills", "bills")]
    assert [int(b["id"]) for b in api.all("bills/bills", "bills", sort="updated_at_desc")] == plain


def test_deleted_documents_are_hidden_unless_asked_and_archived_are_listed(api: Api,
                                                                           freshbooks_emulator: FreshBooksEmulator
                                                                           ) -> None:
    listed = api.all("invoices/invoices", "invoices")
    victim = listed[0]["id"]
    freshbooks_emulator.delete_invoice(victim)
    after = {doc["id"] for doc in api.all("invoices/invoices", "invoices")}
    assert victim not in after
    deleted = api.all("invoices/invoices", "invoices", **{"search[vis_state]": 1})
    assert victim in {doc["id"] for doc in deleted}
    assert all(doc["vis_state"] == 1 for doc in deleted)
    single = api.result(f"invoices/invoices/{victim}")["invoice"]
    assert single["vis_state"] == 1
    freshbooks_emulator.update_invoice(listed[1]["id"], vis_state=2)
    archived = api.all("invoices/invoices", "invoices", **{"search[vis_state]": 2})
    assert listed[1]["id"] in {doc["id"] for doc in archived}
    assert listed[1]["id"] in {doc["id"] for doc in api.all("invoices/invoices", "invoices")}


def test_put_with_vis_state_applies_only_the_visibility(api: Api) -> None:
    doc = api.result("invoices/invoices", per_page=1)["invoices"][0]
    answer = api.put(f"invoices/invoices/{doc['id']}", {"invoice": {"vis_state": 0, "notes": "changed"}})
    assert answer.status_code == 200
    assert answer.json()["response"]["result"]["invoice"]["notes"] == doc["notes"]


def test_http_delete_of_an_invoice_marks_it_deleted(api: Api) -> None:
    doc = api.result("invoices/invoices", per_page=1)["invoices"][0]
    answer = api.session.delete(api.url(f"invoices/invoices/{doc['id']}"), timeout=10)
    assert answer.status_code == 200
    assert answer.json()["response"]["result"]["invoice"]["vis_state"] == 1


# ---- shapes, includes, computed fields ----

def test_lines_only_with_include_and_amounts_add_up(api: Api) -> None:
    bare = api.result("invoices/invoices", per_page=100)["invoices"]
    assert all("lines" not in doc for doc in bare)
    docs = api.all("invoices/invoices", "invoices", **{"include[]": "lines"})
    for doc in docs:
        assert 1 <= len(doc["lines"]) <= 50
        line_sum = sum(Decimal(line["amount"]["amount"]) for line in doc["lines"])
        for line in doc["lines"]:
            assert Decimal(line["amount"]["amount"]) == (Decimal(line["qty"]) *
                                                         Decimal(line["unit_cost"]["amount"])).quantize(Decimal("0.01"))
            assert isinstance(line["taxAmount1"], str)
        amount, paid = Decimal(doc["amount"]["amount"]), Decimal(doc["paid"]["amount"])
        assert Decimal(doc["outstanding"]["amount"]) == amount - paid
        assert amount >= line_sum + Decimal(doc["discount_total"]["amount"])
        assert doc["due_date"] == (dt.date.fromisoformat(doc["create_date"]) +
                                   dt.timedelta(days=doc["due_offset_days"])).isoformat()
        assert doc["invoiceid"] == doc["id"]
        assert len(doc["version"]) == len("2024-01-01 00:00:00.000000")


def test_invoice_arithmetic_matches_the_reference_example(freshbooks_emulator: FreshBooksEmulator) -> None:
    made = freshbooks_emulator.create_invoice(
        customerid=freshbooks_emulator.client_id_of("Blue Heron Cafe"), discount_value="10",
        lines=[{"name": "Widget A", "qty": 10, "unit_cost": {"amount": "12.50", "code": "USD"},
                "taxName1": "ST", "taxAmount1": 8},
               {"name": "Setup fee", "qty": 1, "unit_cost": "20.00"}])
    assert made["discount_total"]["amount"] == "-14.50"
    assert made["amount"] == {"amount": "139.50", "code": "USD"}
    assert made["lines"][0]["taxAmount1"] == "8"


def test_computed_fields_are_not_writable(api: Api) -> None:
    doc = api.result("invoices/invoices", per_page=1, **{"include[]": "lines"})["invoices"][0]
    answer = api.put(f"invoices/invoices/{doc['id']}", {"invoice": {
        "amount": {"amount": "1.00", "code": "USD"}, "outstanding": {"amount": "0.00", "code": "USD"},
        "paid": {"amount": "999.00", "code": "USD"}, "payment_status": "paid", "v3_status": "paid",
        "status": 4, "updated": "2000-01-01 00:00:00", "id": 1, "notes": "Please pay by wire."}})
    assert answer.status_code == 200, answer.text
    after = api.result(f"invoices/invoices/{doc['id']}", **{"include[]": "lines"})["invoice"]
    assert after["notes"] == "Please pay by wire."
    for name in ("id", "amount", "outstanding", "paid", "payment_status", "v3_status", "status"):
        assert after[name] == doc[name], name
    assert after["updated"] >= doc["updated"]


def test_a_payment_moves_the_invoice_through_partial_to_paid(freshbooks_emulator_factory: Factory,
                                                             freshbooks_tokens: Tokens) -> None:
    emulator = freshbooks_emulator_factory(invoices=0)
    api = make_api(emulator, freshbooks_tokens)
    invoice = emulator.create_invoice(customerid=emulator.client_id_of("Acme Retail Stores"),
                                      lines=[{"name": "Bolts", "qty": 4, "unit_cost": "25.00"}])
    assert (invoice["status"], invoice["payment_status"], invoice["amount"]["amount"]) == (2, "unpaid", "100.00")
    emulator.advance_clock(60)
    created = api.post("payments/payments", {"payment": {"invoiceid": invoice["id"], "amount": {"amount": "40"},
                                                         "date": "2024-01-05", "type": "ACH"}})
    assert created.status_code == 200, created.text
    partial = api.result(f"invoices/invoices/{invoice['id']}")["invoice"]
    assert (partial["status"], partial["display_status"]) == (2, "sent")  # the documented quirk
    assert (partial["payment_status"], partial["v3_status"], partial["outstanding"]["amount"]) == \
        ("partial", "partial", "60.00")
    assert partial["updated"] > invoice["updated"]
    emulator.create_payment(invoiceid=invoice["id"], amount="60.00", date="2024-01-09")
    paid = api.result(f"invoices/invoices/{invoice['id']}")["invoice"]
    assert (paid["status"], paid["payment_status"], paid["date_paid"]) == (4, "paid", "2024-01-09")
    assert created.json()["response"]["result"]["payment"]["amount"] == {"amount": "40.00", "code": "USD"}


def test_bills_have_snake_case_lines_utc_times_and_consistent_totals(api: Api) -> None:
    bills = api.all("bills/bills", "bills")
    assert bills
    for bill in bills:
        total = Decimal(bill["total_amount"]["amount"])
        assert total == Decimal(bill["amount"]["amount"]) + Decimal(bill["tax_amount"]["amount"])
        assert Decimal(bill["outstanding"]["amount"]) == total - Decimal(bill["paid"]["amount"])
        assert sum(Decimal(p["amount"]["amount"]) for p in bill["bill_payments"]) == Decimal(bill["paid"]["amount"])
        assert bill["status"] in ("unpaid", "partial", "paid", "overdue")
        for line in bill["lines"]:
            assert {"quantity", "unit_cost", "tax_name1", "tax_percent1", "tax_amount1", "total_amount"} <= set(line)
            assert "taxAmount1" not in line
    payments = api.all("bill_payments/bill_payments", "bill_payments")
    assert payments
    assert all("updated" not in p and "updated_at" not in p for p in payments)


def test_bill_times_are_utc_and_invoice_times_eastern(freshbooks_emulator_factory: Factory) -> None:
    moment = dt.datetime(2024, 1, 15, 3, 0, tzinfo=dt.UTC)  # 2024-01-14 22:00 EST
    emulator = freshbooks_emulator_factory(invoices=0, bills=0, clock=fixed_clock(moment))
    bill = emulator.create_bill(vendorid=emulator.vendor_id_of("Bolt Fasteners Inc."),
                                lines=[{"description": "M8 bolts", "quantity": 2, "unit_cost": "40"}])
    assert bill["updated_at"] == bill["created_at"] == "2024-01-15 03:00:00"
    invoice = emulator.create_invoice(customerid=emulator.client_id_of("Acme Retail Stores"))
    assert invoice["updated"] == "2024-01-14 22:00:00"


def test_include_vendor_embeds_the_bill_vendor(api: Api) -> None:
    bill = api.result("bills/bills", per_page=1, **{"include[]": "vendor"})["bills"][0]
    assert bill["vendor"]["vendorid"] == bill["vendorid"]


def test_every_kind_answers_list_and_single_with_its_envelope(api: Api) -> None:
    for path, plural, singular, ident in [
            ("invoices/invoices", "invoices", "invoice", "id"), ("payments/payments", "payments", "payment", "id"),
            ("bills/bills", "bills", "bill", "id"), ("bill_payments/bill_payments", "bill_payments",
                                                     "bill_payment", "id"),
            ("bill_vendors/bill_vendors", "bill_vendors", "bill_vendor", "vendorid"),
            ("users/clients", "clients", "client", "id"), ("items/items", "items", "item", "id")]:
        listed = api.result(path, per_page=5)
        assert set(listed) == {plural, "page", "pages", "per_page", "total"}, path
        first = listed[plural][0]
        single = api.result(f"{path}/{first[ident]}")
        assert single == {singular: single[singular]}
        assert single[singular][ident] == first[ident]


# ---- errors ----

def test_unknown_id_is_404_with_the_accounting_error_shape(api: Api) -> None:
    answer = api.get("invoices/invoices/999999999")
    assert answer.status_code == 404
    error = answer.json()["response"]["errors"][0]
    assert error["errno"] == 1012
    assert error["field"] == "invoiceid"
    assert error["value"] == "999999999"
    assert {"message", "object"} <= set(error)


def test_validation_failures_are_422(api: Api) -> None:
    missing = api.post("invoices/invoices", {"invoice": {"create_date": "2024-01-01"}})
    assert missing.status_code == 422
    assert missing.json()["response"]["errors"][0] | {"message": ""} == {
        "errno": 1001, "field": "customerid", "message": "", "object": "invoice", "value": None}
    bad_qty = api.post("invoices/invoices", {"invoice": {"customerid": 5001, "create_date": "2024-01-01",
                                                         "lines": [{"qty": "lots", "unit_cost": "1"}]}})
    assert bad_qty.status_code == 422
    assert bad_qty.json()["response"]["errors"][0]["field"] == "lines[0].qty"
    unwrapped = api.post("invoices/invoices", {"customerid": 5001})
    assert unwrapped.status_code == 400


def test_wrong_account_id_is_404(api: Api, freshbooks_emulator: FreshBooksEmulator) -> None:
    answer = api.session.get(f"{freshbooks_emulator.url}/accounting/account/nope/invoices/invoices", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["response"]["errors"][0]["errno"] == 1012


# ---- the generated books ----

def test_books_are_deterministic_per_seed(freshbooks_emulator_factory: Factory, freshbooks_tokens: Tokens) -> None:
    moment = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    one, two, other = (freshbooks_emulator_factory(seed=seed, invoices=120, clock=fixed_clock(moment))
                       for seed in (3, 3, 4))
    pages = [make_api(e, freshbooks_tokens).all("invoices/invoices", "invoices", **{"include[]": "lines"})
             for e in (one, two, other)]
    assert pages[0] == pages[1]
    assert pages[0] != pages[2]


def test_anchored_books_do_not_move_with_the_start_time(freshbooks_emulator_factory: Factory,
                                                        freshbooks_tokens: Tokens) -> None:
    """Two starts of one seed 25 minutes apart (a repeated demo) serve the same ids, dates and ``updated``
    stamps when they share an anchor; without one, the history moves with the start and documents change."""
    anchor = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    first, second = (dt.datetime(2024, 5, 1, 14, 3, tzinfo=dt.UTC) + dt.timedelta(minutes=m) for m in (0, 25))
    anchored = [freshbooks_emulator_factory(seed=3, invoices=120, clock=fixed_clock(t), anchor=anchor)
                for t in (first, second)]
    loose = [freshbooks_emulator_factory(seed=3, invoices=120, clock=fixed_clock(t)) for t in (first, second)]

    def books(emulator: FreshBooksEmulator) -> list[list[dict[str, Any]]]:
        api = make_api(emulator, freshbooks_tokens)
        return [api.all("invoices/invoices", "invoices", **{"include[]": "lines"}),
                api.all("payments/payments", "payments"), api.all("users/clients", "clients")]

    same = [books(e) for e in anchored]
    assert same[0] == same[1]
    assert same[0][0] and same[0][1] and same[0][2]
    moved = [books(e) for e in loose]
    assert [i["updated"] for i in moved[0][0]] != [i["updated"] for i in moved[1][0]]


def test_books_look_like_a_distributor_with_partners(freshbooks_emulator_factory: Factory,
                                                     freshbooks_tokens: Tokens) -> None:
    emulator = freshbooks_emulator_factory(invoices=1500, days=90)
    api = make_api(emulator, freshbooks_tokens)
    organizations = {c["organization"] for c in api.all("users/clients", "clients")}
    assert {"Acme Retail Stores", "Northwind Grocers"} <= organizations
    assert len(organizations) >= 8
    vendors = {v["vendor_name"] for v in api.all("bill_vendors/bill_vendors", "bill_vendors")}
    assert {"Bolt Fasteners Inc.", "Coastal Packaging LLC"} <= vendors
    assert all(i["sku"] for i in api.all("items/items", "items"))
    week = (emulator.now() - dt.timedelta(days=7)).astimezone(EASTERN).date().isoformat()
    recent = api.all("invoices/invoices", "invoices", **{"search[updated_min]": week, "include[]": "lines"})
    by_org = {name: sum(1 for d in recent if d["organization"] == name)
              for name in ("Acme Retail Stores", "Northwind Grocers")}
    assert min(by_org.values()) >= 20, by_org
    everything = api.all("invoices/invoices", "invoices", **{"include[]": "lines"})
    statuses = {d["payment_status"] for d in everything}
    assert {"unpaid", "partial", "paid"} <= statuses
    assert any(d["status"] == 1 for d in everything)
    assert any(d["vis_state"] == 2 for d in everything)
    assert any(d["currency_code"] == "CAD" for d in everything)
    assert any(d["po_number"] for d in everything)
    assert any(d["discount_value"] != "0" for d in everything)
    assert any(d["updated"] > d["created_at"] for d in everything)
    assert max(len(d["lines"]) for d in everything) > 30
    assert api.result("invoices/invoices", **{"search[vis_state]": 1})["total"] > 0
    bill_vendors = {b["vendorid"] for b in api.all("bills/bills", "bills")}
    assert emulator.vendor_id_of("Bolt Fasteners Inc.") in bill_vendors


# ---- faults and counters ----

def test_injected_faults_then_normal_service(api: Api, freshbooks_emulator: FreshBooksEmulator) -> None:
    prefix = f"/accounting/account/{freshbooks_emulator.account_id}/invoices"
    freshbooks_emulator.faults.add(FaultRule(kind="status", status=429, retry_after=3, path_prefix=prefix,
                                             remaining=2))
    for _ in range(2):
        limited = api.get("invoices/invoices")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "3"
    assert api.get("invoices/invoices").status_code == 200
    control = requests.post(f"{freshbooks_emulator.url}/_sandbox/faults", timeout=10,
                            json={"kind": "reset", "path_prefix": prefix, "remaining": 1})
    assert control.status_code == 201
    with pytest.raises(requests.ConnectionError):
        api.get("invoices/invoices")
    assert api.get("invoices/invoices").status_code == 200
    assert freshbooks_emulator.requests_to(INVOICES, status=429) == 2
    assert freshbooks_emulator.requests_to(INVOICES, status=200) == 2
    counters = requests.get(f"{freshbooks_emulator.url}/_sandbox/counters", timeout=10).json()["counters"]
    assert {"method": "GET", "path": INVOICES, "status": 429, "count": 2} in counters


def test_control_api_creates_updates_and_moves_the_clock(freshbooks_emulator: FreshBooksEmulator,
                                                         api: Api) -> None:
    base = f"{freshbooks_emulator.url}/_sandbox/freshbooks"
    before = requests.get(f"{base}/clock", timeout=10).json()["epoch"]
    moved = requests.post(f"{base}/clock", json={"advance": 3600}, timeout=10).json()["epoch"]
    assert moved - before >= 3600
    made = requests.post(f"{base}/invoices", timeout=10, json={"invoice": {
        "customerid": freshbooks_emulator.client_id_of("Northwind Grocers"), "po_number": "NWG-1",
        "lines": [{"name": "Tape", "qty": 2, "unit_cost": "3.50"}]}})
    assert made.status_code == 201, made.text
    doc = made.json()["document"]
    assert (doc["status"], doc["amount"]["amount"]) == (2, "7.00")
    changed = requests.put(f"{base}/invoices/{doc['id']}", json={"po_number": "NWG-2"}, timeout=10)
    assert changed.json()["document"]["po_number"] == "NWG-2"
    assert api.result(f"invoices/invoices/{doc['id']}")["invoice"]["po_number"] == "NWG-2"
    bad = requests.post(f"{base}/invoices", json={"customerid": 1}, timeout=10)
    assert bad.status_code == 422
    info = requests.get(f"{base}/info", timeout=10).json()
    assert info["account_id"] == freshbooks_emulator.account_id
