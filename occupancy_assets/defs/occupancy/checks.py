"""Checks on the gold tables (SPEC section 9) that are not dbt tests.

On gold.occupancy_daily_metrics (whole table: one row per date, so a scan is cheap):
- `arithmetic` (ERROR, blocking): end = start + delta, delta = ins - outs, rate = end / total
  (+-RATE_TOLERANCE; total = kpi_month_end_metrics.total_physical_rooms of the row's projection
  basis date), no NULL metric except `applications` on the first snapshot date.
- `chain` (ERROR, blocking): start(D) = end(D-1) for projected rows. D-1 must be the previous day
  of the same projection (or its basis day); rows left from an older, longer projection (a
  narrower re-run) are counted, not judged.
- `coverage` (ERROR, blocking): one row per date from the first silver snapshot to
  as_of + forward_days (as_of = latest observed row), except gap dates; a projected row on or
  before as_of (observed history overwritten by a projection) also fails.
- `projections_flat` (WARN): every projected day of the as_of projection has zero move-ins and
  zero move-outs: the projection carries no scheduled events.
- `drift` (WARN): |period_end_rooms - observed occupancy_room_count_eod| / total_physical_rooms
  above `Settings.drift_warn_share` on a date that has a kpi_month_end_metrics row. The two
  counts differ by design (pairs vs rooms, moveout_plans_date vs the effective move-out), by at
  most 34 rooms (0.21%) a day on the full-scale demo, mostly at month ends; the default 0.5%
  (~80 of 16,108 rooms) warns when they part by more than that.
On gold.kpi_month_end_metrics:
- `kpi_day_over_day` (WARN): each published KPI's change from the day before against a robust band
  of recent same-type days (defs/occupancy/plausibility.py).
On gold.kpi_reference_trace:
- `version_alignment` (ERROR, blocking): the latest kpi_month_end_metrics row's
  kpi_definition_version equals the trace's.

Blocking errors on occupancy_daily_metrics fail the daily run before kpi_reference_trace is
built from a bad table. The dbt tests on kpi_month_end_metrics live in dbt_project/tests;
`reference_guardrails` reports the same references the dbt guardrail test judges.
"""

import datetime as dt
from decimal import Decimal

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from occupancy_assets.defs.occupancy import checks_sql as gold_sql
from occupancy_assets.defs.occupancy.plausibility import CHECK_NAME as DAY_OVER_DAY
from occupancy_assets.defs.occupancy.plausibility import day_over_day_result
from occupancy_assets.lib.archive_manifest import archived_snapshot_dates
from occupancy_assets.lib.names import MONTH_END_KEY, OCCUPANCY_KEY, TRACE_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import Settings
from occupancy_assets.lib.warehouse import Warehouse

#: |occupancy_rate - period_end_rooms / total_physical_rooms| allowed (the rate is stored to 6 decimals).
RATE_TOLERANCE = 1e-6
#: Offending rows shown in metadata (counts always cover everything).
EXAMPLE_LIMIT = 10
LISTED_DATES_LIMIT = 100
#: kpi_month_end_metrics columns a reference may name (the dbt test unpivots the same list).
METRIC_COLUMNS = (
    "occupancy_room_count_0000",
    "occupancy_room_count_eod",
    "same_day_moveins",
    "same_day_moveouts",
    "total_physical_rooms",
    "occupancy_rate",
    "rent_jpy",
    "revpar_jpy",
    "recpar_cash_jpy",
)
GUARDRAIL_COLUMNS = ["reference_date", "metric", "expected", "tolerance", "actual", "status", "note"]


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def _dates(series: pd.Series) -> pd.Series:
    return series.map(lambda v: None if pd.isna(v) else _date(v))


def _md(frame: pd.DataFrame) -> MetadataValue:
    shown = frame.copy()
    for col in shown.columns:
        if col.endswith("date"):
            shown[col] = shown[col].map(lambda v: None if v is None or pd.isna(v) else str(_date(v)))
    return MetadataValue.md(shown.to_markdown(index=False))


def _date_list(dates) -> MetadataValue:
    return MetadataValue.json([str(d) for d in list(dates)[:LISTED_DATES_LIMIT]])


def latest_observed_date(wh: Warehouse) -> dt.date | None:
    value = wh.read_sql(gold_sql.LATEST_OBSERVED).iloc[0]["as_of_date"]
    return None if pd.isna(value) else _date(value)


# -- version alignment ----------------------------------------------------------------------


