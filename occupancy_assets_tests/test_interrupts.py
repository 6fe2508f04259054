"""Both gold tables or neither, on every path (issue 18, problem 1): a real `occupancy-kpi daily`
process interrupted with SIGINT (Ctrl-C: the whole process group, dbt included) or SIGTERM while
its dbt build, its occupancy step or its forecast step runs, and a run killed outright after dbt
wrote gold. Afterwards kpi_month_end_metrics, occupancy_property_daily and occupancy_daily_metrics
hold the new dump's date all three or none, and the next run succeeds without a manual step
(lib/gold_window.py: save, publish in the occupancy write's transaction, restore).

The signal is sent when the run's event log shows the step started, plus a delay: where exactly it
lands varies from run to run, which is the point: the property must hold wherever it lands. The
MariaDB cases interrupt the dbt build, where DDL commits and the window is replaced month by month.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from dagster import DagsterEventType, EventRecordsFilter

from occupancy_assets.cli.status import collect_status
from occupancy_assets.lib.gold_window import save_gold_window, unpublished_run
from occupancy_assets.lib.settings import REPO_ROOT
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import copy_warehouse, make_settings
from occupancy_assets_tests.helpers import add_snapshot, daemon_setup, dagster_home, instance_at, subprocess_env
from occupancy_assets_tests.worked_example import AS_OF

NEXT_DAY = AS_OF + dt.timedelta(days=1)
DUCKDB = pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)


def _daily(env: dict, day: dt.date) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "occupancy_assets.cli.main", "daily", "--target-date", day.isoformat()],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def _wait_for_step(home, step_key: str, process: subprocess.Popen, timeout: float = 120) -> bool:
    """True once a run in `home` has started `step_key` (False: the process ended first)."""
    deadline = time.monotonic() + timeout
    with instance_at(home) as instance:
        while time.monotonic() < deadline and process.poll() is None:
            records = instance.get_event_records(EventRecordsFilter(event_type=DagsterEventType.STEP_START), limit=100)
            if any(r.event_log_entry.step_key == step_key for r in records):
                return True
            time.sleep(0.05)
    return False


def gold_dates(wh: Warehouse, day: dt.date) -> dict[str, bool]:
    """Which gold tables hold `day` (observed, for occupancy)."""
    queries = {
        "kpi_month_end_metrics": "SELECT COUNT(*) AS n FROM {gold}.kpi_month_end_metrics WHERE as_of_date = :d",
        "occupancy_property_daily": "SELECT COUNT(*) AS n FROM {gold}.occupancy_property_daily WHERE snapshot_date = :d",
        "occupancy_daily_metrics": "SELECT COUNT(*) AS n FROM {gold}.occupancy_daily_metrics WHERE snapshot_date = :d AND is_projection = 0",
    }
    return {name: int(wh.read_sql(sql, {"d": day})["n"].iloc[0]) > 0 for name, sql in queries.items()}


def assert_gold_agrees(wh: Warehouse, day: dt.date) -> bool:
    held = gold_dates(wh, day)
    assert len(set(held.values())) == 1, f"the gold tables disagree about {day}: {held}"
    return next(iter(held.values()))


@DUCKDB
@pytest.mark.parametrize(
    ("sig", "step", "delay"),
    [
        (signal.SIGINT, "daily_dbt_models", 0.5),
        (signal.SIGINT, "daily_dbt_models", 3.0),
        (signal.SIGTERM, "daily_dbt_models", 3.0),
        (signal.SIGINT, "gold__occupancy_daily_metrics", 0.0),
        (signal.SIGTERM, "gold__occupancy_daily_metrics", 0.0),
        (signal.SIGTERM, "gold__occupancy_forecast_daily", 0.0),
    ],
    ids=["sigint-dbt-early", "sigint-dbt-late", "sigterm-dbt", "sigint-occupancy", "sigterm-occupancy", "sigterm-forecast"],
)
def test_an_interrupted_run_leaves_the_gold_tables_agreeing(example_warehouse, tmp_path, sig, step, delay):
    path, home, env, _ = daemon_setup(example_warehouse, tmp_path)
    wh = Warehouse(f"duckdb:///{path}")
    add_snapshot(wh, NEXT_DAY)
    wh.engine.dispose()
    interrupt_then_run_again(wh, env, home, sig, step, delay)


def interrupt_then_run_again(wh: Warehouse, env: dict, home, sig, step: str, delay: float) -> None:
    """`daily` for NEXT_DAY signalled `delay` s after `step` started: the gold tables agree and no
    window is left unpublished; the next `daily` succeeds and publishes the day."""
    process = _daily(env, NEXT_DAY)
    reached = _wait_for_step(home, step, process)
    time.sleep(delay)
    if process.poll() is None:
        os.killpg(process.pid, sig)
    output, _ = process.communicate(timeout=180)
    assert reached or process.returncode == 0, output
    assert process.returncode in (0, 1, 130), output  # 0: the run finished before the signal landed

    assert_gold_agrees(wh, NEXT_DAY)
    assert unpublished_run(wh) is None  # the process lived: it put its own window back
    wh.engine.dispose()  # DuckDB: one process per file

    again = _daily(env, NEXT_DAY)
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output
    assert assert_gold_agrees(wh, NEXT_DAY)


@DUCKDB
def test_a_run_killed_after_dbt_wrote_gold_is_put_right_by_the_next_run(example_warehouse, tmp_path):
    """SIGKILL leaves no time to clean up: reproduced as its end state (dbt wrote month-end and the
    property table for NEXT_DAY, occupancy did not, the window is still saved and unpublished). The
    next run restores it before writing anything, then builds the day whole."""
    path, home, env, _ = daemon_setup(example_warehouse, tmp_path)
    wh = Warehouse(f"duckdb:///{path}")
    add_snapshot(wh, NEXT_DAY)
    save_gold_window(wh, (NEXT_DAY, NEXT_DAY), "a-killed-run")
    with wh.begin() as conn:  # what the killed run's dbt build wrote: month-end for the new day
        conn.execute(wh.render(
            "INSERT INTO {gold}.kpi_month_end_metrics SELECT * REPLACE (CAST(:d AS DATE) AS as_of_date) "
            "FROM {gold}.kpi_month_end_metrics WHERE as_of_date = :a"), {"d": NEXT_DAY, "a": AS_OF})
    assert gold_dates(wh, NEXT_DAY)["kpi_month_end_metrics"] and not gold_dates(wh, NEXT_DAY)["occupancy_daily_metrics"]
    assert unpublished_run(wh) == "a-killed-run"
    report = collect_status(wh, make_settings(wh.url.render_as_string(hide_password=False)), today=NEXT_DAY)
    assert any("run a-killed-run saved a gold window and never published it" in line for line in report.attention)
    wh.engine.dispose()

    process = _daily(env, NEXT_DAY)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert assert_gold_agrees(wh, NEXT_DAY)
    assert unpublished_run(wh) is None
    assert "run a-killed-run never published its gold window: restored" in output, output


@pytest.mark.parametrize("built_example", [pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_an_interrupt_on_mariadb_leaves_the_gold_tables_agreeing(built_example, tmp_path, sig):
    """The same on MariaDB, where DDL commits and dbt's window replace runs month by month in
    its own transactions: SIGINT / SIGTERM late in the dbt build (after gold's first writes)."""
    source, _ = built_example
    wh = copy_warehouse(source, f"t{uuid.uuid4().hex[:8]}_", tmp_path)
    try:
        home = dagster_home(tmp_path)
        settings = make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix)
        env = {**subprocess_env(settings, tmp_path / "unused.duckdb", home),
               "OCCUPANCY_WAREHOUSE_URL": wh.url.render_as_string(hide_password=False),
               "OCCUPANCY_SCHEMA_PREFIX": wh.schema_prefix}
        add_snapshot(wh, NEXT_DAY)
        interrupt_then_run_again(wh, env, home, sig, "daily_dbt_models", 3.0)
    finally:
        wh.drop_schemas()
