"""One bad FreshBooks record never stops the others: each kind of bad record seen on main (an unreadable
``updated``, a non-integer ``vis_state``, a list element that is not an object, a line tax of 10^12 or more, a
40 MB text field) is set aside in the quarantine with its id, field, value and reason, while the run succeeds and
every other document reaches Cleo. Runs are real ``sync_job`` runs against both emulators; the bad records are
served by the FreshBooks emulator's ``corrupt`` fault injection (or created through its ordinary write API when
FreshBooks itself would accept them)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from sqlalchemy import func, select

from freshcleo_pipeline.defs.common import SCAN_TAG
from freshcleo_pipeline.defs.runner import run_sync
from freshcleo_pipeline.ledger import quarantine
from freshcleo_pipeline.ledger.schema import documents, outbox, source_snapshots
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

PARTNER_CLIENT = "Acme Retail Stores"  # routed to a partner in the sandbox partners.yaml
SMALL = {"seed": 31, "invoices": 40, "days": 2, "webhook_delay": 0.0}


def _stamp_day(env: SandboxEnv, kind: str, pos: int) -> dt.date:
    stamp = env.freshbooks.store.collections[kind].stamps[pos]
    return dt.datetime.fromtimestamp(stamp / 1_000_000, dt.UTC).date()


def _record_on(env: SandboxEnv, kind: str, day: dt.date, *, before: bool = False) -> dict[str, Any]:
    """A visible generated record of ``kind`` last changed on ``day`` (or before it)."""
    coll = env.freshbooks.store.collections[kind]
    for pos in range(coll.generated):
        stamped = _stamp_day(env, kind, pos)
        if coll.vis[pos] == 0 and (stamped < day if before else stamped == day):
            found = env.freshbooks.get(kind, coll.base_id + pos)
            assert found is not None
            return found
    raise AssertionError(f"no {kind} on {day}")


def _entries(env: SandboxEnv, stage: str, states: tuple[str, ...] = quarantine.PENDING) -> list[quarantine.Entry]:
    with env.ledger.begin() as conn:
        return quarantine.entries(conn, stage=stage, states=states)


def _entry(env: SandboxEnv, stage: str, key: str, states: tuple[str, ...] = quarantine.PENDING) -> quarantine.Entry:
    found = [e for e in _entries(env, stage, states) if e.item_key == key]
    assert len(found) == 1, [(e.item_key, e.reason) for e in _entries(env, stage, quarantine.STATES)]
    return found[0]


def _snapshot_ids(env: SandboxEnv, kind: str) -> set[str]:
    with env.ledger.begin() as conn:
        return set(conn.execute(select(source_snapshots.c.source_id).where(source_snapshots.c.kind == kind))
                   .scalars())


def _assert_others_delivered(env: SandboxEnv, *, at_least: int) -> None:
    with env.ledger.begin() as conn:
        routed = conn.execute(select(func.count()).where(documents.c.status == "routed")).scalar_one()
        delivered = conn.execute(select(func.count()).where(outbox.c.state == "delivered")).scalar_one()
    assert routed >= at_least
    assert delivered == routed
    assert sum(env.outbound_sets().values()) == routed


def _yesterday(env: SandboxEnv) -> dt.date:
    """A whole day of the book at any hour (today's may have just begun), inside every ``_sync_today`` run."""
    return env.freshbooks.now().date() - dt.timedelta(days=1)


def _sync_today(env: SandboxEnv, instance: dg.DagsterInstance, tags: dict[str, str] | None = None) -> Any:
    today = env.freshbooks.now().date()
    result = run_sync(env.settings, today - dt.timedelta(days=1), today, instance, tags=tags)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def test_unreadable_updated_is_set_aside_and_the_rest_delivered(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks=SMALL)
    bad = _record_on(env, "invoices", _yesterday(env))
    env.freshbooks.corrupt("invoices", bad["id"], {"updated": "last Tuesday"})

    _sync_today(env, dagster_instance)

    entry = _entry(env, "extract", f"freshbooks:invoice:{bad['id']}")
    assert (entry.reason_code, entry.field, entry.value) == ("bad_field", "updated", "last Tuesday")
    assert str(bad["id"]) in entry.reason and "'last Tuesday'" in entry.reason and "updated" in entry.reason
    assert entry.partition_date is None  # cannot be placed in a partition
    assert entry.reference == str(bad["id"])
    assert str(bad["id"]) not in _snapshot_ids(env, "invoice")
    _assert_others_delivered(env, at_least=5)

    # every run that sees it sets it aside again: one entry, counted twice
    _sync_today(env, dagster_instance)
    assert _entry(env, "extract", f"freshbooks:invoice:{bad['id']}").occurrences == 2


def test_non_integer_vis_state_is_set_aside_and_the_rest_delivered(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks=SMALL)
    bad = _record_on(env, "invoices", _yesterday(env))
    env.freshbooks.corrupt("invoices", bad["id"], {"vis_state": "archived"})

    _sync_today(env, dagster_instance)

    entry = _entry(env, "extract", f"freshbooks:invoice:{bad['id']}")
    assert (entry.reason_code, entry.field, entry.value) == ("bad_field", "vis_state", "archived")
    assert f"invoice {bad['id']}" in entry.reason and "vis_state" in entry.reason
    assert entry.partition_date == _yesterday(env)  # its updated still places it
    assert str(bad["id"]) not in _snapshot_ids(env, "invoice")
    _assert_others_delivered(env, at_least=5)


def test_list_element_that_is_not_an_object_is_set_aside_and_the_rest_delivered(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks=SMALL)
    bad = _record_on(env, "invoices", _yesterday(env))
    env.freshbooks.corrupt("invoices", bad["id"], replace="<invoice/>", replaced=True)

    _sync_today(env, dagster_instance)

    [entry] = [e for e in _entries(env, "extract") if e.reason_code == "not_an_object"]
    assert entry.kind == "invoice" and entry.item_key.startswith("freshbooks:invoice:#")
    assert entry.field == "(document)" and entry.value == "<invoice/>"
    assert "a JSON object (got str)" in entry.reason
    with env.ledger.begin() as conn:
        assert quarantine.raw_of(conn, entry.id) == b'"<invoice/>"'
    _assert_others_delivered(env, at_least=5)


def test_line_tax_of_a_trillion_is_invalid_and_set_aside_and_the_rest_delivered(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks=SMALL)
    fb = env.freshbooks
    bad = fb.create_invoice(customerid=fb.client_id_of(PARTNER_CLIENT), invoice_number="TAX-BIG",
                            lines=[{"name": "Pallet", "qty": 1, "unit_cost": "100",
                                    "taxName1": "Huge", "taxAmount1": "1000000000000"}])  # tax = 10^12

    _sync_today(env, dagster_instance)

    with env.ledger.begin() as conn:
        status, reason = conn.execute(select(documents.c.status, documents.c.reason).where(
            documents.c.kind == "invoice", documents.c.source_id == str(bad["id"]))).one()
    assert status == "invalid" and "lines[0].taxAmount1" in reason
    entry = _entry(env, "normalize", f"freshbooks:invoice:{bad['id']}")
    assert (entry.reason_code, entry.field, entry.value) == ("bad_field", "lines[0].taxAmount1", "1000000000000")
    assert f"invoice {bad['id']}" in entry.reason and "1000000000000" in entry.reason
    _assert_others_delivered(env, at_least=5)


def test_forty_megabyte_field_is_set_aside_not_stored_and_the_rest_delivered(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks=SMALL)
    fb = env.freshbooks
    size = 40 * 1024 * 1024
    bad = fb.create_invoice(customerid=fb.client_id_of(PARTNER_CLIENT), invoice_number="BIG-NOTES",
                            notes="n" * size, lines=[{"name": "Pallet", "qty": 1, "unit_cost": "100"}])

    _sync_today(env, dagster_instance)

    entry = _entry(env, "extract", f"freshbooks:invoice:{bad['id']}")
    assert (entry.reason_code, entry.field, entry.value) == ("field_too_large", "notes", f"{size} bytes")
    assert f"invoice {bad['id']}" in entry.reason and f"notes holds {size} bytes" in entry.reason
    assert entry.raw_size is not None and entry.raw_size > size
    assert entry.partition_date == fb.now().date()
    with env.ledger.begin() as conn:
        assert quarantine.raw_of(conn, entry.id) is None
        longest = conn.execute(select(func.max(func.length(source_snapshots.c.payload)))).scalar_one()
    assert longest < 1024 * 1024
    assert str(bad["id"]) not in _snapshot_ids(env, "invoice")
    _assert_others_delivered(env, at_least=5)


def test_one_bad_record_among_a_thousand(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 21, "invoices": 1000, "days": 1, "webhook_delay": 0.0})
    fb = env.freshbooks
    today = fb.now().date()
    first = today - dt.timedelta(days=1)
    coll = fb.store.collections["invoices"]
    in_window = [coll.base_id + p for p in range(coll.generated) if _stamp_day(env, "invoices", p) >= first]
    assert len(in_window) >= 990
    bad = in_window[len(in_window) // 2]
    fb.corrupt("invoices", bad, {"vis_state": "x"})

    result = env.sync(first, today, dagster_instance)
    assert result.success

    entry = _entry(env, "extract", f"freshbooks:invoice:{bad}")
    assert entry.reason_code == "bad_field" and entry.field == "vis_state" and entry.value == "x"
    assert f"invoice {bad}" in entry.reason
    with env.ledger.begin() as conn:
        decided = set(conn.execute(select(documents.c.source_id).where(documents.c.kind == "invoice")).scalars())
        routed = conn.execute(select(func.count()).where(documents.c.status == "routed",
                                                          documents.c.kind == "invoice")).scalar_one()
        delivered = conn.execute(select(func.count()).where(outbox.c.state == "delivered")).scalar_one()
        all_routed = conn.execute(select(func.count()).where(documents.c.status == "routed")).scalar_one()
    assert decided == {str(i) for i in in_window} - {str(bad)}  # every other invoice decided
    assert routed > 300 and delivered == all_routed  # and every routed one delivered
    assert sum(env.outbound_sets().values()) == all_routed


def test_retrying_a_fixed_record_stores_it_and_resolves_its_entry(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={**SMALL, "days": 6})
    fb = env.freshbooks
    # A bill changed days before the window: the full scan (the nightly run's, here asked for by its tag) reads
    # every bill, so it sees it anyway.
    old = _record_on(env, "bills", fb.now().date() - dt.timedelta(days=2), before=True)
    key = f"freshbooks:bill:{old['id']}"
    fb.corrupt("bills", old["id"], {"updated_at": "2024-13-45 99:00:00", "created_at": None})

    _sync_today(env, dagster_instance, {SCAN_TAG: "full"})
    entry = _entry(env, "extract", key)
    assert entry.field == "updated_at" and entry.partition_date is None

    # a retry while FreshBooks still serves it broken sets it aside again, open for a person
    with env.ledger.begin() as conn:
        quarantine.request_retry(conn, entry.id)
    _sync_today(env, dagster_instance)
    again = _entry(env, "extract", key)
    assert again.id == entry.id and again.state == quarantine.OPEN and again.occurrences >= 2

    # fixed in FreshBooks, retried: fetched by id, stored in its own partition, entry resolved
    fb.uncorrupt("bills", old["id"])
    with env.ledger.begin() as conn:
        quarantine.request_retry(conn, entry.id)
    result = _sync_today(env, dagster_instance)
    assert str(old["id"]) in _snapshot_ids(env, "bill")
    resolved = _entry(env, "extract", key, (quarantine.RESOLVED,))
    assert resolved.resolution is not None and resolved.resolution.startswith("processed: version")
    assert fb.requests_to("/accounting/account/{account_id}/bills/bills/{id}") >= 2
    assert result.success


RSS_DRIVER = textwrap.dedent("""
    import datetime as dt, sys
    import dagster as dg
    from freshcleo_pipeline.defs.runner import run_sync
    from freshcleo_pipeline.settings import load_settings
    day = dt.date.fromisoformat(sys.argv[1])
    with dg.instance_for_test() as instance:
        result = run_sync(load_settings(), day, day, instance)
    # VmHWM is this process's own peak RSS since exec; the parent's ru_maxrss of a child also counts the pages
    # of the (large) test process the child was forked from.
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print("PEAK_RSS_KB", peak)
    sys.exit(0 if result.success else 1)
""")


def test_forty_megabyte_field_keeps_the_syncing_process_under_400_mb(
    sandbox_env: Callable[..., SandboxEnv], tmp_path: Path
) -> None:
    env = sandbox_env(freshbooks=SMALL)
    fb = env.freshbooks
    bad = fb.create_invoice(customerid=fb.client_id_of(PARTNER_CLIENT), invoice_number="BIG-NOTES",
                            notes="n" * (40 * 1024 * 1024), lines=[{"name": "Pallet", "qty": 1, "unit_cost": "1"}])
    child_env = {**os.environ, "FRESHCLEO_DATA_DIR": str(env.settings.data_dir),
                 "FRESHCLEO_LEDGER_URL": env.settings.resolved_ledger_url(), "FRESHBOOKS_API_URL": fb.url,
                 "FRESHBOOKS_AUTH_URL": fb.url, "CLEO_API_URL": env.cleo.url, "PYTHONPATH": str(Path.cwd())}
    log = tmp_path / "sync.log"
    with log.open("wb") as output:  # a file, not a pipe: a full pipe would stall the run
        done = subprocess.run([sys.executable, "-c", RSS_DRIVER, fb.now().date().isoformat()], env=child_env,
                              stdout=output, stderr=subprocess.STDOUT, timeout=300, check=False)
    text = log.read_text(errors="replace")
    assert done.returncode == 0, text[-3000:]
    peak_mb = int(text.rsplit("PEAK_RSS_KB", 1)[1].split()[0]) / 1024
    print(f"peak RSS of the syncing process: {peak_mb:.0f} MB")
    assert peak_mb < 400
    assert _entry(env, "extract", f"freshbooks:invoice:{bad['id']}").reason_code == "field_too_large"
