"""What the stage modules share: the partitioning's backfill policy, partition days of a run, metadata helpers.

Per-partition metadata. A run covers up to 31 day partitions (``BACKFILL_POLICY``), and Dagster records one
``ASSET_MATERIALIZATION`` per partition of the step's output (``_get_output_asset_events`` in
``dagster/_core/execution/plan/execute_step.py``). The metadata of each such event is the output's own
(``MaterializeResult.metadata``, the same on every partition) merged with what the asset added for that partition
through ``context.add_asset_metadata(…, partition_key=…)`` (public API; kept per asset and partition by the step's
``OutputMetadataAccumulator``, and refused for a key the run does not target). The stage assets therefore return an
empty ``MaterializeResult`` and hand each day its own figures (``partition_metadata``): the events themselves, and
with them the partition status, backfill progress, data versions and asset checks, are Dagster's unchanged. What
this relies on: that merge order (partition-scoped entries win), and that nothing else adds run-wide metadata.
What a run did beyond its own days (reference data, documents of other days it completed, listing sizes) is in one
JSON entry, ``run``, named as the run's and never plotted.
"""

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
#: A run tagged ``freshcleo/scan: full`` reads FreshBooks in full (the nightly finalize run sets it; so can a
#: person, from the launchpad); ``incremental`` forces the newest-first reading; without it extraction decides
#: by the run's days (``sync.extract.full_scan_due``).
SCAN_TAG = "freshcleo/scan"


def scan_of(tags: Mapping[str, str]) -> bool | None:
    """True for a full scan, False for an incremental one, None when the run leaves it to extraction."""
    value = tags.get(SCAN_TAG)
    if value is None:
        return None
    if value not in ("full", "incremental"):
        raise ValueError(f"run tag {SCAN_TAG}: got {value!r}; expected 'full' or 'incremental'")
    return value == "full"


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


def partition_metadata(context: dg.AssetExecutionContext, figures: Mapping[dt.date, Mapping[str, Any]],
                       run: Mapping[str, Any]) -> dg.MaterializeResult:
    """Each of the run's partitions gets its own ``figures`` (nothing for a day that has none) and the run-wide
    ``run`` entry; a numeric entry some day has is 0 on the days without it, so every plot has a point per
    partition. Returns the result the asset returns, empty: the figures travel with each partition's event."""
    zero: dict[str, int | float] = {}
    for entries in figures.values():
        for name, value in entries.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, float | dg.FloatMetadataValue):
                zero[name] = 0.0
            elif isinstance(value, int | dg.IntMetadataValue):
                zero.setdefault(name, 0)
    for key in context.partition_keys:
        own = figures.get(dt.date.fromisoformat(key), {})
        context.add_asset_metadata({**zero, **own, "run": dg.MetadataValue.json(dict(run))}, partition_key=key)
    return dg.MaterializeResult()


def run_scope(days: Sequence[dt.date]) -> dict[str, Any]:
    """The head of a ``run`` entry: which partitions the run covered."""
    return {"partitions": f"{days[0].isoformat()}..{days[-1].isoformat()}" if days else "", "days": len(days)}


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
