"""Schedules: polling is the authoritative sync (webhooks only make it sooner).

- ``poll_today_schedule`` runs today's partition every ``FRESHCLEO_POLL_INTERVAL_MINUTES`` (default 15);
- ``finalize_yesterday_schedule`` runs yesterday's partition once at 02:15 UTC, catching late changes;
- ``inbound_poll_schedule`` pulls acknowledgments and partner files every
  ``FRESHCLEO_INBOUND_POLL_INTERVAL_MINUTES`` (default 10).
Run keys make each tick request its partition once.
"""

import datetime as dt

import dagster as dg

from freshcleo_pipeline.defs.jobs import inbound_job, sync_job
from freshcleo_pipeline.settings import get_settings

TRIGGER_TAG = "freshcleo/trigger"


def _every(minutes: int) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        return f"0 */{minutes // 60} * * *" if minutes < 1440 else "0 0 * * *"
    return f"*/{minutes} * * * *"


_settings = get_settings()


@dg.schedule(job=sync_job, cron_schedule=_every(_settings.poll_interval_minutes), execution_timezone="UTC",
             description="Sync today's partition (documents changed today) at the polling interval.")
def poll_today_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    moment = context.scheduled_execution_time.astimezone(dt.UTC)
    day = moment.date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"poll:{moment.isoformat()}",
                         tags={TRIGGER_TAG: "poll_today"})


@dg.schedule(job=sync_job, cron_schedule="15 2 * * *", execution_timezone="UTC",
             description="Final pass over yesterday's partition, after the day has closed.")
def finalize_yesterday_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    moment = context.scheduled_execution_time.astimezone(dt.UTC)
    day = (moment - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"finalize:{day}", tags={TRIGGER_TAG: "nightly_finalize"})


inbound_poll_schedule = dg.ScheduleDefinition(
    name="inbound_poll_schedule", job=inbound_job,
    cron_schedule=_every(_settings.inbound_poll_interval_minutes), execution_timezone="UTC",
    description="Pull 997 acknowledgments and partner documents from Cleo.",
)
