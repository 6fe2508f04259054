"""Daily partitions in Asia/Tokyo (SPEC section 10).

History assets (silver, kpi_month_end_metrics) run up to today; the occupancy asset reaches
today + forward days so projections are partitions too.
"""

from __future__ import annotations

import datetime as dt

from dagster import DailyPartitionsDefinition, PartitionKeyRange, TimeWindow

from .settings import Settings

TIMEZONE = "Asia/Tokyo"
DATE_FORMAT = "%Y-%m-%d"


def history_partitions(settings: Settings) -> DailyPartitionsDefinition:
    # end_offset=1: today's partition exists although the JST day has not ended (the dump lands in the morning)
    return DailyPartitionsDefinition(
        start_date=settings.history_start.isoformat(), timezone=TIMEZONE, fmt=DATE_FORMAT, end_offset=1
    )


def occupancy_partitions(settings: Settings) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(
        start_date=settings.history_start.isoformat(),
        timezone=TIMEZONE,
        fmt=DATE_FORMAT,
        end_offset=1 + settings.forward_days,
    )


def window_dates(window: TimeWindow) -> tuple[dt.date, dt.date]:
    """First and last calendar date (inclusive) of a partition time window."""
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def key_range(start: dt.date, end: dt.date) -> PartitionKeyRange:
    return PartitionKeyRange(start.strftime(DATE_FORMAT), end.strftime(DATE_FORMAT))
