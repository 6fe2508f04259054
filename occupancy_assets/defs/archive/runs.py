"""The archive and restore jobs run in this process (`occupancy-kpi archive|restore`, tests): one
run per month, each summarized as a `MonthRun`."""

import datetime as dt
from dataclasses import dataclass, field

from dagster import (
    DagsterInstance,
    Definitions,
)

from occupancy_assets.defs.archive.assets import ARCHIVE_JOB, ARCHIVE_OP, MONTH_TAG, RESTORE_JOB
from occupancy_assets.lib.dagster_internals import FAILURE_PREFIX
from occupancy_assets.lib.dead_runs import process_tags


@dataclass
class MonthRun:
    month: str
    success: bool
    run_id: str
    message: str
    metadata: dict = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.month}: {'ok' if self.success else 'FAILED'} - {self.message} [run {self.run_id[:8]}]"


def _month_run(result, month: str) -> MonthRun:
    metadata: dict = {}
    for event in result.all_events:
        if event.is_step_materialization:
            mat = event.event_specific_data.materialization
            metadata = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        elif event.event_type_value == "ASSET_OBSERVATION":
            obs = event.event_specific_data.asset_observation
            metadata = {k: getattr(v, "value", v) for k, v in obs.metadata.items()}
    if result.success:
        return MonthRun(month, True, result.run_id, str(metadata.get("message", "done")), metadata)
    errors = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause
        if error is not None:
            errors.append((error.message or "").strip())
    failure = next((e for e in errors if e), "the run failed (see the Dagster run log)")
    failure = failure.removeprefix(FAILURE_PREFIX)
    return MonthRun(month, False, result.run_id, failure, metadata)


def run_archive(
    defs: Definitions, instance: DagsterInstance, months: list[str], today: dt.date | None = None
) -> list[MonthRun]:
    """Run the archive job once per month (the schedule's runs, launched here)."""
    job_def = defs.resolve_job_def(ARCHIVE_JOB)
    runs = []
    for month in months:
        run_config = {"ops": {ARCHIVE_OP: {"config": {"today": today.isoformat()}}}} if today else {}
        result = job_def.execute_in_process(
            partition_key=month, instance=instance, run_config=run_config, tags={MONTH_TAG: month, **process_tags()},
            raise_on_error=False,
        )
        runs.append(_month_run(result, month))
    return runs


def run_restore(defs: Definitions, instance: DagsterInstance, month: str) -> MonthRun:
    result = defs.resolve_job_def(RESTORE_JOB).execute_in_process(
        partition_key=month, instance=instance, tags={MONTH_TAG: month, **process_tags()}, raise_on_error=False
    )
    return _month_run(result, month)
