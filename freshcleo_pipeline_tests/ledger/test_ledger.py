"""The ledger behaves the same on SQLite and PostgreSQL: schema, each table, the idempotency key, the trail."""

from __future__ import annotations

import datetime as dt
import inspect
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from freshcleo_pipeline.errors import LedgerError
from freshcleo_pipeline.ledger import Ledger, audit, control_numbers, inbound, outbox, snapshots
from freshcleo_pipeline.ledger.database import _alembic_config, head_revision
from freshcleo_pipeline.ledger.schema import (
    metadata,
    oauth_tokens,
    webhook_callbacks,
    webhook_inbox,
)

NOW = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 8)


def test_migrations_build_exactly_the_declared_schema(ledger: Ledger) -> None:
    assert ledger.current_revision() == head_revision()
    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def _snapshot(source_id: str, version: str) -> dict:
    return {"kind": "invoice", "account_id": "acc1", "source_id": source_id, "version": version,
            "updated_at": NOW, "partition_date": DAY, "vis_state": 0,
            "payload": {"invoiceid": int(source_id), "amount": {"amount": "10.00", "code": "USD"}}}


def _document_row(snapshot_id: int, source_id: str, version: str) -> dict:
    return {"snapshot_id": snapshot_id, "kind": "invoice", "account_id": "acc1", "source_id": source_id,
            "version": version, "partition_date": DAY, "reference": f"INV-{source_id}", "status": "routed",
            "reason": "", "partner_id": "acme-retail", "transaction_set": "810", "currency": "USD",
            "total": "10.00", "body": {"invoice_number": f"INV-{source_id}"}, "warnings": ["w"]}


def test_snapshots_store_each_version_once_and_read_back(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        assert snapshots.save_snapshots(conn, [_snapshot("1", "v1"), _snapshot("2", "v1")], run_id="r1") == 2
        assert snapshots.save_snapshots(conn, [_snapshot("1", "v1"), _snapshot("1", "v2")], run_id="r2") == 1
    with ledger.begin() as conn:
        latest = snapshots.latest_in_partitions(conn, "invoice", "acc1", [DAY])
        assert {(s.source_id, s.version) for s in latest} == {("1", "v2"), ("2", "v1")}
        first = next(s for s in latest if s.source_id == "2")
        assert first.updated_at == NOW and first.updated_at.tzinfo is not None
        assert first.payload["amount"] == {"amount": "10.00", "code": "USD"}
        assert snapshots.known_versions(conn, "invoice", "acc1", [("1", "v1"), ("3", "v1")]) == {("1", "v1")}


def test_documents_and_outbox_idempotency_key_is_unique(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        snapshots.save_snapshots(conn, [_snapshot("7", "v1")], run_id=None)
        snap = snapshots.latest_in_partitions(conn, "invoice", "acc1", [DAY])[0]
        assert snapshots.save_documents(conn, [_document_row(snap.id, "7", "v1")], run_id="r") == 1
        assert snapshots.save_documents(conn, [_document_row(snap.id, "7", "v1")], run_id="r") == 0
        doc_id = snapshots.document_ids(conn, "invoice", "acc1", [("7", "v1")])[("7", "v1")]
        key = outbox.idempotency_key("acme-retail", "810", "invoice", "acc1", "7", "v1")
        item = {"idempotency_key": key, "partner_id": "acme-retail", "transaction_set": "810", "kind": "invoice",
                "account_id": "acc1", "source_id": "7", "version": "v1", "document_id": doc_id,
                "partition_date": DAY, "purpose": "original", "reference": "INV-7", "total": "10.00"}
        assert outbox.enqueue(conn, [item]) == 1
        assert outbox.enqueue(conn, [item]) == 0
    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:
        conn.execute(insert(metadata.tables["outbox"]).values(
            **item, state="pending", attempts=0, ack_state="none", created_at=NOW, updated_at=NOW))
    with ledger.begin() as conn:
        [pending] = outbox.pending(conn)
        interchange_id = outbox.create_interchange(
            conn, partner_id="acme-retail", transaction_set="810", usage="T", isa13=1, gs06=1,
            file_name="acme-retail_810_000000001.x12", content="ISA*...~", sha256="0" * 64, total="10.00",
            members=[(pending.id, "0001")], run_id="r")
        outbox.mark_delivered(conn, interchange_id, cleo_file_id="f1", receipt={"id": "f1"}, run_id="r")
        [delivered] = outbox.find_by_control(conn, "acme-retail", "810", 1, "0001")
        assert (delivered.state, delivered.ack_state, delivered.file_name) == (
            "delivered", "waiting", "acme-retail_810_000000001.x12")
        assert outbox.undelivered(conn) == []


def test_control_numbers_are_sequential_unique_and_roll_over(ledger: Ledger) -> None:
    scope = control_numbers.isa_scope("T", "ZZ:US", "ZZ:THEM")
    with ledger.begin() as conn:
        assert control_numbers.allocate(conn, scope) == [1]
        assert control_numbers.allocate(conn, scope, 3) == [2, 3, 4]
        assert control_numbers.allocate(conn, control_numbers.isa_scope("P", "ZZ:US", "ZZ:THEM")) == [1]
        conn.execute(update(metadata.tables["control_numbers"]).where(
            metadata.tables["control_numbers"].c.scope == scope).values(last_value=999_999_998))
        assert control_numbers.allocate(conn, scope, 3) == [999_999_999, 1, 2]
        assert control_numbers.peek(conn, scope) == 2


def test_concurrent_allocations_never_share_a_number(ledger: Ledger) -> None:
    scope = "gs:T:US:THEM:IN"
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            with ledger.begin() as conn:
                numbers = control_numbers.allocate(conn, scope, 2)
            with lock:
                got.extend(numbers)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 81))


