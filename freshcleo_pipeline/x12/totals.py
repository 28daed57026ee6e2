"""The arithmetic that ties totals to lines, shared by the mappings (before writing) and the validator.

Owns the business rules of reference §13: an 810's TDS01 equals Σ(IT102 x IT104, each rounded to the cent)
+ charges - allowances + taxes, and an 850's AMT*TT equals Σ(PO102 x PO104) + taxes, within a rounding
tolerance of one cent per line (FreshBooks rounds per line; we cannot know in which direction). Keeping one
copy means a document the mapping accepts is one the validator accepts.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def lines_total(lines: Iterable[tuple[Decimal, Decimal]]) -> tuple[Decimal, int]:
    """Σ quantity x unit price, each rounded to the cent; and the number of lines."""
    total = Decimal(0)
    count = 0
    for quantity, unit_price in lines:  # cents() inline: this runs for every line rendered and validated
        total += (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
        count += 1
    return total, count


def tolerance(line_count: int) -> Decimal:
    return CENT * max(1, line_count)


def expected_total(lines: Iterable[tuple[Decimal, Decimal]], *, taxes: Decimal, charges: Decimal = Decimal(0),
                   allowances: Decimal = Decimal(0)) -> tuple[Decimal, Decimal]:
    """The total the lines imply, and the tolerance to compare it with."""
    subtotal, count = lines_total(lines)
    return expected_from_subtotal(subtotal, count, taxes=taxes, charges=charges, allowances=allowances)


def expected_from_subtotal(subtotal: Decimal, count: int, *, taxes: Decimal, charges: Decimal = Decimal(0),
                           allowances: Decimal = Decimal(0)) -> tuple[Decimal, Decimal]:
    """``expected_total`` for lines already summed (Σ of ``line_amount``) and counted."""
    return cents(subtotal + charges - allowances + taxes), tolerance(count)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """One line's quantity x unit price, rounded to the cent: the term ``lines_total`` adds up."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def agrees(stated: Decimal, computed: Decimal, allowed: Decimal) -> bool:
    return abs(cents(stated) - computed) <= allowed
