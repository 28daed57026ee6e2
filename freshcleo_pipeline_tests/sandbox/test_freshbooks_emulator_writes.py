"""The FreshBooks emulator's writes over HTTP: creates of bills, bill vendors, clients, invoices and estimates in
the reference's shapes, refusals the real API makes (403 without the write scope, 422 naming the field), computed
fields ignored, and the API write counter (HTTP writes only, never the in-process seeding controls)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests

from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator

Tokens = Callable[..., dict[str, Any]]
READ = ("user:profile:read user:invoices:read user:bills:read user:bill_vendors:read user:clients:read "
        "user:estimates:read")
WRITE = READ + (" user:invoices:write user:bills:write user:bill_vendors:write user:clients:write "
                "user:estimates:write")


class Api:
    """A bare FreshBooks caller (deliberately not the product's client or writer)."""

    def __init__(self, emulator: FreshBooksEmulator, access_token: str) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    def url(self, path: str) -> str:
        return f"{self.emulator.url}/accounting/account/{self.emulator.account_id}/{path}"

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=30)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url(path), params=params, timeout=30)


@pytest.fixture
def emulator(freshbooks_emulator_factory: Callable[..., FreshBooksEmulator]) -> FreshBooksEmulator:
    return freshbooks_emulator_factory(seed=5, invoices=20)


@pytest.fixture
def api(emulator: FreshBooksEmulator, freshbooks_tokens: Tokens) -> Api:
    return Api(emulator, freshbooks_tokens(emulator, scope=WRITE)["access_token"])


def _created(answer: requests.Response, key: str) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["response"]["result"][key]
    return found


def test_a_token_carries_the_scopes_asked_for(emulator: FreshBooksEmulator, freshbooks_tokens: Tokens) -> None:
    assert freshbooks_tokens(emulator, scope=READ)["scope"].split() == READ.split()
    assert "user:estimates:write" in freshbooks_tokens(emulator, scope=WRITE)["scope"].split()


def test_estimates_are_created_listed_and_computed(emulator: FreshBooksEmulator, api: Api) -> None:
    customer = emulator.client_id_of(emulator.store.collections["clients"].record(0)["organization"])
    estimate = _created(api.post("estimates/estimates?include[]=lines", {"estimate": {
        "customerid": str(customer), "create_date": "2026-11-20", "po_number": "PO-1", "currency_code": "USD",
        "notes": "from EDI", "status": 5, "amount": {"amount": "1.00", "code": "USD"},
        "lines": [{"name": "Widget", "description": "blue", "qty": "3", "unit_cost": {"amount": "2.50",
                                                                                     "code": "USD"}}]}}),
        "estimate")
    assert estimate["customerid"] == customer and estimate["po_number"] == "PO-1"
    assert estimate["status"] == 1  # computed: a sent status in the body is ignored
    assert estimate["amount"] == {"amount": "7.50", "code": "USD"}
    assert estimate["lines"][0]["qty"] == "3" and estimate["notes"] == "from EDI"
    listed = api.get("estimates/estimates", per_page=100).json()["response"]["result"]
    assert [e["id"] for e in listed["estimates"]] == [estimate["id"]] and listed["total"] == 1
    got = api.get(f"estimates/estimates/{estimate['id']}").json()["response"]["result"]["estimate"]
    assert got["po_number"] == "PO-1" and "lines" not in got


def test_invoices_created_over_the_api_are_drafts(emulator: FreshBooksEmulator, api: Api) -> None:
    customer = emulator.store.collections["clients"].record(1)["id"]
    invoice = _created(api.post("invoices/invoices", {"invoice": {
        "customerid": customer, "create_date": "2026-11-20", "po_number": "PO-2", "payment_status": "paid",
        "paid": {"amount": "9.00", "code": "USD"}, "v3_status": "paid",
        "lines": [{"name": "Widget", "qty": 2, "unit_cost": {"amount": "4.50", "code": "USD"}}]}}), "invoice")
    assert invoice["status"] == 1 and invoice["v3_status"] == "draft"
    assert invoice["payment_status"] == "unpaid" and invoice["paid"]["amount"] == "0.00"
    assert invoice["outstanding"]["amount"] == "9.00"


