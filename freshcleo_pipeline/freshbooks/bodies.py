"""Request bodies for the opt-in writes to FreshBooks, built from our normalized documents and partners.yaml.

Owns the mapping of a supplier's 810 (read into an ``Invoice``) to a bill, of a customer's 850 (read into a
``PurchaseOrder``) to an estimate or a draft invoice, and of a trading partner to a bill vendor or a client, in
the API's shapes (reference §11): numbers and money as strings, money as ``{"amount", "code"}``, bill lines with
snake_case taxes, invoice/estimate lines with ``taxName1``/``taxAmount1`` as a *percent*. Each function returns
the object that goes inside the singular key (``{"bill": <this>}``); the writer wraps it.

Must not: do I/O, or put anything FreshBooks computes or that changes a document's state into a body — no
``status``, ``action_*``, payment, ``paid``/``outstanding``, ``vis_state`` or amount fields (the product never
writes status or payments). Bad input raises ``DataError`` naming the field, the value and what was expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from freshcleo_pipeline.documents import Address, Invoice, Line, Party, PurchaseOrder
from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.partners import TradingPartner

#: Keys no body may carry: state, actions, payments and computed figures (checked on every body built here).
FORBIDDEN_KEYS = frozenset({
    "status", "v3_status", "payment_status", "display_status", "date_paid", "paid", "outstanding", "amount",
    "total_amount", "tax_amount", "vis_state", "ext_vis_state", "bill_payments", "payments", "email_recipients",
})
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ID = re.compile(r"^[1-9][0-9]{0,18}$")
#: Longest free text we put in a note field (FreshBooks' limits are not documented; errno 1017 exists).
NOTE_LIMIT = 1000


def bill_body(invoice: Invoice, vendorid: str, note: str) -> dict[str, Any]:
    """A supplier's invoice (their 810) as a FreshBooks bill from bill vendor ``vendorid``.

    ``bill_number`` is their invoice number (BIG02), ``due_offset_days`` the days from the invoice date to its
    due date (ITD) or 0, ``overall_description`` the ``note`` (e.g. "EDI 810 from bolt ISA13 … (freshcleo)").
    Line categories are left to FreshBooks' default (whether ``categoryid`` is required is unconfirmed).
    """
    document = f"810 {invoice.invoice_number or '(no number)'} from {invoice.source.account_id}"
    if invoice.is_credit_memo:
        raise DataError(document, "BIG07", "CR", "an invoice (a credit memo does not become a bill)")
    if invoice.discount_amount:
        # A bill has no header allowance: its lines would add up to more than the supplier asks.
        raise DataError(document, "SAC (discount_amount)", str(invoice.discount_amount),
                        "no allowance or charge on the whole invoice (a bill holds lines and their taxes only)")
    body: dict[str, Any] = {
        "vendorid": _id(document, "vendorid", vendorid),
        "bill_number": _text(document, "invoice_number", invoice.invoice_number, 64),
        "issue_date": invoice.issue_date.isoformat(),
        "due_offset_days": _offset(document, invoice.issue_date, invoice.due_date),
        "currency_code": _currency(document, invoice.currency),
        "overall_description": _note(document, note),
        "lines": [_bill_line(document, line, invoice.currency) for line in _lines(document, invoice.lines)],
    }
    return _checked(body)


def estimate_body(order: PurchaseOrder, customerid: str, note: str) -> dict[str, Any]:
    """A customer's purchase order (their 850) as a FreshBooks estimate for client ``customerid``."""
    return _checked(_order_body(order, customerid, note))


def draft_invoice_body(order: PurchaseOrder, customerid: str, note: str) -> dict[str, Any]:
    """A customer's purchase order (their 850) as a FreshBooks invoice. It stays a draft: the body carries no
    action (``action_mark_as_sent``, ``action_email``…) and no status, so FreshBooks creates it as status 1."""
    return _checked(_order_body(order, customerid, note))


def bill_vendor_body(partner: TradingPartner, party: Party | None = None, *, currency: str = "USD",
                     note: str = "") -> dict[str, Any]:
    """A bill vendor for a supplier partner, named so routing finds the partner again (its first
    ``match.organizations`` entry, else its name); contact and address from ``party`` (the seller on their 810)
    when given, else the partner's first ``match.emails``."""
    document = f"partner {partner.id}"
    party = party or Party(name="")
    body: dict[str, Any] = {
        "vendor_name": _text(document, "name", _organization(partner), 100),
        "currency_code": _currency(document, currency),
        "primary_contact_email": party.email or (partner.match.emails[0] if partner.match.emails else ""),
        "phone": party.phone,
        "note": _note(document, note) if note else "",
        **_vendor_address(party.address),
    }
    return _checked(_without_empty(body))


def client_body(partner: TradingPartner, party: Party | None = None, *, currency: str = "USD",
                note: str = "") -> dict[str, Any]:
    """A client for a customer partner, its organization the one routing matches (first
    ``match.organizations`` entry, else the partner's name); contact and billing address from ``party`` (the
    buyer on their 850) when given, else the partner's first ``match.emails``."""
    document = f"partner {partner.id}"
    party = party or Party(name="")
    first, _, last = party.contact.strip().partition(" ")
    body: dict[str, Any] = {
        "organization": _text(document, "name", _organization(partner), 100),
        "email": party.email or (partner.match.emails[0] if partner.match.emails else ""),
        "fname": first, "lname": last.strip(),
        "bus_phone": party.phone,
        "currency_code": _currency(document, currency),
        "note": _note(document, note) if note else "",
        **_client_address(party.address),
    }
    return _checked(_without_empty(body))


