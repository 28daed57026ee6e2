"""Inbound assets: files partners put in Cleo (997s, partner documents), and the acknowledgment check."""

import dagster as dg
from sqlalchemy import func, select

from freshcleo_pipeline.defs.common import SYNC_RETRY, counter_metadata
from freshcleo_pipeline.defs.resources import LedgerResource, PipelineResource
from freshcleo_pipeline.ledger.schema import outbox
from freshcleo_pipeline.sync.inbound import poll_inbound


@dg.asset(
    group_name="inbound",
    retry_policy=SYNC_RETRY,
    pool="cleo_api",
    kinds={"cleo"},
    code_version="1",
    description="Files from every partner's Cleo inbound folder: recorded in the ledger, 997s applied to the "
    "acknowledgment state of each delivered document, then archived in Cleo. Deliveries past their partner's "
    "acknowledgment window become overdue.",
)
def cleo_inbound_files(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    with pipeline.open(context) as ctx:
        summary = poll_inbound(ctx)
    if summary.errors:
        context.log.warning("inbound problems: %s", "; ".join(summary.errors[:10]))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(summary.files.values()),
        "unmatched_acknowledgments": summary.unmatched_acks,
        "newly_overdue": summary.overdue,
        "errors": len(summary.errors),
        "quarantined": sum(summary.quarantined.values()),
        **counter_metadata("quarantined", summary.quarantined),
        "retried_from_quarantine": summary.retried,
        **counter_metadata("files", summary.files),
        **counter_metadata("acks", summary.acks),
    })


@dg.asset_check(asset=cleo_inbound_files,
                description="No delivered document is rejected by its partner or overdue for its 997.")
def acknowledgments_on_time(ledger: LedgerResource) -> dg.AssetCheckResult:
    led = ledger.get_ledger()
    try:
        with led.begin() as conn:
            counts: dict[str, int] = dict(conn.execute(select(outbox.c.ack_state, func.count())
                                       .where(outbox.c.state == "delivered").group_by(outbox.c.ack_state)).all())
            bad = conn.execute(select(outbox.c.partner_id, outbox.c.kind, outbox.c.source_id, outbox.c.reference,
                                      outbox.c.ack_state)
                               .where(outbox.c.ack_state.in_(("rejected", "overdue"))).limit(20)).all()
    finally:
        led.dispose()
    lines = [f"{p} {k} {s} ({r}): {a}" for p, k, s, r, a in bad]
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={**{f"ack/{state}": int(n) for state, n in counts.items()},
                  "needs_attention": dg.MetadataValue.text("\n".join(lines) or "none")},
    )
