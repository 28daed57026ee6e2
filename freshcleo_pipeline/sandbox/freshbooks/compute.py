"""The fields FreshBooks computes and a PUT cannot set: totals, balances and statuses of invoices and bills.

Owns the arithmetic (Decimal, cents, half-up per line tax) and the status rules the emulator has chosen; it
holds no state and does no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def decimal(value: Any, field: str) -> Decimal:
    """A FreshBooks number (string or JSON number) as Decimal; ValueError naming the field otherwise."""
    if isinstance(value, Mapping):
        value = value.get("amount")
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{field}: got {value!r}; expected a decimal number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{field}: got {value!r}; expected a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{field}: got {value!r}; expected a finite decimal number")
    return number


def cents(value: Decimal) -> Decimal:
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return ZERO if rounded == 0 else rounded


def money(value: Decimal, code: str) -> dict[str, str]:
    return {"amount": str(cents(value)), "code": code}


def number_text(value: Decimal) -> str:
    """A quantity or rate as FreshBooks prints it: no exponent, no trailing zeros ("10", "9.975")."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True)
class InvoiceTotals:
    line_amounts: tuple[Decimal, ...]
    subtotal: Decimal
    discount_total: Decimal  # negative or zero
    tax: Decimal
    amount: Decimal


def invoice_totals(lines: Iterable[Mapping[str, Any]], discount_value: str) -> InvoiceTotals:
    """Line amount = qty * unit_cost; the invoice discount applies before tax; each line's tax is its rates
    (percent) of the discounted line amount, rounded half-up to cents per line and rate."""
    rate = Decimal(discount_value or "0") / 100
    amounts: list[Decimal] = []
    tax = ZERO
    for line in lines:
        line_amount = cents(Decimal(line["qty"]) * Decimal(line["unit_cost"]))
        amounts.append(line_amount)
        base = line_amount * (1 - rate)
        for n in (1, 2):
            if line.get(f"taxName{n}") and line.get(f"taxAmount{n}"):
                tax += cents(base * Decimal(line[f"taxAmount{n}"]) / 100)
    subtotal = sum(amounts, ZERO)
    discount_total = -cents(subtotal * rate)
    return InvoiceTotals(tuple(amounts), subtotal, cents(discount_total), tax,
                         cents(subtotal + discount_total + tax))


@dataclass(frozen=True)
class InvoiceStatus:
    status: int
    v3_status: str
    payment_status: str
    display_status: str


def invoice_status(stored: int, amount: Decimal, paid: Decimal, due: dt.date, today: dt.date) -> InvoiceStatus:
    """Status as FreshBooks reports it. A part-paid sent invoice keeps ``status`` 2 and ``display_status``
    "sent"; only ``payment_status``/``v3_status`` say "partial" (the documented quirk)."""
    if stored == 1:
        return InvoiceStatus(1, "draft", "unpaid", "draft")
    display = "viewed" if stored == 3 else "sent"
    if paid > 0 and paid >= amount:
        return InvoiceStatus(4, "paid", "paid", display)
    if paid > 0:
        return InvoiceStatus(stored, "partial", "partial", display)
    if due < today:
        return InvoiceStatus(stored, "overdue", "unpaid", display)
    return InvoiceStatus(stored, "viewed" if stored == 3 else "sent", "unpaid", display)


@dataclass(frozen=True)
class BillLineTotals:
    amount: Decimal
    tax1: Decimal | None
    tax2: Decimal | None
    total: Decimal


def bill_line_totals(line: Mapping[str, Any]) -> BillLineTotals:
    amount = cents(Decimal(line["quantity"]) * Decimal(line["unit_cost"]))
    taxes: list[Decimal | None] = []
    for n in (1, 2):
        percent = line.get(f"tax_percent{n}")
        taxes.append(cents(amount * Decimal(percent) / 100) if percent else None)
    total = amount + sum((t for t in taxes if t is not None), ZERO)
    return BillLineTotals(amount, taxes[0], taxes[1], total)


def bill_status(total: Decimal, paid: Decimal, due: dt.date, today: dt.date) -> str:
    if paid > 0 and paid >= total:
        return "paid"
    if due < today:
        return "overdue"
    return "partial" if paid > 0 else "unpaid"
