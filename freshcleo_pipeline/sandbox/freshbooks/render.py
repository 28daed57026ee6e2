"""Stored records → the JSON shapes FreshBooks returns, with every computed field filled in.

Owns field names, string money and the time zone of each timestamp on the way out; it never changes a
record. Internal keys (``*_us`` instants, ``_currency`` on payments) do not leak into responses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from freshcleo_pipeline.sandbox.freshbooks import catalog, compute, times

Record = dict[str, Any]
_INTERNAL = ("created_us", "updated_us", "version_us", "_currency", "lines")
_CATEGORIES = {c.categoryid: c for c in catalog.CATEGORIES}


def _public(record: Record) -> Record:
    return {k: v for k, v in record.items() if k not in _INTERNAL}


def _live(children: Iterable[Record]) -> list[Record]:
    return [c for c in children if c["vis_state"] != 1]


def _due(start: str, offset: int) -> dt.date:
    return dt.date.fromisoformat(start) + dt.timedelta(days=int(offset or 0))


def invoice(record: Record, payments: Iterable[Record], *, account_id: str, today: dt.date,
            include_lines: bool) -> Record:
    code = record["currency_code"]
    totals = compute.invoice_totals(record["lines"], record["discount_value"])
    live = _live(payments)
    paid = sum((Decimal(p["amount"]) for p in live), compute.ZERO)
    due = _due(record["create_date"], record["due_offset_days"])
    status = compute.invoice_status(record["status"], totals.amount, paid, due, today)
    out = _public(record)
    out.update({
        "invoiceid": record["id"], "accountid": account_id, "accounting_systemid": account_id,
        "due_date": due.isoformat(), "created_at": times.eastern(record["created_us"]),
        "updated": times.eastern(record["updated_us"]), "version": times.eastern_version(record["version_us"]),
        "amount": compute.money(totals.amount, code), "paid": compute.money(paid, code),
        "outstanding": compute.money(totals.amount - paid, code),
        "discount_total": compute.money(totals.discount_total, code),
        "status": status.status, "v3_status": status.v3_status, "payment_status": status.payment_status,
        "display_status": status.display_status,
        "date_paid": max(p["date"] for p in live) if status.payment_status == "paid" else None,
        "autobill_status": None, "current_organization": record["organization"],
    })
    if include_lines:
        out["lines"] = [
            {**{k: v for k, v in line.items() if k != "updated_us"}, "invoiceid": record["id"],
             "unit_cost": compute.money(Decimal(line["unit_cost"]), code),
             "amount": compute.money(amount, code), "updated": times.eastern(line["updated_us"])}
            for line, amount in zip(record["lines"], totals.line_amounts, strict=True)
        ]
    return out


def estimate(record: Record, *, account_id: str, include_lines: bool) -> Record:
    """An estimate: invoice-like totals, no payments. Its status is computed and never set by a write; estimates
    created over the API stay drafts (status 1) in the emulator (the estimate status table is not in the
    reference)."""
    code = record["currency_code"]
    totals = compute.invoice_totals(record["lines"], record["discount_value"])
    out = _public(record)
    out.update({
        "estimateid": record["id"], "accountid": account_id, "accounting_systemid": account_id,
        "created_at": times.eastern(record["created_us"]), "updated": times.eastern(record["updated_us"]),
        "amount": compute.money(totals.amount, code), "discount_total": compute.money(totals.discount_total, code),
        "status": 1, "ui_status": "draft", "display_status": "draft", "current_organization": record["organization"],
    })
    if include_lines:
        out["lines"] = [
            {**{k: v for k, v in line.items() if k != "updated_us"}, "estimateid": record["id"],
             "unit_cost": compute.money(Decimal(line["unit_cost"]), code),
             "amount": compute.money(amount, code), "updated": times.eastern(line["updated_us"])}
            for line, amount in zip(record["lines"], totals.line_amounts, strict=True)
        ]
    return out


def payment(record: Record, *, account_id: str) -> Record:
    out = _public(record)
    out.update({"logid": record["id"], "accounting_systemid": account_id,
                "amount": compute.money(Decimal(record["amount"]), record["_currency"]),
                "updated": times.eastern(record["updated_us"])})
    return out


def bill_payment(record: Record) -> Record:
    out = _public(record)
    out["amount"] = compute.money(Decimal(record["amount"]), record["_currency"])
    return out


def _bill_line(line: Record, code: str) -> Record:
    totals = compute.bill_line_totals(line)
    spec = _CATEGORIES.get(line.get("categoryid") or 0)
    category = None if spec is None else {
        "category": spec.category, "categoryid": spec.categoryid, "id": spec.categoryid, "is_cogs": spec.is_cogs,
        "is_editable": False, "parentid": None, "created_at": "2016-11-17 14:22:35",
        "updated_at": "2016-11-17 14:22:35", "vis_state": 0}
    out = {k: v for k, v in line.items() if k != "categoryid"}
    out.update({
        "unit_cost": compute.money(Decimal(line["unit_cost"]), code), "amount": compute.money(totals.amount, code),
        "total_amount": compute.money(totals.total, code), "category": category,
        "tax_amount1": None if totals.tax1 is None else compute.money(totals.tax1, code),
        "tax_amount2": None if totals.tax2 is None else compute.money(totals.tax2, code),
    })
    return out


def bill(record: Record, payments: Iterable[Record], *, today: dt.date, vendor: Record | None) -> Record:
    code = record["currency_code"]
    lines = [_bill_line(line, code) for line in record["lines"]]
    amount = sum((Decimal(line["amount"]["amount"]) for line in lines), compute.ZERO)
    total = sum((Decimal(line["total_amount"]["amount"]) for line in lines), compute.ZERO)
    live = _live(payments)
    paid = sum((Decimal(p["amount"]) for p in live), compute.ZERO)
    due = _due(record["issue_date"], record["due_offset_days"])
    out = _public(record)
    out.update({
        "due_date": due.isoformat(), "amount": compute.money(amount, code),
        "tax_amount": compute.money(total - amount, code), "total_amount": compute.money(total, code),
        "paid": compute.money(paid, code), "outstanding": compute.money(total - paid, code),
        "status": compute.bill_status(total, paid, due, today), "bill_payments": [bill_payment(p) for p in live],
        "created_at": times.utc(record["created_us"]), "updated_at": times.utc(record["updated_us"]),
        "lines": lines,
    })
    if vendor is not None:
        out["vendor"] = vendor
    return out


def bill_vendor(record: Record) -> Record:
    out = _public(record)
    # Balances are read-only and would need a scan of every bill; the emulator reports none (see docstring).
    out.update({"outstanding_balance": [], "overdue_balance": [],
                "created_at": times.utc(record["created_us"]), "updated_at": times.utc(record["updated_us"])})
    return out


def client(record: Record, *, account_id: str) -> Record:
    out = _public(record)
    out.update({"userid": record["id"], "accounting_systemid": account_id,
                "signup_date": times.utc(record["created_us"]), "updated": times.eastern(record["updated_us"])})
    return out


def item(record: Record, *, account_id: str) -> Record:
    out = _public(record)
    out.pop("currency_code", None)
    out.update({"itemid": record["id"], "accounting_systemid": account_id,
                "unit_cost": compute.money(Decimal(record["unit_cost"]), record["currency_code"]),
                "updated": times.eastern(record["updated_us"])})
    return out
