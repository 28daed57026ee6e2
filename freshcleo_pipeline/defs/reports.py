"""Report assets: the monthly reconciliation for finance, one partition per month.

It reads the ledger only (no outside system), so it never blocks the pipeline and can be materialized again at any
time: the files are written anew, as of that moment. Its dependencies on the deliveries and the inbound files are
for lineage in the graph; nothing automates it from them.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from freshcleo_pipeline.defs.common import preview_table
from freshcleo_pipeline.defs.deliver import cleo_deliveries
from freshcleo_pipeline.defs.inbound import cleo_inbound_files
from freshcleo_pipeline.defs.resources import LedgerResource, PartnerDirectoryResource
from freshcleo_pipeline.settings import get_settings

# The current month exists while it is in progress (``end_offset=1``), as today's day partition does.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=get_settings().partitions_start.replace(day=1).isoformat(), timezone="UTC", end_offset=1)


class ReconciliationReportConfig(dg.Config):
    out_dir: str = ""  # where the files go; empty: <FRESHCLEO_DATA_DIR>/reports


@dg.asset(
    group_name="reports",
    partitions_def=monthly_partitions,
    deps=[dg.AssetDep(cleo_deliveries, partition_mapping=dg.TimeWindowPartitionMapping()), cleo_inbound_files],
    kinds={"pandas", "excel"},
    code_version="1",
    description="The monthly reconciliation for finance: per partner and document type, FreshBooks documents "
    "dated in the month against the EDI sent, acknowledged, rejected, overdue, in doubt or not sent, and the "
    "partners' own documents received and matched; one row per document; open deliveries by acknowledgment age "
    "as of the materialization. Written as CSV, Excel and HTML.",
)
def monthly_reconciliation(context: dg.AssetExecutionContext, config: ReconciliationReportConfig,
                           ledger: LedgerResource, partners: PartnerDirectoryResource) -> dg.MaterializeResult:
    # pandas and openpyxl load here, not with the definitions: every run and the code server would carry them
    # (about 50 MB) for the one asset that uses them.
    from freshcleo_pipeline.reports import files, reconciliation

    month = dt.date.fromisoformat(context.partition_key)
    report = reconciliation.monthly_reconciliation(ledger.get_ledger(), partners.load(), month,
                                                   dt.datetime.now(dt.UTC))
    out_dir = Path(config.out_dir) if config.out_dir else get_settings().data_dir / "reports"
    paths = files.write(report, out_dir, files.FORMATS)
    documents = report.documents[~report.documents["Direction"].astype("string").str.startswith(reconciliation.TOTAL)]
    context.log.info("reconciliation %s: %d documents, written to %s", report.month, len(documents), out_dir)
    summary = report.summary.astype(object).where(report.summary.notna(), None)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(documents),
        "as_of": report.generated_at.isoformat(timespec="seconds"),
        **{f"total/{name}": value for name, value in sorted(report.totals().items())},
        "summary": preview_table(summary.to_dict("records")),
        **{_file_key(path): dg.MetadataValue.path(str(path)) for path in paths},
    })


def _file_key(path: Path) -> str:
    """``file/xlsx``, ``file/html``, ``file/csv/summary``: the same keys every month."""
    kind = path.suffix.lstrip(".")
    return f"file/{kind}/{path.stem.rsplit('-', 1)[-1]}" if kind == "csv" else f"file/{kind}"
