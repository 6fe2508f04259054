"""Dead runs are failed, not waited for (dead_runs.py): a run whose process is gone is marked failed
and releases the warehouse pool; a live process and another host's run are left alone; `status`
lists stuck and failed runs. The last test kills a real `occupancy-kpi daily` with SIGKILL and lets
a real dagster-daemon carry on with the next day without anyone's help.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.storage.dagster_run import RunOpConcurrency
from dagster._core.storage.tags import PARTITION_NAME_TAG, PRIORITY_TAG

from occupancy_assets.cli.launch import runs_holding_the_pool, wait_for_the_pool
from occupancy_assets.defs.daily.automation import SENSOR_NAME
from occupancy_assets.lib import dead_runs
from occupancy_assets.lib.dead_runs import HOST_TAG, PID_TAG, PROCESS_START_TAG, fail_dead_runs, process_tags
from occupancy_assets.lib.names import DAILY_JOB, WAREHOUSE_POOL
from occupancy_assets_tests.conftest import load_staging
from occupancy_assets_tests.defs.daily.test_automation import sensor_tick
from occupancy_assets_tests.helpers import VENV_BIN, daemon_setup, instance_at
from occupancy_assets_tests.worked_example import staging_frames

D = dt.date.fromisoformat
FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def dead_pid_tags() -> dict[str, str]:
    """process_tags of a process that existed (start time recorded) and has been killed and reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tags = process_tags(proc.pid)
    proc.kill()
    proc.wait()
    return tags


def run_holding_the_pool(instance, tags: dict[str, str], day: str = "2026-01-31") -> DagsterRun:
    """A run of the daily job recorded as STARTED in the warehouse pool, as a CLI run is."""
    run = DagsterRun(
        job_name=DAILY_JOB, run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED,
        tags={**tags, PARTITION_NAME_TAG: day},
        run_op_concurrency=RunOpConcurrency(root_key_counts={}, has_unconstrained_root_nodes=False, all_pools={WAREHOUSE_POOL}),
    )
    return instance.add_run(run)


def _failure_message(instance, run_id: str) -> str:
    return instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)[-1].message


# -- unit level ------------------------------------------------------------------------------------


def test_a_run_whose_process_is_gone_is_failed_and_frees_the_pool():
    tags = dead_pid_tags()
    with DagsterInstance.ephemeral() as instance:
        run = run_holding_the_pool(instance, tags)
        assert [r.run_id for r in runs_holding_the_pool(instance)] == [run.run_id]
        assert fail_dead_runs(instance, by="the test") == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
        assert runs_holding_the_pool(instance) == []
        message = _failure_message(instance, run.run_id)
        assert f"Run process {tags[PID_TAG]} on {tags[HOST_TAG]} is gone" in message
        assert "marked failed by the test" in message and "Run 2026-01-31 again" in message
        assert fail_dead_runs(instance, by="the test") == []  # once


def test_a_live_process_and_another_hosts_run_are_left_alone():
    with DagsterInstance.ephemeral() as instance:
        live = run_holding_the_pool(instance, process_tags())
        elsewhere = run_holding_the_pool(instance, {**dead_pid_tags(), HOST_TAG: "another-host"})
        untagged = run_holding_the_pool(instance, {})  # launched by the daemon: its code server watches it
        assert fail_dead_runs(instance, by="the test") == []
        for run in (live, elsewhere, untagged):
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start times come from /proc")
def test_a_reused_pid_is_not_mistaken_for_the_runs_process():
    """The run's pid now belongs to another process (this one): its start time tells them apart."""
    tags = {**process_tags(), PROCESS_START_TAG: "some-boot/12345"}
    with DagsterInstance.ephemeral() as instance:
        run = run_holding_the_pool(instance, tags)
        assert fail_dead_runs(instance, by="the test") == [run.run_id]


def test_the_cli_does_not_wait_for_a_dead_run():
    """wait_for_the_pool (before every `occupancy-kpi daily/backfill`) fails the dead run and goes on."""
    said = []
    with DagsterInstance.ephemeral() as instance:
        run = run_holding_the_pool(instance, dead_pid_tags())
        wait_for_the_pool(instance, said.append)  # returns at once instead of waiting for ever
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    assert any(f"run {run.run_id[:8]}" in line and "marked it failed" in line for line in said), said


def test_each_sensor_tick_fails_dead_runs(tmp_path):
    from occupancy_assets.lib.warehouse import Warehouse

    wh = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    load_staging(wh, staging_frames())
    with DagsterInstance.ephemeral() as instance:
        run = run_holding_the_pool(instance, dead_pid_tags())
        sensor_tick(wh, instance)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
        assert f"marked failed by the {SENSOR_NAME} sensor" in _failure_message(instance, run.run_id)


