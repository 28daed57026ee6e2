"""FreshBooks value parsing: the usual shapes of a value, read inside pydantic-core, give exactly what the value
parsers give, and anything else still meets the parsers and their errors (with the field path and the value)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks import schemas

DECIMALS: list[object] = [
    "12.50", "-0", "0", "007.10", "1.123456", "1.1234567", "1.12345600", "12.", ".5", "+5", " 12.50 ", "1e3", "1E-2",
    "1_000", "١٢", "12.50\n", "NaN", "-Infinity", "sNaN", "", "  ", "abc", "8%", None, 0, 12, -3, True, 10.0,
    Decimal("1.5"), Decimal("NaN"), Decimal("1E+3"), [], {}, "123456789012345678901234567890.5",
]
TEXTS: list[object] = ["", "  Acme  ", "x" * 100, None, 0, 5001, -2, True, False, 1.5, Decimal(1), [], {}]
IDS: list[object] = [5001, "5001", " 5001 ", 0, "0", "", " ", -3, True, 1.0, None, 2**70, [], "A-7"]
DATES: list[object] = [
    "2024-01-05", " 2024-01-05", "2024-01-05 ", "2024-02-30", "2024-13-01", "0000-01-01", "9999-12-31", "2024-1-5",
    "20240105", "2024-W01-1", "2024-01-05T00:00:00", "", None, 20240105, dt.date(2024, 1, 5),
]


def outcome(parser: Callable[[Any], Any], value: object) -> tuple[str, object]:
    try:
        result = parser(value)
    except PydanticCustomError as exc:
        return "refused", exc.message()
    except ArithmeticError as exc:  # what a parser lets through (a decimal beyond the context), the field must too
        return "raised", type(exc)
    return "read", (type(result), result.as_tuple() if isinstance(result, Decimal) else result)


def parsed(model: type[schemas.M], raw: dict[str, Any], field: str) -> tuple[str, object]:
    try:
        result = getattr(schemas.parse(model, raw, "invoice 1"), field)
    except DataError as exc:
        assert exc.document == "invoice 1" and exc.field == field
        if not isinstance(raw[field], list | dict):
            assert repr(exc.value) == repr(raw[field])
        return "refused", exc.expected
    except ArithmeticError as exc:
        return "raised", type(exc)
    return "read", (type(result), result.as_tuple() if isinstance(result, Decimal) else result)


LINE = {"unit_cost": {"amount": "1"}, "amount": {"amount": "1"}}


@pytest.mark.parametrize("value", DECIMALS)
def test_decimals_read_as_the_parsers_read_them(value: object) -> None:
    assert parsed(schemas.Money, {"amount": value}, "amount") == outcome(schemas._to_decimal, value)
    assert parsed(schemas.InvoiceLine, LINE | {"qty": value}, "qty") == outcome(schemas._optional_decimal, value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str) | st.from_regex(
    r"-?[0-9]{1,20}(\.[0-9]{0,9})?", fullmatch=True))
def test_any_decimal_text_reads_as_the_parser_reads_it(text: str) -> None:
    assert parsed(schemas.Money, {"amount": text}, "amount") == outcome(schemas._to_decimal, text)


@pytest.mark.parametrize("value", TEXTS)
def test_texts_read_as_the_parser_reads_them(value: object) -> None:
    assert parsed(schemas.InvoiceLine, LINE | {"name": value}, "name") == outcome(schemas._text, value)


@pytest.mark.parametrize("value", IDS)
def test_ids_read_as_the_parsers_read_them(value: object) -> None:
    base = {"issue_date": "2024-01-05", "total_amount": {"amount": "1"}}
    assert parsed(schemas.Bill, base | {"id": value}, "id") == outcome(schemas._id, value)
    assert parsed(schemas.Bill, base | {"id": 7, "vendorid": value}, "vendorid") == outcome(schemas._optional_id, value)


@pytest.mark.parametrize("value", DATES)
def test_dates_read_as_the_parsers_read_them(value: object) -> None:
    base = {"id": 7, "total_amount": {"amount": "1"}}
    assert parsed(schemas.Bill, base | {"issue_date": value}, "issue_date") == outcome(schemas._date, value)
    assert parsed(schemas.Bill, base | {"issue_date": "2024-01-05", "due_date": value}, "due_date") == outcome(
        schemas._optional_date, value)


@pytest.mark.parametrize("text", ["1e400", "11586935035531417945122.1700753"])
def test_a_decimal_longer_than_any_amount_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(DataError) as refused:
        schemas.parse(schemas.Invoice, {"id": 7, "create_date": "2026-01-05", "lines": [],
                                        "amount": {"amount": text}}, "invoice 7")
    assert (refused.value.field, refused.value.value) == ("amount.amount", text)
    assert "at most 28 digits" in refused.value.expected
