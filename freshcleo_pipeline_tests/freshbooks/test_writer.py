"""The one FreshBooks writer against the emulator over loopback: the five creates, the lookups, refusals
(read-only before any request, a missing scope, a 422 naming the field), and ``write_once`` creating each object
exactly once through repeats, lost answers and a crash between the POST and the ledger."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from freshcleo_pipeline.documents import (
    Address,
    DocumentKind,
    Invoice,
    Line,
    Party,
    PurchaseOrder,
    SourceRef,
    Tax,
)
from freshcleo_pipeline.errors import DataError, WriteOutcomeUnknownError, WriteRejectedError, WritesRefusedError
from freshcleo_pipeline.freshbooks import bodies
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect, write_scopes
from freshcleo_pipeline.freshbooks.writer import FreshBooksWriter, required_scopes
from freshcleo_pipeline.ledger import Ledger, audit
from freshcleo_pipeline.ledger import freshbooks_writes as ledger_writes
from freshcleo_pipeline.partners import PartnerDirectory, load_partners
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.settings import Settings, load_settings
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.freshbooks_writes import CREATED, FAILED, REFUSED, UNKNOWN, Origin, write_once
from freshcleo_pipeline_tests.freshbooks.conftest import settings_overrides

SANDBOX_PARTNERS = Path(__file__).parents[2] / "freshcleo_pipeline" / "sandbox" / "data" / "partners.yaml"
SUPPLIER, CUSTOMER, DRAFTS = "bolt-fasteners", "acme-retail", "northwind-grocers"
ORIGIN_810 = Origin("810", "000000101/101/0001")
ORIGIN_850 = Origin("850", "000000202/202/0001")


# ---- fixtures: partners that opt into every write, a connection that asked for their scopes ----

@pytest.fixture
def partners_file(tmp_path: Path) -> Path:
    raw = yaml.safe_load(SANDBOX_PARTNERS.read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        if partner["id"] == SUPPLIER:
            partner.update(create_bills=True, create_reference_data=True)
        elif partner["id"] == CUSTOMER:
            partner.update(orders_become="estimate", create_reference_data=True)
        elif partner["id"] == DRAFTS:
            partner.update(orders_become="draft_invoice")
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
def write_settings(emulator: FreshBooksEmulator, tmp_path: Path, partners_file: Path) -> Settings:
    return load_settings(**settings_overrides(emulator, tmp_path, FRESHCLEO_FRESHBOOKS_READ_ONLY="false",
                                              FRESHCLEO_PARTNERS_FILE=str(partners_file)))


@pytest.fixture
def partners(partners_file: Path) -> PartnerDirectory:
    return load_partners(partners_file)


@pytest.fixture
def client(write_settings: Settings, ledger: Ledger) -> Iterator[FreshBooksClient]:
    sandbox_auto_connect(write_settings, ledger)  # asks the read scopes + the opted-in write scopes
    with FreshBooksClient.from_settings(write_settings, ledger) as reader:
        yield reader


@pytest.fixture
def writer(client: FreshBooksClient) -> FreshBooksWriter:
    return FreshBooksWriter.from_client(client, read_only=False)


@pytest.fixture
def ctx(write_settings: Settings, ledger: Ledger, partners: PartnerDirectory, client: FreshBooksClient
        ) -> SyncContext:
    return SyncContext(write_settings, ledger, partners, freshbooks=lambda: client,
                       cleo=lambda: pytest.fail("no Cleo here"), run_id="run-1",
                       log=logging.getLogger("test.writes"))


# ---- documents as a partner's 810 and 850 read them ----

def _source(kind: DocumentKind, partner: str, source_id: str) -> SourceRef:
    return SourceRef(kind=kind, account_id=partner, source_id=source_id, version="v1",
                     updated_at=dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))


def their_invoice(number: str = "BF-1001", **changes: Any) -> Invoice:
    fields: dict[str, Any] = dict(
        source=_source(DocumentKind.BILL, SUPPLIER, ORIGIN_810.source_id), invoice_number=number,
        po_number="PO-77", issue_date=dt.date(2026, 11, 18), due_date=dt.date(2026, 12, 18), currency="USD",
        seller=Party(name="Bolt Fasteners Inc."), bill_to=Party(name="Harbor Supply Co."),
        lines=(Line(line_number=1, name="Hex bolt M8", description="box of 100", quantity=Decimal("4"),
                    unit_price=Decimal("12.50"), amount=Decimal("50.00"),
                    taxes=(Tax(name="ST", percent=Decimal("8"), amount=Decimal("4.00")),)),
               Line(line_number=2, name="Freight and handling", quantity=Decimal("1"),
                    unit_price=Decimal("15"), amount=Decimal("15"))),
        total=Decimal("69.00"))
    fields.update(changes)
    return Invoice(**fields)


def their_order(po: str = "ACME-PO-5", **changes: Any) -> PurchaseOrder:
    fields: dict[str, Any] = dict(
        source=_source(DocumentKind.INVOICE, CUSTOMER, ORIGIN_850.source_id), po_number=po,
        issue_date=dt.date(2026, 11, 19), currency="USD",
        buyer=Party(name="Acme Retail Stores", email="ap@acme.example",
                    address=Address(street="1 Main St", city="Springfield", province="IL", postal_code="62701",
                                    country="US")),
        seller=Party(name="Harbor Supply Co."),
        lines=(Line(line_number=1, name="Widget A", description="Blue, 10 cm", quantity=Decimal("10"),
                    unit_price=Decimal("12.50"), amount=Decimal("125.00")),),
        total=Decimal("125.00"))
    fields.update(changes)
    return PurchaseOrder(**fields)


def _vendorid(emulator: FreshBooksEmulator) -> str:
    return str(emulator.vendor_id_of("Bolt Fasteners Inc."))


def _customerid(emulator: FreshBooksEmulator) -> str:
    return str(emulator.client_id_of("Acme Retail Stores"))


NOTE = "EDI 810 from bolt-fasteners ISA13 000000101 (freshcleo)"


# ---- the scopes ----

def test_write_scopes_follow_the_opt_ins_and_vanish_while_read_only(partners: PartnerDirectory,
                                                                    write_settings: Settings) -> None:
    assert required_scopes(partners, read_only=True) == ()
    assert required_scopes(partners, read_only=False) == (
        "user:bill_vendors:read", "user:bill_vendors:write", "user:bills:read", "user:bills:write",
        "user:clients:read", "user:clients:write", "user:estimates:read", "user:estimates:write",
        "user:invoices:read", "user:invoices:write")
    assert set(write_scopes(write_settings)) == set(required_scopes(partners, read_only=False))
    assert write_scopes(write_settings.model_copy(update={"freshbooks_read_only": True})) == ()
    assert required_scopes(load_partners(SANDBOX_PARTNERS), read_only=False) == ()  # nobody opted in


def test_the_connection_holds_the_write_scopes(client: FreshBooksClient, partners: PartnerDirectory) -> None:
    granted = set(client.authenticator.grant.tokens.scope.split())  # type: ignore[union-attr]
    assert set(required_scopes(partners, read_only=False)) <= granted


# ---- the five creates ----

def test_each_create_works_and_the_emulator_holds_our_fields(emulator: FreshBooksEmulator,
                                                             writer: FreshBooksWriter,
                                                             partners: PartnerDirectory) -> None:
    bill_id = writer.create_bill(bodies.bill_body(their_invoice(), _vendorid(emulator), NOTE))
    bill = emulator.get("bills", int(bill_id))
    assert bill is not None
    assert (bill["vendorid"], bill["bill_number"], bill["issue_date"], bill["due_date"]) == (
        int(_vendorid(emulator)), "BF-1001", "2026-11-18", "2026-12-18")
    assert bill["overall_description"] == NOTE
    assert [(x["description"], x["quantity"], x["unit_cost"]["amount"], x["tax_percent1"]) for x in bill["lines"]] == [
        ("Hex bolt M8 — box of 100", "4", "12.50", "8"), ("Freight and handling", "1", "15.00", None)]
    assert bill["total_amount"]["amount"] == "69.00" and bill["paid"]["amount"] == "0.00"

    order = their_order()
    estimate_id = writer.create_estimate(bodies.estimate_body(order, _customerid(emulator), "EDI 850 ACME-PO-5"))
    estimate = emulator.get("estimates", int(estimate_id))
    assert estimate is not None
    assert (estimate["customerid"], estimate["po_number"], estimate["create_date"], estimate["status"]) == (
        int(_customerid(emulator)), "ACME-PO-5", "2026-11-19", 1)
    assert estimate["lines"][0]["qty"] == "10" and estimate["amount"]["amount"] == "125.00"

    invoice_id = writer.create_draft_invoice(bodies.draft_invoice_body(order, _customerid(emulator), "EDI 850"))
    invoice = emulator.get("invoices", int(invoice_id))
    assert invoice is not None
    assert (invoice["status"], invoice["v3_status"], invoice["po_number"]) == (1, "draft", "ACME-PO-5")
    assert invoice["payment_status"] == "unpaid" and invoice["notes"] == "EDI 850"

    supplier = partners.get(SUPPLIER).model_copy(update={"match": partners.get(SUPPLIER).match.model_copy(
        update={"organizations": ("Bolt Fasteners West",)})})
    vendor_id = writer.create_bill_vendor(bodies.bill_vendor_body(
        supplier, Party(name="Bolt", email="ar@bolt.example", address=Address(city="Toledo"))))
    vendor = emulator.get("bill_vendors", int(vendor_id))
    assert vendor is not None
    assert (vendor["vendor_name"], vendor["primary_contact_email"], vendor["city"]) == (
        "Bolt Fasteners West", "ar@bolt.example", "Toledo")

    customer = partners.get(CUSTOMER).model_copy(update={"match": partners.get(CUSTOMER).match.model_copy(
        update={"organizations": ("Acme Retail West",)})})
    client_id = writer.create_client(bodies.client_body(customer, order.buyer))
    created = emulator.get("clients", int(client_id))
    assert created is not None
    assert (created["organization"], created["email"], created["p_city"]) == (
        "Acme Retail West", "ap@acme.example", "Springfield")

    assert emulator.api_writes() == Counter(bills=1, estimates=1, invoices=1, bill_vendors=1, clients=1)
    # the lookups find each, and nothing that is not there
    assert writer.find_bill(_vendorid(emulator), "bf-1001") == bill_id
    assert writer.find_bill(_vendorid(emulator), "BF-404") is None
    assert writer.find_estimate(_customerid(emulator), "ACME-PO-5") == estimate_id
    assert writer.find_invoice(_customerid(emulator), "ACME-PO-5") == invoice_id
    assert writer.find_invoice(_customerid(emulator), "ACME-PO-404") is None
    assert writer.find_bill_vendor("bolt fasteners  west") == vendor_id
    assert writer.find_client("Acme Retail West") == client_id
    assert writer.find_client("Acme Retail") is None  # a like-filter hit is not a match


def test_read_only_refuses_before_any_request(emulator: FreshBooksEmulator, client: FreshBooksClient,
                                              ctx: SyncContext, ledger: Ledger) -> None:
    reader_only = FreshBooksWriter.from_client(client, read_only=True)
    before = emulator.total_requests()
    body = bodies.bill_body(their_invoice(), _vendorid(emulator), NOTE)
    for create in (reader_only.create_bill, reader_only.create_estimate, reader_only.create_draft_invoice,
                   reader_only.create_bill_vendor, reader_only.create_client):
        with pytest.raises(WritesRefusedError, match="FRESHCLEO_FRESHBOOKS_READ_ONLY"):
            create(body)
    outcome = write_once(ctx, reader_only, key="bill:bolt:BF-1001:v1", partner_id=SUPPLIER, kind="bill",
                         reference="BF-1001", body=body, origin=ORIGIN_810,
                         find=lambda: pytest.fail("no lookup while read-only"), create=reader_only.create_bill)
    assert outcome.state == REFUSED and "FRESHCLEO_FRESHBOOKS_READ_ONLY" in outcome.reason
    assert emulator.total_requests() == before and emulator.api_writes() == Counter()
    with ledger.begin() as conn:
        assert ledger_writes.listing(conn) == []  # nothing claimed


def test_writer_from_settings_is_read_only_by_default(settings: Settings, connected: Ledger) -> None:
    writer = FreshBooksWriter.from_settings(settings, connected)
    try:
        assert writer.read_only
    finally:
        writer.close()


def test_a_missing_write_scope_is_refused_naming_it(emulator: FreshBooksEmulator, settings: Settings,
                                                    connected: Ledger) -> None:
    # `connected` asked for the read scopes only (the default, read-only configuration)
    with FreshBooksClient.from_settings(settings, connected) as reader:
        writer = FreshBooksWriter.from_client(reader, read_only=False)
        with pytest.raises(WritesRefusedError, match="user:bills:write") as refused:
            writer.create_bill(bodies.bill_body(their_invoice(), _vendorid(emulator), NOTE))
    assert refused.value.scope == "user:bills:write" and "freshcleo connect freshbooks" in str(refused.value)
    assert emulator.api_writes() == Counter()


def test_a_422_names_freshbooks_field(emulator: FreshBooksEmulator, writer: FreshBooksWriter, ctx: SyncContext,
                                      ledger: Ledger) -> None:
    with pytest.raises(WriteRejectedError) as rejected:
        writer.create_bill(bodies.bill_body(their_invoice(), "999999", NOTE))
    assert rejected.value.field == "vendorid" and rejected.value.status == 422 and rejected.value.errno == 1004
    assert "vendorid" in str(rejected.value)

    body = bodies.bill_body(their_invoice(), "999999", NOTE)
    outcome = write_once(ctx, writer, key="bill:bolt:BF-1001:v1", partner_id=SUPPLIER, kind="bill",
                         reference="BF-1001", body=body, origin=ORIGIN_810,
                         find=lambda: writer.find_bill("999999", "BF-1001"), create=writer.create_bill)
    assert outcome.state == FAILED and "vendorid" in outcome.reason
    again = write_once(ctx, writer, key="bill:bolt:BF-1001:v1", partner_id=SUPPLIER, kind="bill",
                       reference="BF-1001", body=body, origin=ORIGIN_810,
                       find=lambda: pytest.fail("a refused write is not looked up"),
                       create=lambda _b: pytest.fail("a refused write is not sent again"))
    assert again.state == FAILED
    assert emulator.api_writes() == Counter()
    with ledger.begin() as conn:
        [row] = ledger_writes.listing(conn, partner_id=SUPPLIER)
        assert (row.state, row.attempts) == (ledger_writes.FAILED, 2) and "vendorid" in (row.error or "")
        events = [e.event for e in audit.trail(conn, account_id=SUPPLIER, source_id=ORIGIN_810.source_id)]
    assert events == ["freshbooks_write_claimed", "freshbooks_write_failed"]


# ---- exactly once ----

def _bill_once(ctx: SyncContext, writer: FreshBooksWriter, emulator: FreshBooksEmulator) -> Any:
    vendorid = _vendorid(emulator)
    return write_once(ctx, writer, key="bill:bolt-fasteners:BF-1001:v1", partner_id=SUPPLIER, kind="bill",
                      reference="BF-1001", body=bodies.bill_body(their_invoice(), vendorid, NOTE),
                      origin=ORIGIN_810, find=lambda: writer.find_bill(vendorid, "BF-1001"),
                      create=writer.create_bill)


def test_write_once_twice_creates_one_record_with_its_trail(emulator: FreshBooksEmulator,
                                                            writer: FreshBooksWriter, ctx: SyncContext,
                                                            ledger: Ledger) -> None:
    first = _bill_once(ctx, writer, emulator)
    second = _bill_once(ctx, writer, emulator)
    assert (first.state, first.created_now) == (CREATED, True)
    assert (second.state, second.created_now, second.freshbooks_id) == (CREATED, False, first.freshbooks_id)
    assert emulator.api_writes() == Counter(bills=1)
    with ledger.begin() as conn:
        row = ledger_writes.get(conn, "bill:bolt-fasteners:BF-1001:v1")
        assert row is not None and (row.state, row.freshbooks_id) == (ledger_writes.CREATED, first.freshbooks_id)
        assert row.request["bill_number"] == "BF-1001" and row.run_id == "run-1"
        assert ledger_writes.created_ids(conn, "bill") == {first.freshbooks_id}
        assert ledger_writes.claimed_references(conn, SUPPLIER, "bill") == {"BF-1001"}
        assert ledger_writes.claimed_references(conn, CUSTOMER, "bill") == set()
        theirs = audit.trail(conn, account_id=SUPPLIER, source_id=ORIGIN_810.source_id)
        ours = audit.trail(conn, account_id=writer.account_id, source_id=str(first.freshbooks_id), kind="bill")
    assert [e.event for e in theirs] == ["freshbooks_write_claimed", "freshbooks_created"]
    assert theirs[0].kind == "x12_810" and theirs[1].detail["freshbooks_id"] == first.freshbooks_id
    assert [e.event for e in ours] == ["created_by_freshcleo"]
    assert ours[0].detail["partner_source_id"] == ORIGIN_810.source_id
    assert ours[0].detail["partner_trail_kind"] == "x12_810" and ours[0].partner_id == SUPPLIER


def test_a_crash_after_the_post_is_settled_by_find(emulator: FreshBooksEmulator, writer: FreshBooksWriter,
                                                   ctx: SyncContext, ledger: Ledger) -> None:
    vendorid = _vendorid(emulator)
    body = bodies.bill_body(their_invoice(), vendorid, NOTE)
    key = "bill:bolt-fasteners:BF-1001:v1"
    # the first process: claim committed, POST sent ... and it dies before recording the id
    with ledger.begin() as conn:
        ledger_writes.claim(conn, key=key, partner_id=SUPPLIER, kind="bill", reference="BF-1001", request=body)
    lost_id = writer.create_bill(body)
    # the next run looks first and adopts what it finds
    outcome = _bill_once(ctx, writer, emulator)
    assert (outcome.state, outcome.freshbooks_id, outcome.adopted, outcome.created_now) == (
        CREATED, lost_id, True, False)
    assert emulator.api_writes() == Counter(bills=1)
    with ledger.begin() as conn:
        row = ledger_writes.get(conn, key)
        assert row is not None and (row.state, row.freshbooks_id, row.attempts) == ("created", lost_id, 2)
        ours = audit.trail(conn, account_id=writer.account_id, source_id=lost_id, kind="bill")
    assert [e.event for e in ours] == ["adopted_by_freshcleo"]


def test_a_claim_whose_post_never_left_is_sent_after_the_lookup(emulator: FreshBooksEmulator,
                                                                writer: FreshBooksWriter, ctx: SyncContext,
                                                                ledger: Ledger) -> None:
    with ledger.begin() as conn:  # the process died between the claim and the request
        ledger_writes.claim(conn, key="bill:bolt-fasteners:BF-1001:v1", partner_id=SUPPLIER, kind="bill",
                            reference="BF-1001", request={})
    outcome = _bill_once(ctx, writer, emulator)
    assert (outcome.state, outcome.created_now) == (CREATED, True)
    assert emulator.api_writes() == Counter(bills=1)


def test_a_lost_answer_is_unknown_then_found_not_resent(emulator: FreshBooksEmulator, writer: FreshBooksWriter,
                                                        ctx: SyncContext, ledger: Ledger) -> None:
    emulator.faults.add(FaultRule("lost_response", method="POST", path_prefix="/accounting/", remaining=1))
    with pytest.raises(WriteOutcomeUnknownError):
        writer.create_bill(bodies.bill_body(their_invoice("BF-0001"), _vendorid(emulator), NOTE))
    assert emulator.api_writes() == Counter(bills=1)  # it was applied; the answer was lost

    emulator.faults.add(FaultRule("lost_response", method="POST", path_prefix="/accounting/", remaining=1))
    first = _bill_once(ctx, writer, emulator)
    assert first.state == UNKNOWN
    with ledger.begin() as conn:
        row = ledger_writes.get(conn, "bill:bolt-fasteners:BF-1001:v1")
        assert row is not None and row.state == ledger_writes.CLAIMED
    second = _bill_once(ctx, writer, emulator)
    assert (second.state, second.adopted) == (CREATED, True)
    assert emulator.api_writes() == Counter(bills=2)  # BF-0001 and BF-1001, each once


def test_a_5xx_answer_to_a_post_is_never_retried(emulator: FreshBooksEmulator, writer: FreshBooksWriter) -> None:
    emulator.faults.add(FaultRule("status", status=503, method="POST", path_prefix="/accounting/", remaining=1))
    with pytest.raises(WriteOutcomeUnknownError):
        writer.create_client({"organization": "Once Only"})
    assert emulator.requests_to("/accounting/account/{account_id}/users/clients", method="POST") == 1


def test_an_estimate_and_reference_data_are_written_once(emulator: FreshBooksEmulator, writer: FreshBooksWriter,
                                                         ctx: SyncContext, partners: PartnerDirectory) -> None:
    customerid = _customerid(emulator)
    order = their_order()
    for _ in range(2):
        outcome = write_once(ctx, writer, key="estimate:acme-retail:ACME-PO-5:v1", partner_id=CUSTOMER,
                             kind="estimate", reference="ACME-PO-5", origin=ORIGIN_850,
                             body=bodies.estimate_body(order, customerid, "EDI 850 (freshcleo)"),
                             find=lambda: writer.find_estimate(customerid, "ACME-PO-5"),
                             create=writer.create_estimate)
        assert outcome.state == CREATED
        client_outcome = write_once(
            ctx, writer, key="client:acme-retail", partner_id=CUSTOMER, kind="client", reference="Acme West",
            body=bodies.client_body(partners.get(CUSTOMER).model_copy(update={"match": partners.get(
                CUSTOMER).match.model_copy(update={"organizations": ("Acme West",)})}), order.buyer),
            find=lambda: writer.find_client("Acme West"), create=writer.create_client)
        assert client_outcome.state == CREATED
    assert emulator.api_writes() == Counter(estimates=1, clients=1)


# ---- bodies ----

def test_bodies_carry_no_state_action_or_payment_fields(emulator: FreshBooksEmulator) -> None:
    order = their_order(due_date=dt.date(2026, 12, 19))
    for body in (bodies.estimate_body(order, "5001", "n"), bodies.draft_invoice_body(order, "5001", "n"),
                 bodies.bill_body(their_invoice(), "301", "n")):
        assert not [k for k in body if k in bodies.FORBIDDEN_KEYS or k.startswith("action_")]
    draft = bodies.draft_invoice_body(order, "5001", "n")
    assert draft["due_offset_days"] == 30 and draft["lines"][0]["qty"] == "10"
    assert draft["lines"][0]["unit_cost"] == {"amount": "12.5", "code": "USD"}
    bill = bodies.bill_body(their_invoice(due_date=None), "301", "n")
    assert bill["due_offset_days"] == 0 and bill["lines"][0]["tax_name1"] == "ST"


@pytest.mark.parametrize(("build", "field", "value"), [
    (lambda: bodies.bill_body(their_invoice(), "abc", NOTE), "vendorid", "abc"),
    (lambda: bodies.bill_body(their_invoice(), "301", ""), "note", ""),
    (lambda: bodies.bill_body(their_invoice(currency="dollars"), "301", NOTE), "currency", "dollars"),
    (lambda: bodies.bill_body(their_invoice(due_date=dt.date(2026, 11, 1)), "301", NOTE), "due_date",
     "2026-11-01"),
    (lambda: bodies.bill_body(their_invoice(lines=()), "301", NOTE), "lines", []),
    (lambda: bodies.bill_body(their_invoice(is_credit_memo=True), "301", NOTE), "BIG07", "CR"),
    (lambda: bodies.estimate_body(their_order(po=" "), "5001", NOTE), "po_number", " "),
    (lambda: bodies.draft_invoice_body(their_order(), "0", NOTE), "customerid", "0"),
])
def test_bad_input_names_the_field_and_value(build: Any, field: str, value: object) -> None:
    with pytest.raises(DataError) as error:
        build()
    assert (error.value.field, error.value.value) == (field, value)
