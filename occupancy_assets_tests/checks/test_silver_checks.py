"""The silver asset checks (SPEC 9), through real Dagster runs on DuckDB and MariaDB.

Scenarios, each built once per backend (a pipeline run costs ~15-20 s):
- the worked example (conftest `example_warehouse`): unique, health and gaps pass, freshness warns;
- the worked example without its 2026-01-31 dump: the gap is reported (WARN), the date gets no
  silver rows, and the pipeline still succeeds;
- a 1,500-room demo portfolio (> 1,000 tenants a day) whose 2026-01-28 dump repeats 2026-01-27's:
  snapshot health fails, the `history` run fails, and neither gold.kpi_month_end_metrics (its own
  dbt step, which waits for silver's blocking checks) nor the `projection` job
  (occupancy_daily_metrics, trace) runs: `pipeline.run_steps` stops at the failed history run;
- the same portfolio with ~40% of 2026-01-30's tenants dropped: a history run over that one date
  fails snapshot health against the 2026-01-29 snapshot (the previous date before the window);
- a duplicated silver row, checked by a check-only job: unique fails and names the key.
"""

import contextlib
import datetime as dt
import uuid

import pandas as pd
import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    RunsFilter,
    define_asset_job,
)

from occupancy_assets import pipeline
from occupancy_assets.checks import silver as silver_checks
from occupancy_assets.checks.silver import gap_dates, judge_snapshot_health
from occupancy_assets.definitions import build_definitions
from occupancy_assets.demo_data import generate_portfolio
from occupancy_assets.jobs import HISTORY_JOB, PROJECTION_JOB, REFERENCE_JOB
from occupancy_assets.occupancy_metrics import MONTH_END_KEY, OCCUPANCY_KEY, SILVER_KEY
from occupancy_assets.partitions import history_partitions
from occupancy_assets.settings import Settings, today_jst
from occupancy_assets.warehouse import Warehouse

from ..conftest import load_staging, make_settings
from ..worked_example import AS_OF, EXPECTED_SILVER, SNAPSHOT_DATES, staging_frames

D = dt.date.fromisoformat
CHECK_NAMES = {"unique_key", "snapshot_health", "snapshot_gaps", "freshness"}
CHECK_JOB = "silver_checks_only"

# the 1,500-room portfolio: a repeated dump and a truncated one
PORTFOLIO_START, PORTFOLIO_END = D("2026-01-26"), D("2026-02-01")
REPEATED_DAY, TRUNCATED_DAY = D("2026-01-28"), D("2026-01-30")


# -- helpers -------------------------------------------------------------------------------


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def _native(value):
    """A DataFrame cell as a plain Python value a DB driver accepts."""
    if pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def _values(evaluation) -> dict:
    return {key: getattr(value, "value", value) for key, value in evaluation.metadata.items()}


def evaluations(instance: DagsterInstance, run_id: str) -> dict:
    """check name -> list of its evaluations in the run."""
    found: dict = {}
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if evaluation.asset_key == SILVER_KEY:
            found.setdefault(evaluation.check_name, []).append(evaluation)
    return found


def only(instance: DagsterInstance, run_id: str) -> dict:
    """check name -> its one evaluation (each check runs once per run, whatever the range)."""
    found = evaluations(instance, run_id)
    assert {name: len(found.get(name, [])) for name in CHECK_NAMES} == dict.fromkeys(CHECK_NAMES, 1)
    return {name: found[name][0] for name in CHECK_NAMES}


def materialized(instance: DagsterInstance, run_id: str) -> set:
    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    return {record.dagster_event.asset_key for record in records}


def run_checks(defs, settings, names, window=None, instance=None):
    """Run only the named silver checks (no dbt), over `window` via the range tags, or without a range."""
    job = define_asset_job(
        CHECK_JOB,
        selection=AssetSelection.checks(*(AssetCheckKey(SILVER_KEY, name) for name in names)),
        partitions_def=history_partitions(settings),
    )
    tags = {}
    if window:
        tags = {pipeline.RANGE_START_TAG: window[0].isoformat(), pipeline.RANGE_END_TAG: window[1].isoformat()}
    return (
        Definitions.merge(defs, Definitions(jobs=[job]))
        .resolve_job_def(CHECK_JOB)
        .execute_in_process(instance=instance or DagsterInstance.ephemeral(), tags=tags, raise_on_error=False)
    )


