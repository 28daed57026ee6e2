"""``freshcleo report reconciliation --month YYYY-MM``: the monthly reconciliation as files finance opens.

Owns the command-line glue only: reading the month and formats, opening the ledger and partners.yaml, reading
the clock (the report time), printing the paths and a short summary. What the report holds and how the files look
is ``reports/``'s.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.settings import get_settings


@click.group(name="report")
def report() -> None:
    """Reports for finance, built from the ledger."""


@report.command()
@click.option("--month", required=True, help="The month, as YYYY-MM (documents dated in it, UTC dates).")
@click.option("--format", "formats", multiple=True, metavar="csv|xlsx|html|all",
              help="Output format; repeatable, or 'all'. Default: csv and xlsx.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for the files (default: <data dir>/reports).")
def reconciliation(month: str, formats: tuple[str, ...], out_dir: str | None) -> None:
    """FreshBooks documents of a month against what went to each partner as EDI, their acknowledgments, and what
    partners sent us: a summary, one row per document, and the acknowledgment aging (as of now)."""
    # pandas is imported here, not with the CLI: every other command starts without paying for it.
    import pandas as pd

    from freshcleo_pipeline.reports import files
    from freshcleo_pipeline.reports.reconciliation import (
        MONEY_COLUMNS,
        monthly_reconciliation,
        parse_month,
        short_summary,
    )

    first = parse_month(month)
    chosen = files.formats_from(formats)
    settings = get_settings()
    ledger = open_ledger(settings.resolved_ledger_url())
    try:
        result = monthly_reconciliation(ledger, load_partners(settings.resolved_partners_file()), first,
                                        dt.datetime.now(dt.UTC))
    finally:
        ledger.dispose()
    paths = files.write(result, Path(out_dir) if out_dir else settings.data_dir / "reports", chosen)
    click.echo(f"Reconciliation {result.month} (as of {result.generated_at:%Y-%m-%d %H:%M} UTC):")
    for path in paths:
        click.echo(f"  {path}")
    table = short_summary(result)
    if table.empty:
        click.echo("no documents in this month")
        return
    shown = table.astype(object).where(table.notna(), "")  # blank, not <NA>, where a column does not apply
    with pd.option_context("display.width", 250, "display.max_columns", None):
        click.echo(shown.to_string(index=False, formatters={c: _money for c in MONEY_COLUMNS if c in shown}))


def _money(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


COMMANDS = [report]
