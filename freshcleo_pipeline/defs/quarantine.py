"""Quarantine checks: input set aside and still waiting for a person fails a check the operator sees.

One check on the FreshBooks side (records that could not be read or normalized) and one on the inbound side
(partner files that could not be taken), each listing what waits with the command that acts on it.
"""

import dagster as dg

from freshcleo_pipeline.defs.inbound import cleo_inbound_files
from freshcleo_pipeline.defs.normalize import normalized_documents
from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.ledger import quarantine

SHOWN = 20


def _check(ledger: LedgerResource, stages: tuple[str, ...]) -> dg.AssetCheckResult:
    with ledger.get_ledger().begin() as conn:
        waiting = [e for stage in stages for e in quarantine.entries(conn, stage=stage, limit=SHOWN)]
        counts = quarantine.counts(conn, stages=stages)
    lines = [f"#{e.id} {e.stage} {e.kind} {e.reference}" + (f" ({e.partner_id})" if e.partner_id else "")
             + f": {e.reason_code}: {e.reason[:160]}" for e in sorted(waiting, key=lambda e: e.id)[:SHOWN]]
    total = sum(counts.values())
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "waiting": total,
            **{f"waiting/{stage}/{code}": dg.MetadataValue.int(n) for (stage, code), n in sorted(counts.items())},
            "entries": dg.MetadataValue.text("\n".join(lines) or "none"),
            "what_to_do": dg.MetadataValue.text(
                "freshcleo quarantine show ID; fix the cause, then `freshcleo quarantine retry ID`, "
                "or `freshcleo quarantine dismiss ID --reason …`"),
        },
    )


@dg.asset_check(asset=normalized_documents,
                description="No FreshBooks record waits in quarantine (unreadable, oversized or not normalizable) "
                "or for a person's review (a payment change under `payment_changes: flag`, a document that cannot "
                "meet its partner's guide).")
def freshbooks_records_not_quarantined(ledger: LedgerResource) -> dg.AssetCheckResult:
    return _check(ledger, ("extract", "normalize", "review"))


@dg.asset_check(asset=cleo_inbound_files,
                description="No partner file waits in quarantine (undownloadable, empty, not X12, oversized, "
                "from an unknown sender).")
def inbound_files_not_quarantined(ledger: LedgerResource) -> dg.AssetCheckResult:
    return _check(ledger, ("inbound",))
