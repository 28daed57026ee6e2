"""Stage assets: normalized documents, routed to trading partners (or recorded with the reason they are not)."""

import dagster as dg

from freshcleo_pipeline.defs.common import (
    BACKFILL_POLICY,
    counter_metadata,
    preview_table,
    run_days,
)
from freshcleo_pipeline.defs.extract import freshbooks_documents
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import PipelineResource
from freshcleo_pipeline.sync.route import route


@dg.asset(
    group_name="normalize",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    deps=[freshbooks_documents],
    kinds={"python"},
    code_version="1",
    description="Each document version of the partition normalized (invoice, purchase order, remittance) and "
    "routed: routed, unrouted, draft, deleted, superseded or invalid — never dropped silently.",
)
def normalized_documents(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    with pipeline.open(context) as ctx:
        summary = route(ctx, run_days(context), pipeline.account_id(ctx))
    totals = {key: dg.MetadataValue.float(float(value)) for key, value in summary.totals.items()}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(summary.statuses.values()),
        "warnings": summary.warnings,
        "quarantined": sum(summary.quarantined.values()),
        **counter_metadata("quarantined", summary.quarantined),
        **counter_metadata("status", summary.statuses),
        **counter_metadata("partner", summary.per_partner),
        **{f"routed_total/{k}": v for k, v in totals.items()},
        "preview": preview_table(summary.preview),
    })
