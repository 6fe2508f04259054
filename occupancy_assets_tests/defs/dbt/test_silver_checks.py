"""The silver checks (SPEC 9) through real Dagster runs and dbt, on DuckDB and MariaDB.

The blocking ones are dbt tests built by the same `dbt build` as silver (dbt_project/tests/
assert_silver_*.sql); the warnings (gaps, freshness) are Python checks. Scenarios:
- the rules of the health test on hand-made silver and staging rows (`dbt test` alone);
- the worked example (conftest `example_warehouse`): unique, health and gaps pass, freshness warns;
- the worked example without its 2026-01-31 dump: the gap is reported (WARN), the date gets no
  silver rows, and the run still succeeds;
- a 1,500-room portfolio (> 1,000 tenants a day) whose 2026-01-28 dump repeats 2026-01-27's:
  the dump-health gate rejects it before silver, nothing is written, the run fails;
- the same portfolio built, then ~40% of 2026-01-30's tenants dropped: the daily run of 01-30 is
  rejected by the gate against 2026-01-29 (silver unchanged); silver + month-end materialized
  without the gate fail silver's own health test against the 2026-01-29 snapshot;
- a duplicated silver row: the unique test fails and its stored failures name the key.
"""

import datetime as dt
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from occupancy_assets.cli.launch import run_daily_job
from occupancy_assets.definitions import build_definitions
from occupancy_assets.defs.dbt import silver_checks as silver_checks
from occupancy_assets.defs.dbt.assets import dbt_vars
from occupancy_assets.defs.dbt.silver_checks import gap_dates
from occupancy_assets.demo.portfolio import generate_portfolio
from occupancy_assets.lib.names import MONTH_END_KEY, OCCUPANCY_KEY, SILVER_KEY
from occupancy_assets.lib.settings import Settings, today_jst
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import load_staging, make_settings
from occupancy_assets_tests.defs.occupancy.test_checks import dbt_test
from occupancy_assets_tests.helpers import run_assets
from occupancy_assets_tests.worked_example import AS_OF, SNAPSHOT_DATES, staging_frames

D = dt.date.fromisoformat
UNIQUE, HEALTH = "assert_silver_unique_key", "assert_silver_snapshot_health"
GATE = "assert_staging_dump_accepted"

# the 1,500-room portfolio: a repeated dump and a truncated one
PORTFOLIO_START, PORTFOLIO_END = D("2026-01-26"), D("2026-02-01")
REPEATED_DAY, TRUNCATED_DAY = D("2026-01-28"), D("2026-01-30")


# -- helpers -------------------------------------------------------------------------------


def evaluations(instance: DagsterInstance, run_id: str) -> dict:
    """check name -> AssetCheckEvaluation of the silver checks in one run."""
    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    found = [r.dagster_event.event_specific_data for r in records]
    return {e.check_name: e for e in found if e.asset_key == SILVER_KEY}


def materialized(instance: DagsterInstance, run_id: str) -> set:
    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    return {record.dagster_event.asset_key for record in records}


def _values(evaluation) -> dict:
    return {key: value.value for key, value in evaluation.metadata.items()}


def _silver_dates(wh: Warehouse) -> list[dt.date]:
    rows = wh.read_sql("SELECT DISTINCT snapshot_date FROM {silver}.tenant_room_snapshot_daily ORDER BY snapshot_date")
    return [pd.Timestamp(v).date() for v in rows["snapshot_date"]]


def _stored(wh: Warehouse, test: str) -> pd.DataFrame:
    """The failing rows dbt stored for a test (store_failures)."""
    with wh.engine.connect() as conn:
        quote = wh.engine.dialect.identifier_preparer.quote_identifier
        result = conn.execute(sa.text(f"SELECT * FROM {quote(wh.schema_prefix + 'dbt_test__audit')}.{quote(test)}"))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


