"""Checks on silver.tenant_room_snapshot_daily (SPEC section 9, silver rows).

- `unique_key` (ERROR, blocking): one row per (snapshot_date, tenant_id, apartment_id, room_id).
- `snapshot_health` (ERROR, blocking): per snapshot date, the silver row count moves more than
  `Settings.health_max_row_change` from the previous snapshot, or the staging dump repeats the
  previous day's exactly (judged from `Settings.health_min_tenants_for_repeat` tenants up).
- `snapshot_gaps` (WARN): dates inside the history without a staging dump.
- `freshness` (WARN): the latest silver snapshot is more than a day behind today (JST).

The first two evaluate the run's window: the checks share silver's daily partitions, so a
history run over a range (single-run backfill) evaluates each check once over that range. A run
without a partition range (a check launched on its own) evaluates the latest
`DEFAULT_WINDOW_DATES` snapshot dates. Gaps and freshness are about the whole history.

What "blocking" stops: a failed blocking check fails its step and so the `history` run.
gold.kpi_month_end_metrics is its own dbt step downstream of silver (dbt_assets.py builds one
asset per daily model), so it waits for silver's blocking checks and is skipped; and
`pipeline.run_steps` never starts the `projection` job (occupancy_daily_metrics, the trace).
Were silver and kpi_month_end_metrics one dbt multi-asset again, a check could not stop the
second: both would be built by the same `dbt build` before any check of silver ran.
"""

import datetime as dt
import json

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from ..occupancy_metrics import SILVER_KEY
from ..partitions import history_partitions, window_dates
from ..resources import WarehouseResource
from ..settings import Settings, today_jst
from ..warehouse import Warehouse
from . import silver_sql

#: Snapshot dates a check evaluates when its run has no partition range.
DEFAULT_WINDOW_DATES = 31
#: Example rows / dates shown in metadata (the counts always cover everything).
EXAMPLE_LIMIT = 10
LISTED_DATES_LIMIT = 100
#: A snapshot older than this many days (vs today in JST) is stale.
MAX_FRESHNESS_LAG_DAYS = 1


# -- window --------------------------------------------------------------------------------


def check_window(context: AssetCheckExecutionContext, wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    """The run's partition range, else the latest DEFAULT_WINDOW_DATES snapshot dates (None: silver empty)."""
    if context.has_partition_key_range or context.has_partition_key:
        return window_dates(context.partition_time_window)
    row = wh.read_sql(
        silver_sql.RECENT_SILVER_DATES, {"end_date": today_jst(), "limit": DEFAULT_WINDOW_DATES}
    ).iloc[0]
    if pd.isna(row["end_date"]):
        return None
    return _date(row["start_date"]), _date(row["end_date"])


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def _md(frame: pd.DataFrame) -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False))


def _window_metadata(window: tuple[dt.date, dt.date] | None) -> dict:
    if window is None:
        return {"window": "silver is empty"}
    return {"window_start": str(window[0]), "window_end": str(window[1])}


# -- unique key ----------------------------------------------------------------------------


def unique_key_result(wh: Warehouse, window: tuple[dt.date, dt.date] | None) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR
    if window is None:
        return AssetCheckResult(passed=True, severity=severity, metadata=_window_metadata(window))
    params = {"start_date": window[0], "end_date": window[1]}
    by_date = wh.read_sql(silver_sql.DUPLICATE_KEYS_BY_DATE, params)
    metadata = {
        **_window_metadata(window),
        "duplicate_keys": int(by_date["duplicate_keys"].sum()) if len(by_date) else 0,
        "surplus_rows": int(by_date["surplus_rows"].sum()) if len(by_date) else 0,
        "dates_affected": len(by_date),
    }
    if len(by_date):
        examples = wh.read_sql(silver_sql.DUPLICATE_KEY_EXAMPLES, {**params, "example_limit": EXAMPLE_LIMIT})
        examples["snapshot_date"] = examples["snapshot_date"].map(lambda v: str(_date(v)))
        by_date["snapshot_date"] = by_date["snapshot_date"].map(lambda v: str(_date(v)))
        metadata["example_keys"] = _md(examples)
        metadata["duplicates_by_date"] = _md(by_date.head(LISTED_DATES_LIMIT))
        metadata["affected_dates"] = MetadataValue.json(list(by_date["snapshot_date"].head(LISTED_DATES_LIMIT)))
    return AssetCheckResult(passed=not len(by_date), severity=severity, metadata=metadata)


# -- snapshot health -----------------------------------------------------------------------