def _silver_dates(wh: Warehouse) -> list[dt.date]:
    rows = wh.read_sql(
        "SELECT DISTINCT snapshot_date FROM {silver}.tenant_room_snapshot_daily ORDER BY snapshot_date"
    )
    return [_date(v) for v in rows["snapshot_date"]]


@pytest.fixture(scope="module", params=["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)])
def module_backend(request, tmp_path_factory):
    """A fresh (url, prefix) factory of one backend for module-scoped scenarios; drops MySQL schemas after."""
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


# -- pure rules (no warehouse) -------------------------------------------------------------


def _health_frame(rows):
    columns = ["snapshot_date", "previous_date", "silver_rows", "previous_silver_rows", "dump_rows",
               "previous_dump_rows", "repeated_rows"]
    return pd.DataFrame(rows, columns=columns)


def test_health_rule_row_change_is_strictly_above_the_share_and_needs_a_previous_snapshot():
    days = _health_frame([
        (D("2026-01-01"), None, 100, None, 120, None, 0),  # first snapshot: nothing to compare
        (D("2026-01-02"), D("2026-01-01"), 120, 100, 120, 120, 0),  # +20% exactly: tolerated
        (D("2026-01-03"), D("2026-01-02"), 95, 120, 120, 120, 0),  # -20.8%: fails
        (D("2026-01-04"), D("2026-01-03"), 50, 0, 120, 120, 0),  # previous not in silver: not judged
        (D("2026-01-05"), D("2026-01-04"), 0, 50, 120, 120, 0),  # silver lost the date: -100%
    ])
    bad = judge_snapshot_health(days, max_row_change=0.20, min_tenants_for_repeat=1000)
    assert list(bad["snapshot_date"]) == [D("2026-01-03"), D("2026-01-05")]
    assert list(bad["row_change"]) == [-0.2083, -1.0]
    assert list(bad["reason"]) == ["row count -20.8% vs previous snapshot", "row count -100.0% vs previous snapshot"]


def test_health_rule_repeat_needs_the_portfolio_size_and_every_tenant_unchanged():
    days = _health_frame([
        (D("2026-01-02"), D("2026-01-01"), 900, 900, 1000, 1000, 1000),  # all 1,000 unchanged: repeat
        (D("2026-01-03"), D("2026-01-02"), 900, 900, 999, 999, 999),  # same, but below 1,000 tenants
        (D("2026-01-04"), D("2026-01-03"), 900, 900, 1000, 1000, 999),  # one tenant changed
        (D("2026-01-05"), D("2026-01-04"), 900, 900, 1000, 1001, 1000),  # a tenant left the dump
    ])
    bad = judge_snapshot_health(days, max_row_change=0.20, min_tenants_for_repeat=1000)
    assert list(bad["snapshot_date"]) == [D("2026-01-02")]
    assert "repeats the previous snapshot" in bad.iloc[0]["reason"]
    lowered = judge_snapshot_health(days, max_row_change=0.20, min_tenants_for_repeat=999)
    assert list(lowered["snapshot_date"]) == [D("2026-01-02"), D("2026-01-03")]


def test_gap_dates_run_from_the_first_dump_or_history_start_to_the_latest_dump():
    dumps = [D("2026-01-01"), D("2026-01-02"), D("2026-01-05"), D("2026-01-07")]
    assert gap_dates(dumps, D("2025-12-01")) == [D("2026-01-03"), D("2026-01-04"), D("2026-01-06")]
    assert gap_dates(dumps, D("2026-01-05")) == [D("2026-01-06")]  # dumps before the history are ignored
    assert gap_dates([], D("2026-01-01")) == []


def test_health_thresholds_come_from_the_environment():
    default = Settings.from_env({})
    assert (default.health_max_row_change, default.health_min_tenants_for_repeat) == (0.20, 1000)
    custom = Settings.from_env({"OCCUPANCY_HEALTH_MAX_ROW_CHANGE": "0.3", "OCCUPANCY_HEALTH_MIN_TENANTS": "50"})
    assert (custom.health_max_row_change, custom.health_min_tenants_for_repeat) == (0.3, 50)


def test_the_four_checks_are_defined_on_silver_with_their_blocking_flags():
    graph = build_definitions(make_settings("duckdb:///unused.duckdb")).resolve_asset_graph()
    specs = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys if key.asset_key == SILVER_KEY}
    assert {name: spec.blocking for name, spec in specs.items()} == {
        "unique_key": True, "snapshot_health": True, "snapshot_gaps": False, "freshness": False}
    # they share silver's daily partitions, so a range run hands them the range
    assert {spec.partitions_def for spec in specs.values()} == {graph.get(SILVER_KEY).partitions_def}


# -- the worked example --------------------------------------------------------------------


def test_worked_example_unique_health_and_gaps_pass_and_freshness_warns(example_warehouse):
    _, _, _, instance = example_warehouse
    (history_run,) = instance.get_runs(filters=RunsFilter(job_name=HISTORY_JOB))
    result = only(instance, history_run.run_id)

    unique = result["unique_key"]
    assert (unique.passed, unique.severity, unique.blocking) == (True, AssetCheckSeverity.ERROR, True)
    # one evaluation over the run's whole partition range (single-run backfill)
    assert _values(unique) == {"window_start": "2026-01-30", "window_end": "2026-02-01",
                               "duplicate_keys": 0, "surplus_rows": 0, "dates_affected": 0}

    health = result["snapshot_health"]
    assert (health.passed, health.severity, health.blocking) == (True, AssetCheckSeverity.ERROR, True)
    values = _values(health)
    # silver holds 4 rows on each of the three dates (SPEC 12), so nothing moves
    assert (values["dates_evaluated"], values["failing_dates"]) == (3, 0)
    assert (values["max_row_change"], values["min_tenants_for_repeat"]) == (0.20, 1000)

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


@contextlib.contextmanager
def duplicated_silver_row(wh: Warehouse, where: str, params: dict):
    """Insert a copy of the one silver row matching `where`; put the table back afterwards."""
    table = "{silver}.tenant_room_snapshot_daily"
    original = wh.read_sql(f"SELECT * FROM {table} WHERE {where}", params)
    assert len(original) == 1
    with wh.begin() as conn:
        conn.execute(wh.render(f"INSERT INTO {table} SELECT * FROM {table} WHERE {where}"), params)
    try:
        yield
    finally:
        values = {f"c{i}": _native(v) for i, v in enumerate(original.iloc[0].tolist())}
        with wh.begin() as conn:
            conn.execute(wh.render(f"DELETE FROM {table} WHERE {where}"), params)
            conn.execute(wh.render(f"INSERT INTO {table} VALUES ({', '.join(':' + k for k in values)})"), values)


def test_unique_fails_on_an_injected_duplicate_and_names_the_key(example_warehouse):
    wh, settings, defs, _ = example_warehouse
    with duplicated_silver_row(wh, "snapshot_date = :d AND tenant_id = 1", {"d": D("2026-01-31")}):
        result = run_checks(defs, settings, ["unique_key"], (SNAPSHOT_DATES[0], AS_OF))
    assert not result.success  # a failed blocking ERROR check fails its step
    (evaluation,) = result.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed, evaluation.severity) == (
        "unique_key", False, AssetCheckSeverity.ERROR)
    values = _values(evaluation)
    assert (values["duplicate_keys"], values["surplus_rows"], values["dates_affected"]) == (1, 1, 1)
    assert values["affected_dates"] == ["2026-01-31"]
    # the example table: snapshot_date | tenant_id | apartment_id | room_id | row_count
    example_row = values["example_keys"].splitlines()[2]
    assert [cell.strip() for cell in example_row.strip("|").split("|")] == ["2026-01-31", "1", "1", "101", "2"]
    assert len(wh.read_sql("SELECT * FROM {silver}.tenant_room_snapshot_daily")) == len(EXPECTED_SILVER)  # restored