def version_alignment_result(wh: Warehouse) -> AssetCheckResult:
    metrics = wh.read_sql(gold_sql.LATEST_METRICS_VERSION)
    trace = wh.read_sql(gold_sql.TRACE_VERSION)
    metrics_version = metrics.iloc[0]["kpi_definition_version"] if len(metrics) else None
    trace_versions = sorted({str(v) for v in trace["kpi_definition_version"]})
    metadata = {
        "metrics_kpi_definition_version": str(metrics_version) if metrics_version is not None else "no metrics row",
        "latest_metrics_as_of_date": str(_date(metrics.iloc[0]["as_of_date"])) if len(metrics) else "none",
        "trace_kpi_definition_version": ", ".join(trace_versions) if trace_versions else "no trace row",
        "trace_rows": len(trace),
        "trace_as_of_date": str(_date(trace.iloc[0]["as_of_date"])) if len(trace) == 1 and pd.notna(trace.iloc[0]["as_of_date"]) else "n/a",
    }
    passed = len(trace) == 1 and metrics_version is not None and trace_versions == [str(metrics_version)]
    if not passed:
        metadata["action"] = (
            "rebuild kpi_month_end_metrics and the trace (the daily job) with the same dbt project version" if len(trace) == 1 else "rebuild kpi_reference_trace: it must hold exactly one row"
        )
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata=metadata)


# -- arithmetic -----------------------------------------------------------------------------


def arithmetic_result(wh: Warehouse) -> AssetCheckResult:
    bad = wh.read_sql(gold_sql.ARITHMETIC_VIOLATIONS, {"rate_tolerance": RATE_TOLERANCE})
    rules = {
        "bad_end": "end != start + delta",
        "bad_delta": "delta != ins - outs",
        "bad_rate": "rate != end / total (or no kpi row for the basis date)",
        "null_metric": "NULL metric",
    }
    metadata: dict = {"violating_rows": len(bad), "rate_tolerance": RATE_TOLERANCE}
    for flag in rules:
        metadata[f"rows_{flag}"] = int(bad[flag].astype(int).sum()) if len(bad) else 0
    if len(bad):
        bad = bad.copy()
        bad["problem"] = [
            "; ".join(label for flag, label in rules.items() if int(row[flag])) for _, row in bad.iterrows()
        ]
        metadata["violations"] = _md(bad.drop(columns=list(rules)).head(EXAMPLE_LIMIT))
        metadata["violating_dates"] = _date_list(_dates(bad["snapshot_date"]))
    return AssetCheckResult(passed=not len(bad), severity=AssetCheckSeverity.ERROR, metadata=metadata)


# -- chain ----------------------------------------------------------------------------------


