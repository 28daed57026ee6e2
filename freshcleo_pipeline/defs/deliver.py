"""Stage assets: Cleo deliveries (idempotent upload, receipt), with the audit reconciliation check.

The stage delivers every file not yet confirmed in Cleo, whatever its day. Each partition's metadata counts the
documents of that day this run delivered (``documents/<partner>``; the days add up to the run's) and the files
that carried at least one of them (``files_delivered``, ``files/<partner>``): a file carrying documents of two days
counts on both, so files do not add up across days; the run's file count is in its ``run`` entry, with the
documents of days outside the run it completed and the uploads in doubt or in conflict.
"""

import datetime as dt
from typing import Any

import dagster as dg

from freshcleo_pipeline.defs.common import (
    BACKFILL_POLICY,
    SYNC_RETRY,
    counter_metadata,
    days_of_run,
    partition_metadata,
    preview_table,
    run_days,
    run_scope,
)
from freshcleo_pipeline.defs.edi import edi_interchanges
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import FreshBooksResource, LedgerResource, PipelineResource
from freshcleo_pipeline.sync.deliver import DeliverSummary, deliver
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
    days = run_days(context)
    with pipeline.open(context) as ctx:
        summary = deliver(ctx)
    figures = {day: _figures(summary, day) for day in days}
    return partition_metadata(context, figures, {
        **run_scope(days),
        "files_delivered": sum(summary.files.values()),
        "documents_delivered": sum(summary.documents.values()),
        "documents_outside_partitions": sum(n for (day, _), n in summary.documents_by_day.items()
                                            if day not in days),
        "already_present_after_retry": summary.already_present,
        "uploads_resent": summary.resent,
        "uploads_in_doubt": summary.in_doubt[:20],
        "name_conflicts": summary.conflicts[:20],
        "waiting_for_a_partner_gone_from_partners_yaml": summary.orphaned[:50],
    })


def _figures(summary: DeliverSummary, day: dt.date) -> dict[str, Any]:
    documents = {partner: n for (d, partner), n in summary.documents_by_day.items() if d == day}
    files = {partner: n for (d, partner), n in summary.files_by_day.items() if d == day}
    return {
        "dagster/row_count": sum(documents.values()),
        "files_delivered": sum(files.values()),
        **counter_metadata("files", files),
        **counter_metadata("documents", documents),
        "receipts": preview_table([r for r in summary.receipts if day.isoformat() in r.get("days", "").split()]),
    }


@dg.asset_check(asset=cleo_deliveries,
                description="Every routed FreshBooks document of the run's partitions has exactly one live delivery; "
                "counts and money agree FreshBooks = normalized = EDI = delivered; control numbers are unique.")
def deliveries_reconcile_with_freshbooks(context: dg.AssetCheckExecutionContext, ledger: LedgerResource,
                                         freshbooks: FreshBooksResource) -> dg.AssetCheckResult:
    days = days_of_run(context.run.tags)
    led = ledger.get_ledger()
    result = reconcile(led, days, freshbooks.account_id(led))
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"partitions": ", ".join(d.isoformat() for d in days), **result.metadata(),
                  "problems": dg.MetadataValue.text("\n".join(result.problems[:20]) or "none")},
    )
