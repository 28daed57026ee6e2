"""Stage assets: Cleo deliveries (idempotent upload, receipt), with the audit reconciliation check."""

import dagster as dg

from freshcleo_pipeline.defs.common import (
    BACKFILL_POLICY,
    SYNC_RETRY,
    counter_metadata,
    days_of_run,
    preview_table,
)
from freshcleo_pipeline.defs.edi import edi_interchanges
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import FreshBooksResource, LedgerResource, PipelineResource
from freshcleo_pipeline.sync.deliver import deliver
from freshcleo_pipeline.sync.reconcile import reconcile


@dg.asset(
    group_name="deliver",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    retry_policy=SYNC_RETRY,
    deps=[edi_interchanges],
    pool="cleo_api",
    kinds={"cleo"},
    code_version="1",
    description="Every valid interchange not yet confirmed in Cleo, uploaded into its partner's outbound "
    "folder under its deterministic name; the receipt is recorded per document. An upload whose answer was "
    "lost and whose file Cleo no longer shows is in doubt: proven by the partner's acknowledgment, or re-sent "
    "under the same name and ISA13 after the partner's acknowledgment window, never at once.",
)
def cleo_deliveries(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    with pipeline.open(context) as ctx:
        summary = deliver(ctx)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(summary.documents.values()),
        "files_delivered": sum(summary.files.values()),
        "already_present_after_retry": summary.already_present,
        "uploads_in_doubt": len(summary.in_doubt),
        "name_conflicts": len(summary.conflicts),
        **({"in_doubt": dg.MetadataValue.text("\n".join(summary.in_doubt))} if summary.in_doubt else {}),
        **({"conflicts": dg.MetadataValue.text("\n".join(summary.conflicts))} if summary.conflicts else {}),
        **counter_metadata("files", summary.files),
        **counter_metadata("documents", summary.documents),
        "receipts": preview_table(summary.receipts),
    })


@dg.asset_check(asset=cleo_deliveries,
                description="Every routed FreshBooks document of the run's partitions has exactly one live delivery; "
                "counts and money agree FreshBooks = normalized = EDI = delivered; control numbers are unique.")
def deliveries_reconcile_with_freshbooks(context: dg.AssetCheckExecutionContext, ledger: LedgerResource,
                                         freshbooks: FreshBooksResource) -> dg.AssetCheckResult:
    days = days_of_run(context.run.tags)
    led = ledger.get_ledger()
    try:
        result = reconcile(led, days, freshbooks.account_id(led))
    finally:
        led.dispose()
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"partitions": ", ".join(d.isoformat() for d in days), **result.metadata(),
                  "problems": dg.MetadataValue.text("\n".join(result.problems[:20]) or "none")},
    )
