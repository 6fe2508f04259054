"""gold.occupancy_forecast_daily (Dagster asset) and its backtest check (docs/forecast.md).

Partition T is the as-of date. A run over the window [A, B] reads, in a fixed number of
set-based queries (defs/forecast/sql.py), the observed levels and the booked events of the snapshots
in [A - learn_days - forward_days, B], fits the pickup model for every as-of date of the window
in memory (defs/forecast/model.py), and replaces the window's rows (`as_of_date` in [A, B]) in one
transaction. Rows of other as-of dates are never touched: every as-of date's forecast is kept,
so it can be scored once its days are observed (the `backtest` check).

Factories for the definitions: `build_forecast_asset(settings)`, `build_forecast_checks(settings)`.
"""


import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetDep,
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    asset_check,
)

from occupancy_assets.defs.forecast import model as forecast
from occupancy_assets.defs.forecast import sql as forecast_sql
from occupancy_assets.lib.names import FORECAST_KEY, MONTH_END_KEY, SILVER_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.partitions import daily_partitions, window_dates
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import Settings
from occupancy_assets.lib.warehouse import Warehouse

#: Backtest check: warn when, at a lead with at least BAND_MIN_SCORED banded forecasts, the band
#: holds fewer / more actuals than this (nominal P10-P90: 80%). With fewer the share is noise: 30
#: independent forecasts of a well-calibrated 80% band fall outside 65-92% 7% of the time, 60 only 0.6%.
COVERAGE_RANGE = (0.65, 0.92)
BAND_MIN_SCORED = 30