# ---- parts ----

def _order_body(order: PurchaseOrder, customerid: str, note: str) -> dict[str, Any]:
    document = f"850 {order.po_number or '(no number)'} from {order.source.account_id}"
    body: dict[str, Any] = {
        "customerid": _id(document, "customerid", customerid),
        "create_date": order.issue_date.isoformat(),
        "po_number": _text(document, "po_number", order.po_number, 64),
        "currency_code": _currency(document, order.currency),
        "notes": _note(document, note),
        "lines": [_invoice_line(document, line, order.currency) for line in _lines(document, order.lines)],
    }
    if order.due_date is not None:
        body["due_offset_days"] = _offset(document, order.issue_date, order.due_date)
    return body


def _bill_line(document: str, line: Line, currency: str) -> dict[str, Any]:
    where = f"lines[{line.line_number}]"
    out: dict[str, Any] = {
        "description": _line_text(line),
        "quantity": _number(document, f"{where}.quantity", line.quantity),
        "unit_cost": {"amount": _number(document, f"{where}.unit_price", line.unit_price), "code": currency},
    }
    for n, tax in enumerate(_taxes(document, where, line), start=1):
        out[f"tax_name{n}"] = tax.name
        out[f"tax_percent{n}"] = _number(document, f"{where}.taxes[{n - 1}].percent", tax.percent)
    return out


def _invoice_line(document: str, line: Line, currency: str) -> dict[str, Any]:
    where = f"lines[{line.line_number}]"
    out: dict[str, Any] = {
        "type": 0,
        "name": line.name or line.description,
        "description": line.description if line.name else "",
        "qty": _number(document, f"{where}.quantity", line.quantity),
        "unit_cost": {"amount": _number(document, f"{where}.unit_price", line.unit_price), "code": currency},
    }
    for n, tax in enumerate(_taxes(document, where, line), start=1):
        out[f"taxName{n}"] = tax.name
        out[f"taxAmount{n}"] = _number(document, f"{where}.taxes[{n - 1}].percent", tax.percent)  # a percent
    return out


def _lines(document: str, lines: Sequence[Line]) -> Sequence[Line]:
    if not lines:
        raise DataError(document, "lines", [], "at least one line")
    return lines


def _taxes(document: str, where: str, line: Line) -> Sequence[Any]:
    if len(line.taxes) > 2:
        raise DataError(document, f"{where}.taxes", [t.name for t in line.taxes],
                        "at most two taxes per line (FreshBooks has tax 1 and tax 2)")
    return line.taxes


def _line_text(line: Line) -> str:
    parts = [p for p in (line.name.strip(), line.description.strip()) if p]
    return " — ".join(dict.fromkeys(parts))


def _number(document: str, field: str, value: Decimal) -> str:
    if not value.is_finite():
        raise DataError(document, field, str(value), "a finite decimal number")
    if value < 0:
        raise DataError(document, field, str(value), "a number of at least 0")
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def _id(document: str, field: str, value: str) -> str:
    text = str(value).strip()
    if not _ID.match(text):
        raise DataError(document, field, value, "a FreshBooks id (a positive integer)")
    return text


def _text(document: str, field: str, value: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise DataError(document, field, value, "a non-empty text")
    if len(text) > limit:
        raise DataError(document, field, text[:40] + "…", f"at most {limit} characters")
    return text


def _note(document: str, note: str) -> str:
    text = (note or "").strip()
    if not text:
        raise DataError(document, "note", note, "a non-empty note saying where the document came from")
    return text[:NOTE_LIMIT]


def _currency(document: str, value: str) -> str:
    text = (value or "").strip().upper()
    if not _CURRENCY.match(text):
        raise DataError(document, "currency", value, "an ISO 4217 code such as USD")
    return text


def _offset(document: str, issued: dt.date, due: dt.date | None) -> int:
    if due is None:
        return 0
    days = (due - issued).days
    if days < 0:
        raise DataError(document, "due_date", due.isoformat(), f"a date on or after {issued.isoformat()}")
    return days


def _organization(partner: TradingPartner) -> str:
    return partner.match.organizations[0] if partner.match.organizations else partner.name


def _vendor_address(address: Address) -> dict[str, str]:
    return {"street": address.street, "street2": address.street2, "city": address.city,
            "province": address.province, "postal_code": address.postal_code, "country": address.country}


def _client_address(address: Address) -> dict[str, str]:
    return {"p_street": address.street, "p_street2": address.street2, "p_city": address.city,
            "p_province": address.province, "p_code": address.postal_code, "p_country": address.country}


def _without_empty(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v not in ("", None)}


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The body, after making sure no state, action or payment key slipped in (a programming error)."""
    bad = sorted(k for k in body if k in FORBIDDEN_KEYS or k.startswith("action_"))
    if bad:
        raise AssertionError(f"a FreshBooks request body must not carry {bad}")
    return body
