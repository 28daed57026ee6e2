"""The monthly reconciliation: a ledger holding every fate a document can have in October 2026 (and documents of
other months that must stay out), read into the summary, the drill-down and the aging; the files; the CLI; the
asset.

The ledger is filled through its own operations (snapshots, documents, outbox, interchanges, acknowledgments,
inbound files, partner documents); ``partner_matches`` and delivery times in the past are written directly.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import insert, update

from freshcleo_pipeline.cli import main as cli
from freshcleo_pipeline.defs.reports import ReconciliationReportConfig, monthly_reconciliation
from freshcleo_pipeline.defs.resources import LedgerResource, PartnerDirectoryResource
from freshcleo_pipeline.ledger import Connection, Ledger, inbound, outbox, partner_documents, snapshots
from freshcleo_pipeline.ledger.monthly import rows_for_month
from freshcleo_pipeline.ledger.rows import dumps
from freshcleo_pipeline.ledger.schema import interchanges, partner_matches
from freshcleo_pipeline.partners import PartnerDirectory, load_partners
from freshcleo_pipeline.reports import files
from freshcleo_pipeline.reports.reconciliation import Report, build
from freshcleo_pipeline.reports.reconciliation import monthly_reconciliation as build_report
from freshcleo_pipeline.settings import get_settings

ACCOUNT = "acct1"
OCTOBER = dt.date(2026, 10, 1)
NOW = dt.datetime(2026, 11, 3, 12, 0, tzinfo=dt.UTC)
PARTNERS = Path(__file__).resolve().parents[2] / "freshcleo_pipeline" / "sandbox" / "data" / "partners.yaml"
_DATE_FIELD = {"invoice": "issue_date", "bill": "issue_date", "payment": "payment_date"}
_SET = {"invoice": "810", "bill": "850", "payment": "820"}


class Fill:
    """Writes documents and their deliveries through the ledger's operations."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.isa13 = 100

    def document(self, kind: str, source_id: str, partner: str, day: str, total: str, *, version: str = "v1",
                 partition: str | None = None, status: str = "routed", currency: str = "USD") -> int:
        partition_date = dt.date.fromisoformat(partition or day)
        snapshots.save_snapshots(self.conn, [{
            "kind": kind, "account_id": ACCOUNT, "source_id": source_id, "version": version,
            "updated_at": dt.datetime.combine(partition_date, dt.time(12), dt.UTC), "partition_date": partition_date,
            "vis_state": 0, "payload": {"id": source_id, "version": version}}], run_id=None)
        snap = snapshots.versions_of(self.conn, ACCOUNT, source_id, kind)[-1]
        snapshots.save_documents(self.conn, [{
            "snapshot_id": snap.id, "kind": kind, "account_id": ACCOUNT, "source_id": source_id, "version": version,
            "partition_date": partition_date, "reference": f"N-{source_id}", "status": status, "reason": "",
            "partner_id": partner, "transaction_set": _SET[kind], "currency": currency, "total": total,
            "body": {_DATE_FIELD[kind]: day, "total": total}, "warnings": []}], run_id=None)
        return snapshots.document_ids(self.conn, kind, ACCOUNT, [(source_id, version)])[(source_id, version)]

    def enqueue(self, doc_id: int, kind: str, source_id: str, partner: str, total: str, *,
                version: str = "v1") -> int:
        key = outbox.idempotency_key(partner, _SET[kind], kind, ACCOUNT, source_id, version)
        outbox.enqueue(self.conn, [{
            "idempotency_key": key, "partner_id": partner, "transaction_set": _SET[kind], "kind": kind,
            "account_id": ACCOUNT, "source_id": source_id, "version": version, "document_id": doc_id,
            "partition_date": OCTOBER, "purpose": "original", "reference": f"N-{source_id}", "total": total}])
        return outbox.id_of_key(self.conn, key)

    def render(self, outbox_id: int, partner: str, kind: str, total: str) -> int:
        self.isa13 += 1
        return outbox.create_interchange(
            self.conn, partner_id=partner, transaction_set=_SET[kind], usage="T", isa13=self.isa13, gs06=self.isa13,
            file_name=f"{partner}-{self.isa13}.x12", content="ISA~", sha256="0" * 64, total=total,
            members=[(outbox_id, "0001")], run_id=None)

    def deliver(self, outbox_id: int, partner: str, kind: str, total: str, *, hours_ago: float,
                ack: str | None = None) -> int:
        interchange_id = self.render(outbox_id, partner, kind, total)
        outbox.mark_delivered(self.conn, interchange_id, cleo_file_id="c", receipt={}, run_id=None)
        self.conn.execute(update(interchanges).where(interchanges.c.id == interchange_id)
                          .values(delivered_at=NOW - dt.timedelta(hours=hours_ago)))
        if ack is not None:
            outbox.set_ack(self.conn, outbox_id, ack, {}, NOW - dt.timedelta(hours=hours_ago - 1))
        return interchange_id

    def sent(self, kind: str, source_id: str, partner: str, day: str, total: str, *, hours_ago: float,
             ack: str | None = None, **document: Any) -> int:
        doc_id = self.document(kind, source_id, partner, day, total, **document)
        row = self.enqueue(doc_id, kind, source_id, partner, total, version=document.get("version", "v1"))
        self.deliver(row, partner, kind, total, hours_ago=hours_ago, ack=ack)
        return row

    def theirs(self, partner: str, transaction_set: str, reference: str, day: str | None, total: str | None,
               *, status: str = "read", match: str | None = None, differences: list[dict[str, Any]] | None = None,
               ) -> None:
        file = inbound.record(self.conn, partner_id=partner, folder=f"{partner}/in", cleo_file_id=reference,
                              file_name=f"{reference}.x12", content="ISA~", sha256=reference.ljust(64, "0"),
                              kind=transaction_set, run_id=None)
        partner_documents.record(self.conn, inbound_file_id=file.id, partner_id=partner,
                                 transaction_set=transaction_set, isa13="000000777", gs06="7", st02="0001",
                                 status=status, reference=reference,
                                 document_date=dt.date.fromisoformat(day) if day else None, currency="USD",
                                 total=total, reason="" if status == "read" else "no BIG segment")
        if match is None:
            return
        doc = partner_documents.of_file(self.conn, file.id)[0]
        self.conn.execute(insert(partner_matches).values(
            partner_document_id=doc.id, partner_id=partner, transaction_set=transaction_set, reference=reference,
            document_date=doc.document_date, status=match, differences=dumps(differences or []),
            freshbooks_kind="bill", freshbooks_id="B-1", our_reference="PO-1", detail="{}", checked_at=NOW,
            changed_at=NOW))


