"""The monthly reconciliation: what FreshBooks holds for a month, what went to each partner as EDI and what became
of it, and what partners sent us — as three tables (pandas DataFrames) a finance person reads.

Owns the rules of what counts where; the rows come from ``ledger/monthly.py`` (which documents belong to the
month, see its docstring), the files are ``reports/files.py``'s job. ``build`` is pure: rows, windows and the
report time in, tables out.

**What counts where.** One FreshBooks document = one row of ``documents`` and one count in ``summary``, under its
partner, transaction set and currency.

- *FreshBooks documents / amount*: routed documents of the month (newest version), their FreshBooks total.
- Each of them has exactly one EDI status, from the outbox row of its newest version that speaks for it (the last
  delivered one, a re-send after the first; a reversal 820 only when the version has nothing else), so
  ``FreshBooks documents = EDI sent + In doubt / failed + Not sent`` and
  ``EDI sent = Acknowledged + Rejected + Awaiting acknowledgment + Overdue + Acknowledgment needs review``:

  - *Acknowledged*: delivered, acknowledged accepted or accepted with errors (997/999 AK5/IK5 A or E);
  - *Rejected*: delivered, acknowledged rejected;
  - *Overdue*: delivered, no acknowledgment, and either marked overdue by the inbound poll or older than the
    partner's ``ack_window_hours`` at the report time;
  - *Awaiting acknowledgment*: delivered, no acknowledgment, still within the window;
  - *Acknowledgment needs review*: two acknowledgments disagree, or one says neither yes nor no;
  - *In doubt / failed*: rendered into a file whose upload is in doubt, in conflict, failed or invalid, or a
    version that could not be rendered;
  - *Not sent*: routed but not delivered for a reason that is not a failure: nothing queued yet, queued, rendered
    and waiting for the next upload, not sent by the partner's change policy, void (the reason is given).

- *EDI sent amount*: the amount on the delivered outbox row (what the X12 file states; the audit reconciliation
  ``deliveries_reconcile_with_freshbooks`` proves it equals FreshBooks').
- *Received / amount* (inbound): partner documents of the month, their own total. Each has one match status:
  *Unreadable* (set aside in quarantine), else the matching stage's result (*Matched*, *Mismatched*, *Unmatched*
  for their 810s; *Answered*, *Unanswered* for their 850s; *Reported* for their 820s), else *Not yet checked*;
  they add up to *Received*.
- *Aging*: the month's documents that are delivered and not acknowledged (Awaiting acknowledgment + Overdue), by
  the time since delivery **as of the report time** (``generated_at``, normally now, not the end of the month).

Money is summed as exact decimals after rounding each document to cents, then shown as numbers with 2 decimals;
totals rows are one per currency (and per direction in ``documents``), never across currencies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from freshcleo_pipeline.errors import ConfigError
from freshcleo_pipeline.ledger import Ledger, monthly
from freshcleo_pipeline.ledger.acknowledgments import ACCEPTING
from freshcleo_pipeline.ledger.monthly import Delivery, MonthRows
from freshcleo_pipeline.partners import PartnerDirectory
from freshcleo_pipeline.sync.doubts import DEFAULT_WINDOW_HOURS, window_hours

TABLES = ("summary", "documents", "aging")

OUTBOUND, INBOUND = "outbound", "inbound"
SENT_TO = {"810": "810 invoice", "850": "850 purchase order", "820": "820 remittance"}
RECEIVED = {"810": "their 810 invoice", "850": "their 850 purchase order", "820": "their 820 remittance",
            "856": "their 856 ship notice"}

ACKNOWLEDGED, REJECTED, AWAITING, OVERDUE, NEEDS_REVIEW = (
    "Acknowledged", "Rejected", "Awaiting acknowledgment", "Overdue", "Acknowledgment needs review")
SENT_STATUSES = (ACKNOWLEDGED, REJECTED, AWAITING, OVERDUE, NEEDS_REVIEW)
IN_DOUBT, NOT_SENT = "In doubt / failed", "Not sent"
MATCH_STATUSES = {"matched": "Matched", "mismatched": "Mismatched", "unmatched": "Unmatched",
                  "answered": "Answered", "unanswered": "Unanswered", "reported": "Reported"}
UNREADABLE, NOT_CHECKED = "Unreadable", "Not yet checked"

#: Acknowledgment age buckets: (column, upper bound in hours, exclusive).
AGE_BUCKETS = (("< 1 day", 24), ("1-2 days", 48), ("2-7 days", 168), ("> 7 days", None))

SUMMARY_COLUMNS = (
    "Partner", "Direction", "Transaction set", "Document", "Currency",
    "FreshBooks documents", "FreshBooks amount", "EDI sent", "EDI sent amount", *SENT_STATUSES, IN_DOUBT, NOT_SENT,
    "Not sent reasons", "Received", "Received amount", UNREADABLE, *MATCH_STATUSES.values(), NOT_CHECKED)
DOCUMENT_COLUMNS = (
    "Direction", "Partner", "Transaction set", "Document", "FreshBooks kind", "FreshBooks id", "Number", "Date",
    "Currency", "FreshBooks total", "EDI total", "Status", "Reason", "X12 file", "ISA13", "GS06", "ST02",
    "Delivered at (UTC)", "Acknowledgment", "Acknowledged at (UTC)", "Overdue", "Received at (UTC)", "Match",
    "Differences")
AGING_COLUMNS = (
    "Partner", "Transaction set", "Document", "Currency", *(name for name, _ in AGE_BUCKETS), "Open deliveries",
    "Open amount", "Past acknowledgment window", "Acknowledgment window (hours)", "Oldest delivered at (UTC)")

SUMMARY_COUNTS = ("FreshBooks documents", "EDI sent", *SENT_STATUSES, IN_DOUBT, NOT_SENT, "Received", UNREADABLE,
                  *MATCH_STATUSES.values(), NOT_CHECKED)
AGING_COUNTS = (*(name for name, _ in AGE_BUCKETS), "Open deliveries", "Past acknowledgment window",
                "Acknowledgment window (hours)")

#: Columns holding money (numbers, 2 decimals), dates and UTC times, for the files' formats.
MONEY_COLUMNS = frozenset({"FreshBooks amount", "EDI sent amount", "Received amount", "FreshBooks total",
                           "EDI total", "Open amount"})
DATE_COLUMNS = frozenset({"Date"})
TIME_COLUMNS = frozenset({"Delivered at (UTC)", "Acknowledged at (UTC)", "Received at (UTC)",
                          "Oldest delivered at (UTC)"})
TOTAL = "Total"

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Report:
    month: str  # YYYY-MM
    generated_at: dt.datetime  # the report time: aging and overdue are measured to it
    summary: pd.DataFrame
    documents: pd.DataFrame
    aging: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"summary": self.summary, "documents": self.documents, "aging": self.aging}

    def totals(self) -> dict[str, int | float]:
        """The summary's totals rows as numbers: ``<column>`` for counts (all currencies), ``<column>/<currency>``
        for money."""
        rows = self.summary[self.summary["Partner"] == TOTAL]
        out: dict[str, int | float] = {}
        for column in SUMMARY_COLUMNS[5:]:
            if column == "Not sent reasons":
                continue
            key = _snake(column)
            if column in MONEY_COLUMNS:
                for currency, value in zip(rows["Currency"], rows[column], strict=True):
                    if not pd.isna(value):
                        out[f"{key}/{currency or 'unknown'}"] = float(value)
            else:
                out[key] = int(rows[column].fillna(0).sum())
        return out


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` → the first day of that month; anything else names the value and the form expected."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise ConfigError("--month", text, "a month as YYYY-MM, e.g. 2026-10")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def monthly_reconciliation(ledger: Ledger, partners: PartnerDirectory, month: dt.date,
                           now: dt.datetime) -> Report:
    """Read the month from the ledger (one transaction) and build its report as of ``now``."""
    with ledger.begin() as conn:
        rows = monthly.rows_for_month(conn, month)
    partner_ids = {d.partner_id for d in rows.documents}
    return build(rows, {p: window_hours(partners, p) for p in partner_ids}, now)


# ---- one row per document ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str
    category: str  # the short reason the summary groups by ("" when sent)
    reason: str
    delivery: Delivery | None
    overdue: bool = False


def outcome(deliveries: Sequence[Delivery], window: int, now: dt.datetime) -> Outcome:
    """The one EDI status of a document version, from its outbox rows (oldest first)."""
    live = [d for d in deliveries if d.purpose != "cancel"] or list(deliveries)
    delivered = [d for d in live if d.state == "delivered"]
    chosen = delivered[-1] if delivered else (live[-1] if live else None)
    if chosen is None:
        return Outcome(NOT_SENT, "not queued", "routed; no delivery queued yet (the EDI stage has not run for it)",
                       None)
    file = chosen.file_name or "its file"
    if chosen.state == "delivered":
        if chosen.ack_state in ACCEPTING:
            return Outcome(ACKNOWLEDGED, "", f"acknowledged {chosen.ack_state.replace('_', ' ')}", chosen)
        if chosen.ack_state == "rejected":
            return Outcome(REJECTED, "", "rejected by the partner's acknowledgment", chosen)
        if chosen.ack_state in ("needs_review", "conflict"):
            return Outcome(NEEDS_REVIEW, "", f"acknowledgment {chosen.ack_state.replace('_', ' ')}: see "
                                             f"`freshcleo trace {file}`", chosen)
        since = chosen.delivered_at or now
        late = chosen.ack_state == "overdue" or now - since > dt.timedelta(hours=window)
        if late:
            return Outcome(OVERDUE, "", f"no acknowledgment within {window} h of delivery", chosen, overdue=True)
        return Outcome(AWAITING, "", f"delivered; acknowledgment expected within {window} h", chosen)
    if chosen.state == "failed":
        return Outcome(IN_DOUBT, "not rendered", f"could not be rendered: {chosen.last_error or 'see the trace'}",
                       chosen)
    if chosen.state == "rendered":
        state, error = chosen.interchange_state, chosen.interchange_error or chosen.last_error
        if state == "ready":
            return Outcome(NOT_SENT, "waiting for upload", f"rendered into {file}; uploaded by the next delivery",
                           chosen)
        text = {"uploading": f"the upload of {file} is in doubt (its outcome is being looked for)",
                "in_doubt": f"the upload of {file} is in doubt: waiting for the partner's acknowledgment",
                "conflict": f"another file holds the name {file} in the partner's folder",
                "failed": f"the upload of {file} failed ({error}); tried again by the next delivery",
                "invalid": f"{file} failed validation ({error})"}.get(state or "", f"{file} is {state}")
        return Outcome(IN_DOUBT, state or "", text, chosen)
    if chosen.state == "pending":
        return Outcome(NOT_SENT, "queued", "queued; rendered and sent by the next sync", chosen)
    if chosen.state == "ignored":
        return Outcome(NOT_SENT, "partner policy", f"not sent: {chosen.last_error or 'partner change policy'}",
                       chosen)
    return Outcome(NOT_SENT, chosen.state, f"delivery {chosen.state}", chosen)


def cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _isa13(value: int | str | None) -> str:
    if value is None or value == "":
        return ""
    return str(value).zfill(9) if str(value).isdigit() else str(value)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment is not None else None


def differences_text(differences: Sequence[Mapping[str, Any]]) -> str:
    """``[{field, theirs, sent, freshbooks, note}]`` → "total: theirs 110.00, sent 100.00, FreshBooks 100.00"."""
    parts = []
    for item in differences:
        values = [f"{label} {item[key]}" for key, label in (("theirs", "theirs"), ("sent", "sent"),
                                                            ("freshbooks", "FreshBooks"))
                  if item.get(key) not in (None, "")]
        note = f" ({item['note']})" if item.get("note") else ""
        parts.append(f"{item.get('field', '?')}: {', '.join(values)}{note}")
    return "; ".join(parts)


def document_rows(rows: MonthRows, windows: Mapping[str, int], now: dt.datetime) -> list[dict[str, Any]]:
    """One record per document (ours, then theirs), with the private ``_category`` / ``_delivered_at`` /
    ``_window`` the summary and aging need."""
    out: list[dict[str, Any]] = []
    for doc in rows.documents:
        window = windows.get(doc.partner_id, DEFAULT_WINDOW_HOURS)
        result = outcome(rows.deliveries.get(doc.id, []), window, now)
        d = result.delivery
        sent = result.status in SENT_STATUSES
        out.append({
            "Direction": OUTBOUND, "Partner": doc.partner_id, "Transaction set": doc.transaction_set,
            "Document": SENT_TO.get(doc.transaction_set, doc.transaction_set), "FreshBooks kind": doc.kind,
            "FreshBooks id": doc.source_id, "Number": doc.reference, "Date": doc.document_date,
            "Currency": doc.currency, "FreshBooks total": cents(doc.total),
            "EDI total": cents(d.total) if d is not None and sent else None, "Status": result.status,
            "Reason": result.reason, "X12 file": d.file_name if d else None, "ISA13": _isa13(d.isa13 if d else None),
            "GS06": str(d.gs06) if d and d.gs06 is not None else "", "ST02": (d.st02 or "") if d else "",
            "Delivered at (UTC)": _utc(d.delivered_at) if d and d.state == "delivered" else None,
            "Acknowledgment": d.ack_state.replace("_", " ") if d and d.state == "delivered" else "",
            "Acknowledged at (UTC)": _utc(d.ack_at) if d and result.status in (ACKNOWLEDGED, REJECTED) else None,
            "Overdue": ("yes" if result.overdue else "no") if sent else "", "Received at (UTC)": None,
            "Match": "", "Differences": "",
            "_category": result.category, "_delivered_at": d.delivered_at if d else None, "_window": window,
        })
    for theirs in rows.theirs:
        match = (UNREADABLE if theirs.status == "unreadable"
                 else MATCH_STATUSES.get(theirs.match_status or "", theirs.match_status or NOT_CHECKED))
        out.append({
            "Direction": INBOUND, "Partner": theirs.partner_id, "Transaction set": theirs.transaction_set,
            "Document": RECEIVED.get(theirs.transaction_set, f"their {theirs.transaction_set}"),
            "FreshBooks kind": theirs.freshbooks_kind or "", "FreshBooks id": theirs.freshbooks_id or "",
            "Number": theirs.reference, "Date": theirs.document_date, "Currency": theirs.currency or "",
            "FreshBooks total": None, "EDI total": cents(theirs.total) if theirs.total is not None else None,
            "Status": theirs.status, "Reason": theirs.reason or (
                f"answers our {theirs.our_reference}" if theirs.our_reference else ""),
            "X12 file": theirs.file_name, "ISA13": _isa13(theirs.isa13), "GS06": theirs.gs06, "ST02": theirs.st02,
            "Delivered at (UTC)": None, "Acknowledgment": "", "Acknowledged at (UTC)": None, "Overdue": "",
            "Received at (UTC)": _utc(theirs.received_at), "Match": match,
            "Differences": differences_text(theirs.differences),
            "_category": "", "_delivered_at": None, "_window": None,
        })
    return out


# ---- the three tables ---------------------------------------------------------------------------------------


def build(rows: MonthRows, windows: Mapping[str, int], now: dt.datetime) -> Report:
    """The report of ``rows`` as of ``now`` (aware); ``windows``: partner → acknowledgment window in hours."""
    records = document_rows(rows, windows, now)
    return Report(month=rows.first.strftime("%Y-%m"), generated_at=now.astimezone(dt.UTC),
                  summary=summary_frame(records), documents=documents_frame(records),
                  aging=aging_frame(records, now))


def _group(records: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], tuple[Any, ...]],
           ) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return dict(sorted(groups.items(), key=lambda item: tuple(str(k) for k in item[0])))


def _money_sum(records: Sequence[dict[str, Any]], column: str) -> Decimal:
    return sum((r[column] for r in records if r[column] is not None), Decimal(0))


def summary_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    lines: list[dict[str, Any]] = []
    key = lambda r: (r["Direction"] != OUTBOUND, r["Partner"], r["Transaction set"], r["Currency"])  # noqa: E731
    for (_, partner, transaction_set, currency), group in _group(records, key).items():
        line: dict[str, Any] = {"Partner": partner, "Direction": group[0]["Direction"],
                                "Transaction set": transaction_set, "Document": group[0]["Document"],
                                "Currency": currency}
        statuses = Counter(r["Status"] for r in group)
        if group[0]["Direction"] == OUTBOUND:
            sent = [r for r in group if r["Status"] in SENT_STATUSES]
            reasons = Counter(r["_category"] for r in group if r["Status"] == NOT_SENT)
            line.update({"FreshBooks documents": len(group), "FreshBooks amount": _money_sum(group, "FreshBooks total"),
                         "EDI sent": len(sent), "EDI sent amount": _money_sum(sent, "EDI total"),
                         **{s: statuses[s] for s in (*SENT_STATUSES, IN_DOUBT, NOT_SENT)},
                         "Not sent reasons": ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))})
        else:
            matches = Counter(r["Match"] for r in group)
            line.update({"Received": len(group), "Received amount": _money_sum(group, "EDI total"),
                         **{s: matches[s] for s in (UNREADABLE, *MATCH_STATUSES.values(), NOT_CHECKED)}})
        lines.append(line)
    frame = _frame(lines, SUMMARY_COLUMNS, counts=SUMMARY_COUNTS)
    return _with_totals(frame, by=["Currency"], label={"Partner": TOTAL})


def documents_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    ordered = sorted(records, key=lambda r: (r["Direction"] != OUTBOUND, r["Partner"], r["Transaction set"],
                                             r["Date"] or dt.date.min, r["Number"], r["FreshBooks id"]))
    frame = _frame([{c: r[c] for c in DOCUMENT_COLUMNS} for r in ordered], DOCUMENT_COLUMNS)
    totals = _totals(frame, by=["Direction", "Currency"], label={})
    if not totals.empty:
        counts = frame.groupby(["Direction", "Currency"], sort=False).size()
        totals["Document"] = [_documents(int(counts[(d, c)]))
                              for d, c in zip(totals["Direction"], totals["Currency"], strict=True)]
        totals = totals.sort_values(["Direction", "Currency"], key=lambda c: c != OUTBOUND if c.name == "Direction"
                                    else c, kind="stable")
        totals["Direction"] = TOTAL + " " + totals["Direction"]
    return _concat(frame, totals)


def _documents(n: int) -> str:
    return f"{n} document" if n == 1 else f"{n} documents"


def aging_frame(records: Sequence[dict[str, Any]], now: dt.datetime) -> pd.DataFrame:
    open_ = [r for r in records if r["Status"] in (AWAITING, OVERDUE)]
    lines: list[dict[str, Any]] = []
    key = lambda r: (r["Partner"], r["Transaction set"], r["Currency"])  # noqa: E731
    for (partner, transaction_set, currency), group in _group(open_, key).items():
        buckets = Counter(_bucket(now - (r["_delivered_at"] or now)) for r in group)
        oldest = min((r["_delivered_at"] for r in group if r["_delivered_at"] is not None), default=None)
        lines.append({"Partner": partner, "Transaction set": transaction_set, "Document": group[0]["Document"],
                      "Currency": currency, **{name: buckets[name] for name, _ in AGE_BUCKETS},
                      "Open deliveries": len(group), "Open amount": _money_sum(group, "EDI total"),
                      "Past acknowledgment window": sum(1 for r in group if r["Status"] == OVERDUE),
                      "Acknowledgment window (hours)": group[0]["_window"], "Oldest delivered at (UTC)": _utc(oldest)})
    frame = _frame(lines, AGING_COLUMNS, counts=AGING_COUNTS)
    return _with_totals(frame, by=["Currency"], label={"Partner": TOTAL},
                        skip=("Acknowledgment window (hours)", "Oldest delivered at (UTC)"))


def _bucket(age: dt.timedelta) -> str:
    hours = age.total_seconds() / 3600
    return next(name for name, bound in AGE_BUCKETS if bound is None or hours < bound)


def _frame(lines: Sequence[dict[str, Any]], columns: Sequence[str], counts: Sequence[str] = ()) -> pd.DataFrame:
    """Records → a frame with every column, money as 2-decimal floats, counts as nullable integers, dates and
    times as pandas datetimes (naive UTC)."""
    frame = pd.DataFrame(list(lines), columns=list(columns))
    for column in columns:
        values = frame[column]
        if column in MONEY_COLUMNS:
            frame[column] = pd.array([None if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v))
                                      else float(cents(Decimal(v))) for v in values], dtype="Float64")
        elif column in DATE_COLUMNS or column in TIME_COLUMNS:
            frame[column] = pd.to_datetime(values)
        elif column in counts:
            frame[column] = values.astype("Int64")
    return frame


def _totals(frame: pd.DataFrame, *, by: list[str], label: Mapping[str, str],
            skip: Sequence[str] = ()) -> pd.DataFrame:
    """One totals row per value of ``by``: numeric columns summed (money in exact cents), the rest blank."""
    if frame.empty:
        return frame.iloc[0:0]
    numeric = [c for c in frame.columns if c not in by and c not in skip
               and (pd.api.types.is_integer_dtype(frame[c]) or pd.api.types.is_float_dtype(frame[c]))]
    lines = []
    for keys, group in frame.groupby(by, sort=True, dropna=False):
        line: dict[str, Any] = dict(zip(by, keys if isinstance(keys, tuple) else (keys,), strict=True))
        line.update(label)
        for column in numeric:
            present = group[column].dropna()
            if present.empty:
                continue
            line[column] = (float(sum((Decimal(str(v)) for v in present), Decimal(0)))
                            if column in MONEY_COLUMNS else int(present.sum()))
        lines.append(line)
    totals = pd.DataFrame(lines, columns=list(frame.columns))
    return totals.astype({c: frame[c].dtype for c in numeric})


def _with_totals(frame: pd.DataFrame, *, by: list[str], label: Mapping[str, str],
                 skip: Sequence[str] = ()) -> pd.DataFrame:
    return _concat(frame, _totals(frame, by=by, label=label, skip=skip))


def _concat(frame: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    if totals.empty:
        return frame.reset_index(drop=True)
    return pd.concat([frame, totals.astype({c: frame[c].dtype for c in frame.columns if c in totals})],
                     ignore_index=True)


def _snake(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")


def short_summary(report: Report) -> pd.DataFrame:
    """The summary's columns a terminal has room for."""
    columns = ["Partner", "Document", "Currency", "FreshBooks documents", "FreshBooks amount", "EDI sent",
               ACKNOWLEDGED, REJECTED, OVERDUE, IN_DOUBT, NOT_SENT, "Received", "Matched", "Mismatched"]
    return report.summary[columns]
