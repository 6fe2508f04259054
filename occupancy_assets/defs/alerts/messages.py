"""The text of each alert: a failed/canceled run, a failed check (ERROR or WARN), a recovery, a test.

Every message names the job, the partition (or range), the check and links to the run in the UI
(OCCUPANCY_UI_BASE_URL), so the reader knows what to open without the CLI.
"""

from __future__ import annotations

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance, DagsterRun

from occupancy_assets.defs.alerts.channels import Message
from occupancy_assets.defs.alerts.check_lines import check_details
from occupancy_assets.lib.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from occupancy_assets.lib.dead_runs import PID_TAG

PREFIX = "[occupancy-kpi]"


def run_link(base_url: str, run_id: str) -> str:
    return f"{base_url}/runs/{run_id}"


def partition_of(run: DagsterRun) -> str:
    """The run's partition, its range `A..B`, or `none`."""
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return f"{tags[ASSET_PARTITION_RANGE_START_TAG]}..{tags.get(ASSET_PARTITION_RANGE_END_TAG, '?')}"
    return "none"


def launcher_of(run: DagsterRun) -> str:
    tags = run.tags
    for key, label in (("dagster/schedule_name", "schedule"), ("dagster/sensor_name", "sensor"), ("dagster/backfill", "backfill")):
        if key in tags:
            return f"{label} {tags[key]}"
    if "occupancy/launched_by" in tags:
        return tags["occupancy/launched_by"]
    return "occupancy-kpi CLI" if PID_TAG in tags else "UI or dagster job launch"


def _error_line(error) -> str:
    """The innermost cause's first line: the user code's exception, not Dagster's wrappers."""
    while error is not None and error.cause is not None:
        error = error.cause
    lines = (error.message or "").strip().splitlines() if error is not None else []
    return lines[0].split("Failure: ", 1)[-1][:300] if lines else ""


def run_failure(instance: DagsterInstance, run: DagsterRun, base_url: str) -> Message:
    """One message per failed or canceled run: its failed checks (with their lines) and step errors."""
    status = run.status.value
    partition = partition_of(run)
    lines = [f"job: {run.job_name}", f"partition: {partition}", f"status: {status}", f"launched by: {launcher_of(run)}"]
    kinds = {DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
    for record in instance.all_logs(run.run_id, of_type=kinds):
        event = record.dagster_event
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                label = "failed check" if evaluation.severity == AssetCheckSeverity.ERROR else "warning"
                lines.append(f"{label}: {evaluation.asset_check_key.to_user_string()}")
                lines += [f"    {line}" for line in check_details(evaluation, rows=False)]
        elif event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data:
            lines.append(f"error in {event.step_key}: {_error_line(event.step_failure_data.error)}")
        elif event.event_type == DagsterEventType.RUN_FAILURE and event.message:
            lines.append(f"reason: {event.message.splitlines()[0][:300]}")
    lines.append(f"run: {run_link(base_url, run.run_id)}")
    return Message(f"{PREFIX} run {status}: {run.job_name} {partition}", "\n".join(lines))


def check_failure(evaluation, run: DagsterRun | None, run_id: str, base_url: str, failures: int) -> Message:
    """A failing check (ERROR or WARN), with its own summary; `failures`: its failed evaluations in
    this tick (a range run or a backfill evaluates it for many dates; one message says how many)."""
    severity = "ERROR" if evaluation.severity == AssetCheckSeverity.ERROR else "WARN"
    name = evaluation.asset_check_key.to_user_string()
    lines = [f"check: {name} ({severity})"]
    if run is not None:
        lines += [f"job: {run.job_name}", f"partition: {partition_of(run)}"]
    lines += [line for line in check_details(evaluation) if not line.startswith("partition:")]
    if failures > 1:
        lines.append(f"failed {failures} times since the last alert check (first one shown)")
    lines.append(f"run: {run_link(base_url, run_id)}")
    lines.append("next alert for this check: when it passes again, or tomorrow (JST) if it still fails")
    return Message(f"{PREFIX} check {severity}: {name}", "\n".join(lines))


def check_recovery(name: str, run: DagsterRun | None, run_id: str, base_url: str) -> Message:
    where = f"\njob: {run.job_name}\npartition: {partition_of(run)}" if run is not None else ""
    return Message(f"{PREFIX} RECOVERED check: {name}", f"check: {name} passes again{where}\nrun: {run_link(base_url, run_id)}")


def run_recovery(run: DagsterRun, base_url: str) -> Message:
    return Message(
        f"{PREFIX} RECOVERED job: {run.job_name} {partition_of(run)}",
        f"job: {run.job_name}\npartition: {partition_of(run)}\nstatus: SUCCESS after a failed run\n"
        f"run: {run_link(base_url, run.run_id)}",
    )


def test_message(base_url: str) -> Message:
    return Message(f"{PREFIX} test alert", f"This channel receives occupancy-kpi alerts.\nUI: {base_url}")
