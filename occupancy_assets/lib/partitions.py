"""The one daily partitions definition (SPEC 10): Asia/Tokyo calendar days from the history start
through today, shared by silver, kpi_month_end_metrics and occupancy_daily_metrics.

A partition of occupancy_daily_metrics is an as-of date T (SPEC 7): its projections reach past
the last partition, so the forward days are rows, not partitions.
"""

from __future__ import annotations

import datetime as dt

from dagster import DailyPartitionsDefinition, TimeWindow

from occupancy_assets.lib.settings import TIMEZONE, Settings

DATE_FORMAT = "%Y-%m-%d"


def daily_partitions(settings: Settings) -> DailyPartitionsDefinition:
    # end_offset=1: today's partition exists although the JST day has not ended (the dump lands in the morning)
    return DailyPartitionsDefinition(
        start_date=settings.history_start.isoformat(), timezone=TIMEZONE, fmt=DATE_FORMAT, end_offset=1
    )


def window_dates(window: TimeWindow) -> tuple[dt.date, dt.date]:
    """First and last calendar date (inclusive) of a partition time window."""
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def partition_key(day: dt.date) -> str:
    return day.strftime(DATE_FORMAT)

