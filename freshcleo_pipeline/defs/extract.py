"""Stage assets: FreshBooks extracts (raw document versions of the partition, stored in the ledger).

Each partition's metadata counts the versions this run stored under that day (``new_versions/<kind>``, of which
``deleted/<kind>`` are deletions) and the records it set aside that belong to the day; the days of a run add up
to the run's. The listing sizes (over-fetched a day each side), reference data, versions filed under days outside
the run (a payment's parent invoice) and quarantine retries are the run's, in its ``run`` entry.
"""

import datetime as dt
from collections import Counter
from typing import Any

import dagster as dg

from freshcleo_pipeline.defs.common import (
    BACKFILL_POLICY,
    SYNC_RETRY,
    counter_metadata,
    partition_metadata,
    run_days,
    run_scope,
)
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import PipelineResource
from freshcleo_pipeline.ledger import partition_figures
from freshcleo_pipeline.sync.extract import extract


@dg.asset(
    group_name="extract",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    retry_policy=SYNC_RETRY,
    pool="freshbooks_api",
    kinds={"freshbooks"},
    code_version="1",
    description="Invoices (with lines), bills, payments and bill payments changed in the partition's UTC day, "
    "as FreshBooks returned them: one ledger snapshot per document version. Reference data (clients, vendors, "
    "items) is refreshed alongside.",
)
def freshbooks_documents(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    days = run_days(context)
    with pipeline.open(context) as ctx:
        summary = extract(ctx, days)
        with ctx.ledger.begin() as conn:
            stored = partition_figures.new_versions(conn, context.run.run_id)
            aside = partition_figures.set_aside(conn, "extract", context.run.run_id)
    figures: dict[dt.date, dict[str, Any]] = {}
    for day in days:
        versions: Counter[str] = Counter()
        deleted: Counter[str] = Counter()
        for (d, kind, gone), n in stored.items():
            if d == day:
                versions[kind] += n
                if gone:
                    deleted[kind] += n
        quarantined = Counter({kind: n for (d, kind), n in aside.items() if d == day})
        figures[day] = {
            "dagster/row_count": sum(versions.values()),
            "new_versions": sum(versions.values()),
            **counter_metadata("new_versions", versions),
            **counter_metadata("deleted", deleted),
            "quarantined": sum(quarantined.values()),
            **counter_metadata("quarantined", quarantined),
        }
    outside = Counter({kind: n for (d, kind, _), n in stored.items() if d is not None and d not in days})
    return partition_metadata(context, figures, {
        **run_scope(days),
        "listed": dict(summary.fetched),
        "reference_new_versions": dict(summary.reference),
        "new_versions_outside_partitions": dict(outside),
        "quarantined": sum(summary.quarantined.values()),
        "retried_from_quarantine": dict(summary.retried),
    })
