"""Launch the `daily` job from the command line (`occupancy-kpi daily/backfill/demo`), in this
process, recorded in the Dagster instance so the run shows in the UI like any other.

Runs the daemon launches (schedule, sensor, UI) queue in the `warehouse` pool (dagster.yaml); a CLI
run joins that queue from outside: it waits until no other run holds the pool, and two CLI processes
take turns through a lock file in $DAGSTER_HOME. A process that waited while another launched the
same partition reports that run instead of launching it again (one materialization of T).

Each run carries its process in its tags (dead_runs.process_tags), and a run whose process is gone
is marked failed before and while waiting (dead_runs.py): a killed CLI run never holds the pool.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dagster import (
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunsFilter,
)

from occupancy_assets.defs.alerts.check_lines import check_details
from occupancy_assets.defs.daily.job import daily_selection
from occupancy_assets.lib.dagster_internals import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from occupancy_assets.lib.dead_runs import fail_dead_runs, process_tags
from occupancy_assets.lib.gold_window import restore_gold_window
from occupancy_assets.lib.names import DAILY_JOB, WAREHOUSE_POOL
from occupancy_assets.lib.partitions import partition_key
from occupancy_assets.lib.warehouse import Warehouse

POOL_POLL_SECONDS = 2.0
LOCK_FILE = "occupancy-kpi-launch.lock"


@dataclass
class RunOutcome:
    """What an operator needs to know about one run, in a few lines."""

    run_id: str
    window: tuple[dt.date, dt.date]
    success: bool
    failed_checks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: True when another process launched this run and this one only waited for it
    joined: bool = False
    #: check name -> the lines printed under it: its dates, counts and first offending rows
    #: (failed checks), its dates (warnings); see `check_details`
    details: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        start, end = self.window
        where = str(start) if start == end else f"{start} .. {end}"
        verdict = "ok" if self.success else "FAILED"
        lines = [f"{DAILY_JOB} {where}: {verdict} [run {self.run_id[:8]}]" + (" (launched by another process)" if self.joined else "")]
        for label, names in (("failed check", self.failed_checks), ("warning", self.warnings)):
            for name in names:
                lines.append(f"  {label}: {name}")
                lines += [f"    {line}" for line in self.details.get(name, [])]
        lines += [f"  error: {line}" for line in self.errors]
        return "\n".join(lines)


def summarize(instance: DagsterInstance, run_id: str, window: tuple[dt.date, dt.date], joined: bool = False) -> RunOutcome:
    """The run's verdict, failed checks (with severity, dates and first offending rows) and step
    errors, from the event log."""
    run = instance.get_run_by_id(run_id)
    outcome = RunOutcome(run_id, window, run is not None and run.status == DagsterRunStatus.SUCCESS, joined=joined)
    for record in instance.all_logs(run_id, of_type={DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.STEP_FAILURE}):
        event = record.dagster_event
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                name = evaluation.asset_check_key.to_user_string()
                warn = evaluation.severity == AssetCheckSeverity.WARN
                (outcome.warnings if warn else outcome.failed_checks).append(name)
                outcome.details[name] = check_details(evaluation, rows=not warn)
        elif event.step_failure_data:
            line = _first_line(event.step_failure_data.error)
            if line and line not in outcome.errors:
                outcome.errors.append(f"{event.step_key}: {line}")
    return outcome


def _first_line(error) -> str | None:
    """The user-facing line of a step failure: the user code's exception, not Dagster's wrapper."""
    while error is not None and error.cause is not None and error.cls_name.startswith("Dagster") and "ExecutionError" in error.cls_name:
        error = error.cause
    message = (error.message or "").strip() if error is not None else ""
    if error is not None and error.cls_name == "Failure":  # its description is the message
        message = message.split("Failure: ", 1)[-1]
    return message.splitlines()[0] if message else None


@contextlib.contextmanager
def launch_lock(instance: DagsterInstance) -> Iterator[None]:
    """One CLI launcher at a time per instance (a lock file in $DAGSTER_HOME; none for an ephemeral one)."""
    root = getattr(instance, "root_directory", None)
    if not root:
        yield
        return
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, LOCK_FILE), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_pool_limit(instance: DagsterInstance) -> None:
    """Write the pool's limit (dagster.yaml `default_limit`) into the instance now. Dagster does it
    lazily, during the queue daemon's first pass over runs that need the pool, and in that very
    first pass a fresh instance lets two of them start at once."""
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits and instance.global_op_concurrency_default_limit:
        if WAREHOUSE_POOL not in storage.get_concurrency_keys():
            storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)


def runs_holding_the_pool(instance: DagsterInstance) -> list:
    runs = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]))
    return [run for run in runs if run.run_op_concurrency and WAREHOUSE_POOL in (run.run_op_concurrency.all_pools or ())]


def wait_for_the_pool(instance: DagsterInstance, say: Callable[[str], None]) -> None:
    """Wait while another run (any launcher) holds the warehouse pool; a run of this host whose
    process is gone is marked failed instead of waited for (also one that dies while we wait)."""
    announced = None
    while True:
        busy = runs_holding_the_pool(instance)
        # only a holder can block us: run_daily_job already cleared the dead runs before it asked
        if busy and fail_dead_runs(instance, by="occupancy-kpi on start", say=say):
            busy = runs_holding_the_pool(instance)
        if not busy:
            return
        if busy[0].run_id != announced:
            announced = busy[0].run_id
            say(f"waiting for run {announced[:8]} ({busy[0].job_name}, {busy[0].status.value}) to release the warehouse")
        time.sleep(POOL_POLL_SECONDS)


@contextlib.contextmanager
def holding_the_warehouse(instance: DagsterInstance, say: Callable[[str], None] = print) -> Iterator[None]:
    """The one-writer rule for every CLI command that writes (archive, restore; run_daily_job does
    the same with its join logic in between): one CLI launcher at a time, and no run of any launcher
    in the warehouse pool, before the command's run starts."""
    fail_dead_runs(instance, by="occupancy-kpi on start", say=say)
    with launch_lock(instance):
        wait_for_the_pool(instance, say)
        yield


