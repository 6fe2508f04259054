"""Checks on silver.tenant_room_snapshot_daily (SPEC section 9, silver rows).

The two blocking ones are dbt tests, run by the same `dbt build` that writes silver, so a failure
makes dbt skip kpi_month_end_metrics and fails the run (dbt_project/tests):
- `assert_silver_unique_key` (ERROR): one row per (snapshot_date, tenant_id, apartment_id, room_id)
  in the run's window;
- `assert_silver_snapshot_health` (ERROR): a date's row count moves more than
  `Settings.health_max_row_change` from the previous snapshot, or the staging dump repeats the
  previous day's exactly (judged from `Settings.health_min_tenants_for_repeat` tenants up).

The two here are about the whole history and only warn:
- `snapshot_gaps` (WARN): dates inside the history without a staging dump.
- `freshness` (WARN): the latest silver snapshot is more than a day behind today (JST).
"""

import datetime as dt

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from occupancy_assets.defs.dbt import silver_checks_sql as silver_sql
from occupancy_assets.lib.names import SILVER_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import Settings, today_jst
from occupancy_assets.lib.warehouse import Warehouse

LISTED_DATES_LIMIT = 100
#: A snapshot older than this many days (vs today in JST) is stale.
MAX_FRESHNESS_LAG_DAYS = 1


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


# -- gaps ----------------------------------------------------------------------------------


def gap_dates(dump_dates: list[dt.date], history_start: dt.date) -> list[dt.date]:
    """Calendar days between the first dump (not before history_start) and the latest without a dump."""
    dates = sorted({d for d in dump_dates if d >= history_start})
    if not dates:
        return []
    calendar = pd.date_range(dates[0], dates[-1], freq="D").date
    present = set(dates)
    return [d for d in calendar if d not in present]


def gaps_result(wh: Warehouse, history_start: dt.date, today: dt.date) -> AssetCheckResult:
    dumps = wh.read_sql(silver_sql.DUMP_DATES, {"from_date": history_start, "to_date": today})
    dates = [_date(v) for v in dumps["snapshot_date"]]
    gaps = gap_dates(dates, history_start)
    metadata = {
        "history_start": str(history_start),
        "first_snapshot_date": str(dates[0]) if dates else None,
        "latest_snapshot_date": str(dates[-1]) if dates else None,
        "gap_count": len(gaps),
        "gap_dates": MetadataValue.json([str(d) for d in gaps[:LISTED_DATES_LIMIT]]),
    }
    return AssetCheckResult(
        passed=not gaps,
        severity=AssetCheckSeverity.WARN,
        metadata={k: v for k, v in metadata.items() if v is not None},
    )


# -- freshness -----------------------------------------------------------------------------


def freshness_result(wh: Warehouse, today: dt.date) -> AssetCheckResult:
    latest = wh.read_sql(silver_sql.LATEST_SILVER_SNAPSHOT).iloc[0]["latest_snapshot_date"]
    metadata: dict = {"today_jst": str(today), "max_lag_days": MAX_FRESHNESS_LAG_DAYS}
    if pd.isna(latest):
        metadata["latest_snapshot_date"] = "silver is empty"
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata=metadata)
    latest = _date(latest)
    lag = (today - latest).days
    metadata.update(latest_snapshot_date=str(latest), lag_days=lag)
    return AssetCheckResult(passed=lag <= MAX_FRESHNESS_LAG_DAYS, severity=AssetCheckSeverity.WARN, metadata=metadata)


# -- Dagster wiring ------------------------------------------------------------------------


def build_silver_checks(settings: Settings) -> list:
    @asset_check(asset=SILVER_KEY, name="snapshot_gaps", pool=WAREHOUSE_POOL)
    def snapshot_gaps(warehouse: WarehouseResource) -> AssetCheckResult:
        """Dates inside the history without a staging dump (they get no silver rows)."""
        return gaps_result(warehouse.warehouse(), settings.history_start, today_jst())

    @asset_check(asset=SILVER_KEY, name="freshness", pool=WAREHOUSE_POOL)
    def freshness(warehouse: WarehouseResource) -> AssetCheckResult:
        """The latest silver snapshot is at most a day behind today (Asia/Tokyo)."""
        return freshness_result(warehouse.warehouse(), today_jst())

    return [snapshot_gaps, freshness]