def test_a_run_without_a_partition_range_checks_the_latest_snapshot_dates(example_warehouse, monkeypatch):
    _, settings, defs, _ = example_warehouse
    monkeypatch.setattr(silver_checks, "DEFAULT_WINDOW_DATES", 2)
    result = run_checks(defs, settings, ["unique_key", "snapshot_health"])
    assert result.success
    for evaluation in result.get_asset_check_evaluations():
        values = _values(evaluation)
        assert (values["window_start"], values["window_end"]) == ("2026-01-31", "2026-02-01"), evaluation.check_name
        if evaluation.check_name == "snapshot_health":
            assert values["dates_evaluated"] == 2  # 2026-01-30 is fetched only as the previous snapshot


# -- a staging gap -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gap_run(module_backend):
    """The worked example with no dump on 2026-01-31, backfilled through the pipeline."""
    wh = module_backend("gap")
    frames = staging_frames()
    snapshots = frames["tenant_daily_snapshots"]
    gap = pd.to_datetime(snapshots["snapshot_date"]) == pd.Timestamp("2026-01-31")
    frames["tenant_daily_snapshots"] = snapshots[~gap]
    load_staging(wh, frames)
    settings = make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix)
    instance = DagsterInstance.ephemeral()
    outcomes = pipeline.backfill(build_definitions(settings), settings, instance, SNAPSHOT_DATES[0], AS_OF)
    return wh, instance, outcomes