def test_inbound_files_are_recorded_once(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        a = inbound.record(conn, partner_id="acme-retail", folder="acme-retail/inbound", cleo_file_id="x1",
                           file_name="997_1.x12", content="ISA~", sha256="a" * 64, kind="997", run_id=None)
        b = inbound.record(conn, partner_id="acme-retail", folder="acme-retail/inbound", cleo_file_id="x1",
                           file_name="997_1.x12", content="ISA~", sha256="a" * 64, kind="997", run_id=None)
        assert a.id == b.id
        inbound.set_state(conn, a.id, "archived", parsed={"sets": 1}, archived=True)
        assert inbound.not_archived(conn) == []
        assert inbound.by_name(conn, "997_1.x12")[0].parsed == {"sets": 1}


def test_webhook_and_token_tables_round_trip(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        conn.execute(insert(webhook_callbacks).values(
            path_token="tok", account_id="acc1", event="invoice", uri="https://x/y", verified=False,
            created_at=NOW))
        conn.execute(insert(webhook_inbox).values(
            callback_path="tok", account_id="acc1", event_name="invoice.create", object_id="9",
            received_at=NOW, raw_form="{}", dedupe_key="k"))
        conn.execute(insert(oauth_tokens).values(
            provider="freshbooks", connection="default", access_token_enc="gAAA", refresh_token_enc="gAAA",
            expires_at=NOW, scope="", state="active", generation=0, updated_at=NOW))
        assert conn.execute(select(webhook_inbox.c.received_at)).scalar_one() == NOW
        assert conn.execute(select(oauth_tokens.c.state)).scalar_one() == "active"


def test_audit_trail_is_append_only(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        audit.record(conn, kind="invoice", account_id="acc1", source_id="7", event="extracted",
                     detail={"version": "v1"}, run_id="r1")
        audit.record(conn, kind="invoice", account_id="acc1", source_id="7", event="delivered",
                     partner_id="acme-retail", detail={"isa13": 1})
        events = audit.trail(conn, account_id="acc1", source_id="7")
    assert [e.event for e in events] == ["extracted", "delivered"]
    assert events[0].detail == {"version": "v1"} and events[0].run_id == "r1"
    public = [name for name, obj in inspect.getmembers(audit, inspect.isfunction)
              if obj.__module__ == audit.__name__ and not name.startswith("_")]
    assert sorted(public) == ["record", "record_many", "trail"]


def test_an_outdated_schema_is_refused_without_upgrade(any_ledger_url: str) -> None:
    ledger = Ledger(any_ledger_url)
    try:
        with pytest.raises(LedgerError, match="freshcleo db upgrade"):
            ledger.ensure_schema(upgrade=False)
        ledger.ensure_schema(upgrade=True)
        ledger.ensure_schema(upgrade=False)
        with ledger.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(LedgerError, match="does not know"):
            ledger.ensure_schema()
    finally:
        ledger.dispose()


def test_upgrading_fills_the_po_number_of_invoices_already_stored(any_ledger_url: str) -> None:
    """Migration 0008 reads each stored invoice body once, so a ledger of an earlier release finds a customer's
    order by its PO number through the new index, not only invoices stored after the upgrade."""
    ledger = Ledger(any_ledger_url)
    try:
        with ledger.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0007")
            snapshot_id = conn.execute(text(
                "INSERT INTO source_snapshots (kind, account_id, source_id, version, vis_state, payload, fetched_at) "
                "VALUES ('invoice', 'A1', '77', 'v1', 0, '{}', :at) RETURNING id"), {"at": NOW}).scalar()
            for kind, source_id, body in (("invoice", "77", '{"po_number":" PO-7781 "}'),
                                          ("invoice", "78", '{"po_number":""}'), ("bill", "79", '{"po_number":"79"}'),
                                          ("invoice", "80", "not json")):
                conn.execute(text(
                    "INSERT INTO documents (snapshot_id, kind, account_id, source_id, version, reference, status, "
                    "reason, currency, total, body, warnings, created_at) VALUES (:s, :k, 'A1', :i, 'v1', '', "
                    "'routed', '', 'USD', '0', :b, '[]', :at)"),
                    {"s": snapshot_id, "k": kind, "i": source_id, "b": body, "at": NOW})
        ledger.upgrade()
        with ledger.begin() as conn:
            found = dict(conn.execute(text("SELECT source_id, po_number FROM documents")).all())
        assert found == {"77": "PO-7781", "78": None, "79": None, "80": None}
    finally:
        ledger.dispose()
