"""Writing a report's tables as files a finance person opens: CSV (one file per table), an Excel workbook (one
sheet per table) and one self-contained HTML page.

Owns the layout only (names, number formats, widths); what the tables hold is ``reports/reconciliation.py``'s.
Money stays a number with 2 decimals in every format (never text), blank where it does not apply.
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from freshcleo_pipeline.errors import ConfigError
from freshcleo_pipeline.reports.reconciliation import DATE_COLUMNS, MONEY_COLUMNS, TIME_COLUMNS, TOTAL, Report

FORMATS = ("csv", "xlsx", "html")
MONEY_FORMAT = "#,##0.00"
MAX_WIDTH = 60


def formats_from(values: Iterable[str]) -> list[str]:
    """The formats asked for (repeatable, ``all``), in a stable order; none asked = csv and xlsx."""
    asked = {v.strip().lower() for v in values if v.strip()}
    unknown = asked - {*FORMATS, "all"}
    if unknown:
        raise ConfigError("--format", ", ".join(sorted(unknown)), f"one of {', '.join(FORMATS)} or all")
    if not asked:
        asked = {"csv", "xlsx"}
    return [f for f in FORMATS if f in asked or "all" in asked]


def write(report: Report, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Write the report in each format into ``out_dir`` (created); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"reconciliation-{report.month}"
    paths: list[Path] = []
    for fmt in formats:
        if fmt == "csv":
            paths += write_csv(report, out_dir, stem)
        elif fmt == "xlsx":
            paths.append(write_xlsx(report, out_dir / f"{stem}.xlsx"))
        elif fmt == "html":
            paths.append(write_html(report, out_dir / f"{stem}.html"))
        else:
            raise ConfigError("format", fmt, f"one of {', '.join(FORMATS)}")
    return paths


def write_csv(report: Report, out_dir: Path, stem: str) -> list[Path]:
    paths = []
    for name, frame in report.tables().items():
        path = out_dir / f"{stem}-{name}.csv"
        shown = frame.copy()
        for column in shown.columns:
            if column in DATE_COLUMNS or column in TIME_COLUMNS:
                shown[column] = shown[column].dt.strftime("%Y-%m-%d" if column in DATE_COLUMNS else "%Y-%m-%d %H:%M:%S")
        # utf-8-sig: Excel opens a CSV with a byte-order mark as UTF-8 (accented names) instead of the ANSI page.
        shown.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.2f")
        paths.append(path)
    return paths


def write_xlsx(report: Report, path: Path) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in report.tables().items():
            frame.to_excel(writer, sheet_name=name.capitalize(), index=False)
            _layout(writer.sheets[name.capitalize()], frame)
    return path


def _layout(sheet: Worksheet, frame: pd.DataFrame) -> None:
    """Bold, frozen header; money, date and time formats; totals rows bold; widths fitted to the content."""
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    totals = {i + 2 for i, first in enumerate(frame.iloc[:, 0].astype("string").fillna(""))
              if first.startswith(TOTAL)}
    for index, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(index)
        number_format = (MONEY_FORMAT if column in MONEY_COLUMNS else "yyyy-mm-dd" if column in DATE_COLUMNS
                         else "yyyy-mm-dd hh:mm" if column in TIME_COLUMNS else None)
        cells = sheet[letter][1:]
        for cell in cells:
            if number_format is not None:
                cell.number_format = number_format
            if cell.row in totals:
                cell.font = bold
        shown = frame[column].map(lambda v: "" if pd.isna(v) else f"{v:,.2f}" if isinstance(v, float) else str(v))
        width = max([len(str(column)), *shown.map(len).tolist()]) if len(shown) else len(str(column))
        sheet.column_dimensions[letter].width = min(MAX_WIDTH, width + 2)


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
p.meta { color: #555; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; }
tr.total td { font-weight: bold; background: #fafafa; }
"""


def write_html(report: Report, path: Path) -> Path:
    titles = {"summary": "Summary per partner and document type", "documents": "Documents",
              "aging": "Acknowledgment aging (open deliveries)"}
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>Reconciliation {report.month}</title><style>{_STYLE}</style></head><body>",
             f"<h1>Monthly reconciliation {report.month}: FreshBooks and EDI</h1>",
             f"<p class=\"meta\">Generated at {report.generated_at:%Y-%m-%d %H:%M} UTC; acknowledgment ages and "
             f"overdue flags are as of that time. Money in each document's currency; totals per currency.</p>"]
    for name, frame in report.tables().items():
        parts.append(f"<h2 id=\"{name}\">{html.escape(titles[name])}</h2>")
        parts.append(_html_table(frame))
    parts.append("</body></html>\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        first = "" if pd.isna(row[0]) else str(row[0])
        cells = "".join(_html_cell(column, value) for column, value in zip(frame.columns, row, strict=True))
        body.append(f"<tr class=\"total\">{cells}</tr>" if first.startswith(TOTAL) else f"<tr>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody></table>"


def _html_cell(column: str, value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "<td></td>"
    if column in MONEY_COLUMNS:
        return f"<td class=\"num\">{float(value):,.2f}</td>"
    if column in DATE_COLUMNS:
        return f"<td>{pd.Timestamp(value):%Y-%m-%d}</td>"
    if column in TIME_COLUMNS:
        return f"<td>{pd.Timestamp(value):%Y-%m-%d %H:%M}</td>"
    if isinstance(value, numbers.Real):
        return f"<td class=\"num\">{value}</td>"
    return f"<td>{html.escape(str(value))}</td>"
