"""FreshBooks' naive Eastern/UTC timestamps → aware UTC, around both DST transitions, and the day filters."""

from __future__ import annotations

import datetime as dt

import pytest

from freshcleo_pipeline.freshbooks.timestamps import (
    EASTERN,
    eastern_day_filter,
    parse_timestamp,
    to_eastern_naive,
    utc_day_window,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


@pytest.mark.parametrize(("eastern", "expected"), [
    # spring forward, 2024-03-10: 02:00 EST jumps to 03:00 EDT
    ("2024-03-10 01:59:59", utc(2024, 3, 10, 6, 59, 59)),   # still EST (UTC-5)
    ("2024-03-10 03:00:00", utc(2024, 3, 10, 7, 0, 0)),     # already EDT (UTC-4): one second later in UTC
    ("2024-03-09 23:30:00", utc(2024, 3, 10, 4, 30, 0)),    # the Eastern day before is already the UTC day
    # fall back, 2024-11-03: 02:00 EDT goes back to 01:00 EST
    ("2024-11-03 00:59:59", utc(2024, 11, 3, 4, 59, 59)),   # EDT
    ("2024-11-03 01:30:00", utc(2024, 11, 3, 5, 30, 0)),    # the repeated hour: first (EDT) occurrence
    ("2024-11-03 02:00:00", utc(2024, 11, 3, 7, 0, 0)),     # EST (UTC-5)
    # the reference's documented example, and microseconds of invoice ``version``
    ("2021-04-16 10:31:59", utc(2021, 4, 16, 14, 31, 59)),
    ("2024-03-11 16:02:05.118204", dt.datetime(2024, 3, 11, 20, 2, 5, 118204, tzinfo=dt.UTC)),
])
def test_eastern_timestamps_convert_across_dst(eastern: str, expected: dt.datetime) -> None:
    assert parse_timestamp(eastern, "eastern") == expected


def test_utc_kinds_are_not_shifted() -> None:
    # bills and bill vendors write naive UTC: a DST day changes nothing for them
    assert parse_timestamp("2024-03-10 02:30:00", "utc") == utc(2024, 3, 10, 2, 30)
    assert parse_timestamp("2024-11-03 01:30:00", "utc") == utc(2024, 11, 3, 1, 30)


@pytest.mark.parametrize("moment", [
    utc(2024, 3, 10, 6, 59, 59), utc(2024, 3, 10, 7, 0, 0), utc(2024, 11, 3, 4, 59, 59),
    utc(2024, 11, 3, 7, 0, 0), utc(2024, 7, 1, 12, 0, 0), utc(2024, 1, 15, 3, 0, 0),
])
def test_rendering_and_parsing_round_trip_outside_the_repeated_hour(moment: dt.datetime) -> None:
    assert parse_timestamp(to_eastern_naive(moment), "eastern") == moment


@pytest.mark.parametrize("day", [dt.date(2024, 3, 10), dt.date(2024, 3, 11), dt.date(2024, 11, 3),
                                 dt.date(2024, 11, 4), dt.date(2024, 12, 31)])
def test_day_filters_cover_every_instant_of_a_utc_partition(day: dt.date) -> None:
    start, end = utc_day_window(day)
    first, last = eastern_day_filter(start, end)
    # The server keeps updated >= first 00:00 Eastern and < last 00:00 Eastern: that must include the window.
    lower = dt.datetime(first.year, first.month, first.day, tzinfo=EASTERN)
    upper = dt.datetime(last.year, last.month, last.day, tzinfo=EASTERN)
    assert lower <= start and end <= upper
    # and over-fetches at most a couple of days, not a scan
    assert (upper - lower) <= dt.timedelta(days=4)


def test_window_bounds_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        eastern_day_filter(dt.datetime(2024, 3, 10), dt.datetime(2024, 3, 11))
