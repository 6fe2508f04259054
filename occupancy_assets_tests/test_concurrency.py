"""One writer at a time: the run queue (dagster.yaml + the jobs' writer tag), the warehouse's wait for
a lock held by another process (DuckDB file lock, MySQL writer lock), and two real daily pipelines
started at once on one DuckDB file.
"""

from __future__ import annotations

import datetime as dt
import os
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
from dagster import DagsterInstance
from dagster._core.test_utils import create_run_for_test
from dagster._utils.tags import TagConcurrencyLimitsCounter

from occupancy_assets.jobs import WRITER_TAG, WRITER_TAGS, build_jobs
from occupancy_assets.settings import REPO_ROOT
from occupancy_assets.warehouse import Warehouse, WarehouseLockedError

from .conftest import make_settings
from .helpers import built_rows

VENV_BIN = Path(sys.executable).parent


# -- the run queue -------------------------------------------------------------------------------


def test_dagster_yaml_queues_writer_runs_one_at_a_time(tmp_path, monkeypatch):
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [{"key": WRITER_TAG, "limit": 1}]
    for job in build_jobs(make_settings("duckdb:///unused.duckdb")):
        assert job.tags == WRITER_TAGS, job.name

    # the instance made from it (as `make` / the CLI install it) queues runs with that limit
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = DagsterInstance.get()
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        writing = create_run_for_test(instance, job_name="history", tags=WRITER_TAGS)
        counter = TagConcurrencyLimitsCounter(limits, [writing])
        queued_writer = create_run_for_test(instance, job_name="projection", tags=WRITER_TAGS)
        other = create_run_for_test(instance, job_name="something_else")
        assert counter.is_blocked(queued_writer)  # waits in the queue while `history` runs
        assert not counter.is_blocked(other)
        assert not TagConcurrencyLimitsCounter(limits, []).is_blocked(queued_writer)
    finally:
        instance.dispose()


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
    from occupancy_assets import pipeline, warehouse
    from occupancy_assets.definitions import build_definitions

    path = tmp_path / "warehouse.duckdb"
    holder = _hold_duckdb(path, 60)
    monkeypatch.setattr(warehouse, "LOCK_WAIT_SECONDS", 1)
    try:
        settings = make_settings(f"duckdb:///{path}")
        target = settings.history_start + dt.timedelta(days=2)
        outcome = pipeline.run_job(
            build_definitions(settings), "projection", DagsterInstance.ephemeral(),
            (settings.history_start, target + dt.timedelta(days=settings.forward_days)),
            pipeline.projection_config(target, settings),
        )
    finally:
        holder.kill()
        holder.wait()
    assert not outcome.success
    assert f"is locked by another process (PID {holder.pid})" in outcome.error
    assert outcome.describe().splitlines()[1].strip() == outcome.error


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


# -- two daily pipelines at once -------------------------------------------------------------------

RUN_ID = re.compile(r"\[run ([0-9a-f]{8})\]")


@pytest.mark.parametrize("example_warehouse", ["duckdb"], indirect=True)
def test_two_daily_pipelines_on_one_duckdb_file_serialize(example_warehouse, tmp_path):
    """`occupancy-kpi daily` twice, started together on one file: both succeed (each waits for the
    other's hold on the file), they really overlapped, and the rows are the worked example's."""
    wh, settings, *_ = example_warehouse
    expected = built_rows(wh)
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(wh.duckdb_path, path)
    env = {
        **os.environ,
        "OCCUPANCY_WAREHOUSE_URL": f"duckdb:///{path}",
        "OCCUPANCY_HISTORY_START": settings.history_start.isoformat(),
        "OCCUPANCY_FORWARD_DAYS": str(settings.forward_days),
        "OCCUPANCY_LOOKBACK_DAYS": str(settings.lookback_days),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),  # created below
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    # an existing instance, as on any machine that ran `make`: two processes creating the SQLite
    # storage at the same moment would race on its schema migration, which is not under test here
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    _instance_at(home).dispose()
    command = [str(VENV_BIN / "occupancy-kpi"), "daily", "--target-date", "2026-02-01"]
    procs = [
        subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=900)[0] for proc in procs]
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output
        assert output.count(": ok ") == 3, output

    # they overlapped: each one's first run started before the other's last run ended
    home_instance = _instance_at(home)
    try:
        spans = []
        for output in outputs:
            ids = RUN_ID.findall(output)
            records = [r for r in home_instance.get_run_records() if r.dagster_run.run_id[:8] in ids]
            assert len(records) == 3
            spans.append((min(r.start_time for r in records), max(r.end_time for r in records)))
        (a_start, a_end), (b_start, b_end) = spans
        assert a_start < b_end and b_start < a_end, spans
    finally:
        home_instance.dispose()

    result = built_rows(Warehouse(f"duckdb:///{path}"))
    for name in expected:
        pd.testing.assert_frame_equal(result[name], expected[name])


def _instance_at(home: Path) -> DagsterInstance:
    from dagster._core.instance.ref import InstanceRef

    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
