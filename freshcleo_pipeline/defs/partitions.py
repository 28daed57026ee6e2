"""The one partitioning of the pipeline: UTC days of a document's latest FreshBooks update.

``end_offset=1`` makes today's partition exist while the day is in progress, so the polling schedule and the
webhook sensor can target it.
"""

import datetime as dt

import dagster as dg

from freshcleo_pipeline.settings import get_settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=get_settings().partitions_start.isoformat(), timezone="UTC", end_offset=1
)


def partition_key_for(moment: dt.datetime) -> str:
    """The partition a document updated at ``moment`` (aware) belongs to."""
    return moment.astimezone(dt.UTC).date().isoformat()