def fill_october(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        f = Fill(conn)
        f.sent("invoice", "1", "acme-retail", "2026-10-05", "100.00", hours_ago=200, ack="accepted")
        f.sent("invoice", "2", "acme-retail", "2026-10-06", "250.50", hours_ago=150, ack="rejected")
        f.sent("invoice", "3", "acme-retail", "2026-10-20", "75.25", hours_ago=72)  # overdue (24 h window)
        f.sent("invoice", "4", "northwind-grocers", "2026-10-30", "40.00", hours_ago=30)  # within its 48 h
        queued = f.document("invoice", "5", "acme-retail", "2026-10-10", "10.00")
        f.enqueue(queued, "invoice", "5", "acme-retail", "10.00")
        f.document("invoice", "6", "acme-retail", "2026-10-11", "20.00")  # routed, nothing queued yet
        # Paid in December: its newest version lies two months after its date, and that version is what counts.
        f.sent("invoice", "7", "acme-retail", "2026-10-03", "60.00", hours_ago=900, ack="accepted")
        f.sent("invoice", "7", "acme-retail", "2026-10-03", "65.00", hours_ago=100, ack="accepted", version="v2",
               partition="2026-12-01")
        f.document("invoice", "8", "acme-retail", "2026-09-28", "999.00")  # September
        f.document("invoice", "9", "acme-retail", "2026-11-01", "999.00", partition="2026-10-31")  # November
        f.document("invoice", "10", "acme-retail", "2026-10-15", "999.00", status="draft")
        f.document("invoice", "11", "northwind-grocers", "2026-10-12", "15.00", currency="CAD")
        bill = f.document("bill", "B1", "bolt-fasteners", "2026-10-02", "500.00")
        row = f.enqueue(bill, "bill", "B1", "bolt-fasteners", "500.00")
        interchange_id = f.render(row, "bolt-fasteners", "bill", "500.00")
        assert outbox.mark_uploading(conn, interchange_id, NOW - dt.timedelta(hours=5))
        assert outbox.mark_in_doubt(conn, interchange_id, NOW - dt.timedelta(hours=5), "timeout")
        f.sent("payment", "P1", "northwind-grocers", "2026-10-15", "30.00", hours_ago=240,
               ack="accepted_with_errors")
        f.theirs("bolt-fasteners", "810", "INV-B1", "2026-10-08", "510.00", match="mismatched",
                 differences=[{"field": "total", "theirs": "510.00", "sent": "500.00", "freshbooks": "500.00"}])
        f.theirs("bolt-fasteners", "810", "INV-B2", "2026-10-09", "120.00")  # not checked yet
        f.theirs("acme-retail", "850", "PO-77", "2026-10-21", "300.00", match="answered")
        f.theirs("bolt-fasteners", "810", "INV-B0", "2026-09-30", "1.00", match="matched")  # September
        f.theirs("acme-retail", "810", "BAD-1", None, None, status="unreadable")  # received in November


@pytest.fixture
def partners() -> PartnerDirectory:
    return load_partners(PARTNERS)


@pytest.fixture
def report(ledger: Ledger, partners: PartnerDirectory) -> Report:
    fill_october(ledger)
    return build_report(ledger, partners, OCTOBER, NOW)


def _line(frame: pd.DataFrame, partner: str, document: str, currency: str = "USD") -> dict[str, Any]:
    rows = frame[(frame["Partner"] == partner) & (frame["Document"] == document) & (frame["Currency"] == currency)]
    assert len(rows) == 1, rows
    return {k: (None if pd.isna(v) else v) for k, v in rows.iloc[0].to_dict().items()}


def test_summary_counts_each_document_once_where_it_stands(report: Report) -> None:
    s = report.summary
    acme = _line(s, "acme-retail", "810 invoice")
    assert acme["FreshBooks documents"] == 6
    assert acme["FreshBooks amount"] == 520.75
    assert (acme["EDI sent"], acme["EDI sent amount"]) == (4, 490.75)
    assert (acme["Acknowledged"], acme["Rejected"], acme["Overdue"], acme["Awaiting acknowledgment"]) == (2, 1, 1, 0)
    assert (acme["In doubt / failed"], acme["Not sent"]) == (0, 2)
    assert acme["Not sent reasons"] == "1 not queued, 1 queued"
    assert acme["Received"] is None
    bolt = _line(s, "bolt-fasteners", "850 purchase order")
    assert (bolt["FreshBooks documents"], bolt["FreshBooks amount"], bolt["In doubt / failed"]) == (1, 500.0, 1)
    assert _line(s, "northwind-grocers", "810 invoice")["Awaiting acknowledgment"] == 1
    assert _line(s, "northwind-grocers", "820 remittance")["Acknowledged"] == 1
    cad = _line(s, "northwind-grocers", "810 invoice", "CAD")
    assert (cad["FreshBooks documents"], cad["FreshBooks amount"], cad["Not sent"]) == (1, 15.0, 1)
    theirs = _line(s, "bolt-fasteners", "their 810 invoice")
    assert (theirs["Received"], theirs["Received amount"], theirs["Mismatched"], theirs["Not yet checked"]) == \
        (2, 630.0, 1, 1)
    assert theirs["FreshBooks documents"] is None
    assert _line(s, "acme-retail", "their 850 purchase order")["Answered"] == 1
    # Outbound first, then inbound; totals last, one per currency.
    assert list(s["Direction"].iloc[:5]) == ["outbound"] * 5
    totals = s[s["Partner"] == "Total"].set_index("Currency")
    assert list(totals.index) == ["CAD", "USD"]
    assert totals.loc["USD", "FreshBooks documents"] == 9
    assert totals.loc["USD", "FreshBooks amount"] == 1090.75
    assert totals.loc["CAD", "FreshBooks amount"] == 15.0
    assert totals.loc["USD", "Received"] == 3
    assert report.totals()["freshbooks_documents"] == 10
    assert report.totals()["freshbooks_amount/USD"] == 1090.75
    # The categories add up.
    body = s[s["Partner"] != "Total"]
    out = body[body["Direction"] == "outbound"]
    assert (out["EDI sent"] + out["In doubt / failed"] + out["Not sent"] == out["FreshBooks documents"]).all()
    sent = out[["Acknowledged", "Rejected", "Awaiting acknowledgment", "Overdue", "Acknowledgment needs review"]]
    assert (sent.sum(axis=1) == out["EDI sent"]).all()
    assert s["FreshBooks amount"].dtype == "Float64"


def test_documents_name_each_document_and_its_file(report: Report) -> None:
    d = report.documents
    docs = d[~d["Direction"].str.startswith("Total")]
    assert len(docs) == 10 + 3
    ids = set(docs.loc[docs["Direction"] == "outbound", "FreshBooks id"])
    assert ids == {"1", "2", "3", "4", "5", "6", "7", "11", "B1", "P1"}
    seven = docs[docs["FreshBooks id"] == "7"].iloc[0]
    assert (seven["FreshBooks total"], seven["EDI total"], seven["Status"]) == (65.0, 65.0, "Acknowledged")
    assert seven["Date"] == pd.Timestamp("2026-10-03")
    three = docs[docs["FreshBooks id"] == "3"].iloc[0]
    assert (three["Status"], three["Overdue"], three["Acknowledgment"]) == ("Overdue", "yes", "waiting")
    assert three["X12 file"].startswith("acme-retail-") and three["ISA13"].startswith("000000")
    assert three["Delivered at (UTC)"] == pd.Timestamp(NOW.replace(tzinfo=None) - dt.timedelta(hours=72))
    bill = docs[docs["FreshBooks id"] == "B1"].iloc[0]
    assert bill["Status"] == "In doubt / failed" and "in doubt" in bill["Reason"]
    assert pd.isna(bill["EDI total"])
    mismatched = docs[docs["Number"] == "INV-B1"].iloc[0]
    assert mismatched["Match"] == "Mismatched"
    assert mismatched["Differences"] == "total: theirs 510.00, sent 500.00, FreshBooks 500.00"
    assert docs[docs["Number"] == "INV-B2"].iloc[0]["Match"] == "Not yet checked"
    totals = d[d["Direction"] == "Total outbound"].set_index("Currency")
    assert totals.loc["USD", "FreshBooks total"] == 1090.75
    assert totals.loc["USD", "Document"] == "9 documents"


def test_aging_buckets_open_deliveries_as_of_the_report_time(report: Report) -> None:
    a = report.aging
    acme = _line(a, "acme-retail", "810 invoice")
    assert (acme["< 1 day"], acme["1-2 days"], acme["2-7 days"], acme["> 7 days"]) == (0, 0, 1, 0)
    assert (acme["Open deliveries"], acme["Open amount"], acme["Past acknowledgment window"]) == (1, 75.25, 1)
    northwind = _line(a, "northwind-grocers", "810 invoice")
    assert (northwind["1-2 days"], northwind["Past acknowledgment window"]) == (1, 0)
    assert northwind["Acknowledgment window (hours)"] == 48
    total = a[a["Partner"] == "Total"].iloc[0]
    assert (total["Open deliveries"], total["Open amount"]) == (2, 115.25)
    # The aging holds exactly the summary's open deliveries.
    s = report.summary[report.summary["Partner"] == "Total"]
    assert total["Open deliveries"] == s["Awaiting acknowledgment"].sum() + s["Overdue"].sum()


def test_no_partner_matches_yet_and_an_empty_month(ledger: Ledger, partners: PartnerDirectory) -> None:
    with ledger.begin() as conn:
        f = Fill(conn)
        f.theirs("bolt-fasteners", "810", "INV-X", "2026-10-08", "5.00")
        rows = rows_for_month(conn, OCTOBER)
    assert [(t.reference, t.match_status) for t in rows.theirs] == [("INV-X", None)]
    empty = build(rows_for_month_in(ledger, dt.date(2025, 1, 1)), {}, NOW)
    assert empty.summary.empty and empty.documents.empty and empty.aging.empty
    assert set(empty.totals().values()) <= {0}


def rows_for_month_in(ledger: Ledger, month: dt.date) -> Any:
    with ledger.begin() as conn:
        return rows_for_month(conn, month)


def test_files_in_every_format_agree(report: Report, tmp_path: Path) -> None:
    paths = files.write(report, tmp_path / "out", files.formats_from(["all"]))
    names = sorted(p.name for p in paths)
    assert names == ["reconciliation-2026-10-aging.csv", "reconciliation-2026-10-documents.csv",
                     "reconciliation-2026-10-summary.csv", "reconciliation-2026-10.html",
                     "reconciliation-2026-10.xlsx"]
    assert all(p.is_file() for p in paths)
    workbook = openpyxl.load_workbook(tmp_path / "out" / "reconciliation-2026-10.xlsx")
    assert workbook.sheetnames == ["Summary", "Documents", "Aging"]
    sheet = workbook["Summary"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    money = header.index("FreshBooks amount") + 1
    with (tmp_path / "out" / "reconciliation-2026-10-summary.csv").open(encoding="utf-8-sig") as handle:
        csv_rows = list(csv.DictReader(handle))
    for row_cells, csv_row in zip(sheet.iter_rows(min_row=2), csv_rows, strict=True):
        cell = row_cells[money - 1]
        if csv_row["Partner"] == "Total":
            assert isinstance(cell.value, int | float) and cell.number_format == "#,##0.00"
            assert Decimal(csv_row["FreshBooks amount"]) == Decimal(str(cell.value))
            assert row_cells[0].font.bold
    usd = next(r for r in csv_rows if r["Partner"] == "Total" and r["Currency"] == "USD")
    assert usd["FreshBooks amount"] == "1090.75" and usd["FreshBooks documents"] == "9"
    page = (tmp_path / "out" / "reconciliation-2026-10.html").read_text(encoding="utf-8")
    assert page.count("<table>") == 3 and "Monthly reconciliation 2026-10" in page and "Generated at" in page
    assert "1,090.75" in page and "INV-B1" in page


def test_default_formats_and_a_bad_one() -> None:
    assert files.formats_from([]) == ["csv", "xlsx"]
    assert files.formats_from(["html", "csv"]) == ["csv", "html"]
    with pytest.raises(Exception, match="--format"):
        files.formats_from(["pdf"])


@pytest.fixture
def cli_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FRESHCLEO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FRESHCLEO_LEDGER_URL", sqlite_url)
    monkeypatch.setenv("FRESHCLEO_PARTNERS_FILE", str(PARTNERS))
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


@pytest.mark.parametrize("month", ["2026-13", "October", "2026-1", "26-10"])
def test_cli_bad_month_is_one_line_naming_it(cli_env: str, month: str) -> None:
    result = CliRunner().invoke(cli, ["report", "reconciliation", "--month", month])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: --month: got {month!r}; expected a month as YYYY-MM, e.g. 2026-10"]


def test_cli_writes_the_files_and_prints_the_summary(cli_env: str, sqlite_ledger: Ledger, tmp_path: Path) -> None:
    fill_october(sqlite_ledger)
    result = CliRunner().invoke(cli, ["report", "reconciliation", "--month", "2026-10"])
    assert result.exit_code == 0, result.output
    reports = tmp_path / "reports"
    assert f"  {reports / 'reconciliation-2026-10.xlsx'}" in result.output.splitlines()
    assert (reports / "reconciliation-2026-10-summary.csv").is_file()
    assert not (reports / "reconciliation-2026-10.html").exists()
    assert "acme-retail" in result.output and "1,090.75" in result.output
    html_only = CliRunner().invoke(cli, ["report", "reconciliation", "--month", "2026-10", "--format", "html",
                                         "--out", str(tmp_path / "elsewhere")])
    assert html_only.exit_code == 0, html_only.output
    assert [p.name for p in (tmp_path / "elsewhere").iterdir()] == ["reconciliation-2026-10.html"]


def test_the_asset_materializes_one_month(sqlite_url: str, sqlite_ledger: Ledger, tmp_path: Path) -> None:
    fill_october(sqlite_ledger)
    result = dg.materialize(
        [monthly_reconciliation], partition_key="2026-10-01",
        resources={"ledger": LedgerResource(url=sqlite_url), "partners": PartnerDirectoryResource(path=str(PARTNERS))},
        run_config=dg.RunConfig({"monthly_reconciliation": ReconciliationReportConfig(out_dir=str(tmp_path / "r"))}))
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == 13
    assert metadata["total/freshbooks_documents"].value == 10
    assert metadata["total/freshbooks_amount/USD"].value == 1090.75
    assert metadata["total/overdue"].value == 2  # as of the real now, northwind's 48 h passed too
    assert Path(str(metadata["file/xlsx"].value)).is_file()
    assert Path(str(metadata["file/csv/summary"].value)).name == "reconciliation-2026-10-summary.csv"
    assert sorted(p.name for p in (tmp_path / "r").iterdir())[-1] == "reconciliation-2026-10.xlsx"
