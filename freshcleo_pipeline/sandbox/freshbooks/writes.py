"""Turning POST/PUT bodies (and control-API calls) into stored records, with FreshBooks' validation.

Owns which fields a write may set, how numbers, money and dates are normalized, and the 422 errors for bad
input. Computed and unknown fields are silently ignored, as PUT is documented to be partial. It does not
store anything: ``store.py`` calls it and keeps the result.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from freshcleo_pipeline.sandbox.freshbooks import catalog, compute
from freshcleo_pipeline.sandbox.freshbooks.kinds import Kind

Record = dict[str, Any]
Lookup = Callable[[str, int], Record | None]

# errno values of the accounting API (reference §14.1).
REQUIRED_FIELD = 1001
INVALID_VALUE = 1004
UNKNOWN_RESOURCE = 1012


@dataclass
class FieldError(Exception):
    """One accounting error: rendered as ``{"response":{"errors":[…]}}`` with ``status``."""

    errno: int
    field: str
    message: str
    value: Any = None
    object: str = ""
    status: int = 422

    def body(self) -> dict[str, Any]:
        return {"response": {"errors": [{"errno": self.errno, "field": self.field, "message": self.message,
                                         "object": self.object, "value": None if self.value is None
                                         else str(self.value)}]}}


@dataclass(frozen=True)
class WriteContext:
    lookup: Lookup  # (kind name, id) → stored record or None
    now_us: int
    today: dt.date


def _bad(kind: Kind, field: str, value: Any, expected: str) -> FieldError:
    return FieldError(INVALID_VALUE, field, f"{field}: got {value!r}; expected {expected}.", value, kind.singular)


def _int(kind: Kind, field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(kind, field, value, "an integer")
    try:
        return int(str(value).strip())
    except ValueError:
        raise _bad(kind, field, value, "an integer") from None


def _number(kind: Kind, field: str, value: Any, *, money: bool) -> str:
    try:
        number = compute.decimal(value, field)
    except ValueError:
        raise _bad(kind, field, value, "a decimal number") from None
    return str(compute.cents(number)) if money else compute.number_text(number)


def _date(kind: Kind, field: str, value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise _bad(kind, field, value, "a date YYYY-MM-DD") from None


def _reference(kind: Kind, field: str, value: Any, target: str, ctx: WriteContext) -> Record:
    ident = _int(kind, field, value)
    found = ctx.lookup(target, ident)
    if found is None:
        raise FieldError(INVALID_VALUE, field, f"{field}: no {target[:-1]} with id {ident}.", ident, kind.singular)
    return found


def _invoice_lines(kind: Kind, lines: Any, ctx: WriteContext) -> list[Record]:
    if not isinstance(lines, list):
        raise _bad(kind, "lines", lines, "a list of lines")
    out = []
    for n, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise _bad(kind, f"lines[{n}]", line, "an object")
        if "unit_cost" not in line:
            raise FieldError(REQUIRED_FIELD, f"lines[{n}].unit_cost", "unit_cost is required.", None, "line")
        out.append({
            "lineid": n + 1, "type": _int(kind, f"lines[{n}].type", line.get("type", 0)),
            "name": str(line.get("name") or ""), "description": str(line.get("description") or ""),
            "qty": _number(kind, f"lines[{n}].qty", line.get("qty", 1), money=False),
            "unit_cost": _number(kind, f"lines[{n}].unit_cost", line["unit_cost"], money=True),
            "taxName1": line.get("taxName1"),
            "taxAmount1": _number(kind, f"lines[{n}].taxAmount1", line.get("taxAmount1") or 0, money=False),
            "taxNumber1": line.get("taxNumber1"), "taxName2": line.get("taxName2"),
            "taxAmount2": _number(kind, f"lines[{n}].taxAmount2", line.get("taxAmount2") or 0, money=False),
            "compounded_tax": bool(line.get("compounded_tax", False)), "expenseid": 0, "date": None,
            "updated_us": ctx.now_us,
        })
    return out


def _bill_lines(kind: Kind, lines: Any, parent_id: int) -> list[Record]:
    if not isinstance(lines, list):
        raise _bad(kind, "lines", lines, "a list of lines")
    out = []
    for n, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise _bad(kind, f"lines[{n}]", line, "an object")
        if "unit_cost" not in line:
            raise FieldError(REQUIRED_FIELD, f"lines[{n}].unit_cost", "unit_cost is required.", None, "line")
        percents = {}
        for t in (1, 2):
            raw = line.get(f"tax_percent{t}")
            percents[t] = None if raw in (None, "") else _number(kind, f"lines[{n}].tax_percent{t}", raw,
                                                                  money=False)
        out.append({
            "id": parent_id * 100 + n, "list_index": n + 1, "description": str(line.get("description") or ""),
            "quantity": _number(kind, f"lines[{n}].quantity", line.get("quantity", 1), money=False),
            "unit_cost": _number(kind, f"lines[{n}].unit_cost", line["unit_cost"], money=True),
            "categoryid": _int(kind, f"lines[{n}].categoryid",
                               line.get("categoryid") or catalog.CATEGORIES[0].categoryid),
            "tax_name1": line.get("tax_name1"), "tax_percent1": percents[1], "tax_authorityid1": None,
            "tax_name2": line.get("tax_name2"), "tax_percent2": percents[2], "tax_authorityid2": None,
            "compounded_tax": bool(line.get("compounded_tax", False)),
        })
    return out


def apply_fields(kind: Kind, record: Record, fields: Mapping[str, Any], ctx: WriteContext) -> Record:
    """``record`` with the writable ``fields`` applied (normalized); computed/unknown fields are dropped."""
    out = dict(record)
    for name, value in fields.items():
        if name not in kind.writable:
            continue
        if name == "lines":
            out["lines"] = (_invoice_lines(kind, value, ctx) if kind.name in ("invoices", "estimates")
                            else _bill_lines(kind, value, int(out["id"])))
        elif name in ("customerid", "vendorid", "invoiceid", "billid"):
            target = {"customerid": "clients", "vendorid": "bill_vendors", "invoiceid": "invoices",
                      "billid": "bills"}[name]
            ref = _reference(kind, name, value, target, ctx)
            out[name] = ref["vendorid"] if name == "vendorid" else ref["id"]
        elif name in ("due_offset_days", "ownerid", "estimateid", "parent", "tax1", "tax2"):
            out[name] = _int(kind, name, value)
        elif name in ("amount", "unit_cost"):
            out[name] = _number(kind, name, value, money=True)
        elif name in ("qty", "discount_value"):
            out[name] = _number(kind, name, value, money=False)
        elif name in ("create_date", "date", "issue_date", "paid_date"):
            out[name] = _date(kind, name, value)
        else:
            out[name] = value
    return out


def new_record(kind: Kind, new_id: int, fields: Mapping[str, Any], ctx: WriteContext) -> Record:
    """A complete stored record for a create: defaults, then the given fields, then derived fields."""
    for name in kind.required:
        if fields.get(name) in (None, ""):
            raise FieldError(REQUIRED_FIELD, name, f"{name} is required.", None, kind.singular)
    now = ctx.now_us
    base: Record = {kind.id_field: new_id, "vis_state": 0, "created_us": now, "updated_us": now}
    if kind.name == "invoices":
        base.update({"invoice_number": f"{new_id:07d}", "ownerid": 1, "uuid": str(uuid.uuid4()),
                     "due_offset_days": 30, "language": "en", "template": "clean-grouped", "po_number": None,
                     "discount_value": "0", "notes": None, "terms": None, "description": "",
                     "vat_name": None, "vat_number": None, "estimateid": 0, "parent": 0, "sentid": 0,
                     "show_attachments": False, "ext_archive": 0, "auto_bill": False, "deposit_status": "none",
                     "version_us": now, "lines": [], "status": 1})
        base.update(_client_fields(kind, fields, ctx))
    elif kind.name == "estimates":
        base.update({"estimate_number": f"{new_id:07d}", "ownerid": 1, "uuid": str(uuid.uuid4()), "language": "en",
                     "template": "clean-grouped", "po_number": None, "discount_value": "0", "notes": None,
                     "terms": None, "description": "", "vat_name": None, "vat_number": None, "invoiced": False,
                     "accepted": False, "version_us": now, "lines": [], "status": 1})
        base.update(_client_fields(kind, fields, ctx))
    elif kind.name == "payments":
        base.update({"creditid": None, "type": "Check", "note": "", "orderid": None, "overpaymentid": None,
                     "gateway": None, "transactionid": None, "from_credit": False, "bulk_paymentid": None,
                     "send_client_notification": None})
    elif kind.name == "bills":
        base.update({"bill_number": None, "due_offset_days": 30, "language": "en", "attachment": None,
                     "overall_category": None, "overall_description": None, "lines": []})
    elif kind.name == "bill_payments":
        base.update({"payment_type": "Check", "note": "", "matched_with_expense": False})
    elif kind.name == "bill_vendors":
        base.update({name: None for name in kind.writable})
        base.update({"currency_code": "USD", "language": "en", "is_1099": False, "tax_defaults": []})
    elif kind.name == "clients":
        base.update({name: "" for name in kind.writable})
        base.update({"currency_code": "USD", "language": "en", "home_phone": None, "note": None,
                     "vat_name": None, "vat_number": None, "uuid": str(uuid.uuid4()), "level": 0,
                     "role": "client", "num_logins": 0, "last_login": None, "allow_late_fees": False,
                     "allow_late_notifications": True})
    elif kind.name == "items":
        base.update({"description": "", "sku": None, "qty": "1", "inventory": None, "tax1": 0, "tax2": 0,
                     "unit_cost": "0.00", "currency_code": "USD"})
    record = apply_fields(kind, base, fields, ctx)
    if kind.name == "payments":
        invoice = _reference(kind, "invoiceid", record["invoiceid"], "invoices", ctx)
        record.update({"clientid": invoice["customerid"], "_currency": invoice["currency_code"]})
    elif kind.name == "bill_payments":
        bill = _reference(kind, "billid", record["billid"], "bills", ctx)
        record["_currency"] = bill["currency_code"]
    elif kind.name == "bills" and "currency_code" not in fields:
        record["currency_code"] = _reference(kind, "vendorid", record["vendorid"], "bill_vendors",
                                             ctx)["currency_code"]
    if kind.name == "invoices" and fields.get("action_mark_as_sent"):
        record.update({"status": 2, "sentid": 1})
    return record


def _client_fields(kind: Kind, fields: Mapping[str, Any], ctx: WriteContext) -> Record:
    """An invoice's or estimate's copy of its client's name, address and currency (a 422 naming customerid when
    there is no such client)."""
    client = _reference(kind, "customerid", fields["customerid"], "clients", ctx)
    return {"fname": client["fname"], "lname": client["lname"], "organization": client["organization"],
            "street": client["p_street"], "city": client["p_city"], "province": client["p_province"],
            "code": client["p_code"], "country": client["p_country"], "currency_code": client["currency_code"]}


def visibility(kind: Kind, fields: Mapping[str, Any]) -> int | None:
    """The visibility phase of a PUT: the new vis_state when the body has one, else None."""
    for name in ("ext_vis_state", "vis_state"):
        if name in fields:
            value = _int(kind, name, fields[name])
            if value not in (0, 1, 2):
                raise _bad(kind, name, fields[name], "0 (active), 1 (deleted) or 2 (archived)")
            return value
    return None

