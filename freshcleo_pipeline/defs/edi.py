"""Stage assets: X12 interchanges (one per partner and transaction set), with the blocking validity check."""

import dagster as dg
from sqlalchemy import select

from freshcleo_pipeline.defs.common import BACKFILL_POLICY, counter_metadata, preview_table, run_days
from freshcleo_pipeline.defs.normalize import normalized_documents
from freshcleo_pipeline.defs.partitions import daily_partitions
from freshcleo_pipeline.defs.resources import LedgerResource, PartnerDirectoryResource, PipelineResource
from freshcleo_pipeline.ledger.schema import interchanges
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
    summary = RenderSummary()
    with pipeline.open(context) as ctx:
        plan(ctx, run_days(context), pipeline.account_id(ctx), summary)
        render_pending(ctx, summary)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(i["sets"] for i in summary.interchanges),
        "interchanges": len(summary.interchanges),
        "invalid_interchanges": summary.invalid_interchanges,
        "unmappable_documents": summary.unmappable,
        "data_adjustments": summary.adjustments,
        **counter_metadata("queued", summary.enqueued),
        **counter_metadata("not_sent_by_policy", summary.ignored),
        "files": preview_table(summary.interchanges),
    })


@dg.asset_check(asset=edi_interchanges, blocking=True,
                description="Every interchange this run produced passes the X12 validator; otherwise nothing is "
                "uploaded.")
def edi_interchanges_are_valid(context: dg.AssetCheckExecutionContext, ledger: LedgerResource,
                               partners: PartnerDirectoryResource) -> dg.AssetCheckResult:
    led = ledger.get_ledger()
    directory = partners.load()
    try:
        with led.begin() as conn:
            rows = conn.execute(select(interchanges.c.file_name, interchanges.c.partner_id, interchanges.c.content,
                                       interchanges.c.state)
                                .where(interchanges.c.run_id == context.run.run_id)).all()
    finally:
        led.dispose()
    problems: list[str] = []
    for name, partner_id, content, state in rows:
        errors = validate_interchange(content, charset=directory.get(partner_id).charset)
        if errors or state == "invalid":
            problems.append(f"{name}: {errors[0] if errors else 'marked invalid'}")
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"interchanges_checked": len(rows), "invalid": len(problems),
                  "first_problems": dg.MetadataValue.text("\n".join(problems[:10]) or "none")},
    )
