"""Stage assets: normalized documents, routed to trading partners (or recorded with the reason they are not).

Each partition's metadata describes the decisions of its documents (the newest version of each within the run's
days, as the stage decides them), read back from the ledger: statuses, partners, money routed, warnings, those
set aside, and a preview. The days of a run add up to the run's.
"""

from collections import Counter
from decimal import Decimal
from typing import Any

import dagster as dg

from freshcleo_pipeline.defs.common import (
    BACKFILL_POLICY,
    counter_metadata,
    partition_metadata,
    preview_table,
    run_days,
    run_scope,
)
from freshcleo_pipeline.defs.extract import freshbooks_documents
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import PipelineResource
from freshcleo_pipeline.ledger import partition_figures
from freshcleo_pipeline.ledger.partition_figures import Decision
from freshcleo_pipeline.sync.route import route
from freshcleo_pipeline.sync.stream import carried


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
    days = run_days(context)
    with pipeline.open(context) as ctx:
        account_id = pipeline.account_id(ctx)
        summary = route(ctx, days, account_id)
        with ctx.ledger.begin() as conn:
            decided = partition_figures.decisions(conn, account_id, days)
    figures = {day: _figures([d for d in decided if d.day == day]) for day in days}
    return partition_metadata(context, figures, {
        **run_scope(days),
        "documents": sum(summary.statuses.values()),
        "set_aside": sum(summary.quarantined.values()) + sum(carried(context.run.run_id).quarantined.values()),
    })


def _figures(decided: list[Decision]) -> dict[str, Any]:
    statuses = Counter((d.kind, d.status) for d in decided)
    partners = Counter((d.partner_id, d.kind) for d in decided if d.partner_id)
    invalid = Counter(d.kind for d in decided if d.status == "invalid")
    money: dict[str, Decimal] = {}
    for d in decided:
        if d.status == "routed":
            money[f"{d.kind}:{d.currency}"] = money.get(f"{d.kind}:{d.currency}", Decimal(0)) + d.total
    preview = [{"kind": d.kind, "id": d.source_id, "reference": d.reference, "status": d.status,
                "partner": d.partner_id or "", "total": str(d.total), "reason": d.reason[:120]} for d in decided]
    return {
        "dagster/row_count": len(decided),
        "warnings": sum(d.warnings for d in decided),
        "quarantined": sum(invalid.values()),
        **counter_metadata("quarantined", invalid),
        **counter_metadata("status", statuses),
        **counter_metadata("partner", partners),
        **{f"routed_total/{k}": dg.MetadataValue.float(float(v)) for k, v in sorted(money.items())},
        "preview": preview_table(preview),
    }
