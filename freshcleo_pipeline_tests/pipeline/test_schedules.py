"""The polling schedules target the partitions users expect, and the code location holds every stage."""

from __future__ import annotations

import datetime as dt
import itertools

import dagster as dg
import pytest
from dagster._utils.schedules import has_out_of_range_cron_interval, schedule_execution_time_iterator

from freshcleo_pipeline.definitions import defs
from freshcleo_pipeline.defs.common import SCAN_TAG, scan_of
from freshcleo_pipeline.defs.jobs import inbound_job, sync_job
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.schedules import (
    CADENCE_EPOCH,
    cadence,
    cron_schedules,
    inbound_poll_request,
    poll_today_request,
    slot_start,
)


def _requests(name: str, moment: dt.datetime) -> list[dg.RunRequest]:
    location = defs()
    schedule = location.resolve_schedule_def(name)
    with dg.build_schedule_context(scheduled_execution_time=moment,
                                   repository_def=location.get_repository_def()) as context:
        result = schedule.evaluate_tick(context)
    return list(result.run_requests or [])


def _partitions(name: str, moment: dt.datetime) -> list[str | None]:
    return [request.partition_key for request in _requests(name, moment)]


def test_only_the_nightly_pass_asks_for_the_full_scan() -> None:
    [nightly] = _requests("finalize_yesterday_schedule", dt.datetime(2026, 3, 9, 2, 15, tzinfo=dt.UTC))
    [poll] = _requests("poll_today_schedule", dt.datetime(2026, 3, 8, 23, 45, tzinfo=dt.UTC))
    assert scan_of(nightly.tags) is True
    assert scan_of(poll.tags) is None  # extraction decides: incremental for today and yesterday
    assert scan_of({SCAN_TAG: "incremental"}) is False
    with pytest.raises(ValueError, match="freshcleo/scan: got 'everything'"):
        scan_of({SCAN_TAG: "everything"})


def test_polling_targets_today_and_the_nightly_pass_yesterday() -> None:
    late = dt.datetime(2026, 3, 8, 23, 45, tzinfo=dt.UTC)
    assert _partitions("poll_today_schedule", late) == ["2026-03-08"]
    assert _partitions("finalize_yesterday_schedule", dt.datetime(2026, 3, 9, 2, 15, tzinfo=dt.UTC)) == [
        "2026-03-08"]
    assert daily_partitions.has_partition_key(dt.datetime.now(dt.UTC).date().isoformat())


def test_the_code_location_holds_every_stage() -> None:
    location = defs()
    assert {key.to_user_string() for key in location.resolve_all_asset_keys()} == {
        "freshbooks_documents", "normalized_documents", "edi_interchanges", "cleo_deliveries",
        "cleo_inbound_files", "partner_document_matches", "partner_directory", "document_lineage",
        "interchange_lineage", "monthly_reconciliation"}
    checks = {key.name for key in location.resolve_asset_graph().asset_check_keys}
    # (other checks, e.g. the quarantine's, may sit beside the stage checks)
    assert checks >= {"edi_interchanges_are_valid", "deliveries_reconcile_with_freshbooks",
                      "acknowledgments_on_time", "no_new_mismatches"}
    for job in ("sync_job", "inbound_job", "partner_directory_job"):
        location.resolve_job_def(job)
    location.resolve_sensor_def("webhook_inbox_sensor")
    location.resolve_sensor_def("document_lineage_sensor")
    location.resolve_schedule_def("inbound_poll_schedule")


# ---- polling cadence: any interval fires at exactly the spacing it names ----

#: The daemon evaluates sensors about every 30 s; a 48-hour window shows a day boundary and a full second day.
TICK = dt.timedelta(seconds=30)
WINDOW = dt.timedelta(hours=48)
START = dt.datetime(2026, 3, 7, 5, 17, 23, tzinfo=dt.UTC)  # deliberately not on any slot


def _cron_fire_times(schedule: dg.ScheduleDefinition) -> list[dt.datetime]:
    """What the scheduler would fire in the window: Dagster's own iteration over the schedule's crons."""
    fires: list[dt.datetime] = []
    for moment in schedule_execution_time_iterator(START.timestamp(), schedule.cron_schedule, "UTC"):
        if moment >= START + WINDOW:
            return fires
        fires.append(moment.astimezone(dt.UTC))
    raise AssertionError("unreachable")


