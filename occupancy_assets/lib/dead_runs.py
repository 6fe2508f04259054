"""Dead runs are failed, not waited for.

A run launched by `occupancy-kpi daily/backfill/archive/restore` executes in the CLI's own process
(`execute_in_process`). If that process is killed (kill -9, OOM killer, a closed terminal, a reboot)
the run stays STARTED in the instance for ever, and with it the `warehouse` pool's only slot: every
later run queues behind it. Dagster's run monitoring cannot see it: the DefaultRunLauncher has no
worker health check (`supports_check_run_worker_health` is False), so for a STARTED run monitoring
only applies a max runtime, which this project does not set (a long backfill is not a dead one).

So a CLI run records its process in its tags (pid, host, the process's start time, which tells a
reused pid from the original), and whoever looks next - every tick of the staging sensor, every
`occupancy-kpi daily/backfill` before it waits for the pool - fails the runs of this host whose
process is gone, with a message naming the pid. Runs of another host are left alone: their
processes cannot be seen from here. Daemon-launched runs are not ours to check: the code server
that started their worker fails the run when the worker dies, and run monitoring fails a run that
never gets past STARTING (docs/operating.md, "Dead and stuck runs").

Depends on Dagster only; launch, automation and status use it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from occupancy_assets.lib.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    JobFailureData,
    RunFailureReason,
)

PID_TAG = "occupancy/pid"
HOST_TAG = "occupancy/host"
#: "<boot id>/<start time in clock ticks>" (Linux /proc); absent elsewhere, then the pid alone counts
PROCESS_START_TAG = "occupancy/process_start"

#: Statuses in which a run has (or is about to have) a process; QUEUED runs have none yet.
WITH_A_PROCESS = (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)
#: `status` calls a run stuck when it has been queued or in progress this long (a daily run takes minutes).
STUCK_AFTER = dt.timedelta(hours=1)
#: `status` lists failed runs created this recently (unless a newer run of the same partition followed).
RECENT_FAILURES = dt.timedelta(days=7)


def _process_start(pid: int) -> str | None:
    """Boot id and start time of a process, from /proc; None when /proc cannot tell (not Linux, gone)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            boot = handle.read().strip()
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()  # the name before ")" may hold spaces
    except OSError:
        return None
    return f"{boot}/{fields[19]}"  # field 22 of stat: start time after boot


def process_tags(pid: int | None = None) -> dict[str, str]:
    """Tags naming the process that will execute a run (default: this one)."""
    pid = pid or os.getpid()
    tags = {PID_TAG: str(pid), HOST_TAG: socket.gethostname()}
    start = _process_start(pid)
    if start:
        tags[PROCESS_START_TAG] = start
    return tags


def process_is_alive(pid: int, start: str | None = None) -> bool:
    """Whether process `pid` (started at `start`, when known) still runs on this host. A zombie (killed,
    not yet reaped) is dead; a pid now used by a later process is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    try:
        with open(f"/proc/{pid}/stat") as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        pass
    return start is None or _process_start(pid) in (None, start)


def dead_process(run: DagsterRun, host: str | None = None) -> int | None:
    """The pid of the run's process if it ran on this host and is gone; None otherwise (alive,
    another host, or a run without our tags: launched by the daemon or before this existed)."""
    tags = run.tags
    if tags.get(HOST_TAG) != (host or socket.gethostname()) or not tags.get(PID_TAG, "").isdigit():
        return None
    pid = int(tags[PID_TAG])
    return None if process_is_alive(pid, tags.get(PROCESS_START_TAG)) else pid


def fail_dead_runs(instance: DagsterInstance, by: str, say: Callable[[str], None] | None = None) -> list[str]:
    """Mark failed every run of this host whose process is gone, so it releases the queue and the
    warehouse pool; returns their run ids. `by` names who noticed (the sensor, the CLI)."""
    host = socket.gethostname()
    failed = []
    for run in instance.get_runs(filters=RunsFilter(statuses=list(WITH_A_PROCESS), tags={HOST_TAG: host})):
        pid = dead_process(run, host)
        if pid is None:
            continue
        current = instance.get_run_by_id(run.run_id)  # it may have finished meanwhile
        if current is None or current.is_finished:
            continue
        message = (
            f"Run process {pid} on {host} is gone (killed, crashed or its machine restarted) while the run was "
            f"{current.status.value}: marked failed by {by}, so it no longer holds the warehouse pool. "
            f"Run {partition_of(current)} again (occupancy-kpi daily/backfill, or Re-execute in the UI)."
        )
        instance.report_run_failed(
            current, message, JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION)
        )
        failed.append(run.run_id)
        if say:
            say(f"run {run.run_id[:8]} ({current.job_name} {partition_of(current)}): process {pid} is gone, marked it failed")
    return failed


def partition_of(run: DagsterRun) -> str:
    """The run's partition (T), range (A..B) or '-'."""
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return f"{tags[ASSET_PARTITION_RANGE_START_TAG]}..{tags.get(ASSET_PARTITION_RANGE_END_TAG, '')}"
    return "-"