def judge_chain(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(broken, not judged) projected rows of PROJECTED_WITH_PREVIOUS (pure: unit-testable).

    A row is judged when the row before it is D-1 and belongs to the same projection: a
    projection of the same basis date, or the (observed) basis day itself.
    """
    rows = rows.copy()
    for col in ("snapshot_date", "previous_date", "projection_basis_date", "previous_basis_date"):
        rows[col] = _dates(rows[col])
    day_before = rows["snapshot_date"].map(lambda d: d - dt.timedelta(days=1))
    adjacent = rows["previous_date"] == day_before
    same_projection = (rows["previous_basis_date"] == rows["projection_basis_date"]) | (
        rows["previous_date"] == rows["projection_basis_date"]
    )
    judged = adjacent & same_projection
    broken = judged & (
        pd.to_numeric(rows["previous_end_rooms"]) != pd.to_numeric(rows["period_start_rooms"])
    )
    not_judged = rows[~judged].copy()
    not_judged["reason"] = [
        "no row for the day before (see coverage)" if not adj else "previous day from another projection basis"
        for adj in adjacent[~judged]
    ]
    return rows[broken], not_judged


def chain_result(wh: Warehouse) -> AssetCheckResult:
    rows = wh.read_sql(gold_sql.PROJECTED_WITH_PREVIOUS)
    broken, not_judged = judge_chain(rows)
    metadata = {
        "projected_rows": len(rows),
        "broken_links": len(broken),
        "rows_not_judged": len(not_judged),
    }
    if len(broken):
        table = broken[["snapshot_date", "projection_basis_date", "period_start_rooms", "previous_date", "previous_end_rooms"]]
        metadata["broken"] = _md(table.head(EXAMPLE_LIMIT))
        metadata["broken_dates"] = _date_list(broken["snapshot_date"])
    if len(not_judged):
        metadata["not_judged"] = _md(
            not_judged[["snapshot_date", "projection_basis_date", "previous_date", "previous_basis_date", "reason"]].head(EXAMPLE_LIMIT)
        )
    return AssetCheckResult(passed=not len(broken), severity=AssetCheckSeverity.ERROR, metadata=metadata)


# -- coverage -------------------------------------------------------------------------------


def judge_coverage(rows: pd.DataFrame, silver_dates: list[dt.date], forward_days: int) -> dict:
    """Missing and unexpected dates of occupancy_daily_metrics (pure: unit-testable).

    Expected: every silver snapshot date from the first one to as_of (the latest observed row),
    then every calendar day to as_of + forward_days. Unexpected: on or before as_of, a projected
    row or a row on a gap date (a date after the first snapshot without one).
    """
    rows = rows.copy()
    rows["snapshot_date"] = _dates(rows["snapshot_date"])
    observed = rows.loc[rows["is_projection"].astype(int) == 0, "snapshot_date"]
    snapshots = set(silver_dates)
    first = min(snapshots) if snapshots else (min(rows["snapshot_date"]) if len(rows) else None)
    as_of = max(observed) if len(observed) else None
    if as_of is None:
        return {"first_date": first, "as_of": None, "horizon_end": None, "missing": sorted(snapshots),
                "unexpected": rows.iloc[0:0].assign(reason=[]), "gap_dates": []}
    horizon_end = as_of + dt.timedelta(days=forward_days)
    projected_days = {as_of + dt.timedelta(days=i) for i in range(1, forward_days + 1)}
    expected = {d for d in snapshots if first <= d <= as_of} | projected_days
    present = set(rows["snapshot_date"])
    calendar = pd.date_range(first, as_of, freq="D").date
    gap_dates = [d for d in calendar if d not in snapshots] if snapshots else []
    past = rows[(rows["snapshot_date"] >= first) & (rows["snapshot_date"] <= as_of)]
    on_gap = ~past["snapshot_date"].isin(snapshots) if snapshots else pd.Series(False, index=past.index)
    stale = past["is_projection"].astype(int) == 1
    unexpected = past[on_gap | stale].copy()
    unexpected["reason"] = [
        "row on a gap date (no silver snapshot)" if gap else "projected row on or before as_of"
        for gap in on_gap[on_gap | stale]
    ]
    return {
        "first_date": first,
        "as_of": as_of,
        "horizon_end": horizon_end,
        "missing": sorted(expected - present),
        "unexpected": unexpected,
        "gap_dates": gap_dates,
    }


def coverage_result(wh: Warehouse, forward_days: int) -> AssetCheckResult:
    rows = wh.read_sql(gold_sql.OCCUPANCY_DATES)
    silver_dates = [_date(v) for v in wh.read_sql(gold_sql.SILVER_DATES)["snapshot_date"]]
    # an archived month's dates are snapshots whose rows sit in the archive, not gaps
    silver_dates = sorted(set(silver_dates) | set(archived_snapshot_dates(wh)))
    judged = judge_coverage(rows, silver_dates, forward_days)
    missing, unexpected = judged["missing"], judged["unexpected"]
    metadata = {
        "first_snapshot_date": str(judged["first_date"]) if judged["first_date"] else "none",
        "as_of": str(judged["as_of"]) if judged["as_of"] else "no observed row",
        "expected_through": str(judged["horizon_end"]) if judged["horizon_end"] else "n/a",
        "forward_days": forward_days,
        "rows": len(rows),
        "missing_dates_count": len(missing),
        "unexpected_rows": len(unexpected),
        "gap_dates_count": len(judged["gap_dates"]),
    }
    if missing:
        metadata["missing_dates"] = _date_list(missing)
    if len(unexpected):
        metadata["unexpected"] = _md(unexpected.head(EXAMPLE_LIMIT))
    if judged["gap_dates"]:
        metadata["gap_dates"] = _date_list(judged["gap_dates"])
    if missing or len(unexpected):
        metadata["action"] = "re-run the daily job over the listed dates (a backfill through today: one run)"
    passed = not missing and not len(unexpected) and (judged["as_of"] is not None or not silver_dates)
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata=metadata)


# -- projections flat -----------------------------------------------------------------------


def projections_flat_result(wh: Warehouse) -> AssetCheckResult:
    as_of = latest_observed_date(wh)
    rows = wh.read_sql(gold_sql.PROJECTED_FROM_BASIS, {"as_of_date": as_of}) if as_of else pd.DataFrame()
    moveins = int(pd.to_numeric(rows["new_moveins"]).sum()) if len(rows) else 0
    moveouts = int(pd.to_numeric(rows["new_moveouts"]).sum()) if len(rows) else 0
    metadata = {
        "as_of": str(as_of) if as_of else "no observed row",
        "projected_days": len(rows),
        "projected_moveins": moveins,
        "projected_moveouts": moveouts,
    }
    if len(rows):
        metadata["first_projected_date"] = str(_date(rows["snapshot_date"].iloc[0]))
        metadata["last_projected_date"] = str(_date(rows["snapshot_date"].iloc[-1]))
    flat = len(rows) > 0 and moveins == 0 and moveouts == 0
    if flat:
        metadata["action"] = (
            "the as_of snapshot carries no scheduled move-in or move-out: check staging movings "
            "(movein_date / moveout dates) and the statuses of the as_of dump"
        )
    return AssetCheckResult(passed=not flat, severity=AssetCheckSeverity.WARN, metadata=metadata)


# -- drift ----------------------------------------------------------------------------------


def judge_drift(rows: pd.DataFrame, warn_share: float) -> pd.DataFrame:
    """Every compared date with drift_rooms / drift_share, worst first (pure: unit-testable)."""
    rows = rows.copy()
    end = pd.to_numeric(rows["period_end_rooms"]).astype("int64")
    observed = pd.to_numeric(rows["observed_eod_rooms"]).astype("int64")
    total = pd.to_numeric(rows["total_physical_rooms"]).astype("float64")
    rows["drift_rooms"] = end - observed
    rows["drift_share"] = (rows["drift_rooms"].abs() / total.where(total > 0)).round(6)
    rows["over_threshold"] = rows["drift_share"] > warn_share
    order = rows["drift_rooms"].abs().sort_values(ascending=False, kind="stable").index
    return rows.loc[order].reset_index(drop=True)


def drift_result(wh: Warehouse, warn_share: float) -> AssetCheckResult:
    judged = judge_drift(wh.read_sql(gold_sql.DRIFT), warn_share)
    over = judged[judged["over_threshold"]]
    metadata = {
        "warn_share": warn_share,
        "dates_compared": len(judged),
        "dates_over_threshold": len(over),
        "max_abs_drift_rooms": int(judged["drift_rooms"].abs().max()) if len(judged) else 0,
        "max_drift_share": float(judged["drift_share"].max()) if len(judged) else 0.0,
    }
    if len(judged):
        columns = ["snapshot_date", "is_projection", "period_end_rooms", "observed_eod_rooms", "drift_rooms", "drift_share"]
        metadata["worst_days"] = _md(judged[columns].head(EXAMPLE_LIMIT))
    if len(over):
        metadata["dates_over"] = _date_list(_dates(over["snapshot_date"]).sort_values())
    return AssetCheckResult(passed=not len(over), severity=AssetCheckSeverity.WARN, metadata=metadata)


# -- reference guardrails (reporting) --------------------------------------------------------


def _decimal(value) -> Decimal | None:
    return None if value is None or pd.isna(value) else Decimal(str(value))


def reference_guardrails(wh: Warehouse) -> pd.DataFrame:
    """Every row of gold.kpi_references with its verdict against gold.kpi_month_end_metrics.

    Columns: reference_date, metric, expected, tolerance, actual, status, note; status is
    `pass`, `fail` (out of tolerance, or an unknown metric), `missing` (dated inside the history
    [min, max as_of_date] without a metrics row) or `not_evaluated` (dated outside the history,
    or describing a portfolio of another size: the reference's total_physical_rooms differs from
    the metrics row's, or from the latest row's when the dated row is missing). The dbt test
    `assert_kpi_reference_feb2026` fails on exactly the `fail` and `missing` rows.
    """
    refs = wh.read_sql(gold_sql.REFERENCES)
    if refs.empty:
        return pd.DataFrame(columns=GUARDRAIL_COLUMNS)
    bounds = wh.read_sql(gold_sql.HISTORY_BOUNDS).iloc[0]
    first = None if pd.isna(bounds["first_date"]) else _date(bounds["first_date"])
    last = None if pd.isna(bounds["last_date"]) else _date(bounds["last_date"])
    latest_rooms = bounds["latest_total_physical_rooms"]
    rows = wh.read_sql(gold_sql.ROWS_ON_REFERENCE_DATES)
    rows.index = _dates(rows["as_of_date"]) if len(rows) else rows.index
    ref_rooms = refs["total_physical_rooms"] if "total_physical_rooms" in refs else pd.Series(None, index=refs.index)

    out = []
    for ref, reference_rooms in zip(refs.itertuples(index=False), ref_rooms):
        day = _date(ref.reference_date)
        expected, tolerance = _decimal(ref.expected_value), _decimal(ref.tolerance)
        row = rows.loc[day] if day in rows.index else None
        actual = _decimal(row[ref.metric]) if row is not None and ref.metric in METRIC_COLUMNS else None
        portfolio = row["total_physical_rooms"] if row is not None else latest_rooms
        if first is None or not first <= day <= last:
            status, note = "not_evaluated", (
                f"outside the history {first}..{last}" if first else "kpi_month_end_metrics is empty"
            )
        elif pd.notna(reference_rooms) and (pd.isna(portfolio) or int(reference_rooms) != int(portfolio)):
            status, note = "not_evaluated", (
                f"the reference describes a {int(reference_rooms)}-room portfolio; this one has {portfolio} rooms"
            )
        elif row is None:
            status, note = "missing", "no kpi_month_end_metrics row for a date inside the history"
        elif ref.metric not in METRIC_COLUMNS:
            status, note = "fail", f"unknown metric (expected one of {', '.join(METRIC_COLUMNS)})"
        elif actual is None:
            status, note = "fail", "the metric is NULL"
        elif abs(actual - expected) <= tolerance:
            status, note = "pass", f"difference {float(actual - expected):+g}"
        else:
            status, note = "fail", f"difference {float(actual - expected):+g} exceeds the tolerance {float(tolerance):g}"
        out.append(
            {
                "reference_date": day,
                "metric": ref.metric,
                "expected": float(expected),
                "tolerance": float(tolerance),
                "actual": None if actual is None else float(actual),
                "status": status,
                "note": note,
            }
        )
    return pd.DataFrame(out, columns=GUARDRAIL_COLUMNS)


# -- Dagster wiring -------------------------------------------------------------------------


def build_gold_checks(settings: Settings) -> list:
    @asset_check(asset=TRACE_KEY, name="version_alignment", blocking=True, pool=WAREHOUSE_POOL)
    def version_alignment(warehouse: WarehouseResource) -> AssetCheckResult:
        """The latest kpi_month_end_metrics row and the trace carry the same kpi_definition_version."""
        return version_alignment_result(warehouse.warehouse())

    @asset_check(asset=OCCUPANCY_KEY, name="arithmetic", blocking=True, pool=WAREHOUSE_POOL)
    def arithmetic(warehouse: WarehouseResource) -> AssetCheckResult:
        """end = start + delta, delta = ins - outs, rate = end / total; no NULL metric but the first applications."""
        return arithmetic_result(warehouse.warehouse())

    @asset_check(asset=OCCUPANCY_KEY, name="chain", blocking=True, pool=WAREHOUSE_POOL)
    def chain(warehouse: WarehouseResource) -> AssetCheckResult:
        """Projected days chain: start(D) = end(D-1)."""
        return chain_result(warehouse.warehouse())

    @asset_check(asset=OCCUPANCY_KEY, name="coverage", blocking=True, pool=WAREHOUSE_POOL)
    def coverage(warehouse: WarehouseResource) -> AssetCheckResult:
        """One row per date from the first snapshot to as_of + forward days, except gap dates."""
        return coverage_result(warehouse.warehouse(), settings.forward_days)

    @asset_check(asset=OCCUPANCY_KEY, name="projections_flat", pool=WAREHOUSE_POOL)
    def projections_flat(warehouse: WarehouseResource) -> AssetCheckResult:
        """Warns when no projected day has a scheduled move-in or move-out."""
        return projections_flat_result(warehouse.warehouse())

    @asset_check(asset=OCCUPANCY_KEY, name="drift", pool=WAREHOUSE_POOL)
    def drift(warehouse: WarehouseResource) -> AssetCheckResult:
        """period_end_rooms vs the observed end-of-day room count, as a share of all rooms."""
        return drift_result(warehouse.warehouse(), settings.drift_warn_share)

    @asset_check(asset=MONTH_END_KEY, name=DAY_OVER_DAY, pool=WAREHOUSE_POOL)
    def kpi_day_over_day(warehouse: WarehouseResource) -> AssetCheckResult:
        """Warns when a published KPI changed from the day before by far more than recent days did."""
        return day_over_day_result(warehouse.warehouse())

    return [version_alignment, arithmetic, chain, coverage, projections_flat, drift, kpi_day_over_day]