def _sensor_fire_times(minutes: int) -> tuple[list[dt.datetime], list[dg.RunRequest], list[dt.datetime]]:
    """Evaluate the cadence sensor every ``TICK`` over the window: (slots requested, requests, tick times)."""
    now = [START]
    sensor = cadence("poll_today", sync_job, minutes, poll_today_request, "test", clock=lambda: now[0])
    assert isinstance(sensor, dg.SensorDefinition) and sensor.name == "poll_today_sensor"
    cursor: str | None = None
    slots: list[dt.datetime] = []
    requests: list[dg.RunRequest] = []
    ticks: list[dt.datetime] = []
    repository = defs().get_repository_def()
    while now[0] < START + WINDOW:
        context = dg.build_sensor_context(cursor=cursor, sensor_name=sensor.name, repository_def=repository)
        data = sensor.evaluate_tick(context)
        for request in data.run_requests or []:
            assert request.run_key is not None
            slots.append(dt.datetime.fromisoformat(request.run_key.removeprefix("poll:")))
            requests.append(request)
            ticks.append(now[0])
        cursor = data.cursor if data.cursor is not None else cursor
        now[0] += TICK
    return slots, requests, ticks


def _assert_exact_spacing(fires: list[dt.datetime], minutes: int) -> None:
    step = dt.timedelta(minutes=minutes)
    assert len(fires) >= 2
    assert {later - earlier for earlier, later in itertools.pairwise(fires)} == {step}
    # nothing missing at either end of the window
    assert fires[0] - step < START and fires[-1] + step >= START + WINDOW - TICK


@pytest.mark.parametrize("minutes", [15, 45, 90, 1440, 1, 120])
def test_intervals_that_divide_a_day_are_exact_cron_schedules(minutes: int) -> None:
    schedule = cadence("poll_today", sync_job, minutes, poll_today_request, "test")
    assert isinstance(schedule, dg.ScheduleDefinition) and schedule.name == "poll_today_schedule"
    fires = _cron_fire_times(schedule)
    _assert_exact_spacing(fires, minutes)
    assert all((f - CADENCE_EPOCH) % dt.timedelta(minutes=minutes) == dt.timedelta(0) for f in fires)
    assert len(fires) == int(WINDOW / dt.timedelta(minutes=minutes))
    # the tick at each fire time requests that moment's day, once
    repository = defs().get_repository_def()
    for moment in fires[:3]:
        with dg.build_schedule_context(scheduled_execution_time=moment, repository_def=repository) as context:
            result = schedule.evaluate_tick(context)
        assert [(r.partition_key, r.run_key) for r in result.run_requests or []] == [
            (moment.date().isoformat(), f"poll:{moment.isoformat()}")]


@pytest.mark.parametrize("minutes", [300, 7])
def test_intervals_that_do_not_divide_a_day_are_a_sensor_cadence(minutes: int) -> None:
    assert cron_schedules(minutes) is None
    slots, requests, ticks = _sensor_fire_times(minutes)
    step = dt.timedelta(minutes=minutes)
    _assert_exact_spacing(slots, minutes)
    assert all((slot - CADENCE_EPOCH) % step == dt.timedelta(0) for slot in slots)
    assert len({r.run_key for r in requests}) == len(requests)  # each slot once
    # each slot is requested at the first tick inside it, for the day it starts in
    assert all(dt.timedelta(0) <= tick - slot < TICK for slot, tick in zip(slots, ticks, strict=True))
    assert [r.partition_key for r in requests] == [slot.date().isoformat() for slot in slots]


def test_the_old_crons_were_wrong_and_the_new_ones_are_not() -> None:
    # 45 used to be "*/45 * * * *" (fires at :00 and :45), 90 "*/90" (hourly): both now keep their spacing.
    for minutes in (45, 90):
        crons = cron_schedules(minutes)
        assert crons is not None and not any("/" in cron for cron in crons)
    assert not has_out_of_range_cron_interval(cron_schedules(90) or [])


def test_a_cadence_sensor_requests_a_slot_once_even_when_evaluated_again() -> None:
    now = [dt.datetime(2026, 3, 7, 9, 12, 0, tzinfo=dt.UTC)]
    sensor = cadence("inbound_poll", inbound_job, 300, inbound_poll_request, "test", clock=lambda: now[0])
    assert isinstance(sensor, dg.SensorDefinition) and sensor.name == "inbound_poll_sensor"
    following = slot_start(now[0], 300) + dt.timedelta(hours=5)
    started = sensor.evaluate_tick(dg.build_sensor_context(sensor_name=sensor.name))
    assert not started.run_requests and following.isoformat() in (started.skip_message or "")  # waits
    now[0] = following + dt.timedelta(seconds=5)
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=started.cursor, sensor_name=sensor.name))
    assert [r.run_key for r in first.run_requests or []] == [f"inbound:{following.isoformat()}"]
    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, sensor_name=sensor.name))
    assert not again.run_requests
    assert (following + dt.timedelta(hours=5)).isoformat() in (again.skip_message or "")
