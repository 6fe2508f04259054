"""One writer at a time: the `warehouse` pool of every step (deploy/dagster.yaml: limit 1, run granularity)
with the real daemon queueing runs behind each other, the warehouse's wait for a lock held by
another process (DuckDB file lock, MySQL writer lock), and two `occupancy-kpi daily` processes for
the same date started at once.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from dagster import DagsterRunStatus, RunsFilter

from occupancy_assets.definitions import build_definitions
from occupancy_assets.lib.names import DAILY_JOB, OCCUPANCY_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.settings import INSTANCE_CONFIG, REPO_ROOT
from occupancy_assets.lib.warehouse import Warehouse, WarehouseLockedError
from occupancy_assets_tests.conftest import make_settings
from occupancy_assets_tests.helpers import (
    VENV_BIN,
    built_rows,
    daemon_setup,
    dagster_home,
    instance_at,
    run_assets,
    subprocess_env,
)

# -- the pool ----------------------------------------------------------------------------------------


def test_every_step_of_the_daily_job_is_in_the_warehouse_pool_and_the_pool_admits_one_run():
    config = yaml.safe_load(INSTANCE_CONFIG.read_text())
    assert config["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}
    job = build_definitions(make_settings("duckdb:///unused.duckdb")).resolve_job_def(DAILY_JOB)
    pools = {node.name: node.definition.pool for node in job.graph.node_dict.values()}
    # the staging observation only counts rows; every other step writes or scans the warehouse
    assert {name for name, pool in pools.items() if pool != WAREHOUSE_POOL} <= {"observe_staging"}, pools


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_the_daemon_queues_a_second_run_until_the_first_has_finished(example_warehouse, tmp_path):
    """Two runs of the daily job submitted at once (as the UI, a schedule or a backfill would): the
    real daemon starts one, keeps the other QUEUED until it is done, and both succeed."""
    path, home, env, workspace = daemon_setup(example_warehouse, tmp_path)
    daemon = subprocess.Popen([str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # (the daemon's staging sensor may start a run of its own: the pool queues it too)
        for day in ("2026-01-31", "2026-02-01"):
            tags = json.dumps({"dagster/partition": day, "test/launched": "cli"})
            subprocess.run([str(VENV_BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", DAILY_JOB,
                            "--tags", tags], env=env, cwd=tmp_path, check=True, capture_output=True)
        instance = instance_at(home)
        seen_waiting, both_started = False, False
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            every = [run.status for run in instance.get_runs(filters=RunsFilter(job_name=DAILY_JOB))]
            both_started |= every.count(DagsterRunStatus.STARTED) > 1
            statuses = [run.status for run in instance.get_runs(filters=RunsFilter(tags={"test/launched": "cli"}))]
            seen_waiting |= DagsterRunStatus.STARTED in every and DagsterRunStatus.QUEUED in statuses
            if all(s in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE) for s in statuses):
                break
            time.sleep(0.5)
        assert statuses == [DagsterRunStatus.SUCCESS] * 2, statuses
        assert seen_waiting and not both_started
        instance.dispose()
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


# -- waiting for another process's lock ------------------------------------------------------------

HOLD_DUCKDB = textwrap.dedent(
    """
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.close()
    """
)


def _hold_duckdb(path: Path, seconds: float) -> subprocess.Popen:
    command = [sys.executable, "-c", HOLD_DUCKDB, str(path), str(seconds)]
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_duckdb_lock_held_too_long_is_a_clear_error(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = _hold_duckdb(path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as err:
            Warehouse(f"duckdb:///{path}", lock_wait_seconds=1.5).read_sql("SELECT 1 AS x")
        assert time.monotonic() - started < 10
        message = str(err.value)
        assert f"locked by another process (PID {holder.pid})" in message
        assert str(path) in message and "retry" in message.lower()
    finally:
        holder.kill()
        holder.wait()


def test_duckdb_lock_released_in_time_is_waited_for(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = _hold_duckdb(path, 2)
    try:
        started = time.monotonic()
        value = Warehouse(f"duckdb:///{path}", lock_wait_seconds=60).read_sql("SELECT 42 AS x").iloc[0]["x"]
        assert int(value) == 42
        assert time.monotonic() - started >= 1  # it did wait for the holder
    finally:
        holder.wait()


def test_a_run_that_cannot_get_the_file_fails_with_the_reason(tmp_path, monkeypatch):
    """What `occupancy-kpi daily` prints when another process keeps the file past the wait."""
    from dagster import DagsterInstance as Instance

    from occupancy_assets.lib import warehouse

    path = tmp_path / "warehouse.duckdb"
    holder = _hold_duckdb(path, 60)
    monkeypatch.setattr(warehouse, "LOCK_WAIT_SECONDS", 1)
    try:
        settings = make_settings(f"duckdb:///{path}")
        outcome = run_assets(build_definitions(settings), Instance.ephemeral(), [OCCUPANCY_KEY], settings.history_start)
    finally:
        holder.kill()
        holder.wait()
    assert not outcome.success
    (error,) = outcome.errors
    assert f"is locked by another process (PID {holder.pid})" in error
    assert f"  error: {error}" in outcome.describe()


@pytest.mark.mysql
def test_mysql_writes_to_one_prefix_take_turns(mysql_url):
    """Warehouse.begin() holds a named lock per schema prefix: a second writer waits, then fails
    clearly; a writer of another prefix is not affected."""
    first = Warehouse(mysql_url, "tlock_a_", lock_wait_seconds=1)
    second = Warehouse(mysql_url, "tlock_a_", lock_wait_seconds=1)
    other_prefix = Warehouse(mysql_url, "tlock_b_", lock_wait_seconds=1)
    with first.begin() as conn:
        assert conn.execute(sa.text("SELECT IS_USED_LOCK(:n)"), {"n": first.writer_lock_name}).scalar()
        with pytest.raises(WarehouseLockedError, match="being written by another session"):
            with second.begin():
                pass
        with other_prefix.begin() as other:
            assert other.execute(sa.text("SELECT 1")).scalar() == 1
    with second.begin() as conn:  # released with the first transaction
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


# -- two `occupancy-kpi daily` for one date at once ------------------------------------------------

RUN_ID = re.compile(r"\[run ([0-9a-f]{8})\]")


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_two_daily_processes_for_one_date_give_one_run(example_warehouse, tmp_path):
    """`occupancy-kpi daily` twice, started together: one runs the job for 2026-02-01, the other waits
    for it and reports that run; one materialization of the date, and the worked example's rows."""
    wh, settings, *_ = example_warehouse
    expected = built_rows(wh)
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(wh.duckdb_path, path)
    home = dagster_home(tmp_path)
    command = [str(VENV_BIN / "occupancy-kpi"), "daily", "--target-date", "2026-02-01"]
    procs = [
        subprocess.Popen(command, env=subprocess_env(settings, path, home), cwd=REPO_ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=900)[0] for proc in procs]
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output
        assert "daily 2026-02-01: ok" in output, output
    assert sum("(launched by another process)" in output for output in outputs) == 1
    assert len({RUN_ID.search(output).group(1) for output in outputs}) == 1

    instance = instance_at(home)
    try:
        assert len(instance.get_runs(filters=RunsFilter(job_name=DAILY_JOB))) == 1
        materializations = instance.fetch_materializations(OCCUPANCY_KEY, limit=10).records
        assert [m.partition_key for m in materializations] == ["2026-02-01"]
    finally:
        instance.dispose()

    result = built_rows(Warehouse(f"duckdb:///{path}"))
    for name in expected:
        pd.testing.assert_frame_equal(result[name], expected[name])
