"""What a run reads of the ledger is bounded by its own partitions and documents, never by the size of the book.

Each per-run read returns only the rows of the run's partitions, and finds them through an index: on SQLite,
``EXPLAIN QUERY PLAN`` of every statement it issues shows no scan of a whole ledger table, nor a search by state
alone (every delivered row is in one state: that is the book again). SQLite plans without statistics here, so the
plan does not depend on how many rows the test stored.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, event, inspect, text

from freshcleo_pipeline.ledger import Ledger, outbox, partition_figures, reconciliation, snapshots
from freshcleo_pipeline.ledger.database import _alembic_config
from freshcleo_pipeline.ledger.schema import metadata

ACCOUNT = "acc1"
DAY = dt.date(2026, 3, 8)
OTHER_DAY = dt.date(2026, 1, 20)
_WHOLE_TABLE = re.compile(r"^(?:SCAN (\w+)|SEARCH (\w+) USING (?:COVERING )?INDEX \w+ \(state=\?\)$)")


def _store(conn: Connection, source_id: str, day: dt.date, run_id: str, *, kind: str = "invoice",
           partner_id: str = "acme-retail", transaction_set: str = "810", isa13: int) -> int:
    """One document version of ``day``, enqueued, rendered into its own file and delivered; returns the document."""
    snapshots.save_snapshots(conn, [{
        "kind": kind, "account_id": ACCOUNT, "source_id": source_id, "version": "v1", "updated_at": None,
        "partition_date": day, "vis_state": 0, "payload": {"id": source_id}}], run_id=run_id)
    [snap] = [s for s in snapshots.latest_in_partitions(conn, kind, ACCOUNT, [day]) if s.source_id == source_id]
    snapshots.save_documents(conn, [{
        "snapshot_id": snap.id, "kind": kind, "account_id": ACCOUNT, "source_id": source_id, "version": "v1",
        "partition_date": day, "reference": f"R-{source_id}", "status": "routed", "reason": "",
        "partner_id": partner_id, "transaction_set": transaction_set, "currency": "USD", "total": "10.00",
        "body": {}, "warnings": []}], run_id=run_id)
    document_id = snapshots.document_ids(conn, kind, ACCOUNT, [(source_id, "v1")])[(source_id, "v1")]
    key = outbox.idempotency_key(partner_id, transaction_set, kind, ACCOUNT, source_id, "v1")
    outbox.enqueue(conn, [{
        "idempotency_key": key, "partner_id": partner_id, "transaction_set": transaction_set, "kind": kind,
        "account_id": ACCOUNT, "source_id": source_id, "version": "v1", "document_id": document_id,
        "partition_date": day, "purpose": "original", "reference": f"R-{source_id}", "total": "10.00"}])
    interchange_id = outbox.create_interchange(
        conn, partner_id=partner_id, transaction_set=transaction_set, usage="T", isa13=isa13, gs06=isa13,
        file_name=f"{partner_id}_{transaction_set}_{isa13:09d}.x12", content="ISA*...~", sha256="0" * 64,
        total="10.00", members=[(outbox.id_of_key(conn, key), "0001")], run_id=run_id)
    outbox.mark_delivered(conn, interchange_id, cleo_file_id=f"f{isa13}", receipt={}, run_id=run_id)
    return document_id


@pytest.fixture
def book(ledger: Ledger) -> Iterator[Ledger]:
    """Two partitions stored by two runs: ``DAY`` (run r2: documents 1 and 2) and ``OTHER_DAY`` (run r1)."""
    with ledger.begin() as conn:
        _store(conn, "9", OTHER_DAY, "r1", isa13=1)
        _store(conn, "1", DAY, "r2", isa13=2)
        _store(conn, "2", DAY, "r2", isa13=3)
    yield ledger


@contextmanager
def _statements(conn: Connection) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", record)


def _scanned_tables(ledger: Ledger, read: Callable[[Connection], Any]) -> set[str]:
    """The ledger tables some statement of ``read`` reads whole, or all rows of a state of."""
    with ledger.begin() as conn:
        with _statements(conn) as seen:
            read(conn)
        assert seen, "the read issued no statement"
        scanned: set[str] = set()
        for statement, parameters in seen:
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters):
                found = _WHOLE_TABLE.match(row[-1])
                table = found and (found.group(1) or found.group(2))
                if table and table in metadata.tables:
                    scanned.add(table)
    return scanned


def _sqlite_only(ledger: Ledger) -> None:
    if not ledger.is_sqlite:
        pytest.skip("query plans are read on SQLite (PostgreSQL's planner rightly scans tables this small)")


def test_reconciliation_reads_only_the_partitions_deliveries(book: Ledger) -> None:
    with book.begin() as conn:
        read = reconciliation.rows_to_reconcile(conn, [DAY], ACCOUNT)
    assert sorted(d.source_id for d in read.documents) == ["1", "2"]
    assert sorted(r.source_id for r in read.deliveries) == ["1", "2"]
    assert sorted(f.isa13 for f in read.files.values()) == [2, 3]
    assert read.set_duplicates == [] and read.isa_duplicates == []


def test_reconciliation_finds_its_rows_through_indexes(book: Ledger) -> None:
    _sqlite_only(book)
    assert _scanned_tables(book, lambda conn: reconciliation.rows_to_reconcile(conn, [DAY], ACCOUNT)) == set()


def test_sent_versions_of_planned_documents_are_found_through_an_index(book: Ledger) -> None:
    wanted = [("acme-retail", "810", "invoice", "1"), ("acme-retail", "820", "payment", "2")]
    with book.begin() as conn:
        assert outbox.last_sent_versions(conn, ACCOUNT, wanted) == {("acme-retail", "810", "invoice", "1"): "v1"}
        history = outbox.sent_history(conn, ACCOUNT, wanted)
    assert {k: [i.version for i in v] for k, v in history.items()} == {("acme-retail", "810", "invoice", "1"): ["v1"]}
    _sqlite_only(book)
    assert _scanned_tables(book, lambda conn: outbox.last_sent_versions(conn, ACCOUNT, wanted)) == set()
    assert _scanned_tables(book, lambda conn: outbox.sent_history(conn, ACCOUNT, wanted)) == set()


def test_planning_reads_only_the_partitions_documents(book: Ledger) -> None:
    with book.begin() as conn:
        planned = snapshots.plannable_documents(conn, ACCOUNT, [DAY], ("routed", "deleted"))
    assert [d.source_id for d in planned] == ["1", "2"]
    _sqlite_only(book)
    assert _scanned_tables(book, lambda conn: snapshots.plannable_documents(
        conn, ACCOUNT, [DAY], ("routed", "deleted"))) == set()


def test_partition_figures_read_only_the_runs_rows(book: Ledger) -> None:
    with book.begin() as conn:
        stored = partition_figures.new_versions(conn, "r2")
        rendered = partition_figures.rendered_sets(conn, "r2")
    assert stored == {(DAY, "invoice", False): 2}
    assert sorted(s.isa13 for s in rendered) == [2, 3]
    _sqlite_only(book)
    assert _scanned_tables(book, lambda conn: partition_figures.new_versions(conn, "r2")) == set()
    # The run's files are few: its interchanges may be read whole, its outbox rows may not.
    assert "outbox" not in _scanned_tables(book, lambda conn: partition_figures.rendered_sets(conn, "r2"))


def test_upgrading_adds_the_indexes_of_per_run_reads(any_ledger_url: str) -> None:
    ledger = Ledger(any_ledger_url)
    try:
        with ledger.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0008")
        ledger.upgrade()
        indexes = {table: {tuple(ix["column_names"]) for ix in inspect(ledger.engine).get_indexes(table)}
                   for table in ("outbox", "source_snapshots")}
        assert {("document_id",), ("run_id",)} <= indexes["outbox"]
        assert ("run_id",) in indexes["source_snapshots"]
    finally:
        ledger.dispose()


def test_a_file_moves_its_rows_in_one_statement_and_never_takes_a_rendered_row(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        _store(conn, "1", DAY, "r1", isa13=1)  # rendered into its own file
        for source_id in ("2", "3"):
            key = outbox.idempotency_key("acme-retail", "810", "invoice", ACCOUNT, source_id, "v1")
            outbox.enqueue(conn, [{
                "idempotency_key": key, "partner_id": "acme-retail", "transaction_set": "810", "kind": "invoice",
                "account_id": ACCOUNT, "source_id": source_id, "version": "v1",
                "document_id": snapshots.document_ids(conn, "invoice", ACCOUNT, [("1", "v1")])[("1", "v1")],
                "partition_date": DAY, "purpose": "original", "reference": "", "total": "1.00"}])
        taken = outbox.id_of_key(conn, outbox.idempotency_key("acme-retail", "810", "invoice", ACCOUNT, "1", "v1"))
        two, three = (outbox.id_of_key(conn, outbox.idempotency_key("acme-retail", "810", "invoice", ACCOUNT, s, "v1"))
                      for s in ("2", "3"))

    def render(members: list[tuple[int, str]], isa13: int) -> int:
        with ledger.begin() as conn:
            with _statements(conn) as seen:
                interchange_id = outbox.create_interchange(
                    conn, partner_id="acme-retail", transaction_set="810", usage="T", isa13=isa13, gs06=isa13,
                    file_name=f"f{isa13}.x12", content="ISA~", sha256="0" * 64, total="2.00", members=members,
                    run_id="r2")
            assert sum(s.lstrip().upper().startswith("UPDATE OUTBOX") for s, _ in seen) == 1
            return interchange_id

    for members in ([(two, "0001"), (taken, "0002")], [(two, "0001"), (two, "0002")]):
        with pytest.raises(RuntimeError, match=f"outbox row {members[1][0]} is no longer pending"):
            render(members, 2)
    interchange_id = render([(two, "0001"), (three, "0002")], 2)
    with ledger.begin() as conn:
        assert [(i.id, i.st02, i.state, i.file_name) for i in outbox.items_of_interchange(conn, interchange_id)] == [
            (two, "0001", "rendered", "f2.x12"), (three, "0002", "rendered", "f2.x12")]
        assert outbox.get_item(conn, taken).interchange_id != interchange_id


def test_statistics_are_refreshed_once_a_table_changed_by_a_tenth(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="not ledger tables"):
        ledger.refresh_statistics(("pg_class",))
    with ledger.begin() as conn:
        snapshots.save_snapshots(conn, [{
            "kind": "invoice", "account_id": ACCOUNT, "source_id": str(n), "version": "v1", "updated_at": None,
            "partition_date": DAY, "vis_state": 0, "payload": {}} for n in range(200)], run_id="r1")
    if ledger.is_sqlite:
        assert ledger.refresh_statistics(("source_snapshots",)) == []
        return
    # The server publishes a session's row counts within a second or so.
    deadline = time.monotonic() + 10
    while not (analyzed := ledger.refresh_statistics(("source_snapshots", "documents"))):
        assert time.monotonic() < deadline, "200 new rows never made the table stale"
        time.sleep(0.2)
    assert analyzed == ["source_snapshots"]
    with ledger.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_stats WHERE tablename = 'source_snapshots'")).scalar()
    assert ledger.refresh_statistics(("source_snapshots", "documents")) == []


def test_known_versions_are_looked_up_by_document_not_by_kind(book: Ledger) -> None:
    with book.begin() as conn:
        snapshots.save_snapshots(conn, [{
            "kind": "invoice", "account_id": ACCOUNT, "source_id": "1", "version": "v2", "updated_at": None,
            "partition_date": DAY, "vis_state": 0, "payload": {"id": "1", "v": 2}}], run_id="r3")
        asked = [("1", "v2"), ("2", "v2"), ("9", "v1"), ("7", "v1")]
        assert snapshots.known_versions(conn, "invoice", ACCOUNT, asked) == {("1", "v2"), ("9", "v1")}
        assert set(snapshots.document_ids(conn, "invoice", ACCOUNT, [("1", "v1"), ("2", "v2"), ("9", "v1")])) == {
            ("1", "v1"), ("9", "v1")}
    _sqlite_only(book)
    for read in (lambda conn: snapshots.known_versions(conn, "invoice", ACCOUNT, asked),
                 lambda conn: snapshots.document_ids(conn, "invoice", ACCOUNT, asked)):
        with book.begin() as conn:
            with _statements(conn) as seen:
                read(conn)
            plans = [row[-1] for statement, parameters in seen
                     for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        # Every version of the kind in the book was read when the search stopped at (kind, account).
        assert plans and all("source_id=?" in line for line in plans if line.startswith("SEARCH")), plans
