"""What the ledger costs in round trips to its database: a batch of rows is one statement (audit events one
COPY on PostgreSQL), a short transaction after another is not preceded by a ping, and a connection that died
while idle is replaced, not handed out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DataError

from freshcleo_pipeline.ledger import Ledger, audit, database, open_ledger, snapshots
from freshcleo_pipeline.ledger.rows import insert_ignore
from freshcleo_pipeline.ledger.schema import control_numbers, source_snapshots
from freshcleo_pipeline_tests.fixtures.ledger import PG_ADMIN_URL

NOW = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)


def _snapshot(source_id: int, version: str = "v1") -> dict[str, Any]:
    return {"kind": "invoice", "account_id": "acc1", "source_id": str(source_id), "version": version,
            "updated_at": NOW, "partition_date": NOW.date(), "vis_state": 0, "payload": {"invoiceid": source_id}}


def _statements(ledger: Ledger) -> list[str]:
    seen: list[str] = []
    event.listen(ledger.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: seen.append(statement.split()[0].upper()))
    return seen


def test_a_batch_of_rows_is_one_insert_and_counts_only_the_new_ones(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        assert snapshots.save_snapshots(conn, [_snapshot(i) for i in range(0, 300, 2)], run_id="r1") == 150
    seen = _statements(ledger)
    with ledger.begin() as conn:
        # Half of them stored before, one repeated within the batch: neither is stored nor counted twice.
        rows = [_snapshot(i) for i in range(300)] + [_snapshot(1)]
        assert snapshots.save_snapshots(conn, rows[:250], run_id="r2") == 125
        assert snapshots.save_snapshots(conn, rows[250:], run_id="r2") == 25
        assert conn.execute(select(func.count()).select_from(source_snapshots)).scalar_one() == 300
    assert seen.count("INSERT") == 2


def test_a_single_row_insert_ignore_counts_what_it_stored(ledger: Ledger) -> None:
    row = {"scope": "ISA13:test", "last_value": 0, "updated_at": NOW}
    with ledger.begin() as conn:
        assert insert_ignore(conn, control_numbers, [row], ["scope"]) == 1
        assert insert_ignore(conn, control_numbers, [row], ["scope"]) == 0
        assert insert_ignore(conn, control_numbers, [row, {**row, "scope": "ISA13:other"}], ["scope"]) == 1


@pytest.fixture
def pg_ledger(pg_url: str) -> Iterator[Ledger]:
    led = open_ledger(pg_url)
    try:
        yield led
    finally:
        led.dispose()


@pytest.mark.postgres
def test_back_to_back_transactions_are_not_pinged(pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[Any] = []
    real_ping = pg_ledger.engine.dialect.do_ping

    def counted_ping(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return real_ping(dbapi_conn)

    monkeypatch.setattr(pg_ledger.engine.dialect, "do_ping", counted_ping)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 60.0)
    for _ in range(5):
        pg_ledger.ping()
    assert pings == []
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    pg_ledger.ping()
    assert len(pings) == 1


@pytest.mark.postgres
def test_a_connection_that_died_while_idle_is_replaced(pg_ledger: Ledger,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with pg_ledger.begin() as conn:
        dead = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
    finally:
        admin.dispose()
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    with pg_ledger.begin() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != dead


def test_audit_events_keep_every_character(ledger: Ledger) -> None:
    odd = "tab\there, line\nand\r\nback\\slash \\N é ✓"
    with ledger.begin() as conn:
        audit.record_many(conn, [
            {"kind": "invoice", "account_id": "acc1", "source_id": "7\t\\N", "event": "extracted",
             "detail": {"note": odd}, "run_id": None, "at": NOW},
            {"kind": "invoice", "account_id": "acc1", "source_id": "7\t\\N", "event": "normalized",
             "partner_id": "p\\1", "detail": {}, "run_id": "run\n1"},
        ])
        events = audit.trail(conn, account_id="acc1", source_id="7\t\\N")
    assert [(e.event, e.partner_id, e.detail, e.run_id) for e in events] == [
        ("extracted", None, {"note": odd}, None), ("normalized", "p\\1", {}, "run\n1")]
    assert events[0].occurred_at == NOW and events[1].occurred_at > NOW


@pytest.mark.postgres
def test_a_refused_audit_copy_fails_like_an_insert(pg_ledger: Ledger) -> None:
    with pytest.raises(DataError), pg_ledger.begin() as conn:
        audit.record_many(conn, [{"kind": "invoice", "account_id": "acc1", "source_id": "9" * 41, "event": "x"}])
    with pg_ledger.begin() as conn:
        assert audit.trail(conn, account_id="acc1", source_id="9" * 41) == []