def run_daily_job(
    defs: Definitions,
    instance: DagsterInstance,
    wh: Warehouse,
    start: dt.date,
    end: dt.date,
    say: Callable[[str], None] = print,
) -> RunOutcome:
    """One run of the daily job over the as-of range [start, end] (start == end: the daily run of T)."""
    job = defs.resolve_job_def(DAILY_JOB)
    graph = defs.resolve_asset_graph()
    code_versions = {key: graph.get(key).code_version for key in graph.get_all_asset_keys()}
    asked_at = time.time()
    fail_dead_runs(instance, by="occupancy-kpi on start", say=say)  # a dead run of T is not one to join
    running = {r.dagster_run.run_id for r in _runs_of(instance, start) if not r.dagster_run.is_finished} if start == end else set()
    with launch_lock(instance):
        wait_for_the_pool(instance, say)
        if start == end:
            joined = _run_launched_meanwhile(instance, start, asked_at, running)
            if joined is not None:
                return summarize(instance, joined, (start, end), joined=True)
        selection = daily_selection(instance, code_versions, wh)
        run_id, succeeded = str(uuid.uuid4()), False
        try:
            if start == end:
                result = job.execute_in_process(
                    instance=instance, partition_key=partition_key(start), asset_selection=selection,
                    tags=process_tags(), raise_on_error=False, run_id=run_id,
                )
            else:
                tags = {ASSET_PARTITION_RANGE_START_TAG: partition_key(start), ASSET_PARTITION_RANGE_END_TAG: partition_key(end),
                        **process_tags()}
                result = job.execute_in_process(instance=instance, tags=tags, asset_selection=selection,
                                                raise_on_error=False, run_id=run_id)
            succeeded = result.success
        finally:
            if not succeeded:  # failed or interrupted between steps: both gold tables or neither
                restored = restore_gold_window(wh, run_id)
                if restored:
                    say(f"run {run_id[:8]} did not finish: restored {', '.join(restored)} to their state before it")
    return summarize(instance, run_id, (start, end))


def _runs_of(instance: DagsterInstance, day: dt.date, limit: int | None = None) -> list:
    """Run records of the daily job for partition T, newest first."""
    from occupancy_assets.lib.dagster_internals import PARTITION_NAME_TAG

    return list(instance.get_run_records(
        filters=RunsFilter(job_name=DAILY_JOB, tags={PARTITION_NAME_TAG: partition_key(day)}), limit=limit
    ))


def _run_launched_meanwhile(instance: DagsterInstance, day: dt.date, since: float, running: set[str]) -> str | None:
    """The run of partition T that was in progress when this process asked, or was created while it
    waited (newest first); None: T has to be run."""
    for record in _runs_of(instance, day, limit=5):
        if record.dagster_run.run_id in running or record.create_timestamp.timestamp() >= since:
            return record.dagster_run.run_id
    return None