def test_stuck_and_failed_runs_for_status():
    """Dead process: stuck now; in progress for over an hour: stuck; failed and not run again: listed,
    until a newer run of the same partition follows (what `status` prints: test_status.py)."""
    with DagsterInstance.ephemeral() as instance:
        dead = run_holding_the_pool(instance, dead_pid_tags(), "2026-01-30")
        long = run_holding_the_pool(instance, process_tags(), "2026-01-31")
        now = dt.datetime.now(dt.timezone.utc)
        stuck = {p.run_id: p for p in dead_runs.stuck_runs(instance, now)}
        assert list(stuck) == [dead.run_id]
        assert "is gone" in stuck[dead.run_id].reason and stuck[dead.run_id].partition == "2026-01-30"
        later = {p.run_id: p for p in dead_runs.stuck_runs(instance, now + dt.timedelta(hours=2))}
        assert "in progress longer than 1 hour" in later[long.run_id].reason

        fail_dead_runs(instance, by="the test")
        failed = dead_runs.recent_failures(instance)
        assert [p.run_id for p in failed] == [dead.run_id] and "is gone" in failed[0].reason
        assert "2026-01-30 FAILURE" in failed[0].describe()


        newer = run_holding_the_pool(instance, {}, "2026-01-30")  # the partition run again
        instance.report_run_failed(newer)  # (whatever its outcome: the newest run of the partition counts)
        assert [p.run_id for p in dead_runs.recent_failures(instance)] == [newer.run_id]


# -- kill -9 of a real CLI run, with a real daemon -------------------------------------------------


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_a_killed_cli_run_is_failed_and_the_daemon_runs_the_next_day(example_warehouse, tmp_path):
    """`occupancy-kpi daily --target-date 2026-01-31` killed with SIGKILL mid-run stays STARTED and
    holds the pool, and the next day's run (submitted as the UI or a schedule would) stays QUEUED.
    Then a dagster-daemon starts: its sensor's first tick fails the dead run (the pid in the message)
    and the queue launches the next day's run, which succeeds. No manual step.

    And the other case, a daemon-launched run whose worker is killed (a third run, queued last): the
    code server that started the worker fails the run (not run monitoring: see dead_runs.py)."""
    path, home, env, workspace = daemon_setup(example_warehouse, tmp_path)
    instance = instance_at(home)
    # the next day's run and a third one (lower priority: dequeued last), submitted as the UI would;
    # no daemon yet, so they wait in the queue
    launches = [
        subprocess.Popen([str(VENV_BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", DAILY_JOB,
                          "--tags", json.dumps(tags)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for tags in ({PARTITION_NAME_TAG: "2026-02-01"}, {PARTITION_NAME_TAG: "2026-01-30", PRIORITY_TAG: "-1"})
    ]
    for launch in launches:
        assert launch.wait(timeout=300) == 0, launch.stderr.read()
    # its own process group: SIGKILL reaches the CLI and the dbt process it may have started (a dbt
    # orphan would otherwise hold the DuckDB file until it finished)
    cli = subprocess.Popen([str(VENV_BIN / "occupancy-kpi"), "daily", "--target-date", "2026-01-31"], env=env,
                           cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    daemon = None
    try:
        killed = _wait_for(lambda: _mid_step(instance, "2026-01-31"), 300, "the CLI run to start a step")
        os.killpg(cli.pid, signal.SIGKILL)
        cli.wait(timeout=60)
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.STARTED
        assert [r.run_id for r in runs_holding_the_pool(instance)] == [killed.run_id]
        next_day, third = (_only_run(instance, day) for day in ("2026-02-01", "2026-01-30"))
        assert next_day.status == third.status == DagsterRunStatus.QUEUED

        started = time.monotonic()
        daemon = subprocess.Popen([str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=env, cwd=tmp_path,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: instance.get_run_by_id(killed.run_id).status in FINISHED, 300, "the dead run to be failed")
        failed_after = time.monotonic() - started
        _wait_for(lambda: instance.get_run_by_id(next_day.run_id).status in FINISHED, 300, "the next day's run")
        print(f"\ndaemon start -> dead CLI run failed: {failed_after:.1f} s; -> next day's run finished: "
              f"{time.monotonic() - started:.1f} s")
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.FAILURE
        message = _failure_message(instance, killed.run_id)
        assert f"Run process {cli.pid} on " in message and "is gone" in message, message
        assert f"marked failed by the {SENSOR_NAME} sensor" in message
        assert instance.get_run_by_id(next_day.run_id).status == DagsterRunStatus.SUCCESS

        # a daemon-launched run's worker killed: failed by its code server within seconds
        _wait_for(lambda: _mid_step(instance, "2026-01-30"), 300, "the third run to start a step")
        (worker,) = {int(e.dagster_event.engine_event_data.metadata["pid"].value)
                     for e in instance.all_logs(third.run_id, of_type=DagsterEventType.ENGINE_EVENT)
                     if "Started process for run" in (e.message or "")}
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        _wait_for(lambda: instance.get_run_by_id(third.run_id).status in FINISHED, 120, "the killed worker's run")
        print(f"daemon run's worker killed -> run failed: {time.monotonic() - killed_at:.1f} s")
        assert instance.get_run_by_id(third.run_id).status == DagsterRunStatus.FAILURE
        engine = [e.message for e in instance.all_logs(third.run_id, of_type=DagsterEventType.ENGINE_EVENT)]
        assert any(f"Run execution process for {third.run_id} was terminated by signal 9" in m for m in engine), engine
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=60)
        instance.dispose()


def _only_run(instance, day: str) -> DagsterRun:
    (run,) = instance.get_runs(filters=RunsFilter(tags={PARTITION_NAME_TAG: day}))
    return run


def _mid_step(instance, day: str) -> DagsterRun | None:
    """The run of `day` once it is STARTED and executing a step (not yet finished)."""
    runs = instance.get_runs(filters=RunsFilter(tags={PARTITION_NAME_TAG: day}))
    if runs and runs[0].status == DagsterRunStatus.STARTED:
        if instance.all_logs(runs[0].run_id, of_type=DagsterEventType.STEP_START):
            return runs[0]
    return None


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")
