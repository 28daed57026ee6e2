"""Stage assets: FreshBooks extracts (raw document versions of the partition, stored in the ledger)."""

import dagster as dg

from freshcleo_pipeline.defs.common import BACKFILL_POLICY, SYNC_RETRY, counter_metadata, run_days
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import PipelineResource
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
    with pipeline.open(context) as ctx:
        summary = extract(ctx, run_days(context))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(summary.fetched.values()),
        "new_versions": sum(summary.new_versions.values()),
        **counter_metadata("fetched", summary.fetched),
        **counter_metadata("new_versions", summary.new_versions),
        **counter_metadata("deleted", summary.deleted),
        **counter_metadata("reference_new_versions", summary.reference),
        "quarantined": sum(summary.quarantined.values()),
        **counter_metadata("quarantined", summary.quarantined),
        **counter_metadata("retried_from_quarantine", summary.retried),
    })
