"""Stage assets: X12 interchanges (one per partner and transaction set), with the blocking validity check.

Each partition's metadata counts the transaction sets this run rendered for the day's documents (by partner and
purpose, with their money) and the files carrying them. A file may carry documents of several days: it is listed
under each of them with that day's sets, so the days' sets add up to the run's, while a file counts once per day
it serves. Sets of days outside the run (pending from an earlier run), the outbox decisions and the mapping
figures are the run's, in its ``run`` entry.
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
from freshcleo_pipeline.defs.normalize import normalized_documents
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import LedgerResource, PartnerDirectoryResource, PipelineResource
from freshcleo_pipeline.ledger import outbox, partition_figures
from freshcleo_pipeline.ledger.partition_figures import RenderedSet
from freshcleo_pipeline.sync.render import RenderSummary, plan, render_pending
from freshcleo_pipeline.x12.validator import validate_interchange


@dg.asset(
    group_name="edi",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    deps=[normalized_documents],
    kinds={"x12"},
    code_version="1",
    description="Outbox decisions per partner policy (exactly once per document version) and the X12 "
    "interchanges rendered for them, control numbers allocated in the ledger, stored before any upload.",
)
def edi_interchanges(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    days = run_days(context)
    summary = RenderSummary()
    with pipeline.open(context) as ctx:
        plan(ctx, days, pipeline.account_id(ctx), summary)
        render_pending(ctx, summary)
        with ctx.ledger.begin() as conn:
            rendered = partition_figures.rendered_sets(conn, context.run.run_id)
    figures = {day: _figures([s for s in rendered if s.day == day]) for day in days}
    return partition_metadata(context, figures, {
        **run_scope(days),
        "sets": sum(i["sets"] for i in summary.interchanges),
        "sets_outside_partitions": sum(1 for s in rendered if s.day not in days),
        "interchanges": len(summary.interchanges),
        "invalid_interchanges": summary.invalid_interchanges,
        "unmappable_documents": summary.unmappable,
        "data_adjustments": summary.adjustments,
        "queued": {"/".join(k): n for k, n in sorted(summary.enqueued.items())},
        "not_sent_by_policy": dict(summary.ignored),
    })


def _figures(sets: list[RenderedSet]) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    money: dict[str, Decimal] = {}
    for s in sets:
        row = files.setdefault(s.file_name, {"partner": s.partner_id, "transaction_set": s.transaction_set,
                                             "isa13": s.isa13, "file_name": s.file_name, "sets": 0,
                                             "total": Decimal(0), "valid": s.valid})
        row["sets"] += 1
        row["total"] += s.total
        money[s.partner_id] = money.get(s.partner_id, Decimal(0)) + s.total
    return {
        "dagster/row_count": len(sets),
        "interchanges": len(files),
        "invalid_sets": sum(1 for s in sets if not s.valid),
        **counter_metadata("sets", Counter((s.partner_id, s.purpose) for s in sets)),
        **{f"total/{partner}": dg.MetadataValue.float(float(v)) for partner, v in sorted(money.items())},
        "files": preview_table([{**row, "total": str(row["total"])} for row in files.values()]),
    }


@dg.asset_check(asset=edi_interchanges, blocking=True,
                description="Every interchange this run produced passes the X12 validator; otherwise nothing is "
                "uploaded.")
def edi_interchanges_are_valid(context: dg.AssetCheckExecutionContext, ledger: LedgerResource,
                               partners: PartnerDirectoryResource) -> dg.AssetCheckResult:
    directory = partners.load()
    with ledger.get_ledger().begin() as conn:
        rows = outbox.interchanges_of_run(conn, context.run.run_id)
    problems: list[str] = []
    for row in rows:
        errors = validate_interchange(row.content, charset=directory.get(row.partner_id).charset)
        if errors or row.state == "invalid":
            problems.append(f"{row.file_name}: {errors[0] if errors else 'marked invalid'}")
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"interchanges_checked": len(rows), "invalid": len(problems),
                  "first_problems": dg.MetadataValue.text("\n".join(problems[:10]) or "none")},
    )
