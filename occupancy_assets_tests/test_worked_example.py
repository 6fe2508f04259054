"""SPEC section 12, end to end through Dagster and dbt, on DuckDB and MariaDB: exactly the tabled values."""

import datetime as dt
from collections import Counter

import pandas as pd
import pytest

from occupancy_assets.cli.launch import run_daily_job
from occupancy_assets.defs.occupancy.assets import compute_and_write
from occupancy_assets_tests.worked_example import (
    AS_OF,
    EXPECTED_DAILY,
    EXPECTED_MONTH_END,
    EXPECTED_SILVER,
    SNAPSHOT_DATES,
)


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def test_silver_rows_and_room_primaries(example_warehouse):
    wh, *_ = example_warehouse
    rows = wh.read_sql(
        "SELECT snapshot_date, tenant_id, apartment_id, room_id, management_status_code, is_room_primary "
        "FROM {silver}.tenant_room_snapshot_daily"
    )
    got = {(_date(r.snapshot_date), *map(int, r[1:])) for r in rows.itertuples(index=False)}
    assert got == EXPECTED_SILVER
    assert len(rows) == len(EXPECTED_SILVER)  # no duplicates


def test_silver_labels_and_effective_moveout(example_warehouse):
    wh, *_ = example_warehouse
    rows = wh.read_sql(
        "SELECT tenant_id, management_status, moveout_date, moveout_plans_date, rent_jpy, property, room_number "
        "FROM {silver}.tenant_room_snapshot_daily WHERE snapshot_date = :d ORDER BY tenant_id",
        {"d": dt.date(2026, 2, 1)},
    )
    t5 = rows[rows.tenant_id == 5].iloc[0]
    assert t5.management_status == "退去通知"
    assert _date(t5.moveout_date) == dt.date(2026, 2, 2)  # integrated date when plans is NULL
    assert pd.isna(t5.moveout_plans_date)
    t3 = rows[rows.tenant_id == 3].iloc[0]
    assert (t3.management_status, int(t3.rent_jpy), t3.room_number) == ("入居", 55000, "102")


def test_month_end_metrics_match_the_worked_example(example_warehouse):
    wh, *_ = example_warehouse
    rows = wh.read_sql("SELECT * FROM {gold}.kpi_month_end_metrics ORDER BY as_of_date")
    assert [_date(d) for d in rows.as_of_date] == list(EXPECTED_MONTH_END)
    for r in rows.itertuples():
        c0000, eod, ins, outs, rate, rent, revpar, recpar = EXPECTED_MONTH_END[_date(r.as_of_date)]
        got = (r.occupancy_room_count_0000, r.occupancy_room_count_eod, r.same_day_moveins, r.same_day_moveouts,
               r.rent_jpy, r.revpar_jpy, r.recpar_cash_jpy)
        assert tuple(map(int, got)) == (c0000, eod, ins, outs, rent, revpar, recpar), r.as_of_date
        assert float(r.occupancy_rate) == pytest.approx(rate, abs=1e-9)
        assert int(r.total_physical_rooms) == 4
        assert r.same_day_moveout_policy == "count_moveout_room_at_0000_exclude_same_day_moveins"
    assert [int(x) for x in rows.is_month_end] == [0, 1, 0]


def test_occupancy_daily_metrics_match_the_worked_example(example_warehouse):
    wh, *_ = example_warehouse
    rows = wh.read_sql("SELECT * FROM {gold}.occupancy_daily_metrics ORDER BY snapshot_date")
    assert [_date(d) for d in rows.snapshot_date] == list(EXPECTED_DAILY)
    for r in rows.itertuples():
        apps, ins, outs, delta, start, end, rate, projection = EXPECTED_DAILY[_date(r.snapshot_date)]
        assert (None if pd.isna(r.applications) else int(r.applications)) == apps, r.snapshot_date
        got = (r.new_moveins, r.new_moveouts, r.occupancy_delta, r.period_start_rooms, r.period_end_rooms, r.is_projection)
        assert tuple(map(int, got)) == (ins, outs, delta, start, end, projection), r.snapshot_date
        assert float(r.occupancy_rate) == pytest.approx(rate, abs=1e-9)
        expected_basis = AS_OF if projection else _date(r.snapshot_date)
        assert _date(r.projection_basis_date) == expected_basis


def test_trace_row(example_warehouse):
    wh, *_ = example_warehouse
    trace = wh.read_sql("SELECT * FROM {gold}.kpi_reference_trace")
    assert len(trace) == 1
    t = trace.iloc[0]
    assert _date(t.as_of_date) == AS_OF
    assert _date(t.silver_snapshot_max_date) == AS_OF
    assert _date(t.gold_occupancy_max_snapshot_date) == dt.date(2026, 2, 4)
    assert int(t.freshness_lag_days) == (_date(t.calendar_today) - AS_OF).days


def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    drop = [c for c in ("loaded_at", "generated_at", "updated_at") if c in frame]
    return frame.drop(columns=drop).astype(str).sort_values(list(frame.columns[:4])).reset_index(drop=True)


