"""Inbox and callback rows on SQLite and PostgreSQL: duplicates, reading after a cursor, verifiers at rest."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from freshcleo_pipeline.errors import LedgerError
from freshcleo_pipeline.ledger import Ledger, inbox
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.ledger.schema import webhook_callbacks

T0 = dt.datetime(2025, 2, 1, 10, 0, tzinfo=dt.UTC)


def record(ledger: Ledger, object_id: str = "31008", *, at: dt.datetime = T0,
           name: str = "invoice.update", extra: dict[str, str] | None = None) -> inbox.InboxRow:
    fields = {"name": name, "object_id": object_id, "account_id": "xK9pQ", **(extra or {})}
    with ledger.begin() as conn:
        return inbox.record_event(conn, callback_path="tok", account_id="xK9pQ", event_name=name,
                                  object_id=object_id, fields=fields, raw_form="raw", received_at=at)


def test_identical_event_is_a_duplicate_of_the_pending_original(ledger: Ledger) -> None:
    first = record(ledger)
    again = record(ledger, at=T0 + dt.timedelta(seconds=5))
    other = record(ledger, "31009")
    assert first.duplicate_of is None and other.duplicate_of is None
    assert again.duplicate_of == first.id
    with ledger.begin() as conn:
        assert [r.id for r in inbox.rows_after(conn, 0, 100)] == [first.id, other.id]


def test_key_order_does_not_make_an_event_new(ledger: Ledger) -> None:
    first = record(ledger)
    fields = {"account_id": "xK9pQ", "object_id": "31008", "name": "invoice.update"}
    with ledger.begin() as conn:
        again = inbox.record_event(conn, callback_path="tok", account_id="xK9pQ", event_name="invoice.update",
                                   object_id="31008", fields=fields, raw_form="raw", received_at=T0)
    assert again.duplicate_of == first.id


def test_identical_event_after_the_original_was_taken_is_new_work(ledger: Ledger) -> None:
    first = record(ledger)
    with ledger.begin() as conn:
        inbox.mark_handled(conn, [first.id], run_ref="inbox:2025-02-01:1", partition="2025-02-01", at=T0)
    later = record(ledger, at=T0 + dt.timedelta(hours=1))
    next_day = record(ledger, "31009", at=T0)
    after_midnight = record(ledger, "31009", at=T0 + dt.timedelta(days=1))
    assert later.duplicate_of is None
    assert next_day.duplicate_of is None and after_midnight.duplicate_of is None


def test_rows_after_is_ordered_capped_and_marking_covers_duplicates(ledger: Ledger) -> None:
    rows = [record(ledger, str(100 + i)) for i in range(5)]
    dup = record(ledger, "100")
    with ledger.begin() as conn:
        assert [r.id for r in inbox.rows_after(conn, rows[1].id, 2)] == [rows[2].id, rows[3].id]
        assert inbox.last_handled_id(conn) == 0
        inbox.mark_handled(conn, [rows[0].id, rows[1].id], run_ref="inbox:2025-02-01:2", partition="2025-02-01",
                           at=T0)
        assert inbox.last_handled_id(conn) == rows[1].id
        taken = inbox.get_row(conn, dup.id)
    assert taken is not None
    assert (taken.handled_run_id, taken.handled_partition) == ("inbox:2025-02-01:2", "2025-02-01")


def test_verifier_is_encrypted_at_rest_and_hidden_from_repr(ledger: Ledger) -> None:
    key = Fernet.generate_key()
    verifier = "Q7mZr2Kp9wXa4Lc8VbN3tY6uE1sH5gJd"
    token = cb.new_path_token()
    with ledger.begin() as conn:
        cb.add_callback(conn, path_token=token, account_id="xK9pQ", event="invoice.update",
                        uri=f"https://hooks.example.com/webhooks/freshbooks/{token}", now=T0)
        cb.set_callback_id(conn, token, "2001")
        cb.store_verifier(conn, token, verifier, key, verified=True, now=T0)
        raw = conn.execute(select(webhook_callbacks.c.verifier_enc)).scalar_one()
        row = cb.get_by_path(conn, token)
    assert row is not None and row.verified and row.callback_id == "2001" and row.verified_at == T0
    assert verifier not in raw
    assert verifier not in repr(row)
    assert cb.reveal_verifier(row, key) == verifier
    with pytest.raises(LedgerError, match="cannot be decrypted") as caught:
        cb.reveal_verifier(row, Fernet.generate_key())
    assert verifier not in str(caught.value)
