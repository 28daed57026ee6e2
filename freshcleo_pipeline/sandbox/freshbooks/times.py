"""How the FreshBooks emulator renders and filters time: UTC microseconds inside, FreshBooks' formats outside.

Owns the emulator's own Eastern/UTC renderings and the day-granular filter bounds. It deliberately does not
reuse the connector's timestamp code: the emulator must not share the client's understanding of time zones.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMAT = "%Y-%m-%d %H:%M:%S"
MICRO = 1_000_000


def to_us(moment: dt.datetime) -> int:
    """Aware datetime → integer microseconds since the epoch."""
    if moment.tzinfo is None:
        raise ValueError(f"clock value {moment!r} is naive; expected an aware datetime")
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * MICRO + delta.microseconds


def from_us(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)


@lru_cache(maxsize=8192)  # lines of one invoice share their instant; a page renders thousands
def eastern(us: int) -> str:
    """Naive US/Eastern 'YYYY-MM-DD HH:MM:SS' (invoice, payment, client, item timestamps)."""
    return from_us(us).astimezone(EASTERN).strftime(_FORMAT)


def eastern_version(us: int) -> str:
    """Invoice ``version``: the Eastern timestamp with microseconds."""
    return from_us(us).astimezone(EASTERN).strftime(_FORMAT + ".%f")


def utc(us: int) -> str:
    """Naive UTC 'YYYY-MM-DD HH:MM:SS' (bill, bill vendor timestamps, client signup_date)."""
    return from_us(us).strftime(_FORMAT)


def iso_utc(us: int) -> str:
    return from_us(us).strftime("%Y-%m-%dT%H:%M:%SZ")


def eastern_date(us: int) -> dt.date:
    return from_us(us).astimezone(EASTERN).date()


def parse_day(value: str) -> dt.date | None:
    """A day filter value 'YYYY-MM-DD', or None when it is anything else (a full timestamp included)."""
    if not _DAY.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def eastern_midnight_us(day: dt.date) -> int:
    """The instant Eastern midnight starts ``day`` (day filters are Eastern and day-granular)."""
    return to_us(dt.datetime(day.year, day.month, day.day, tzinfo=EASTERN))


def utc_midnight_us(day: dt.date) -> int:
    return to_us(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
