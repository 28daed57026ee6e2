"""Partner documents matched against FreshBooks and what we sent, and the check on new mismatches."""

import dagster as dg

from freshcleo_pipeline.defs.common import SYNC_RETRY, counter_metadata, preview_table
from freshcleo_pipeline.defs.inbound import cleo_inbound_files
from freshcleo_pipeline.defs.resources import LedgerResource, PipelineResource
from freshcleo_pipeline.sync.match_review import mismatches_changed_by, open_mismatches
from freshcleo_pipeline.sync.matching import match_partner_documents


@dg.asset(
    group_name="inbound",
    deps=[cleo_inbound_files],
    retry_policy=SYNC_RETRY,
    # One step at a time across runs: a write claimed by one run is never raced by another's.
    pool="freshbooks_writes",
    kinds={"freshbooks"},
    code_version="1",
    description="Each partner document matched: a supplier's 810 against the 850 we sent, the FreshBooks bill it "
    "came from and the supplier's bill vendor (matched, mismatched with the differing fields, or unmatched); a "
    "customer's 850 against its client and the invoice carrying its PO number; a customer's 820 against "
    "FreshBooks' own figures (reported, never written). Then the writes partners.yaml opts into, each once.",
)
def partner_document_matches(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    with pipeline.open(context) as ctx:
        summary = match_partner_documents(ctx, pipeline.account_id(ctx))
    if summary.errors:
        context.log.warning("matching problems: %s", "; ".join(summary.errors[:10]))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(summary.results.values()),
        "changed": summary.changed,
        "new_mismatches": len(summary.new_mismatches),
        "errors": len(summary.errors),
        **counter_metadata("results", summary.results),
        **counter_metadata("freshbooks_writes", summary.writes),
        "documents": preview_table(summary.preview),
        "problems": dg.MetadataValue.text("\n".join(summary.errors[:50]) or "none"),
    })


@dg.asset_check(asset=partner_document_matches,
                description="No supplier invoice became mismatched in this run (new differences against the 850 "
                "we sent or the FreshBooks bill). Every open mismatch is listed; `freshcleo matches` shows them.")
def no_new_mismatches(context: dg.AssetCheckExecutionContext, ledger: LedgerResource) -> dg.AssetCheckResult:
    led = ledger.get_ledger()
    new = mismatches_changed_by(led, context.run.run_id)
    still_open = open_mismatches(led)
    return dg.AssetCheckResult(
        passed=not new,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"new_mismatches": len(new), "open_mismatches": len(still_open),
                  "new": dg.MetadataValue.text("\n".join(new[:50]) or "none"),
                  "open": dg.MetadataValue.text("\n".join(still_open[:50]) or "none")},
    )