def test_rerunning_any_range_gives_identical_rows(example_warehouse):
    wh, settings, defs, instance = example_warehouse
    tables = ["{silver}.tenant_room_snapshot_daily", "{gold}.kpi_month_end_metrics", "{gold}.occupancy_daily_metrics"]
    before = {t: _stable(wh.read_sql(f"SELECT * FROM {t}")) for t in tables}
    # the whole range again (one run), then one old partition in the middle
    for start, end in ((SNAPSHOT_DATES[0], AS_OF), (SNAPSHOT_DATES[1], SNAPSHOT_DATES[1])):
        outcome = run_daily_job(defs, instance, wh, start, end, say=lambda _: None)
        assert outcome.success, outcome.describe()
        for t in tables:
            pd.testing.assert_frame_equal(_stable(wh.read_sql(f"SELECT * FROM {t}")), before[t])


def test_an_old_partition_rewrites_its_observed_rows_only(example_warehouse):
    """SPEC 7: re-materializing as-of 01-31 (older than the latest snapshot 02-01) writes the observed
    rows [01-28, 01-31], from silver's first date 01-30 on, and leaves 02-01 and the projections
    from 02-01 exactly as they were."""
    wh, *_ = example_warehouse
    before = wh.read_sql("SELECT * FROM {gold}.occupancy_daily_metrics ORDER BY snapshot_date")
    later = dt.datetime(2030, 1, 1)
    rows, as_of, window = compute_and_write(
        wh, first_as_of=SNAPSHOT_DATES[1], last_as_of=SNAPSHOT_DATES[1], lookback_days=3, forward_days=3, now=later
    )
    assert as_of == SNAPSHOT_DATES[1] and window == (SNAPSHOT_DATES[0], SNAPSHOT_DATES[1])
    assert list(rows["snapshot_date"]) == [dt.date(2026, 1, 30), dt.date(2026, 1, 31)]
    after = wh.read_sql("SELECT * FROM {gold}.occupancy_daily_metrics ORDER BY snapshot_date")
    rewritten = after["updated_at"].map(lambda v: pd.Timestamp(v) == pd.Timestamp(later))
    assert [_date(d) for d in after.loc[rewritten, "snapshot_date"]] == [dt.date(2026, 1, 30), dt.date(2026, 1, 31)]
    pd.testing.assert_frame_equal(_stable(after), _stable(before))


def test_a_shorter_horizon_replaces_the_projections_as_a_whole(example_warehouse):
    """Issue 18: after a run with 3 projected days, one with 1 leaves exactly 1 (02-02), not the
    two older ones (02-03, 02-04) beside it; a longer horizon again writes 3, all from basis 02-01."""
    wh, *_ = example_warehouse
    for forward_days, projected in ((1, [dt.date(2026, 2, 2)]),
                                    (3, [dt.date(2026, 2, 2), dt.date(2026, 2, 3), dt.date(2026, 2, 4)])):
        compute_and_write(wh, first_as_of=AS_OF, last_as_of=AS_OF, lookback_days=3, forward_days=forward_days)
        rows = wh.read_sql("SELECT snapshot_date, is_projection, projection_basis_date "
                           "FROM {gold}.occupancy_daily_metrics WHERE snapshot_date > :as_of ORDER BY snapshot_date",
                           {"as_of": AS_OF})
        assert [_date(d) for d in rows.snapshot_date] == projected
        assert set(map(int, rows.is_projection)) == {1} and {_date(d) for d in rows.projection_basis_date} == {AS_OF}


def test_each_partition_materialization_carries_its_own_kpis(example_warehouse):
    """What the UI plots by partition: the build's one run wrote every date, each with its values."""
    from occupancy_assets.lib.names import MONTH_END_KEY, OCCUPANCY_KEY, SILVER_KEY

    _, _, _, instance = example_warehouse

    def by_partition(key, field):
        records = instance.fetch_materializations(key, limit=100).records
        latest = {}
        for record in sorted(records, key=lambda r: r.storage_id):
            latest[record.partition_key] = record.asset_materialization.metadata[field].value
        return latest

    assert by_partition(MONTH_END_KEY, "occupancy_rate") == {
        str(day): pytest.approx(values[4]) for day, values in EXPECTED_MONTH_END.items()}
    assert by_partition(MONTH_END_KEY, "rent_jpy") == {str(day): values[5] for day, values in EXPECTED_MONTH_END.items()}
    assert by_partition(OCCUPANCY_KEY, "period_end_rooms") == {
        str(day): values[5] for day, values in EXPECTED_DAILY.items() if day <= AS_OF}
    rows_per_day = Counter(str(row[0]) for row in EXPECTED_SILVER)
    assert by_partition(SILVER_KEY, "row_count") == dict(rows_per_day)


def test_run_level_figures_are_on_the_last_partition_only(example_warehouse):
    """Issue 21: a range run's own totals (rows written, horizon, ...) were copied onto every
    partition and drew flat lines in "Plots by partition"; now each partition carries its own date's
    values, and the run's figures are on its last partition."""
    from occupancy_assets.lib.names import FORECAST_KEY, OCCUPANCY_KEY

    _, _, _, instance = example_warehouse
    for key, run_level in ((OCCUPANCY_KEY, {"rows_written", "observed_rows", "projected_rows", "horizon_end"}),
                           (FORECAST_KEY, {"rows_written", "as_of_dates", "latest_forecast"})):
        runs: dict[str, dict[str, set]] = {}
        for record in instance.fetch_materializations(key, limit=100).records:
            runs.setdefault(record.run_id, {})[record.partition_key] = set(record.asset_materialization.metadata)
        assert any(len(partitions) > 1 for partitions in runs.values())  # the build's range run is among them
        for partitions in runs.values():
            last = max(partitions)
            assert run_level <= partitions[last], key
            assert all(not run_level & names for day, names in partitions.items() if day != last), (key, partitions)
