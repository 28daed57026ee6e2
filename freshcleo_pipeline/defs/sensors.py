"""Sensors: ``webhook_inbox_sensor`` turns verified FreshBooks events into runs of the day they affect.

The sensor's state is its cursor (the last inbox row id it took) plus the ledger (which run request took each
row): a daemon restart re-evaluates from the stored cursor and, because run keys are derived from the rows,
requests the same runs again, which Dagster deduplicates. A sensor without a cursor (new, renamed or reset)
resumes after the last row the ledger records as taken, instead of replaying the whole history.

Per tick it reads the rows after the cursor in id order (capped), assigns each event to the partition of the
document's latest update — the event's receipt time, since FreshBooks just changed the document — and requests
one run per partition, with ``run_key = inbox:<day>:<max id of that day>``. It never skips a row it cannot
handle yet: at a row whose partition does not exist yet, at a row received too recently to be sure every
earlier id has committed, or when the tick's run cap is reached, it stops and holds the cursor there.
Rows dated before the first partition are consumed, recorded as taken by no run, and logged.

Its runs go ahead of the other runs of ``sync_job`` (``dagster/priority``): the queued run coordinator dequeues
them first, and their steps take the next free slot of ``freshbooks_api`` and ``cleo_api`` before the steps of a
backfill, a poll or the nightly run waiting for it. The pools themselves stay one step per API, shared by every
purpose (see ``dagster.yaml``), so a webhook's run still waits for the one step that holds a slot, never for the
runs queued behind it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dagster as dg

from freshcleo_pipeline.defs.partitions import daily_partitions, partition_key_for
from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.ledger import inbox
from freshcleo_pipeline.ledger.rows import utcnow
from freshcleo_pipeline.settings import get_settings

JOB_NAME = "sync_job"
TRIGGER_TAG = "freshcleo/trigger"
MAX_ROWS_PER_TICK = 500
MAX_RUNS_PER_TICK = 10
# On PostgreSQL ids come from a sequence, so a row can commit after a higher id did; rows younger than this
# wait a tick so a slow earlier insert is not jumped over by the cursor.
SETTLE = dt.timedelta(seconds=2)
# Above the 0 of polls, backfills and the nightly run, which are not waited for by anyone.
WEBHOOK_PRIORITY = 10
PRIORITY_TAG = "dagster/priority"


@dataclass
class InboxPlan:
    """What one tick does: runs by partition, rows consumed without a run, the new cursor, why it stopped."""

    last_id: int
    runs: dict[str, list[int]] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)
    held: str | None = None

    def run_key(self, day: str) -> str:
        return f"inbox:{day}:{max(self.runs[day])}"


def plan_inbox_runs(rows: Sequence[inbox.InboxRow], last_id: int, *, has_partition: Callable[[str], bool],
                    first_day: str, settled_before: dt.datetime, max_runs: int = MAX_RUNS_PER_TICK) -> InboxPlan:
    """Group rows (in id order) by partition until one cannot be handled yet; pure, no I/O."""
    plan = InboxPlan(last_id=last_id)
    for row in rows:
        day = partition_key_for(row.received_at)
        if day < first_day:
            plan.dropped.append(row.id)
        elif not has_partition(day):
            plan.held = f"inbox row {row.id} belongs to partition {day}, which does not exist yet"
            break
        elif row.received_at > settled_before:
            plan.held = f"inbox row {row.id} arrived less than {SETTLE.seconds}s ago"
            break
        elif day not in plan.runs and len(plan.runs) >= max_runs:
            plan.held = f"{max_runs} runs requested this tick"
            break
        else:
            plan.runs.setdefault(day, []).append(row.id)
        plan.last_id = row.id
    return plan


def _cursor_id(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = json.loads(cursor)["last_id"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"webhook_inbox_sensor cursor {cursor[:80]!r}: expected JSON {{\"last_id\": <int>}}; "
                         "reset the sensor's cursor") from None
    return int(value)


# The daemon's sensor loop comes round every 5 s whatever the interval, so 5 s adds only the evaluation: the
# ledger's schema-revision check on opening, one indexed read of the rows after the cursor (nothing is written
# when there are none) and Dagster's tick record.
@dg.sensor(
    job_name=JOB_NAME,
    minimum_interval_seconds=get_settings().inbox_sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs the day partitions touched by verified FreshBooks webhook events (webhook_inbox).",
)
def webhook_inbox_sensor(context: dg.SensorEvaluationContext,
                         ledger: LedgerResource) -> dg.SensorResult | dg.SkipReason:
    led = ledger.get_ledger()
    try:
        with led.begin() as conn:
            stored = _cursor_id(context.cursor)
            last_id = stored if stored is not None else inbox.last_handled_id(conn)
            rows = inbox.rows_after(conn, last_id, MAX_ROWS_PER_TICK)
        now = utcnow()
        plan = plan_inbox_runs(rows, last_id, has_partition=daily_partitions.has_partition_key,
                               first_day=daily_partitions.get_first_partition_key() or "",
                               settled_before=now - SETTLE)
        requests = [
            dg.RunRequest(partition_key=day, run_key=plan.run_key(day),
                          tags={TRIGGER_TAG: "webhook_inbox", PRIORITY_TAG: str(WEBHOOK_PRIORITY)})
            for day in sorted(plan.runs)
        ]
        # Recorded before Dagster stores the cursor; if the tick is lost the next one re-takes the same rows
        # with the same run keys and overwrites this record.
        if plan.runs or plan.dropped:
            with led.begin() as conn:
                for day, ids in plan.runs.items():
                    inbox.mark_handled(conn, ids, run_ref=plan.run_key(day), partition=day, at=now)
                inbox.mark_handled(conn, plan.dropped, run_ref=None, partition=None, at=now)
    finally:
        led.dispose()

    if plan.dropped:
        context.log.warning(f"inbox rows {plan.dropped} predate the first partition; consumed without a run")
    if plan.held:
        context.log.info(f"holding the cursor at {plan.last_id}: {plan.held}")
    for request in requests:
        context.log.info(f"requesting {request.run_key} for {len(plan.runs[str(request.partition_key)])} "
                         "inbox rows")
    cursor = json.dumps({"last_id": plan.last_id})
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    reason = plan.held or f"no inbox rows after id {plan.last_id}"
    if cursor != context.cursor:
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SkipReason(reason)