def test_a_staging_gap_is_reported_skipped_and_does_not_fail_the_run(gap_run):
    wh, instance, outcomes = gap_run
    assert [(o.job, o.success) for o in outcomes] == [
        (REFERENCE_JOB, True), (HISTORY_JOB, True), (PROJECTION_JOB, True)]
    result = only(instance, outcomes[1].run_id)
    gaps = result["snapshot_gaps"]
    assert (gaps.passed, gaps.severity, gaps.blocking) == (False, AssetCheckSeverity.WARN, False)
    values = _values(gaps)
    assert (values["gap_count"], values["gap_dates"]) == (1, ["2026-01-31"])
    assert (values["first_snapshot_date"], values["latest_snapshot_date"]) == ("2026-01-30", "2026-02-01")
    assert _silver_dates(wh) == [D("2026-01-30"), D("2026-02-01")]  # skipped: no silver rows for the gap
    # health compares 2026-02-01 with 2026-01-30 across the gap: 4 rows each, nothing to report
    health = result["snapshot_health"]
    assert health.passed and (_values(health)["dates_evaluated"], _values(health)["failing_dates"]) == (2, 0)
    # listed as a warning; the run still succeeded
    # a warning, not a failure: listed apart from the failed checks
    assert "silver/tenant_room_snapshot_daily:snapshot_gaps" in outcomes[1].warnings
    assert "silver/tenant_room_snapshot_daily:snapshot_gaps" not in outcomes[1].failed_checks


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
    url = wh.url.render_as_string(hide_password=False)
    settings = make_settings(url, wh.schema_prefix, history_start=PORTFOLIO_START)
    defs = build_definitions(settings)
    instance = DagsterInstance.ephemeral()
    outcomes = pipeline.backfill(defs, settings, instance, PORTFOLIO_START, PORTFOLIO_END)
    return wh, settings, defs, instance, outcomes, len(copied)