@pytest.fixture(scope="module", params=["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)])
def module_backend(request, tmp_path_factory):
    """A fresh warehouse factory of one backend for module-scoped scenarios; drops MySQL schemas after."""
    made = []

    def new(name: str) -> Warehouse:
        if request.param == "duckdb":
            wh = Warehouse(f"duckdb:///{tmp_path_factory.mktemp(name) / 'warehouse.duckdb'}", "")
        else:
            wh = Warehouse(request.getfixturevalue("mysql_url"), f"t{uuid.uuid4().hex[:8]}_")
            made.append(wh)
        return wh

    yield new
    for wh in made:
        wh.drop_schemas()


# -- pure rules and settings -----------------------------------------------------------------


def test_gap_dates_run_from_the_first_dump_or_history_start_to_the_latest_dump():
    dumps = [D("2026-01-01"), D("2026-01-02"), D("2026-01-05"), D("2026-01-07")]
    assert gap_dates(dumps, D("2025-12-01")) == [D("2026-01-03"), D("2026-01-04"), D("2026-01-06")]
    assert gap_dates(dumps, D("2026-01-05")) == [D("2026-01-06")]  # dumps before the history are ignored
    assert gap_dates([], D("2026-01-01")) == []


def test_health_thresholds_come_from_the_environment_and_reach_dbt():
    default = Settings.from_env({})
    assert (default.health_max_row_change, default.health_min_tenants_for_repeat) == (0.20, 1000)
    custom = Settings.from_env({"OCCUPANCY_HEALTH_MAX_ROW_CHANGE": "0.3", "OCCUPANCY_HEALTH_MIN_TENANTS": "50"})
    assert (custom.health_max_row_change, custom.health_min_tenants_for_repeat) == (0.3, 50)
    assert {k: dbt_vars(custom)[k] for k in ("health_max_row_change", "health_min_tenants")} == {
        "health_max_row_change": 0.3, "health_min_tenants": 50}


# -- the health rules, on hand-made rows (dbt test only) --------------------------------------


@pytest.fixture(scope="module")
def health_rows(module_backend):
    """Silver row counts 100, 120 (+20% exactly), 95 (-20.8%), 95, 0 (silver lost the date) on
    01-01 .. 01-05; 120-tenant dumps every day, 01-04's repeating 01-03's (same status and contract)."""
    wh = module_backend("health")
    wh.ensure_schemas()
    days = [D("2026-01-0%d" % i) for i in range(1, 6)]
    silver = pd.DataFrame({"snapshot_date": [d for d, n in zip(days, (100, 120, 95, 95, 0)) for _ in range(n)]})
    dumps = pd.concat([
        pd.DataFrame({"snapshot_date": day, "tenant_id": range(120), "status": 9,
                      "moving_id": [t + (0 if day == days[3] else i) * 1000 for t in range(120)]})
        for i, day in enumerate(days)
    ])
    with wh.engine.begin() as conn:
        for layer, table, frame in (("silver", "tenant_room_snapshot_daily", silver),
                                    ("staging", "tenant_daily_snapshots", dumps)):
            columns = {c: (sa.Date if c == "snapshot_date" else sa.Integer) for c in frame.columns}
            t = sa.Table(table, sa.MetaData(), *(sa.Column(c, kind) for c, kind in columns.items()), schema=wh.schema(layer))
            t.create(conn)
            conn.execute(t.insert(), frame.to_dict("records"))
    # 01-04 repeats 01-03: same moving_id as 01-03 (i = 2 there)
    with wh.engine.begin() as conn:
        conn.execute(wh.render("UPDATE {staging}.tenant_daily_snapshots SET moving_id = tenant_id + 2000 "
                               "WHERE snapshot_date = :d"), {"d": days[3]})
    return wh


def _health(wh: Warehouse, **dbt_var_values) -> pd.DataFrame:
    window = {"min_date": "2026-01-01", "max_date": "2026-01-05"}
    result = dbt_test(wh, HEALTH, {**window, **dbt_var_values})[HEALTH]
    stored = _stored(wh, HEALTH)
    assert result["failures"] == len(stored)
    stored["snapshot_date"] = stored["snapshot_date"].map(lambda v: pd.Timestamp(v).date())
    return stored.sort_values("snapshot_date").reset_index(drop=True)


def test_health_row_change_is_strictly_above_the_share_and_needs_a_previous_snapshot(health_rows):
    bad = _health(health_rows, health_min_tenants=1000)  # 120 tenants: the repeat rule is off
    assert list(bad["snapshot_date"]) == [D("2026-01-03"), D("2026-01-05")]  # +20% exactly is tolerated
    assert [float(v) for v in bad["row_change"]] == [-0.2083, -1.0]
    assert list(bad["reason"]) == ["row count jump vs previous snapshot"] * 2
    assert [int(v) for v in bad["previous_silver_rows"]] == [120, 95]


def test_health_repeat_needs_the_portfolio_size_and_every_tenant_unchanged(health_rows):
    bad = _health(health_rows, health_min_tenants=120)
    assert list(bad["snapshot_date"]) == [D("2026-01-03"), D("2026-01-04"), D("2026-01-05")]
    repeat = bad.set_index("snapshot_date").loc[D("2026-01-04")]
    assert repeat["reason"].startswith("dump repeats the previous snapshot")
    assert int(repeat["repeated_rows"]) == int(repeat["dump_rows"]) == 120
    assert list(_health(health_rows, health_min_tenants=121)["snapshot_date"]) == [D("2026-01-03"), D("2026-01-05")]


# -- the worked example --------------------------------------------------------------------


def test_worked_example_unique_health_and_gaps_pass_and_freshness_warns(example_warehouse):
    _, _, _, instance = example_warehouse
    (run,) = instance.get_runs()
    result = evaluations(instance, run.run_id)
    assert set(result) == {UNIQUE, HEALTH, "snapshot_gaps", "freshness"}
    for name in (UNIQUE, HEALTH):
        assert (result[name].passed, result[name].severity, result[name].blocking) == (True, AssetCheckSeverity.ERROR, True)

    gaps = result["snapshot_gaps"]
    assert (gaps.passed, gaps.severity) == (True, AssetCheckSeverity.WARN)
    assert _values(gaps)["gap_count"] == 0 and _values(gaps)["gap_dates"] == []

    freshness = result["freshness"]
    lag = (today_jst() - AS_OF).days
    assert (freshness.passed, freshness.severity) == (lag <= 1, AssetCheckSeverity.WARN)
    assert {k: _values(freshness)[k] for k in ("latest_snapshot_date", "lag_days")} == {
        "latest_snapshot_date": "2026-02-01", "lag_days": lag}


def test_freshness_tolerates_one_day_of_lag(example_warehouse):
    wh, *_ = example_warehouse
    assert silver_checks.freshness_result(wh, D("2026-02-02")).passed
    stale = silver_checks.freshness_result(wh, D("2026-02-03"))
    assert not stale.passed and stale.metadata["lag_days"].value == 2


def test_unique_fails_on_an_injected_duplicate_and_stores_the_key(example_warehouse):
    wh, *_ = example_warehouse
    table = "{silver}.tenant_room_snapshot_daily"
    where, params = "snapshot_date = :d AND tenant_id = 1", {"d": D("2026-01-31")}
    original = wh.read_sql(f"SELECT * FROM {table} WHERE {where}", params)
    with wh.begin() as conn:
        conn.execute(wh.render(f"INSERT INTO {table} SELECT * FROM {table} WHERE {where}"), params)
    try:
        result = dbt_test(wh, UNIQUE, {"min_date": "2026-01-30", "max_date": "2026-02-01"})[UNIQUE]
        stored = _stored(wh, UNIQUE)  # each run replaces the stored failures
        outside = dbt_test(wh, UNIQUE, {"min_date": "2026-02-01", "max_date": "2026-02-01"})[UNIQUE]
    finally:  # both copies out, the original back
        columns = ", ".join(original.columns)
        values = ", ".join(f":{c}" for c in original.columns)
        with wh.begin() as conn:
            conn.execute(wh.render(f"DELETE FROM {table} WHERE {where}"), params)
            conn.execute(wh.render(f"INSERT INTO {table} ({columns}) VALUES ({values})"),
                         original.astype(object).where(original.notna(), None).to_dict("records")[0])
    assert (result["status"], result["failures"]) == ("fail", 1)
    assert (outside["status"], outside["failures"]) == ("pass", 0)  # only the window is judged
    assert [tuple(map(str, row)) for row in stored[["tenant_id", "apartment_id", "room_id", "row_count"]].itertuples(index=False)] \
        == [("1", "1", "101", "2")]


# -- a staging gap -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gap_run(module_backend):
    """The worked example with no dump on 2026-01-31, backfilled through the daily job."""
    wh = module_backend("gap")
    frames = staging_frames()
    snapshots = frames["tenant_daily_snapshots"]
    frames["tenant_daily_snapshots"] = snapshots[pd.to_datetime(snapshots["snapshot_date"]) != pd.Timestamp("2026-01-31")]
    load_staging(wh, frames)
    settings = make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix)
    instance = DagsterInstance.ephemeral()
    outcome = run_daily_job(build_definitions(settings), instance, wh, SNAPSHOT_DATES[0], AS_OF, say=lambda _: None)
    return wh, instance, outcome


def test_a_staging_gap_is_reported_skipped_and_does_not_fail_the_run(gap_run):
    wh, instance, outcome = gap_run
    assert outcome.success, outcome.describe()
    result = evaluations(instance, outcome.run_id)
    gaps = result["snapshot_gaps"]
    assert (gaps.passed, gaps.severity, gaps.blocking) == (False, AssetCheckSeverity.WARN, False)
    values = _values(gaps)
    assert (values["gap_count"], values["gap_dates"]) == (1, ["2026-01-31"])
    assert (values["first_snapshot_date"], values["latest_snapshot_date"]) == ("2026-01-30", "2026-02-01")
    assert _silver_dates(wh) == [D("2026-01-30"), D("2026-02-01")]  # skipped: no silver rows for the gap
    assert result[HEALTH].passed  # 02-01 against 01-30 across the gap: 4 rows each
    # a warning, not a failure: listed apart from the failed checks
    assert "silver/tenant_room_snapshot_daily:snapshot_gaps" in outcome.warnings
    assert not outcome.failed_checks


# -- a repeated and a truncated dump on a portfolio above 1,000 tenants ----------------------


@pytest.fixture(scope="module")
def portfolio(module_backend):
    """1,500 rooms, 2026-01-26..02-01, the 01-28 dump replaced by the 01-27 one; backfilled once."""
    wh = module_backend("portfolio")
    frames = generate_portfolio(rooms=1500, history_start=PORTFOLIO_START, today=PORTFOLIO_END)
    snapshots = frames["tenant_daily_snapshots"]
    dates = pd.to_datetime(snapshots["snapshot_date"]).dt.date
    copied = snapshots[dates == REPEATED_DAY - dt.timedelta(days=1)].assign(snapshot_date=pd.Timestamp(REPEATED_DAY))
    frames["tenant_daily_snapshots"] = pd.concat([snapshots[dates != REPEATED_DAY], copied], ignore_index=True)
    load_staging(wh, frames)
    settings = make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix, history_start=PORTFOLIO_START)
    defs = build_definitions(settings)
    instance = DagsterInstance.ephemeral()
    outcome = run_daily_job(defs, instance, wh, PORTFOLIO_START, PORTFOLIO_END, say=lambda _: None)
    return wh, settings, defs, instance, outcome, len(copied)


