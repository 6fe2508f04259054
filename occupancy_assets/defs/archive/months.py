"""Archive months (Asia/Tokyo calendar months, key YYYY-MM): parsing, bounds, the retention rule,
and the errors every archive step raises."""

from __future__ import annotations

import datetime as dt
import logging

log = logging.getLogger(__name__)

SILVER_TABLE = "tenant_room_snapshot_daily"
KEY_COLUMNS = ("snapshot_date", "tenant_id", "apartment_id", "room_id")
#: dbt model silver.first_application_dates: what the KPIs keep from the archived past
FIRST_APPLICATION_TABLE = "first_application_dates"
PARQUET_NAME = "part-0.parquet"
MONTH_FORMAT = "%Y-%m"


class ArchiveError(RuntimeError):
    """The archive or restore of a month cannot proceed; the message says why and what to do."""


class RetentionError(ArchiveError):
    """The month is inside the retention window."""


class ArchiveVerificationError(ArchiveError):
    """The stored object does not hold exactly the rows it should: nothing was deleted."""



# -- months --------------------------------------------------------------------------------------


def parse_month(month: str) -> dt.date:
    """First day of a "YYYY-MM" month."""
    try:
        return dt.datetime.strptime(month, MONTH_FORMAT).date()
    except (TypeError, ValueError):
        raise ArchiveError(f"not a month (YYYY-MM): {month!r}") from None


def month_key(day: dt.date) -> str:
    return day.strftime(MONTH_FORMAT)


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = parse_month(month)
    return first, add_months(first, 1) - dt.timedelta(days=1)


def retention_start(today: dt.date, retention_months: int) -> dt.date:
    """First day of the oldest retained month: the current month and the `retention_months` before
    it stay in silver. A month is archivable when its last day is more than `retention_months`
    months before today (today 2026-11-27, 12 months: 2025-10 and older; 2025-11 stays)."""
    if retention_months < 0:
        raise ValueError(f"OCCUPANCY_RETENTION_MONTHS must be >= 0, got {retention_months}")
    return add_months(today, -retention_months)


def check_archivable(month: str, today: dt.date, retention_months: int) -> None:
    first, _ = month_bounds(month)
    keep_from = retention_start(today, retention_months)
    if first >= keep_from:
        raise RetentionError(
            f"{month} is inside the retention of {retention_months} months (OCCUPANCY_RETENTION_MONTHS): "
            f"on {today} silver keeps every row from {keep_from} on, so the newest month that can be "
            f"archived is {month_key(add_months(keep_from, -1))}. Nothing was written or deleted."
        )
