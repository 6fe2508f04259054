"""Run the pipeline's jobs in this process (CLI, demo, tests), recorded in a Dagster instance.

The jobs are the same ones the UI, the schedule and the sensor launch (jobs.py); this module
only decides which partition range each gets, and stops at the first failed step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dagster import DagsterInstance, Definitions

from .jobs import HISTORY_JOB, PROJECTION_JOB, REFERENCE_JOB
from .settings import Settings

OCCUPANCY_OP = "gold__occupancy_daily_metrics"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
TARGET_DATE_TAG = "occupancy/target_date"


@dataclass
class StepOutcome:
    job: str
    window: tuple[dt.date, dt.date] | None
    success: bool
    run_id: str
    failed_checks: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = f" {self.window[0]}..{self.window[1]}" if self.window else ""
        verdict = "ok" if self.success else "FAILED"
        extra = f" (failed checks: {', '.join(self.failed_checks)})" if self.failed_checks else ""
        return f"{self.job}{where}: {verdict}{extra} [run {self.run_id[:8]}]"


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
    failed_checks = [
        evaluation.asset_check_key.to_user_string()
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    return StepOutcome(job_name, window, result.success, result.run_id, failed_checks)


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
    """History [start, end] in one run per job; occupancy over [start, end + forward days]."""
    start = max(start, settings.history_start)
    return run_steps(
        defs,
        settings,
        instance,
        history_window=(start, end),
        projection_window=(start, end + dt.timedelta(days=settings.forward_days)),
        target=end,
        tags={"occupancy/kind": "backfill"},
    )


def daily(defs: Definitions, settings: Settings, instance: DagsterInstance, target: dt.date) -> list[StepOutcome]:
    """The daily pipeline for target date T (SPEC 10): silver(T), kpi(T), occupancy [T-lookback, T+forward]."""
    lookback_start = max(target - dt.timedelta(days=settings.lookback_days), settings.history_start)
    return run_steps(
        defs,
        settings,
        instance,
        history_window=(target, target),
        projection_window=(lookback_start, target + dt.timedelta(days=settings.forward_days)),
        target=target,
        tags={"occupancy/kind": "daily"},
    )