def judge_snapshot_health(days: pd.DataFrame, *, max_row_change: float, min_tenants_for_repeat: int) -> pd.DataFrame:
    """The offending rows of SNAPSHOT_HEALTH, with `row_change` and `reason` (pure: unit-testable).

    - jump: |silver_rows - previous_silver_rows| / previous_silver_rows > max_row_change; not
      judged without a previous snapshot in silver (first date of the history, archived months).
    - repeat: the dump has >= min_tenants_for_repeat tenants, as many as the previous one, and
      every one of them has the identical status and contract on the previous date.
    """
    days = days.copy()
    previous = pd.to_numeric(days["previous_silver_rows"], errors="coerce")
    current = days["silver_rows"].astype("int64")
    has_previous = previous.notna() & (previous > 0)
    days["row_change"] = ((current - previous) / previous.where(has_previous)).round(4)
    jump = has_previous & (days["row_change"].abs() > max_row_change)
    dump_rows = days["dump_rows"].astype("int64")
    repeat = (
        days["previous_date"].notna()
        & (dump_rows >= min_tenants_for_repeat)
        & (dump_rows == pd.to_numeric(days["previous_dump_rows"], errors="coerce"))
        & (days["repeated_rows"].astype("int64") == dump_rows)
    )
    reasons = []
    for is_jump, is_repeat, change in zip(jump, repeat, days["row_change"]):
        parts = []
        if is_jump:
            parts.append(f"row count {'+' if change > 0 else ''}{change:.1%} vs previous snapshot")
        if is_repeat:
            parts.append("dump repeats the previous snapshot (every tenant's status and contract unchanged)")
        reasons.append("; ".join(parts))
    days["reason"] = reasons
    return days[jump | repeat]


def snapshot_health_result(
    wh: Warehouse,
    window: tuple[dt.date, dt.date] | None,
    *,
    max_row_change: float,
    min_tenants_for_repeat: int,
) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR
    thresholds = {"max_row_change": max_row_change, "min_tenants_for_repeat": min_tenants_for_repeat}
    if window is None:
        return AssetCheckResult(passed=True, severity=severity, metadata={**_window_metadata(window), **thresholds})
    start, end = window
    previous = wh.read_sql(silver_sql.PREVIOUS_SNAPSHOT_DATE, {"start_date": start}).iloc[0]["previous_date"]
    from_date = start if pd.isna(previous) else _date(previous)
    days = wh.read_sql(
        silver_sql.SNAPSHOT_HEALTH,
        {"from_date": from_date, "start_date": start, "end_date": end, "min_tenants": min_tenants_for_repeat},
    )
    bad = judge_snapshot_health(days, max_row_change=max_row_change, min_tenants_for_repeat=min_tenants_for_repeat)
    metadata = {
        **_window_metadata(window),
        **thresholds,
        "dates_evaluated": len(days),
        "failing_dates": len(bad),
    }
    if len(bad):
        table = bad[
            ["snapshot_date", "previous_date", "silver_rows", "previous_silver_rows", "dump_rows",
             "previous_dump_rows", "repeated_rows", "row_change", "reason"]
        ].copy()
        for col in ("snapshot_date", "previous_date"):
            table[col] = table[col].map(lambda v: None if pd.isna(v) else str(_date(v)))
        for col in ("previous_silver_rows", "previous_dump_rows"):
            table[col] = pd.to_numeric(table[col], errors="coerce").astype("Int64")
        table["row_change"] = table["row_change"].astype(float)
        metadata["failures"] = _md(table.head(LISTED_DATES_LIMIT))
        records = json.loads(table.head(LISTED_DATES_LIMIT).to_json(orient="records"))
        metadata["failures_json"] = MetadataValue.json(records)
    return AssetCheckResult(passed=not len(bad), severity=severity, metadata=metadata)


# -- gaps ----------------------------------------------------------------------------------


def gap_dates(dump_dates: list[dt.date], history_start: dt.date) -> list[dt.date]:
    """Calendar days between the first dump (not before history_start) and the latest without a dump."""
    dates = sorted({d for d in dump_dates if d >= history_start})
    if not dates:
        return []
    calendar = pd.date_range(dates[0], dates[-1], freq="D").date
    present = set(dates)
    return [d for d in calendar if d not in present]


def gaps_result(wh: Warehouse, history_start: dt.date) -> AssetCheckResult:
    dumps = wh.read_sql(silver_sql.DUMP_DATES, {"from_date": history_start})
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
    partitions = history_partitions(settings)

    @asset_check(asset=SILVER_KEY, name="unique_key", blocking=True, partitions_def=partitions)
    def unique_key(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        """One row per (snapshot_date, tenant_id, apartment_id, room_id) in the run's window."""
        wh = warehouse.warehouse()
        return unique_key_result(wh, check_window(context, wh))

    @asset_check(asset=SILVER_KEY, name="snapshot_health", blocking=True, partitions_def=partitions)
    def snapshot_health(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        """Row count vs the previous snapshot within the set share; no dump that repeats the previous day's."""
        wh = warehouse.warehouse()
        return snapshot_health_result(
            wh,
            check_window(context, wh),
            max_row_change=settings.health_max_row_change,
            min_tenants_for_repeat=settings.health_min_tenants_for_repeat,
        )

    @asset_check(asset=SILVER_KEY, name="snapshot_gaps", partitions_def=partitions)
    def snapshot_gaps(warehouse: WarehouseResource) -> AssetCheckResult:
        """Dates inside the history without a staging dump (they get no silver rows)."""
        return gaps_result(warehouse.warehouse(), settings.history_start)

    @asset_check(asset=SILVER_KEY, name="freshness", partitions_def=partitions)
    def freshness(warehouse: WarehouseResource) -> AssetCheckResult:
        """The latest silver snapshot is at most a day behind today (Asia/Tokyo)."""
        return freshness_result(warehouse.warehouse(), today_jst())

    return [unique_key, snapshot_health, snapshot_gaps, freshness]
