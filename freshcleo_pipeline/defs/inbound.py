"""Inbound assets: files partners put in Cleo (997s, 999s, TA1s, partner documents), and the acknowledgment
check."""

import datetime as dt

import dagster as dg

from freshcleo_pipeline.defs.common import SYNC_RETRY, counter_metadata
from freshcleo_pipeline.defs.deliver import cleo_deliveries
from freshcleo_pipeline.defs.resources import LedgerResource, PartnerDirectoryResource, PipelineResource
from freshcleo_pipeline.sync.doubts import conflicts as name_conflicts
from freshcleo_pipeline.sync.doubts import doubts
from freshcleo_pipeline.sync.inbound import acknowledgment_health, poll_inbound


# Acknowledgments answer deliveries, so the graph shows inbound downstream of them. The edge is for reading the
# graph only: inbound polls every partner folder, not a day, so it depends on all delivery days at once and
# stays unpartitioned (a missing day of deliveries does not hold it back; nothing automates it from this edge).
@dg.asset(
    group_name="inbound",
    deps=[dg.AssetDep(cleo_deliveries, partition_mapping=dg.AllPartitionMapping())],
    retry_policy=SYNC_RETRY,
    pool="cleo_api",
    kinds={"cleo"},
    code_version="1",
    description="Files from every partner's Cleo inbound folder: recorded in the ledger, 997s, 999s and TA1s "
    "applied to the acknowledgment state of each delivered document, partners' 810s, 850s and 820s read into "
    "partner documents and answered with a 997 or 999, then archived in Cleo. Deliveries past their partner's "
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
        **counter_metadata("partner_documents", summary.partner_documents),
        **counter_metadata("acks_sent", summary.acks_sent),
        "uploads_proven_by_ack": summary.proven,
        "uploads_resent": summary.resent,
        "files_by_partner": _outcome_table(summary.outcomes),
    })


MAX_FILES_SHOWN = 200


def _outcome_table(outcomes: list[tuple[str, str, str, str]]) -> dg.MetadataValue:
    """Partner → file → what became of it in this poll, bounded; the ledger keeps every file."""
    if not outcomes:
        return dg.MetadataValue.md("no files this poll")
    rows = [f"| {p} | {f} | {k} | {o} |" for p, f, k, o in sorted(outcomes)[:MAX_FILES_SHOWN]]
    more = len(outcomes) - len(rows)
    return dg.MetadataValue.md("\n".join(["| partner | file | kind | outcome |", "|---|---|---|---|", *rows]
                                         + ([f"\n… and {more} more (see `freshcleo trace <file>`)"] if more else [])))


@dg.asset_check(asset=cleo_inbound_files,
                description="No delivered document is rejected by its partner, overdue for its acknowledgment, or "
                "in conflict (two acknowledgments of it disagree); no upload is in doubt past its partner's "
                "acknowledgment window, and no file name is held by another file in a partner's folder.")
def acknowledgments_on_time(ledger: LedgerResource, partners: PartnerDirectoryResource) -> dg.AssetCheckResult:
    led = ledger.get_ledger()
    now = dt.datetime.now(dt.UTC)
    counts, attention = acknowledgment_health(led)
    in_doubt = doubts(led, partners.load(), now)
    taken = name_conflicts(led)
    conflicts = [a.line() for a in attention if a.ack_state == "conflict"]
    overdue_doubts = [d for d in in_doubt if d.past_window(now)]
    return dg.AssetCheckResult(
        passed=not attention and not overdue_doubts and not taken,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={**{f"ack/{state}": int(n) for state, n in counts.items()},
                  "needs_attention": dg.MetadataValue.text("\n".join(a.line() for a in attention) or "none"),
                  "conflicts": dg.MetadataValue.text("\n".join(conflicts) or "none"),
                  "uploads_in_doubt": len(in_doubt),
                  "uploads_in_doubt_past_window": len(overdue_doubts),
                  "in_doubt": dg.MetadataValue.text("\n".join(d.line(now) for d in in_doubt[:50]) or "none"),
                  "name_conflicts": dg.MetadataValue.text("\n".join(c.line() for c in taken[:50]) or "none")},
    )