def test_a_repeated_dump_is_rejected_before_anything_is_written(portfolio):
    """The dump-health gate judges the window's dump before silver: the repeated 01-28 dump fails
    `repeated_dump`, dbt skips silver and everything after it, occupancy never runs."""
    wh, _, _, instance, outcome, copied_rows = portfolio
    assert copied_rows >= 1000  # big enough for the repeat rule
    assert not outcome.success
    assert f"silver/staging_dump_health:{GATE}" in outcome.failed_checks
    assert materialized(instance, outcome.run_id) & {SILVER_KEY, MONTH_END_KEY, OCCUPANCY_KEY} == set()
    for layer, table in (SILVER_KEY.path, MONTH_END_KEY.path, OCCUPANCY_KEY.path):
        assert not wh.table_exists(layer, table)
    assert any(f"test {GATE}: 1 failing row(s)" in line and "repeated_dump" in line for line in outcome.errors), outcome.errors

    records = instance.all_logs(outcome.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    (gate,) = [r.dagster_event.event_specific_data for r in records if r.dagster_event.event_specific_data.check_name == GATE]
    assert (gate.passed, gate.severity) == (False, AssetCheckSeverity.ERROR)
    failing = _values(gate)["failing_rows"]  # from the audit table dbt stored
    assert "2026-01-28" in failing and "repeated_dump" in failing and "same as 2026-01-27" in failing
    assert str(copied_rows) in failing


@pytest.fixture(scope="module")
def truncated_run(portfolio):
    """The portfolio built with the repeat rule out of reach (it is not the point here), then ~40%
    of 2026-01-30's tenants dropped (tenant_id % 5 in (0, 1)) and partition 01-30 run again:
    (warehouse, instance, silver before, the daily run, a run of silver + month-end alone)."""
    wh, settings, _, instance, _, _ = portfolio
    relaxed = build_definitions(make_settings(
        settings.warehouse_url, settings.schema_prefix, history_start=PORTFOLIO_START, health_min_tenants_for_repeat=10**9
    ))
    built = run_daily_job(relaxed, instance, wh, PORTFOLIO_START, PORTFOLIO_END, say=lambda _: None)
    assert built.success, built.describe()
    silver_before = _silver_rows_by_date(wh)
    with wh.begin() as conn:
        conn.execute(wh.render(
            "DELETE FROM {staging}.tenant_daily_snapshots WHERE snapshot_date = :day AND MOD(tenant_id, 5) < 2"
        ), {"day": TRUNCATED_DAY})
    outcome = run_daily_job(relaxed, instance, wh, TRUNCATED_DAY, TRUNCATED_DAY, say=lambda _: None)
    silver_after_gate = _silver_rows_by_date(wh)
    # the UI's "Materialize" of silver + month-end alone (no gate): silver's own health test judges
    without_gate = run_assets(relaxed, instance, [SILVER_KEY, MONTH_END_KEY], TRUNCATED_DAY)
    return wh, instance, silver_before, silver_after_gate, outcome, without_gate


def _silver_rows_by_date(wh) -> dict:
    rows = wh.read_sql("SELECT snapshot_date, COUNT(*) AS n FROM {silver}.tenant_room_snapshot_daily GROUP BY snapshot_date")
    return {pd.Timestamp(r.snapshot_date).date(): int(r.n) for r in rows.itertuples()}


def test_a_truncated_dump_is_rejected_against_the_last_accepted_snapshot(truncated_run):
    wh, instance, silver_before, silver_after_gate, outcome, _ = truncated_run
    assert not outcome.success
    assert f"silver/staging_dump_health:{GATE}" in outcome.failed_checks
    assert MONTH_END_KEY not in materialized(instance, outcome.run_id)
    assert silver_after_gate == silver_before  # nothing replaced
    line = next(line for line in outcome.errors if GATE in line)
    assert "snapshot_date=2026-01-30, rule=row_count_jump" in line and "vs 2026-01-29" in line, line


def test_without_the_gate_silver_health_judges_the_truncated_day_against_the_snapshot_before_the_window(truncated_run):
    wh, instance, _, _, _, outcome = truncated_run
    assert not outcome.success
    assert f"silver/tenant_room_snapshot_daily:{HEALTH}" in outcome.failed_checks
    assert MONTH_END_KEY not in materialized(instance, outcome.run_id)
    (row,) = _stored(wh, HEALTH).itertuples()
    assert (str(pd.Timestamp(row.snapshot_date).date()), str(pd.Timestamp(row.previous_date).date())) == (
        "2026-01-30", "2026-01-29")
    assert float(row.row_change) < -0.3 and row.reason == "row count jump vs previous snapshot"
