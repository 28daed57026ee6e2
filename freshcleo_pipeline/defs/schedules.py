"""Schedules (and cadence sensors): polling is the authoritative sync (webhooks only make it sooner).

- ``poll_today_schedule`` runs today's partition every ``FRESHCLEO_POLL_INTERVAL_MINUTES`` (default 15);
- ``finalize_yesterday_schedule`` runs yesterday's partition once at 02:15 UTC with the full scan (tag
  ``freshcleo/scan: full``), catching late changes and what the incremental polls cannot see;
- ``inbound_poll_schedule`` pulls acknowledgments and partner files every
  ``FRESHCLEO_INBOUND_POLL_INTERVAL_MINUTES`` (default 10).

A polling interval fires exactly at the spacing it names, from 1 to 1440 minutes:

- an interval that divides a day (1440 minutes: 1, 2, …, 15, 45, 90, 120, 480, 1440) is a schedule whose
  ``cron_schedule`` is a list of cron strings, one per distinct minute pattern of the hours, firing at
  midnight UTC and every interval after it — ``*/45`` would fire at :00 and :45, ``0 */5`` would leave a
  4-hour gap at midnight, so no step syntax is used for intervals that do not divide an hour;
- an interval that does not divide a day (7, 300, …) cannot repeat daily, so cron cannot say it. It is a sensor
  instead — ``poll_today_sensor`` / ``inbound_poll_sensor`` replace the schedule of that name — that cuts time
  into slots of the interval counted from a fixed epoch (``CADENCE_EPOCH``, 2000-01-01 00:00 UTC) and requests
  each slot's run once: the run key is the slot's start, and the cursor remembers the last slot requested.
  Like a schedule, a sensor turned on mid-slot starts with the next slot, and missed slots (daemon down) are
  not made up: the next tick requests the current slot only.

Run keys make each tick request its partition once. Schedules and sensors start stopped; turn on whichever
exists for the configured interval.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg

from freshcleo_pipeline.defs.common import SCAN_TAG
from freshcleo_pipeline.defs.jobs import inbound_job, sync_job
from freshcleo_pipeline.settings import get_settings

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

TRIGGER_TAG = "freshcleo/trigger"
DAY_MINUTES = 1440
#: Where sensor-driven cadences count their slots from (midnight UTC, so a slot never depends on when the
#: sensor was turned on).
CADENCE_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
#: How often a cadence sensor is evaluated; the daemon's own loop is 30 s, so a slot starts at most ~30 s late.
CADENCE_SENSOR_SECONDS = 30

Request = Callable[[dt.datetime], dg.RunRequest]
Clock = Callable[[], dt.datetime]


def cron_schedules(minutes: int) -> list[str] | None:
    """Cron strings that together fire every ``minutes`` from midnight UTC, or None when the interval does not
    divide a day (then only a sensor can keep the spacing)."""
    if not 1 <= minutes <= DAY_MINUTES:
        raise ValueError(f"polling interval: got {minutes} minutes; expected 1..{DAY_MINUTES}")
    if DAY_MINUTES % minutes:
        return None
    if minutes == 1:
        return ["* * * * *"]
    hours_by_minutes: dict[tuple[int, ...], list[int]] = {}
    for hour in range(24):
        marks = tuple(t % 60 for t in range(0, DAY_MINUTES, minutes) if t // 60 == hour)
        if marks:
            hours_by_minutes.setdefault(marks, []).append(hour)
    return [f"{_field(marks, 60)} {_field(tuple(hours), 24)} * * *" for marks, hours in hours_by_minutes.items()]


def _field(values: tuple[int, ...], size: int) -> str:
    return "*" if len(values) == size else ",".join(str(v) for v in values)


def slot_start(moment: dt.datetime, minutes: int) -> dt.datetime:
    """The start of the slot of a ``minutes`` cadence (counted from ``CADENCE_EPOCH``) that holds ``moment``."""
    step = dt.timedelta(minutes=minutes)
    return CADENCE_EPOCH + ((moment.astimezone(dt.UTC) - CADENCE_EPOCH) // step) * step


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def cadence(base: str, job: UnresolvedAssetJobDefinition, minutes: int, request: Request, description: str,
            *, clock: Clock = _utc_now) -> dg.ScheduleDefinition | dg.SensorDefinition:
    """``<base>_schedule`` when cron can keep the spacing, else ``<base>_sensor`` (see the module docstring).

    ``request`` turns the slot's start (the scheduled time) into the run request; ``clock`` is for tests.
    """
    crons = cron_schedules(minutes)
    if crons is not None:
        @dg.schedule(name=f"{base}_schedule", job=job, cron_schedule=crons if len(crons) > 1 else crons[0],
                     execution_timezone="UTC", description=f"{description} Every {minutes} min from 00:00 UTC.")
        def scheduled(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
            return request(context.scheduled_execution_time.astimezone(dt.UTC))

        return scheduled

    @dg.sensor(name=f"{base}_sensor", job=job, minimum_interval_seconds=CADENCE_SENSOR_SECONDS,
               description=f"{description} Every {minutes} min, in slots counted from "
               f"{CADENCE_EPOCH:%Y-%m-%d %H:%M} UTC (an interval that does not divide a day cannot be a cron).")
    def cadenced(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        slot = slot_start(clock(), minutes)
        following = (slot + dt.timedelta(minutes=minutes)).isoformat()
        if context.cursor is None:
            # Turned on (or reset) in the middle of a slot: like a schedule, wait for the next slot's start.
            return dg.SensorResult(skip_reason=f"cadence starts with the next slot, at {following}",
                                   cursor=slot.isoformat())
        if context.cursor == slot.isoformat():
            return dg.SkipReason(f"slot {slot.isoformat()} already requested; next at {following}")
        return dg.SensorResult(run_requests=[request(slot)], cursor=slot.isoformat())

    return cadenced


def poll_today_request(moment: dt.datetime) -> dg.RunRequest:
    moment = moment.astimezone(dt.UTC)
    return dg.RunRequest(partition_key=moment.date().isoformat(), run_key=f"poll:{moment.isoformat()}",
                         tags={TRIGGER_TAG: "poll_today"})


def inbound_poll_request(moment: dt.datetime) -> dg.RunRequest:
    moment = moment.astimezone(dt.UTC)
    return dg.RunRequest(run_key=f"inbound:{moment.isoformat()}", tags={TRIGGER_TAG: "inbound_poll"})


_settings = get_settings()

poll_today = cadence("poll_today", sync_job, _settings.poll_interval_minutes, poll_today_request,
                     "Sync today's partition (documents changed today) at the polling interval.")


@dg.schedule(job=sync_job, cron_schedule="15 2 * * *", execution_timezone="UTC",
             description="Final pass over yesterday's partition, after the day has closed: the full scan of "
             "FreshBooks (every bill and bill payment, all reference data), which the polls leave to it.")
def finalize_yesterday_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    moment = context.scheduled_execution_time.astimezone(dt.UTC)
    day = (moment - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"finalize:{day}",
                         tags={TRIGGER_TAG: "nightly_finalize", SCAN_TAG: "full"})


inbound_poll = cadence("inbound_poll", inbound_job, _settings.inbound_poll_interval_minutes, inbound_poll_request,
                       "Pull 997 acknowledgments and partner documents from Cleo.")
