"""Run the pipeline's jobs in this process (CLI, demo, tests), recorded in a Dagster instance.

The jobs are the same ones the UI, the schedule and the sensor launch (jobs.py); this module
only decides which partition range each gets, and stops at the first failed step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dagster import AssetCheckSeverity, DagsterInstance, Definitions

from .jobs import HISTORY_JOB, PROJECTION_JOB, REFERENCE_JOB
from .settings import Settings

OCCUPANCY_OP = "gold__occupancy_daily_metrics"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
TARGET_DATE_TAG = "occupancy/target_date"
KIND_TAG = "occupancy/kind"  # daily | backfill


@dataclass
class StepOutcome:
    job: str
    window: tuple[dt.date, dt.date] | None
    success: bool
    run_id: str
    failed_checks: list[str] = field(default_factory=list)
    #: first line of the first failed step's error (e.g. "warehouse ... is locked by another process")
    error: str | None = None
    #: checks that failed with severity WARN (the run still succeeds)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = f" {self.window[0]}..{self.window[1]}" if self.window else ""
        verdict = "ok" if self.success else "FAILED"
        extra = f" (failed checks: {', '.join(self.failed_checks)})" if self.failed_checks else ""
        extra += f" (warnings: {', '.join(self.warnings)})" if self.warnings else ""
        error = f"\n      {self.error}" if self.error and not self.success else ""
        return f"{self.job}{where}: {verdict}{extra} [run {self.run_id[:8]}]{error}"


def run_job(
    defs: Definitions,
    job_name: str,
    instance: DagsterInstance,
    window: tuple[dt.date, dt.date] | None = None,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
) -> StepOutcome:
    run_tags = dict(tags or {})
    if window:
        run_tags[RANGE_START_TAG] = window[0].isoformat()
        run_tags[RANGE_END_TAG] = window[1].isoformat()
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, tags=run_tags, run_config=run_config or {}, raise_on_error=False
    )
    failed_checks, warnings = [], []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            name = evaluation.asset_check_key.to_user_string()
            (warnings if evaluation.severity == AssetCheckSeverity.WARN else failed_checks).append(name)
    failures = [event.step_failure_data for event in result.get_step_failure_events() if event.step_failure_data]
    errors = [line for line in (_first_line(failure.error) for failure in failures) if line]
    return StepOutcome(
        job_name, window, result.success, result.run_id, failed_checks, errors[0] if errors else None, warnings
    )


def _first_line(error) -> str | None:
    """The user-facing line of a step failure: the user code's exception, not Dagster's wrapper."""
    def wraps(error) -> bool:
        return error.cause is not None and error.cls_name.startswith("Dagster") and "ExecutionError" in error.cls_name

    while error is not None and wraps(error):
        error = error.cause
    message = (error.message or "").strip() if error is not None else ""
    return message.splitlines()[0] if message else None


def projection_config(target: dt.date, settings: Settings) -> dict:
    return {
        "ops": {
            OCCUPANCY_OP: {
                "config": {
                    "target_date": target.isoformat(),
                    "lookback_days": settings.lookback_days,
                    "forward_days": settings.forward_days,
                }
            }
        }
    }


def run_steps(
    defs: Definitions,
    settings: Settings,
    instance: DagsterInstance,
    *,
    history_window: tuple[dt.date, dt.date],
    projection_window: tuple[dt.date, dt.date],
    target: dt.date,
    tags: dict[str, str] | None = None,
) -> list[StepOutcome]:
    """reference data -> history -> projection, stopping at the first failed step."""
    tags = {TARGET_DATE_TAG: target.isoformat(), **(tags or {})}
    steps = [
        (REFERENCE_JOB, None, None),
        (HISTORY_JOB, history_window, None),
        (PROJECTION_JOB, projection_window, projection_config(target, settings)),
    ]
    outcomes: list[StepOutcome] = []
    for job_name, window, run_config in steps:
        outcome = run_job(defs, job_name, instance, window, run_config, tags)
        outcomes.append(outcome)
        if not outcome.success:
            break
    return outcomes


def backfill(defs: Definitions, settings: Settings, instance: DagsterInstance, start: dt.date, end: dt.date) -> list[StepOutcome]:
    """History [start, end] in one run per job; occupancy over [start, end], plus the forward days
    when `end` is the newest dump (an older end must not overwrite observed days with projections)."""
    from .resources import warehouse_resource
    from .staging_assets import latest_snapshot_date

    start = max(start, settings.history_start)
    latest = latest_snapshot_date(warehouse_resource(settings).warehouse())
    projection_end = end + dt.timedelta(days=settings.forward_days) if latest is None or end >= latest else end
    return run_steps(
        defs,
        settings,
        instance,
        history_window=(start, end),
        projection_window=(start, projection_end),
        target=end,
        tags={KIND_TAG: "backfill"},
    )


def daily_windows(settings: Settings, target: dt.date) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """(history window, projection window) of the daily pipeline for T: [T, T] and
    [T - lookback, T + forward]. The CLI and the daemon's chain (automation.py) both use it."""
    lookback_start = max(target - dt.timedelta(days=settings.lookback_days), settings.history_start)
    return (target, target), (lookback_start, target + dt.timedelta(days=settings.forward_days))


def daily(defs: Definitions, settings: Settings, instance: DagsterInstance, target: dt.date) -> list[StepOutcome]:
    """The daily pipeline for target date T (SPEC 10): silver(T), kpi(T), occupancy [T-lookback, T+forward]."""
    history_window, projection_window = daily_windows(settings, target)
    return run_steps(
        defs,
        settings,
        instance,
        history_window=history_window,
        projection_window=projection_window,
        target=target,
        tags={KIND_TAG: "daily"},
    )
