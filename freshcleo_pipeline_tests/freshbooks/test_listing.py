"""Listing against the emulator: paging cost, lines included, totals, windows, deletions, faults."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.fields import FIELDS, updated_at
from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
from freshcleo_pipeline.http import RetryPolicy
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.settings import Settings, load_settings

from .conftest import settings_overrides

INVOICES = "/accounting/account/{account_id}/invoices/invoices"
FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01)


def _stamp(kind: str, record: dict[str, Any]) -> dt.datetime:
    moment = updated_at(kind, record)
    assert moment is not None
    return moment


def ids(records: list[dict[str, Any]], kind: str = "invoices") -> list[str]:
    return sorted(str(r[FIELDS[kind].id_field]) for r in records)


def test_ten_thousand_invoices_cost_one_hundred_list_requests(
        freshbooks_emulator_factory: Callable[..., FreshBooksEmulator], tmp_path: Path, sqlite_ledger: Ledger) -> None:
    emulator = freshbooks_emulator_factory(seed=7, invoices=10_000, bills=10)
    settings = load_settings(**settings_overrides(emulator, tmp_path))
    sandbox_auto_connect(settings, sqlite_ledger)
    before = emulator.total_requests()
    with FreshBooksClient.from_settings(settings, sqlite_ledger) as client:
        invoices = client.list_all("invoices")
    visible = len(invoices)
    assert 9_000 < visible <= 10_000  # deleted ones are not listed by default
    assert emulator.requests_to(INVOICES, "GET", 200) == math.ceil(visible / 100)
    assert emulator.total_requests() - before == math.ceil(visible / 100)  # no per-document GETs, no retries
    assert emulator.requests_to(INVOICES + "/{id}") == 0
    assert all(invoice["lines"] for invoice in invoices)  # include[]=lines honoured on every page
    assert len(set(ids(invoices))) == visible


def test_records_are_the_raw_api_dicts(emulator: FreshBooksEmulator, settings: Settings,
                                       connected: Ledger) -> None:
    with FreshBooksClient.from_settings(settings, connected) as client:
        invoice = client.list_all("invoices")[0]
        assert isinstance(invoice["amount"]["amount"], str)  # money stays a string, untouched
        assert invoice["updated"] and " " in invoice["updated"]  # naive Eastern, as sent
        single = client.get_json(f"/accounting/account/{client.account_id}/invoices/invoices/{invoice['id']}",
                                 [("include[]", "lines")])
    assert single["response"]["result"]["invoice"] == invoice


def test_deleted_documents_are_listed_on_request(emulator: FreshBooksEmulator, settings: Settings,
                                                 connected: Ledger) -> None:
    with FreshBooksClient.from_settings(settings, connected) as client:
        default = client.list_all("invoices")
        deleted = client.list_all("invoices", deleted=True)
    assert deleted and all(r["vis_state"] == 1 for r in deleted)
    assert {r["vis_state"] for r in default} <= {0, 2}
    assert not set(ids(default)) & set(ids(deleted))


def _everything(client: FreshBooksClient, kind: str) -> list[dict[str, Any]]:
    return client.list_all(kind) + client.list_all(kind, deleted=True)


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("kind", ["invoices", "payments", "clients", "items", "bills", "bill_vendors"])
def test_window_listing_equals_an_exact_filter_of_everything(
        emulator: FreshBooksEmulator, settings: Settings, connected: Ledger, kind: str, newest_first: bool) -> None:
    with FreshBooksClient.from_settings(settings, connected) as client:
        everything = _everything(client, kind)
        stamps = sorted(_stamp(kind, r) for r in everything)
        # a window cut inside the data, not on day boundaries, so the exact filter matters
        start = stamps[len(stamps) // 3] + dt.timedelta(seconds=1)
        end = stamps[2 * len(stamps) // 3] + dt.timedelta(seconds=1)
        window = client.scan_updated(kind, start, end, newest_first=newest_first).strict()
    expected = [r for r in everything if start <= _stamp(kind, r) < end]
    assert expected and ids(window, kind) == ids(expected, kind)


def test_invoice_windows_use_the_day_filter_and_find_deletions(
        emulator: FreshBooksEmulator, settings: Settings, connected: Ledger) -> None:
    with FreshBooksClient.from_settings(settings, connected) as client:
        deleted = client.list_all("invoices", deleted=True)
        moment = _stamp("invoices", deleted[0])
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        requests_before = emulator.requests_to(INVOICES)
        window = client.list_updated("invoices", start, start + dt.timedelta(days=1))
        used = emulator.requests_to(INVOICES) - requests_before
    assert str(deleted[0]["id"]) in ids(window)
    # two passes (visible + deleted) over a few days of a 30-day book: one page each, not a full scan
    assert used == 2


def test_bill_payments_have_no_timestamp_and_are_all_returned(
        emulator: FreshBooksEmulator, settings: Settings, connected: Ledger) -> None:
    start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    with FreshBooksClient.from_settings(settings, connected) as client:
        everything = _everything(client, "bill_payments")
        window = client.list_updated("bill_payments", start, start + dt.timedelta(days=1))
    assert everything and ids(window, "bill_payments") == ids(everything, "bill_payments")


def test_naive_or_backwards_windows_are_refused(emulator: FreshBooksEmulator, settings: Settings,
                                               connected: Ledger) -> None:
    with FreshBooksClient.from_settings(settings, connected) as client:
        with pytest.raises(ValueError, match="timezone-aware"):
            client.list_updated("invoices", dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2))
        day = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
        with pytest.raises(ValueError, match="before end"):
            client.list_updated("invoices", day, day)
        with pytest.raises(ValueError, match="expected one of"):
            client.list_all("estimates")


def _extract(client: FreshBooksClient) -> dict[str, list[str]]:
    start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    out = {kind: sorted(str(sorted(r.items())) for r in client.list_updated(kind, start, end))
           for kind in ("invoices", "payments", "bills", "bill_payments")}
    out.update({kind: sorted(str(sorted(r.items())) for r in client.list_all(kind))
                for kind in ("clients", "items", "bill_vendors")})
    return out


def test_a_full_extraction_under_faults_returns_the_same_records(
        freshbooks_emulator_factory: Callable[..., FreshBooksEmulator], tmp_path: Path, sqlite_ledger: Ledger) -> None:
    emulator = freshbooks_emulator_factory(seed=11, invoices=400)
    settings = load_settings(**settings_overrides(emulator, tmp_path))
    sandbox_auto_connect(settings, sqlite_ledger)
    with FreshBooksClient.from_settings(settings, sqlite_ledger, policy=FAST) as client:
        clean = _extract(client)

    waits: list[float] = []
    accounting = "/accounting/"
    emulator.faults.add(FaultRule("status", status=429, retry_after=2, remaining=4, path_prefix=accounting))
    emulator.faults.add(FaultRule("status", status=503, rate=0.15, path_prefix=accounting))
    emulator.faults.add(FaultRule("status", status=500, rate=0.05, path_prefix=accounting))
    emulator.faults.add(FaultRule("reset", rate=0.1, path_prefix=accounting))
    emulator.faults.add(FaultRule("lost_response", rate=0.05, path_prefix=accounting))
    with FreshBooksClient.from_settings(settings, sqlite_ledger, policy=FAST, sleep=waits.append) as client:
        faulty = _extract(client)

    assert faulty == clean
    assert sum(len(records) for records in clean.values()) > 500
    assert len(waits) > 8  # the faults really happened and were retried
    assert waits.count(2.0) == 4  # the 429 burst was waited out for exactly its Retry-After


@pytest.mark.parametrize("kind", ["invoices", "bills", "payments", "bill_payments"])
def test_get_one_returns_the_listed_record(emulator: FreshBooksEmulator, settings: Settings, connected: Ledger,
                                           kind: str) -> None:
    with FreshBooksClient.from_settings(settings, connected) as client:
        listed = client.list_all(kind)[3]
        single = client.get_one(kind, str(listed[FIELDS[kind].id_field]))
    assert single == listed


def test_bad_records_come_back_as_rejects_and_the_listing_goes_on(
        emulator: FreshBooksEmulator, settings: Settings, connected: Ledger) -> None:
    with FreshBooksClient.from_settings(settings, connected) as client:
        everything = client.list_all("invoices")
        stamps = sorted(_stamp("invoices", r) for r in everything)
        start = stamps[0].replace(hour=0, minute=0, second=0, microsecond=0)
        end = stamps[-1] + dt.timedelta(seconds=1)
        bad_time, bad_element, big = (int(r["id"]) for r in everything[:3])
        emulator.corrupt("invoices", bad_time, {"updated": "soon"})
        emulator.corrupt("invoices", bad_element, replace=[1, 2], replaced=True)
        emulator.corrupt("invoices", big, {"lines[0].description": "é" * 600_000})  # 1.2 MB of UTF-8
        listing = client.scan_updated("invoices", start, end, include_deleted=False)
        with pytest.raises(DataError, match="expected a JSON object"):
            client.list_updated("invoices", start, end)
    rejects = {(r.code, r.source_id, r.field): r for r in listing.rejects}
    assert set(rejects) == {("bad_field", str(bad_time), "updated"), ("not_an_object", None, "(document)"),
                            ("field_too_large", str(big), "lines[0].description")}
    assert ids(listing.records) == sorted(set(ids(everything)) - {str(bad_time), str(bad_element), str(big)})
    too_large = rejects[("field_too_large", str(big), "lines[0].description")]
    assert too_large.raw is None and too_large.raw_size > 1_200_000 and too_large.moment is not None
    assert "holds 1200000 bytes; expected at most 1048576 bytes" in too_large.reason
    assert rejects[("not_an_object", None, "(document)")].raw == b"[1, 2]"


def test_get_many_reads_a_hundred_per_request_and_the_rest_by_id(
        freshbooks_emulator_factory: Callable[..., FreshBooksEmulator], tmp_path: Path, sqlite_ledger: Ledger) -> None:
    emulator = freshbooks_emulator_factory(seed=9, invoices=400, bills=10)
    settings = load_settings(**settings_overrides(emulator, tmp_path))
    sandbox_auto_connect(settings, sqlite_ledger)
    with FreshBooksClient.from_settings(settings, sqlite_ledger) as client:
        visible = ids(client.list_all("invoices"))[:250]
        deleted = ids(client.list_all("invoices", deleted=True))[:3]
        before = emulator.requests_to(INVOICES), emulator.requests_to(INVOICES + "/{id}")
        got = client.get_many("invoices", [*visible, *deleted, "99999999"])
        lists, singles = (emulator.requests_to(INVOICES) - before[0],
                          emulator.requests_to(INVOICES + "/{id}") - before[1])
    assert ids(got.records) == sorted([*visible, *deleted])  # the unknown id is left out
    assert all(r.get("lines") is not None for r in got.records)
    assert lists == 3  # 253 known + 1 unknown ids: three listing requests of up to a hundred
    assert singles == len(deleted) + 1  # deleted ones (not listed by default) and the unknown one, by id



@pytest.mark.parametrize("honoured", [True, False])
def test_a_list_of_equal_stamps_never_stops_the_reading_early(
        freshbooks_emulator_factory: Callable[..., FreshBooksEmulator], tmp_path: Path, sqlite_ledger: Ledger,
        honoured: bool) -> None:
    # 150 bills imported in one instant, then three bills three hours later: a server that ignores sort serves
    # the 150 first (ascending id), all equal and all before the window; only a proven order may stop there.
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(hours=4)
    emulator = freshbooks_emulator_factory(invoices=0, bills=0, clock=lambda: moment, sort_honoured=honoured)
    vendor = emulator.vendor_id_of("Bolt Fasteners Inc.")
    for _ in range(150):
        emulator.create_bill(vendorid=vendor, lines=[{"description": "M8 bolts", "quantity": 1, "unit_cost": "4"}])
    emulator.advance_clock(3 * 3600)
    late = [emulator.create_bill(vendorid=vendor, lines=[{"description": "M10", "quantity": 1, "unit_cost": "5"}])
            for _ in range(3)]
    settings = load_settings(**settings_overrides(emulator, tmp_path))
    sandbox_auto_connect(settings, sqlite_ledger)
    start = moment + dt.timedelta(hours=2, minutes=30)
    with FreshBooksClient.from_settings(settings, sqlite_ledger) as client:
        window = client.scan_updated("bills", start, start + dt.timedelta(hours=1), newest_first=True).strict()
    assert ids(window, "bills") == ids(late, "bills")
