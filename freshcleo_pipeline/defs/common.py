"""What the stage modules share: the partitioning's backfill policy, partition days of a run, metadata helpers."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

# Backfill policies are marked beta in Dagster 1.13; we rely on them on purpose (bounded year-long backfills), so
# the warning would only repeat itself on every load.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

#: A backfill runs at most a month of days per run: a year is 12 runs, each bounded in memory and time.
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)
# For what waiting can fix (network, 5xx, a busy database). What cannot recover (refused credentials, a dead
# grant, undecryptable secrets, bad configuration) bypasses it: ``PipelineResource.open`` raises those as
# ``dg.Failure(allow_retries=False)``.
SYNC_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
PREVIEW_ROWS = 20


def run_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    return sorted(dt.date.fromisoformat(key) for key in context.partition_keys)


def preview_table(rows: Sequence[Mapping[str, Any]]) -> dg.MetadataValue:
    """A bounded preview for the UI (the ledger holds everything)."""
    shown = [{k: ("" if v is None else v if isinstance(v, int | float | str | bool) else str(v))
              for k, v in row.items()} for row in rows[:PREVIEW_ROWS]]
    return dg.MetadataValue.table([dg.TableRecord(r) for r in shown]) if shown else dg.MetadataValue.text("none")


def counter_metadata(prefix: str, counts: Mapping[Any, int]) -> dict[str, dg.MetadataValue]:
    """One numeric entry per key, so the UI can plot each over time."""
    out: dict[str, dg.MetadataValue] = {}
    for key, value in sorted(counts.items(), key=lambda kv: str(kv[0])):
        name = "/".join(key) if isinstance(key, tuple) else str(key)
        out[f"{prefix}/{name}"] = dg.MetadataValue.int(int(value))
    return out


def days_of_run(tags: Mapping[str, str]) -> list[dt.date]:
    """The partition days a run covers, from its tags (checks have no partition context of their own)."""
    single = tags.get("dagster/partition")
    if single:
        return [dt.date.fromisoformat(single)]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if not (start and end):
        return []
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
