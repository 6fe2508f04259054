"""gold.occupancy_forecast_daily and gold.occupancy_property_daily on the worked example (SPEC 12),
built by the whole pipeline through Dagster and dbt, on DuckDB and MariaDB; their checks on
hand-broken data (a double-booked property, a property with more occupied rooms than rooms)."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import AssetCheckKey, AssetCheckSeverity

from occupancy_assets.defs.forecast.assets import (
    backtest_result,
    compute_and_write,
    forecast_table,
)
from occupancy_assets.defs.forecast.model import ForecastParams
from occupancy_assets.lib.names import FORECAST_KEY, MONTH_END_KEY, PROPERTY_KEY, SILVER_KEY
from occupancy_assets_tests.defs.occupancy.test_checks import (
    _execute,
    _insert,
    _meta,
    check_evaluations,
    dbt_test,
    edited,
)
from occupancy_assets_tests.helpers import run_assets
from occupancy_assets_tests.worked_example import AS_OF, SNAPSHOT_DATES

D = dt.date.fromisoformat
ROLLUP_TEST = "assert_occupancy_property_rollup"
CAPACITY_TEST = "assert_occupancy_property_capacity"
COLLAPSE_TEST = "assert_occupancy_property_collapse"
ROOMS_TEST = "assert_occupancy_property_rooms_stable"


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def _forecast(wh) -> pd.DataFrame:
    rows = wh.read_sql("SELECT * FROM {gold}.occupancy_forecast_daily ORDER BY as_of_date, snapshot_date")
    rows["as_of_date"] = rows["as_of_date"].map(_date)
    rows["snapshot_date"] = rows["snapshot_date"].map(_date)
    return rows


def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["generated_at"]).astype(str).reset_index(drop=True)


# -- occupancy_forecast_daily ---------------------------------------------------------------


def test_every_as_of_date_gets_its_forward_days(example_warehouse):
    wh, settings, *_ = example_warehouse
    rows = _forecast(wh)
    assert rows.groupby("as_of_date").size().to_dict() == {d: settings.forward_days for d in SNAPSHOT_DATES}
    for as_of, group in rows.groupby("as_of_date"):
        assert group["snapshot_date"].tolist() == [as_of + dt.timedelta(days=i) for i in (1, 2, 3)]
        assert group["lead_days"].astype(int).tolist() == [1, 2, 3]
    assert (rows["model_version"] == ForecastParams(forward_days=3, learn_days=180).version()).all()


def test_on_the_books_columns_are_spec7_projections_and_expected_adds_the_learned_pickup(example_warehouse):
    """as_of 02-01: T5's effective move-out on 02-02 and T4's move-in on 02-03 are on the books,
    exactly the projected rows of occupancy_daily_metrics. Both are also 'booked' by status (T5
    gave notice: 14; T4 reserved: 4), and the three days of history show no pickup (every flow
    was booked the day before), so the forecast equals on-the-books."""
    wh, *_ = example_warehouse
    rows = _forecast(wh)
    latest = rows[rows["as_of_date"] == AS_OF]
    projected = wh.read_sql(
        "SELECT snapshot_date, new_moveins, new_moveouts, period_end_rooms FROM {gold}.occupancy_daily_metrics "
        "WHERE is_projection = 1 ORDER BY snapshot_date"
    )
    assert latest["otb_moveins"].astype(int).tolist() == projected["new_moveins"].astype(int).tolist() == [0, 1, 0]
    assert latest["otb_moveouts"].astype(int).tolist() == projected["new_moveouts"].astype(int).tolist() == [1, 0, 0]
    assert latest["otb_period_end_rooms"].astype(int).tolist() == projected["period_end_rooms"].astype(int).tolist()
    assert latest["otb_period_end_rooms"].astype(int).tolist() == [2, 3, 3]
    assert latest["expected_period_end_rooms"].astype(float).tolist() == [2.0, 3.0, 3.0]
    assert latest["expected_occupancy_rate"].astype(float).tolist() == pytest.approx([0.5, 0.75, 0.75])
    assert latest["total_physical_rooms"].astype(int).tolist() == [4, 4, 4]
    assert latest["p10_period_end_rooms"].isna().all()  # two earlier as-of dates: too few errors for a band


def test_a_window_replaces_only_its_own_as_of_dates(example_warehouse):
    wh, settings, *_ = example_warehouse
    before = _forecast(wh)
    params = ForecastParams(forward_days=settings.forward_days, learn_days=settings.forecast_learn_days)
    written = compute_and_write(wh, window_start=SNAPSHOT_DATES[1], window_end=SNAPSHOT_DATES[1], params=params)
    assert written["as_of_date"].unique().tolist() == [SNAPSHOT_DATES[1]]
    after = _forecast(wh)
    pd.testing.assert_frame_equal(_stable(after), _stable(before))
    # a window without snapshots deletes its (absent) rows and writes nothing, touching nothing else
    empty = compute_and_write(wh, window_start=D("2026-02-02"), window_end=D("2026-02-04"), params=params)
    assert empty.empty
    pd.testing.assert_frame_equal(_stable(_forecast(wh)), _stable(before))


def test_backtest_scores_stored_forecasts_against_observed_levels(example_warehouse):
    """Hand-made stored forecasts 7 and 30 days ahead of the example's snapshot dates (observed
    period_end_rooms 3, 2, 3): MAE, bias and band coverage come out as computed by hand."""
    wh, settings, *_ = example_warehouse
    stamp = dt.datetime(2026, 1, 1)
    rows = []
    for day, lead, otb, expected, p10, p90 in [
        (D("2026-01-30"), 7, 1, 3.5, 3.0, 4.0),  # actual 3: otb err 2, forecast err 0.5, inside
        (D("2026-01-31"), 7, 0, 2.0, 2.5, 3.0),  # actual 2: otb err 2, forecast err 0, outside
        (D("2026-02-01"), 30, 1, 2.0, 1.0, 4.0),  # actual 3: otb err 2, forecast err 1, inside
    ]:
        rows.append(dict(
            as_of_date=day - dt.timedelta(days=lead), snapshot_date=day, lead_days=lead, otb_moveins=0, otb_moveouts=0,
            otb_period_end_rooms=otb, expected_moveins=0, expected_moveouts=0, expected_period_end_rooms=expected,
            expected_occupancy_rate=expected / 4, p10_period_end_rooms=p10, p90_period_end_rooms=p90,
            total_physical_rooms=4, model_version="hand-made", generated_at=stamp,
        ))
    table = forecast_table.to_metadata(sa.MetaData(), schema=wh.schema("gold"))
    with wh.begin() as conn:
        conn.execute(table.insert(), rows)
    try:
        result = backtest_result(wh, settings)
    finally:
        _execute(wh, "DELETE FROM {gold}.occupancy_forecast_daily WHERE model_version = 'hand-made'")
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert result.severity == AssetCheckSeverity.WARN
    assert meta["scored_forecasts"] == 3
    assert meta["mae_otb_lead_7"] == 2.0 and meta["mae_forecast_lead_7"] == 0.25
    assert meta["bias_forecast_lead_7"] == -0.25
    assert meta["mae_forecast_lead_30"] == 1.0 and meta["band_coverage_lead_30"] == 1.0
    assert meta["band_coverage_lead_7"] == 0.5
    assert meta["band_coverage"] == pytest.approx(2 / 3, abs=1e-4)
    # 2 and 1 banded forecasts: too few to judge the band (at least 30 per lead), and the forecast
    # beats on-the-books at both leads, so the check passes and says why the band was not judged
    assert result.passed and "problems" not in meta
    assert meta["band_not_judged"] == "lead(s) 7, 30, 60, 90: fewer than 30 banded forecasts"


def test_backtest_warns_on_a_band_off_at_a_lead_with_enough_forecasts(example_warehouse):
    """40 forecasts at lead 7 (actual 3 on 2026-01-30): 24 bands hold it, 16 miss it: 60% < 65%."""
    wh, settings, *_ = example_warehouse
    stamp, day = dt.datetime(2026, 1, 1), D("2026-01-30")
    rows = [dict(
        as_of_date=day - dt.timedelta(days=7 + i), snapshot_date=day, lead_days=7, otb_moveins=0, otb_moveouts=0,
        otb_period_end_rooms=1, expected_moveins=0, expected_moveouts=0, expected_period_end_rooms=3.0,
        expected_occupancy_rate=0.75, p10_period_end_rooms=2.5 if i < 24 else 3.5, p90_period_end_rooms=4.0,
        total_physical_rooms=4, model_version="hand-made", generated_at=stamp,
    ) for i in range(40)]
    table = forecast_table.to_metadata(sa.MetaData(), schema=wh.schema("gold"))
    with wh.begin() as conn:
        conn.execute(table.insert(), rows)
    try:
        result = backtest_result(wh, settings)
    finally:
        _execute(wh, "DELETE FROM {gold}.occupancy_forecast_daily WHERE model_version = 'hand-made'")
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert meta["band_coverage_lead_7"] == 0.6
    assert not result.passed and meta["problems"] == "band coverage 60.0% at lead 7 (40 forecasts) outside 65%-92%"


# -- occupancy_property_daily -----------------------------------------------------------------


EXPECTED_PROPERTY = {  # (date, apartment): (rooms, 0000, eod, ins, outs, rate)
    (D("2026-01-30"), 1): (3, 2, 2, 0, 0, 0.666667),
    (D("2026-01-30"), 2): (1, 1, 1, 0, 0, 1.0),
    (D("2026-01-31"), 1): (3, 2, 1, 0, 1, 0.333333),  # T2 leaves 102
    (D("2026-01-31"), 2): (1, 1, 1, 0, 0, 1.0),
    (D("2026-02-01"), 1): (3, 1, 2, 1, 0, 0.666667),  # T3 moves into 102
    (D("2026-02-01"), 2): (1, 1, 1, 0, 0, 1.0),  # T5 leaves on 02-02
}


def test_property_rows_follow_the_room_level_rules_per_house(example_warehouse):
    wh, *_ = example_warehouse
    rows = wh.read_sql("SELECT * FROM {gold}.occupancy_property_daily ORDER BY snapshot_date, apartment_id")
    got = {
        (_date(r.snapshot_date), int(r.apartment_id)): (
            int(r.total_physical_rooms), int(r.occupancy_room_count_0000), int(r.occupancy_room_count_eod),
            int(r.same_day_moveins), int(r.same_day_moveouts), round(float(r.occupancy_rate), 6),
        )
        for r in rows.itertuples()
    }
    assert got == EXPECTED_PROPERTY
    first = rows.iloc[0]
    assert (first.property, first.prefecture, first.municipality) == ("Worked Example House A", "東京都", "杉並区")


def test_property_checks_pass_on_clean_data_and_ran_as_asset_checks(example_warehouse):
    wh, settings, defs, instance = example_warehouse
    results = dbt_test(wh, f"{ROLLUP_TEST} {CAPACITY_TEST} {COLLAPSE_TEST} {ROOMS_TEST}")
    assert {name: r["status"] for name, r in results.items()} == {
        ROLLUP_TEST: "pass", CAPACITY_TEST: "pass", COLLAPSE_TEST: "pass", ROOMS_TEST: "pass"}
    graph = defs.resolve_asset_graph()
    assert {k.name for k in graph.get_check_keys_for_assets([PROPERTY_KEY])} == {ROLLUP_TEST, CAPACITY_TEST, COLLAPSE_TEST, ROOMS_TEST}
    assert {k.name for k in graph.get_check_keys_for_assets([FORECAST_KEY])} == {"backtest"}


def test_rollup_check_fails_on_a_double_booked_property_and_names_it(example_warehouse):
    """T8 moves into room 201 (apartment 2) on 01-31 while T5 still lives there (as in the gold
    checks' double-booked case): the sums still match the portfolio (both count the room once),
    but apartment 2's own identity breaks on 01-31, and the failing rows say which house."""
    wh, settings, defs, instance = example_warehouse
    stamp = pd.Timestamp("2026-02-01 09:00:00").to_pydatetime()
    _insert(wh, "movings", [dict(
        id=8, tenant_id=8, apartment_id=2, room_id=201, movein_date=D("2026-01-31"), original_movein_date=D("2026-01-31"),
        moveout_date=None, moveout_plans_date=None, moveout_date_integrated=None, rent=65_000, cancel_flag=0,
        is_moveout=0, moving_agreement_type=1, created_at=stamp, updated_at=stamp)])
    _insert(wh, "tenants", [dict(id=8, status=9, moving_id=8, contract_type=1, full_name="Tenant 8",
                                 last_name="Tenant", first_name="8")])
    _insert(wh, "tenant_daily_snapshots", [
        dict(snapshot_date=day, tenant_id=8, status=status, moving_id=8, contract_type=1, full_name="Tenant 8")
        for day, status in zip(SNAPSHOT_DATES, (4, 9, 9))
    ])
    window = (SNAPSHOT_DATES[0], AS_OF)
    try:
        outcome = run_assets(defs, instance, [SILVER_KEY, MONTH_END_KEY, PROPERTY_KEY], *window)
        evaluations = check_evaluations(instance, outcome.run_id)
    finally:
        for table, column in (("tenant_daily_snapshots", "tenant_id"), ("tenants", "id"), ("movings", "id")):
            _execute(wh, f"DELETE FROM {{staging}}.{table} WHERE {column} = 8")
        restored = run_assets(defs, instance, [SILVER_KEY, MONTH_END_KEY, PROPERTY_KEY], *window)
    assert not outcome.success
    assert f"gold/occupancy_property_daily:{ROLLUP_TEST}" in outcome.failed_checks
    rollup = evaluations[AssetCheckKey(PROPERTY_KEY, ROLLUP_TEST)]
    assert rollup.severity == AssetCheckSeverity.ERROR
    assert _meta(rollup, "dagster_dbt/failed_row_count") == 1
    failing = _meta(rollup, "failing_rows")
    assert "identity" in failing and "Worked Example House B" in failing and "2026-01-31" in failing
    assert evaluations[AssetCheckKey(PROPERTY_KEY, CAPACITY_TEST)].passed
    assert restored.success, restored.describe()


def test_capacity_check_fails_on_a_property_with_more_occupied_rooms_than_rooms(example_warehouse):
    wh = example_warehouse[0]
    with edited(
        wh,
        "UPDATE {gold}.occupancy_property_daily SET total_physical_rooms = 1 WHERE apartment_id = 1",
        "UPDATE {gold}.occupancy_property_daily SET total_physical_rooms = 3 WHERE apartment_id = 1",
    ):
        results = dbt_test(wh, f"{ROLLUP_TEST} {CAPACITY_TEST}")
        window = dbt_test(wh, CAPACITY_TEST, {"min_date": "2026-02-01", "max_date": "2026-02-01"})[CAPACITY_TEST]
    # apartment 1 holds 2 occupied rooms at 00:00 on 01-30 and 01-31 and at the end of 01-30 and 02-01
    assert (results[CAPACITY_TEST]["status"], results[CAPACITY_TEST]["failures"]) == ("fail", 3)
    # and the rooms no longer add up to the portfolio's total_physical_rooms on any date
    assert (results[ROLLUP_TEST]["status"], results[ROLLUP_TEST]["failures"]) == ("fail", 3)
    assert (window["status"], window["failures"]) == ("fail", 1)  # the run window only
