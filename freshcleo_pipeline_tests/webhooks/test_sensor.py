"""webhook_inbox_sensor against a real Dagster instance and a real ledger."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import dagster as dg
import pytest

from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.defs.sensors import MAX_RUNS_PER_TICK, webhook_inbox_sensor
from freshcleo_pipeline.ledger import Ledger, inbox

DAY1 = dt.datetime(2025, 2, 1, 9, 30, tzinfo=dt.UTC)
DAY2 = dt.datetime(2025, 2, 2, 23, 59, 59, tzinfo=dt.UTC)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def add(ledger: Ledger, object_id: str, at: dt.datetime) -> int:
    fields = {"name": "invoice.update", "object_id": object_id, "account_id": "xK9pQ"}
    with ledger.begin() as conn:
        return inbox.record_event(conn, callback_path="tok", account_id="xK9pQ", event_name="invoice.update",
                                  object_id=object_id, fields=fields, raw_form="raw", received_at=at).id


def tick(instance: dg.DagsterInstance, ledger: Ledger, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    resources = {"ledger": LedgerResource(url=ledger.url.render_as_string(hide_password=False))}
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as ctx:
        result = webhook_inbox_sensor(ctx)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def taken(ledger: Ledger) -> dict[int, tuple[str | None, str | None]]:
    with ledger.begin() as conn:
        return {r.id: (r.handled_partition, r.handled_run_id) for r in inbox.all_rows(conn)}


def test_events_across_two_days_request_one_run_per_day(instance: dg.DagsterInstance, ledger: Ledger) -> None:
    a = add(ledger, "1", DAY1)
    b = add(ledger, "2", DAY2)
    c = add(ledger, "3", DAY1 + dt.timedelta(hours=1))
    add(ledger, "3", DAY1 + dt.timedelta(hours=2))  # a re-delivery: no work of its own

    result = tick(instance, ledger, None)

    assert isinstance(result, dg.SensorResult)
    requests = result.run_requests or []
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2025-02-01", f"inbox:2025-02-01:{c}"), ("2025-02-02", f"inbox:2025-02-02:{b}")]
    assert all(r.tags["freshcleo/trigger"] == "webhook_inbox" for r in requests)
    assert json.loads(result.cursor or "") == {"last_id": c}
    record = taken(ledger)
    assert record[a] == record[c] == ("2025-02-01", f"inbox:2025-02-01:{c}")
    assert record[b] == ("2025-02-02", f"inbox:2025-02-02:{b}")

    again = tick(instance, ledger, result.cursor)
    assert isinstance(again, dg.SkipReason)
    assert "no inbox rows after id" in (again.skip_message or "")


def test_a_partition_that_does_not_exist_yet_holds_the_cursor(instance: dg.DagsterInstance,
                                                              ledger: Ledger) -> None:
    a = add(ledger, "1", DAY1)
    future = add(ledger, "2", dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    after = add(ledger, "3", DAY2)

    result = tick(instance, ledger, None)

    assert isinstance(result, dg.SensorResult)
    assert [r.partition_key for r in result.run_requests or []] == ["2025-02-01"]
    assert json.loads(result.cursor or "") == {"last_id": a}
    record = taken(ledger)
    assert record[future] == (None, None) and record[after] == (None, None)

    held = tick(instance, ledger, result.cursor)
    assert isinstance(held, dg.SkipReason)
    assert f"inbox row {future} belongs to partition" in (held.skip_message or "")
    assert "does not exist yet" in (held.skip_message or "")


def test_a_lost_tick_repeats_and_a_cursor_less_sensor_resumes_from_the_ledger(
        instance: dg.DagsterInstance, ledger: Ledger) -> None:
    add(ledger, "1", DAY1)
    first = tick(instance, ledger, None)
    assert isinstance(first, dg.SensorResult)

    # The daemon died before storing the cursor: the same rows give the same run keys (Dagster dedupes them).
    replay = tick(instance, ledger, json.dumps({"last_id": 0}))
    assert isinstance(replay, dg.SensorResult)
    assert [r.run_key for r in replay.run_requests or []] == [r.run_key for r in first.run_requests or []]

    b = add(ledger, "2", DAY2)
    fresh = tick(instance, ledger, None)  # a reset or renamed sensor: no cursor, resumes after taken rows
    assert isinstance(fresh, dg.SensorResult)
    assert [r.run_key for r in fresh.run_requests or []] == [f"inbox:2025-02-02:{b}"]


def test_runs_per_tick_are_capped_and_the_rest_waits(instance: dg.DagsterInstance, ledger: Ledger) -> None:
    ids = [add(ledger, str(i), DAY1 + dt.timedelta(days=i)) for i in range(MAX_RUNS_PER_TICK + 2)]

    first = tick(instance, ledger, None)
    assert isinstance(first, dg.SensorResult)
    assert len(first.run_requests or []) == MAX_RUNS_PER_TICK
    assert json.loads(first.cursor or "") == {"last_id": ids[MAX_RUNS_PER_TICK - 1]}

    second = tick(instance, ledger, first.cursor)
    assert isinstance(second, dg.SensorResult)
    assert len(second.run_requests or []) == 2
    assert json.loads(second.cursor or "") == {"last_id": ids[-1]}


def test_rows_before_the_first_partition_are_consumed_without_a_run(instance: dg.DagsterInstance,
                                                                   ledger: Ledger) -> None:
    old = add(ledger, "1", dt.datetime(2020, 5, 1, tzinfo=dt.UTC))
    result = tick(instance, ledger, None)
    assert isinstance(result, dg.SensorResult)
    assert not result.run_requests
    assert json.loads(result.cursor or "") == {"last_id": old}
    with ledger.begin() as conn:
        row = inbox.get_row(conn, old)
    assert row is not None and row.handled_at is not None and row.handled_run_id is None


def test_a_garbled_cursor_is_an_error_naming_it(instance: dg.DagsterInstance, sqlite_ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="reset the sensor"):
        tick(instance, sqlite_ledger, "not json")


def test_the_sensor_is_loaded_stopped_and_targets_the_sync_job() -> None:
    from freshcleo_pipeline.definitions import defs

    sensor = defs().resolve_sensor_def("webhook_inbox_sensor")
    assert sensor.job_name == "sync_job"
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.minimum_interval_seconds == 5
