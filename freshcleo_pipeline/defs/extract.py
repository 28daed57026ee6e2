"""Stage assets: FreshBooks extracts (raw document versions of the partition, stored in the ledger).

Each partition's metadata counts the versions this run stored under that day (``new_versions/<kind>``, of which
``deleted/<kind>`` are deletions) and the records it set aside that belong to the day; the days of a run add up
to the run's. The listing sizes (over-fetched a day each side), reference data, versions filed under days outside
the run (a payment's parent invoice) and quarantine retries are the run's, in its ``run`` entry, with ``scan``:
``incremental`` for a poll of today or yesterday, ``full`` for the nightly finalize run and backfills. When the
run also materializes the normalized and EDI assets, routing and rendering follow the stored pages in a process
this step starts (``sync.stream``); ``streamed_passes`` says how many passes it began.
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
    scan_of,
)
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import PipelineResource
from freshcleo_pipeline.ledger import partition_figures
from freshcleo_pipeline.sync.extract import extract
from freshcleo_pipeline.sync.stream import Downstream

#: The steps whose work follows extraction page by page when the run materializes them (``sync.stream``).
STREAMED = frozenset({dg.AssetKey("normalized_documents"), dg.AssetKey("edi_interchanges")})


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
        downstream = Downstream(ctx, days, lambda: pipeline.account_id(ctx)) if _streams(context) else None
        try:
            summary = extract(ctx, days, full_scan=scan_of(context.run.tags),
                              on_page=downstream.page_stored if downstream is not None else None)
        finally:
            streamed = downstream.close() if downstream is not None else None
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
        "scan": summary.scan,
        "listed": dict(summary.fetched),
        "reference_new_versions": dict(summary.reference),
        "new_versions_outside_partitions": dict(outside),
        "quarantined": sum(summary.quarantined.values()),
        "retried_from_quarantine": dict(summary.retried),
        "streamed_passes": streamed.passes if streamed is not None else 0,
    })


def _streams(context: dg.AssetExecutionContext) -> bool:
    """Whether this run also routes and renders the days (then they follow extraction as it goes)."""
    selection = context.run.asset_selection
    return selection is None or STREAMED <= selection
