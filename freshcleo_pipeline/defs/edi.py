"""Stage assets: X12 interchanges (one per partner and transaction set), with the blocking validity check.

Each partition's metadata counts the transaction sets this run rendered for the day's documents (by partner and
purpose, with their money) and the files carrying them. A file may carry documents of several days: it is listed
under each of them with that day's sets, so the days' sets add up to the run's, while a file counts once per day
it serves. Sets of days outside the run (pending from an earlier run), the outbox decisions and the mapping
figures are the run's, in its ``run`` entry.

The validity check reads the verdict stored when each interchange was rendered, for the content of that digest
and charset only: a file whose content or partner charset no longer matches its verdict (or one stored without a
verdict) is validated again, so a stored verdict never lets a changed file through.
"""

import hashlib
from collections import Counter
from decimal import Decimal
from typing import Any, NamedTuple

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
from freshcleo_pipeline.ledger import Ledger, outbox, partition_figures
from freshcleo_pipeline.ledger.outbox import RunInterchange, Verdict
from freshcleo_pipeline.ledger.partition_figures import RenderedSet
from freshcleo_pipeline.partners import PartnerDirectory
from freshcleo_pipeline.sync.render import plan, render_pending
from freshcleo_pipeline.sync.stream import carried
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
    # What the extract step's streaming process already planned and rendered in this run counts as this step's.
    summary = carried(context.run.run_id, take=True).render
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
    found = interchange_problems(ledger.get_ledger(), context.run.run_id, partners.load())
    return dg.AssetCheckResult(
        passed=not found.problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"interchanges_checked": found.checked, "validated_again": found.validated_again,
                  "invalid": len(found.problems),
                  "first_problems": dg.MetadataValue.text("\n".join(found.problems[:10]) or "none")},
    )


class Findings(NamedTuple):
    checked: int
    validated_again: int  # files without a verdict for their present content and charset
    problems: list[str]


def interchange_problems(ledger: Ledger, run_id: str, directory: PartnerDirectory) -> Findings:
    """What the validity check finds in the interchanges a run stored: "file: first error" per invalid file."""
    with ledger.begin() as conn:
        rows = outbox.interchanges_of_run(conn, run_id)
        verdicts = outbox.verdicts_of_run(conn, run_id)
    problems: list[str] = []
    revalidated = 0
    for row in rows:
        charset = directory.get(row.partner_id).charset
        found = _stored_finding(row, verdicts.get(row.file_name), charset)
        if found is None:
            revalidated += 1
            errors = validate_interchange(row.content, charset=charset)
            found = (bool(errors), str(errors[0]) if errors else "")
        invalid, first_error = found
        if invalid or row.state == "invalid":
            problems.append(f"{row.file_name}: {first_error if invalid else 'marked invalid'}")
    return Findings(len(rows), revalidated, problems)


def _stored_finding(row: RunInterchange, verdict: Verdict | None, charset: str) -> tuple[bool, str] | None:
    """(invalid, first error) as stored, if the verdict was found in this very content under this charset; None
    when the content must be validated again."""
    if verdict is None or verdict.charset != charset:
        return None
    if verdict.sha256 != hashlib.sha256(row.content.encode("utf-8")).hexdigest():
        return None
    return verdict.error_count > 0, verdict.first_error or ""