def test_bills_vendors_and_clients_are_created(emulator: FreshBooksEmulator, api: Api) -> None:
    vendor = _created(api.post("bill_vendors/bill_vendors", {"bill_vendor": {
        "vendor_name": "New Supplier LLC", "currency_code": "USD", "city": "Boston",
        "outstanding_balance": [{"amount": "5.00", "code": "USD"}]}}), "bill_vendor")
    assert vendor["vendor_name"] == "New Supplier LLC" and vendor["outstanding_balance"] == []
    bill = _created(api.post("bills/bills", {"bill": {
        "vendorid": str(vendor["vendorid"]), "bill_number": "INV-9", "issue_date": "2026-11-01",
        "due_offset_days": 30, "currency_code": "USD", "status": "paid",
        "lines": [{"description": "Pallet wrap", "quantity": "2", "unit_cost": {"amount": "40", "code": "USD"},
                   "tax_name1": "HST", "tax_percent1": "13"}]}}), "bill")
    assert bill["vendorid"] == vendor["vendorid"] and bill["bill_number"] == "INV-9"
    assert bill["status"] == "overdue" or bill["status"] == "unpaid"  # computed, never "paid" from the body
    assert bill["total_amount"] == {"amount": "90.40", "code": "USD"} and bill["due_date"] == "2026-12-01"
    client = _created(api.post("users/clients", {"client": {"organization": "New Customer Inc",
                                                            "email": "ap@new.example"}}), "client")
    assert client["organization"] == "New Customer Inc" and client["userid"] == client["id"]


def test_writes_without_the_write_scope_get_403(emulator: FreshBooksEmulator, freshbooks_tokens: Tokens) -> None:
    reader = Api(emulator, freshbooks_tokens(emulator, scope=READ)["access_token"])
    answer = reader.post("bills/bills", {"bill": {"vendorid": "301", "issue_date": "2026-11-01", "lines": []}})
    assert answer.status_code == 403
    assert "user:bills:write" in answer.json()["error_description"]
    assert emulator.api_writes() == Counter()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("bills/bills", {"bill": {"issue_date": "2026-11-01"}}, "vendorid"),
    ("bills/bills", {"bill": {"vendorid": "999999", "issue_date": "2026-11-01"}}, "vendorid"),
    ("bills/bills", {"bill": {"vendorid": "301", "issue_date": "2026-11-01",
                              "lines": [{"quantity": "two", "unit_cost": {"amount": "1", "code": "USD"}}]}},
     "lines[0].quantity"),
    ("estimates/estimates", {"estimate": {"customerid": "424242", "create_date": "2026-11-01"}}, "customerid"),
    ("invoices/invoices", {"invoice": {"create_date": "2026-11-01"}}, "customerid"),
    ("bill_vendors/bill_vendors", {"bill_vendor": {"currency_code": "USD"}}, "vendor_name"),
])
def test_bad_writes_get_422_naming_the_field(emulator: FreshBooksEmulator, api: Api, path: str,
                                            body: dict[str, Any], field: str) -> None:
    answer = api.post(path, body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["response"]["errors"][0]
    assert error["field"] == field and error["errno"] in (1001, 1004)
    assert emulator.api_writes() == Counter()


def test_the_write_counter_counts_http_writes_only(emulator: FreshBooksEmulator, api: Api) -> None:
    emulator.create("clients", {"organization": "Seeded In Process"})
    requests.post(f"{emulator.url}/_sandbox/freshbooks/clients", json={"organization": "Seeded Over Control"},
                  timeout=10).raise_for_status()
    assert emulator.api_writes() == Counter()
    _created(api.post("users/clients", {"client": {"organization": "Written Over The API"}}), "client")
    _created(api.post("users/clients", {"client": {"organization": "Written Again"}}), "client")
    assert emulator.api_writes() == Counter({"clients": 2})
    stats = requests.get(f"{emulator.url}/_sandbox/stats", timeout=10).json()
    assert stats["api_writes"] == {"clients": 2}