# -- what `occupancy-kpi status` lists -----------------------------------------------------------


@dataclass
class RunProblem:
    run_id: str
    job: str
    partition: str
    status: str
    age: dt.timedelta
    reason: str

    def describe(self) -> str:
        minutes = int(self.age.total_seconds() // 60)
        age = f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
        return f"run {self.run_id[:8]} {self.job} {self.partition} {self.status}, {age} ago: {self.reason}"


def stuck_runs(instance: DagsterInstance, now: dt.datetime | None = None) -> list[RunProblem]:
    """Runs queued or in progress whose process is gone (this host) or that have been at it longer
    than STUCK_AFTER (any host, any launcher)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    statuses = [DagsterRunStatus.QUEUED, *WITH_A_PROCESS]
    problems = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=statuses)):
        run = record.dagster_run
        since = dt.datetime.fromtimestamp(record.start_time, dt.timezone.utc) if record.start_time else record.create_timestamp
        age = now - since
        pid = dead_process(run) if run.status != DagsterRunStatus.QUEUED else None
        if pid is not None:
            reason = (f"process {pid} on {run.tags[HOST_TAG]} is gone; the sensor's next tick or the next "
                      "occupancy-kpi daily/backfill marks it failed")
        elif age > STUCK_AFTER and run.status == DagsterRunStatus.QUEUED:
            reason = f"queued longer than {_hours(STUCK_AFTER)}: is the daemon running, and which run holds the warehouse pool?"
        elif age > STUCK_AFTER:
            reason = f"in progress longer than {_hours(STUCK_AFTER)}: is its process still working? (its log in the UI)"
        else:
            continue
        problems.append(RunProblem(run.run_id, run.job_name, partition_of(run), run.status.value, age, reason))
    return problems


def recent_failures(instance: DagsterInstance, now: dt.datetime | None = None) -> list[RunProblem]:
    """Failed runs of the last RECENT_FAILURES whose job and partition have no newer run since."""
    from dagster import DagsterEventType

    now = now or dt.datetime.now(dt.timezone.utc)
    records = instance.get_run_records(filters=RunsFilter(created_after=now - RECENT_FAILURES))  # newest first
    seen, problems = set(), []
    for record in records:
        run = record.dagster_run
        key = (run.job_name, partition_of(run))
        if key in seen:
            continue
        seen.add(key)
        if run.status != DagsterRunStatus.FAILURE:
            continue
        failures = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
        message = failures[-1].message if failures else ""
        reason = (message or "failed").strip().splitlines()[0]
        ended = dt.datetime.fromtimestamp(record.end_time, dt.timezone.utc) if record.end_time else record.update_timestamp
        problems.append(RunProblem(run.run_id, run.job_name, partition_of(run), run.status.value, now - ended, reason))
    return problems


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")
