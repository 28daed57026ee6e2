"""The one place that turns FreshBooks timestamps into UTC, and UTC windows into FreshBooks day filters.

Accounting timestamps (invoice/payment/client/item ``updated``, invoice ``created_at``) are naive
US/Eastern; bill and bill-vendor ``created_at``/``updated_at`` are naive UTC. A naive Eastern time inside
the repeated hour of the November change is ambiguous; we take the first (EDT, ``fold=0``) occurrence and
the one-day over-fetch of every window absorbs the difference. A time inside the skipped March hour cannot
exist; it is read as if the clock had not jumped (``fold=0`` gives EST there), which zoneinfo does for us.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
_FORMAT = "%Y-%m-%d %H:%M:%S"

Zone = Literal["eastern", "utc"]


def parse_timestamp(value: str, zone: Zone) -> dt.datetime:
    """'YYYY-MM-DD HH:MM:SS' (optionally with fractional seconds or an ISO offset) → aware UTC."""
    text = value.strip().replace("T", " ")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        return parsed.astimezone(dt.UTC)
    if zone == "utc":
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.replace(tzinfo=EASTERN, fold=0).astimezone(dt.UTC)


def to_eastern_naive(moment: dt.datetime) -> str:
    """Aware datetime → FreshBooks' naive Eastern rendering."""
    return moment.astimezone(EASTERN).strftime(_FORMAT)


def to_utc_naive(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_FORMAT)


def eastern_day_filter(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    """Day filters (updated_min inclusive, updated_max exclusive) that surely cover the UTC window [start, end).

    Over-fetches one day on each side; callers filter the results exactly on the converted ``updated``.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    first = start.astimezone(EASTERN).date() - dt.timedelta(days=1)
    last = end.astimezone(EASTERN).date() + dt.timedelta(days=2)
    return first, last


def utc_day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants [day 00:00, next day 00:00) of a daily partition."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