def test_a_repeated_dump_fails_health_and_stops_everything_downstream(portfolio):
    wh, _, _, instance, outcomes, copied_rows = portfolio
    assert copied_rows >= 1000  # big enough for the repeat rule
    # history failed, so run_steps never started the projection job
    assert [(o.job, o.success) for o in outcomes] == [(REFERENCE_JOB, True), (HISTORY_JOB, False)]
    assert not instance.get_runs(filters=RunsFilter(job_name=PROJECTION_JOB))
    history = outcomes[1]
    assert "silver/tenant_room_snapshot_daily:snapshot_health" in history.failed_checks
    # silver was built and checked; kpi_month_end_metrics (its own dbt step) waited for the blocking check
    assert materialized(instance, history.run_id) == {SILVER_KEY}
    assert MONTH_END_KEY not in materialized(instance, history.run_id)
    assert not wh.table_exists("gold", "kpi_month_end_metrics")
    assert not wh.table_exists("gold", OCCUPANCY_KEY.path[-1])

    health = only(instance, history.run_id)["snapshot_health"]
    assert (health.passed, health.severity, health.blocking) == (False, AssetCheckSeverity.ERROR, True)
    (failure,) = _values(health)["failures_json"]  # only the repeated day
    assert failure["snapshot_date"] == "2026-01-28" and failure["previous_date"] == "2026-01-27"
    assert failure["dump_rows"] == failure["previous_dump_rows"] == failure["repeated_rows"] == copied_rows
    assert failure["reason"] == "dump repeats the previous snapshot (every tenant's status and contract unchanged)"
    assert _values(health)["dates_evaluated"] == 7


@pytest.fixture(scope="module")
def truncated_run(portfolio):
    """Drop the tenants with tenant_id % 5 in (0, 1) (~40%) from the 01-30 dump; rerun history for 01-30 only."""
    wh, settings, defs, instance, _, _ = portfolio
    params = {"day": TRUNCATED_DAY, "previous": TRUNCATED_DAY - dt.timedelta(days=1)}
    kept = "SUM(CASE WHEN MOD(tenant_id, 5) >= 2 THEN 1 ELSE 0 END) AS kept_rows"
    counts = {}
    for layer, table in (("silver", "tenant_room_snapshot_daily"), ("staging", "tenant_daily_snapshots")):
        rows = wh.read_sql(
            f"SELECT snapshot_date, COUNT(*) AS all_rows, {kept} FROM {{{layer}}}.{table} "
            "WHERE snapshot_date IN (:day, :previous) GROUP BY snapshot_date",
            params,
        )
        counts[layer] = {_date(r.snapshot_date): (int(r.all_rows), int(r.kept_rows)) for r in rows.itertuples()}
    with wh.begin() as conn:
        conn.execute(wh.render(
            "DELETE FROM {staging}.tenant_daily_snapshots WHERE snapshot_date = :day AND MOD(tenant_id, 5) < 2"
        ), params)
    outcome = pipeline.run_job(defs, HISTORY_JOB, instance, (TRUNCATED_DAY, TRUNCATED_DAY))
    return instance, outcome, counts


def test_a_truncated_dump_fails_health_against_the_snapshot_before_the_window(truncated_run):
    instance, outcome, counts = truncated_run
    assert not outcome.success
    assert "silver/tenant_room_snapshot_daily:snapshot_health" in outcome.failed_checks
    assert MONTH_END_KEY not in materialized(instance, outcome.run_id)
    values = _values(only(instance, outcome.run_id)["snapshot_health"])
    assert (values["window_start"], values["window_end"], values["dates_evaluated"]) == ("2026-01-30", "2026-01-30", 1)
    previous = TRUNCATED_DAY - dt.timedelta(days=1)
    # silver now holds exactly the kept tenants' pre-truncation rows; 01-29 is fetched from before the window
    silver_rows, previous_silver_rows = counts["silver"][TRUNCATED_DAY][1], counts["silver"][previous][0]
    dump_rows, previous_dump_rows = counts["staging"][TRUNCATED_DAY][1], counts["staging"][previous][0]
    assert dump_rows < 0.65 * counts["staging"][TRUNCATED_DAY][0] and dump_rows < 1000
    change = round((silver_rows - previous_silver_rows) / previous_silver_rows, 4)
    assert change < -0.3
    assert values["failures_json"] == [{
        "snapshot_date": "2026-01-30",
        "previous_date": "2026-01-29",
        "silver_rows": silver_rows,
        "previous_silver_rows": previous_silver_rows,
        "dump_rows": dump_rows,
        "previous_dump_rows": previous_dump_rows,
        "repeated_rows": 0,  # below 1,000 tenants the repeat rule is not evaluated
        "row_change": change,
        "reason": f"row count {change:.1%} vs previous snapshot",
    }]