forecast_table = sa.Table(
    "occupancy_forecast_daily",
    sa.MetaData(),
    sa.Column("as_of_date", sa.Date, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    sa.Column("lead_days", sa.Integer, nullable=False),
    sa.Column("otb_moveins", sa.Integer, nullable=False),
    sa.Column("otb_moveouts", sa.Integer, nullable=False),
    sa.Column("otb_period_end_rooms", sa.Integer, nullable=False),
    sa.Column("expected_moveins", sa.Numeric(12, 2), nullable=False),
    sa.Column("expected_moveouts", sa.Numeric(12, 2), nullable=False),
    sa.Column("expected_period_end_rooms", sa.Numeric(12, 2), nullable=False),
    sa.Column("expected_occupancy_rate", sa.Numeric(12, 6), nullable=False),
    sa.Column("p10_period_end_rooms", sa.Numeric(12, 2), nullable=True),
    sa.Column("p90_period_end_rooms", sa.Numeric(12, 2), nullable=True),
    sa.Column("total_physical_rooms", sa.Integer, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("generated_at", sa.DateTime, nullable=False),
    sa.Index("ix_occupancy_forecast_daily_snapshot_lead", "snapshot_date", "lead_days"),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)


def params_from_settings(settings: Settings) -> forecast.ForecastParams:
    """Horizon = OCCUPANCY_FORWARD_DAYS, learning window = OCCUPANCY_FORECAST_LEARN_DAYS (default 180)."""
    return forecast.ForecastParams(forward_days=settings.forward_days, learn_days=settings.forecast_learn_days)


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def forecast_bounds(wh: Warehouse, end: dt.date, conn=None) -> tuple[dt.date | None, dt.date | None]:
    row = wh.read_sql(forecast_sql.BOUNDS, {"end_date": end}, conn=conn).iloc[0]
    first = None if pd.isna(row["first_date"]) else _date(row["first_date"])
    last = None if pd.isna(row["last_date"]) else _date(row["last_date"])
    return first, last


def load_history(
    wh: Warehouse, *, first_as_of: dt.date, last_as_of: dt.date, params: forecast.ForecastParams, conn=None
) -> forecast.History | None:
    """The observed levels and booked events the as-of dates [first_as_of, last_as_of] need:
    snapshots from first_as_of - learn_days - forward_days (bounded, whatever the history length)."""
    first, _ = forecast_bounds(wh, last_as_of, conn)
    if first is None:
        return None
    horizon = params.forward_days
    start = max(first, first_as_of - dt.timedelta(days=params.learn_days + horizon))
    actuals = wh.read_sql(forecast_sql.ACTUALS, {"start_date": start, "end_date": last_as_of}, conn=conn)
    events = wh.read_sql(
        forecast_sql.EVENTS,
        {
            "start_date": start,
            "end_date": last_as_of,
            "otb_start_date": first_as_of,
            "max_event_date": last_as_of + dt.timedelta(days=horizon),
        },
        conn=conn,
    )
    return forecast.build_history(actuals, events, start=start, end=last_as_of, horizon=horizon)


def compute_and_write(
    wh: Warehouse,
    *,
    window_start: dt.date,
    window_end: dt.date,
    params: forecast.ForecastParams,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Forecast every as-of date with a snapshot in the window; replace the window atomically."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    with wh.begin() as conn:
        _, last = forecast_bounds(wh, window_end, conn)
        rows = pd.DataFrame(columns=forecast.COLUMNS)
        if last is not None and last >= window_start:
            history = load_history(wh, first_as_of=window_start, last_as_of=last, params=params, conn=conn)
            days = pd.date_range(window_start, last, freq="D").date
            rows = forecast.forecast(history, list(days), params, now)
        table = forecast_table.to_metadata(sa.MetaData(), schema=wh.schema("gold"))
        table.create(conn, checkfirst=True)
        conn.execute(wh.render(forecast_sql.DELETE_WINDOW), {"start_date": window_start, "end_date": window_end})
        if len(rows):
            wh.bulk_insert(conn, "gold", table, rows)  # DuckDB: native scan of the frame; MySQL: batched
    return rows


def outlook_metadata(forecast_of_one_day: pd.DataFrame) -> dict:
    """One as-of date's outlook: on-the-books and expected occupancy at +30/+60/+90 and the band, so
    "Plots by partition" draws how the outlook evolved."""
    meta: dict = {}
    for lead in (30, 60, 90):
        r = forecast_of_one_day[forecast_of_one_day["lead_days"] == lead]
        if len(r):
            r = r.iloc[0]
            total = float(r["total_physical_rooms"])
            meta[f"otb_rate_plus_{lead}"] = round(float(r["otb_period_end_rooms"]) / total, 6)
            meta[f"expected_rate_plus_{lead}"] = float(r["expected_occupancy_rate"])
            if pd.notna(r["p10_period_end_rooms"]):
                meta[f"p10_rate_plus_{lead}"] = round(float(r["p10_period_end_rooms"]) / total, 6)
                meta[f"p90_rate_plus_{lead}"] = round(float(r["p90_period_end_rooms"]) / total, 6)
    return meta


def _summary_metadata(rows: pd.DataFrame) -> dict:
    """The run's own figures (on its last partition only)."""
    if rows.empty:
        return {"rows_written": 0, "as_of_dates": 0}
    latest = rows[rows["as_of_date"] == rows["as_of_date"].max()]
    meta: dict = {
        "rows_written": len(rows),
        "as_of_dates": int(rows["as_of_date"].nunique()),
        "latest_as_of": str(latest["as_of_date"].iloc[0]),
        "model_version": str(latest["model_version"].iloc[0]),
    }
    shown = latest[latest["lead_days"].isin([1, 7, 14, 30, 60, 90])].drop(columns=["generated_at", "model_version"])
    meta["latest_forecast"] = MetadataValue.md(shown.astype(str).to_markdown(index=False))
    return meta


def build_forecast_asset(settings: Settings):
    mapping = TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)
    params = params_from_settings(settings)

    @asset(
        key=FORECAST_KEY,
        group_name="gold",
        partitions_def=daily_partitions(settings),
        backfill_policy=BackfillPolicy.single_run(),
        deps=[AssetDep(SILVER_KEY, partition_mapping=mapping), AssetDep(MONTH_END_KEY, partition_mapping=mapping)],
        kinds={"python", "sql"},
        pool=WAREHOUSE_POOL,
        description=(
            "Pickup forecast per as-of date (partition) and day ahead: on-the-books, expected occupancy "
            "and a P10-P90 band (docs/forecast.md)."
        ),
    )
    def occupancy_forecast_daily(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        window_start, window_end = window_dates(context.partition_time_window)
        try:
            rows = compute_and_write(warehouse.warehouse(), window_start=window_start, window_end=window_end, params=params)
        except ValueError as err:
            raise Failure(description=str(err)) from err
        meta = {"window_start": str(window_start), "window_end": str(window_end), **_summary_metadata(rows)}
        written = set(rows["as_of_date"]) if len(rows) else set()
        skipped = [d for d in pd.date_range(window_start, window_end, freq="D").date if d not in written]
        if skipped:  # no kpi_month_end_metrics row (no dump) for these as-of dates: nothing to forecast from
            meta["as_of_dates_without_snapshot"] = MetadataValue.json([str(d) for d in skipped[:100]])
        for key in context.partition_keys:  # each as-of date its own outlook; the run's figures on the last
            day = dt.date.fromisoformat(key)
            outlook = outlook_metadata(rows[rows["as_of_date"] == day]) if day in written else {}
            if key == context.partition_keys[-1]:
                outlook = {**outlook, **meta}
            if outlook:
                context.add_asset_metadata(outlook, partition_key=key)
        return MaterializeResult()

    return occupancy_forecast_daily


# -- backtest -------------------------------------------------------------------------------


def backtest_result(wh: Warehouse, settings: Settings, today: dt.date | None = None) -> AssetCheckResult:
    """Score the stored forecasts whose day is observed, over the last learn_days observed days."""
    params = params_from_settings(settings)
    if not wh.table_exists("gold", "occupancy_forecast_daily"):
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata={"note": "nothing to score yet"})
    leads = forecast.BACKTEST_LEADS
    with wh.engine.connect() as conn:  # one connection for the three reads
        _, latest = forecast_bounds(wh, today or dt.date(9999, 12, 31), conn)
        if latest is None:
            return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata={"note": "nothing to score yet"})
        start = latest - dt.timedelta(days=params.learn_days - 1)
        window = {"start_date": start, "end_date": latest}
        stored = wh.read_sql(
            forecast_sql.STORED_FORECASTS, {**window, **{f"lead_{i + 1}": lead for i, lead in enumerate(leads)}}, conn=conn
        )
        actuals = forecast.actual_end_rooms(wh.read_sql(forecast_sql.ACTUALS, window, conn=conn))
    scores = forecast.backtest(stored, actuals, leads)
    metadata: dict = {"scored_days": f"{start} .. {latest}", "scored_forecasts": int(scores["forecasts"].sum())}
    for s in scores.itertuples():
        for name in ("mae_otb", "mae_forecast", "bias_forecast", "band_coverage"):
            value = getattr(s, name)
            if pd.notna(value):
                metadata[f"{name}_lead_{s.lead_days}"] = round(float(value), 4 if name == "band_coverage" else 2)
    banded = scores["banded"].fillna(0)
    inside = (scores["band_coverage"].fillna(0) * banded).sum()
    coverage = float(inside / banded.sum()) if banded.sum() else None
    if coverage is not None:
        metadata["band_coverage"] = round(coverage, 4)
    metadata["by_lead"] = MetadataValue.md(scores.round(3).to_markdown(index=False))
    by_month = forecast.backtest_by_month(stored, actuals)
    if len(by_month):
        metadata["by_month"] = MetadataValue.md(by_month.round(1).to_markdown(index=False))
    problems = []
    scored = scores.dropna(subset=["mae_otb", "mae_forecast"])
    worse = scored[scored["mae_forecast"] > scored["mae_otb"]]
    if len(worse):
        problems.append(f"forecast worse than on-the-books at lead(s) {', '.join(map(str, worse['lead_days']))}")
    low, high = COVERAGE_RANGE
    judged = scores[scores["banded"].fillna(0) >= BAND_MIN_SCORED]
    off = judged[(judged["band_coverage"] < low) | (judged["band_coverage"] > high)]
    for s in off.itertuples():
        problems.append(f"band coverage {s.band_coverage:.1%} at lead {s.lead_days} ({int(s.banded)} forecasts) "
                        f"outside {low:.0%}-{high:.0%}")
    if len(judged) < len(scores):
        metadata["band_not_judged"] = (
            f"lead(s) {', '.join(str(x) for x in scores.loc[~scores.index.isin(judged.index), 'lead_days'])}: "
            f"fewer than {BAND_MIN_SCORED} banded forecasts")
    if problems:
        metadata["problems"] = "; ".join(problems)
        metadata["action"] = (
            "read docs/forecast.md (how to read the backtest); a seasonal change or a data change in "
            "silver (statuses, move-out dates) usually explains it"
        )
    return AssetCheckResult(passed=not problems, severity=AssetCheckSeverity.WARN, metadata=metadata)


def build_forecast_checks(settings: Settings) -> list:
    @asset_check(asset=FORECAST_KEY, name="backtest", pool=WAREHOUSE_POOL)
    def backtest(warehouse: WarehouseResource) -> AssetCheckResult:
        """MAE of on-the-books vs the pickup forecast at leads 7/30/60/90 and the P10-P90 band's
        coverage, over the forecasts whose day is observed (last learn_days days). Warns when the
        forecast is worse than on-the-books at a lead, or the band holds outside 65-92% of actuals at a
        lead with at least 30 banded forecasts (fewer: not judged, said in the metadata)."""
        return backtest_result(warehouse.warehouse(), settings)

    return [backtest]
