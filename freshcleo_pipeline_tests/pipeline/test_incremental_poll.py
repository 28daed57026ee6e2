"""A poll costs what the day changed: extraction of today's partition reads newest first and stops at the window,
fetches missing parents a hundred per request, and leaves to the nightly full scan only what it cannot see (an
edit of an older bill payment). Against a server that ignores ``sort`` it reads everything and stores the same.

Counted at the FreshBooks emulator over real HTTP; the stage runs as the Dagster asset calls it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from freshcleo_pipeline.documents import DocumentKind
from freshcleo_pipeline.ledger.schema import source_snapshots
from freshcleo_pipeline.sync.extract import ExtractSummary, extract, full_scan_due
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

ACCOUNTING = "/accounting/account/{account_id}/"
LISTS = {"invoice": "invoices/invoices", "payment": "payments/payments", "bill": "bills/bills",
         "bill_payment": "bill_payments/bill_payments"}
BOOK = {"seed": 11, "invoices": 2400, "bills": 900, "days": 40}


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _yesterday() -> dt.date:
    """The day polled: a whole day of the book whatever the hour (today's may have just begun), and still read
    incrementally (a late webhook's run, or the poll just after midnight)."""
    return _today() - dt.timedelta(days=1)


def _list_requests(env: SandboxEnv) -> Counter[str]:
    return Counter({kind: env.freshbooks.requests_to(ACCOUNTING + path) for kind, path in LISTS.items()})


def _stored(env: SandboxEnv) -> set[tuple[str, str, str]]:
    t = source_snapshots
    with env.ledger.begin() as conn:
        return {(r.kind, r.source_id, r.version)
                for r in conn.execute(select(t.c.kind, t.c.source_id, t.c.version))}


def _records(env: SandboxEnv, kind: str) -> list[dict[str, Any]]:
    """The emulator's current records of a kind, deleted ones included, as its API renders them."""
    coll = env.freshbooks.store.collections[kind]
    found = (env.freshbooks.get(kind, coll.base_id + pos) for pos in range(len(coll)))
    return [r for r in found if r is not None]


def _poll(env: SandboxEnv, day: dt.date, **options: Any) -> tuple[ExtractSummary, Counter[str]]:
    before = _list_requests(env)
    summary = extract(env.context(), [day], **options)
    return summary, _list_requests(env) - before


@pytest.fixture
def polled(sandbox_env: Callable[..., SandboxEnv]) -> SandboxEnv:
    """A 40-day book whose history the ledger already holds (one full scan of every day before today)."""
    env = sandbox_env(freshbooks=BOOK)
    first = _today() - dt.timedelta(days=BOOK["days"] + 1)
    extract(env.context(), [first + dt.timedelta(days=n) for n in range(BOOK["days"] + 1)], full_scan=True)
    return env


def test_only_runs_of_today_and_yesterday_read_incrementally() -> None:
    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    today = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    assert not full_scan_due(today, today + day, now)
    assert not full_scan_due(today - day, today, now)
    assert full_scan_due(today - 2 * day, today - day, now)
    assert not full_scan_due(today - day, today + day, now)
    assert full_scan_due(today - 30 * day, today + day, now)  # a backfill up to today wants every bill payment
    assert not full_scan_due(today - day, today, today + dt.timedelta(hours=2))  # yesterday, just after midnight


def test_a_poll_costs_the_pages_the_day_changed(polled: SandboxEnv) -> None:
    env = polled
    summary, used = _poll(env, _yesterday())
    assert summary.scan == "incremental"
    for kind in ("invoice", "payment", "bill"):
        changed = summary.fetched[kind]
        # the day's pages, one more where the day ends inside a page, for the visible and the deleted pass
        assert used[kind] <= math.ceil(changed / 100) + 1 + 1 + 1, (kind, changed, used[kind])
    assert used["bill_payment"] == 2  # nothing new since the ledger's newest: one page each pass
    # what the full scan of the same day stores adds nothing the poll did not store
    before = _stored(env)
    full, used_full = _poll(env, _yesterday(), full_scan=True)
    assert full.scan == "full" and sum(full.new_versions.values()) == 0
    assert _stored(env) == before
    assert used_full["bill"] >= math.ceil(BOOK["bills"] / 100) > used["bill"]


def test_new_bill_payments_are_found_by_the_poll_and_an_edit_of_an_old_one_by_the_nightly_scan(
        polled: SandboxEnv) -> None:
    env = polled
    fb = env.freshbooks
    old = next(p for p in _records(env, "bill_payments") if p["vis_state"] == 0)
    bill = next(b for b in reversed(_records(env, "bills"))
                if b["vis_state"] == 0 and float(b["outstanding"]["amount"]) > 1)
    new = fb.create_bill_payment(billid=bill["id"], amount={"amount": "1.00", "code": bill["amount"]["code"]},
                                 paid_date=_yesterday().isoformat(), payment_type="Check")
    summary, _ = _poll(env, _yesterday())
    assert summary.new_versions["bill_payment"] == 1
    held = {s for k, s, _ in _stored(env) if k == "bill_payment"}
    assert str(new["id"]) in held

    fb.update_bill_payment(int(old["id"]), note="corrected by the supplier")
    summary, _ = _poll(env, _yesterday())
    assert summary.new_versions["bill_payment"] == 0  # no timestamp, same id: a poll cannot see it

    # the nightly finalize run of the day, just after it closed, reads everything and files it under that day
    tomorrow = dt.datetime.combine(_today(), dt.time(2, 15), dt.UTC)
    nightly = extract(env.context(now=tomorrow), [_yesterday()], full_scan=True)
    assert nightly.new_versions["bill_payment"] == 1
    t = source_snapshots
    with env.ledger.begin() as conn:
        day = conn.execute(select(t.c.partition_date).where(
            t.c.kind == "bill_payment", t.c.source_id == str(old["id"])).order_by(t.c.id.desc())).first()
    assert day is not None and day[0] == _yesterday()


def test_a_server_that_ignores_sort_costs_requests_never_records(sandbox_env: Callable[..., SandboxEnv]) -> None:
    stored: list[set[tuple[str, str, str]]] = []
    used: list[Counter[str]] = []
    for honoured in (True, False):
        env = sandbox_env(freshbooks={**BOOK, "sort_honoured": honoured})
        summary, requests = _poll(env, _yesterday())
        assert summary.scan == "incremental"
        stored.append({(k, s, v) for k, s, v in _stored(env) if k in {d.value for d in DocumentKind}})
        used.append(requests)
    assert stored[0] == stored[1] and stored[0]
    assert used[1]["bill"] > used[0]["bill"]


def test_missing_payment_parents_come_a_hundred_per_request(sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks=BOOK)
    by_id = ACCOUNTING + "invoices/invoices/{id}"
    summary = extract(env.context(), [_yesterday()], kinds=(DocumentKind.PAYMENT,))
    parents = summary.new_versions["invoice"]
    assert parents > 0
    deleted = sum(1 for v in env.freshbooks.store.collections["invoices"].vis if v == 1)
    assert env.freshbooks.requests_to(by_id) <= deleted  # only parents the listing cannot serve, one by one
    # Parents are fetched with each page of payments (so the streaming process never reads a payment without its
    # invoice): one request per page names its up to 100 parents, never one request per parent.
    pages = env.freshbooks.requests_to(ACCOUNTING + LISTS["payment"])
    batched = env.freshbooks.requests_to(ACCOUNTING + LISTS["invoice"])
    assert batched <= pages < parents
