"""The daily pipeline in the Dagster daemon (SPEC 10): a staging sensor, an 08:00 JST schedule, and
the chain that runs the pipeline's three jobs in order.

A run has one partition range and the history and occupancy assets have different partition sets
(jobs.py), so the pipeline for target date T is a chain of runs, exactly as `occupancy-kpi daily`
runs it (pipeline.daily_windows):

    reference_data  ->  history [T, T]  ->  projection [T - lookback, T + forward] (target_date=T)

`staging_snapshot_sensor` or `daily_0800_jst` launch the first run; `daily_chain_sensor` (a run
status sensor) launches each next run when the previous one *succeeded*. A failed run (a blocking
check, a dbt error) ends the chain for T: nothing downstream of it runs, and the run shows why.

Never two pipelines for one T: every run carries TARGET_DATE_TAG, and the sensor and the schedule
both look for runs with that tag in the instance before requesting T (Dagster's run keys only
de-duplicate within one sensor or schedule). One deliberate exception, so a late dump is never
lost: when the 08:00 schedule had to run before T's snapshot landed, its run is tagged
PROVISIONAL_TAG (it could only recompute from T-1), and the sensor runs T once more, when the
snapshot arrives. The chain sensor requests one next step per finished run (run key from that
run's id), so a re-evaluated event never launches a step twice.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from dagster import (
    DagsterRun,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_status_sensor,
    schedule,
    sensor,
)

from .jobs import HISTORY_JOB, PROJECTION_JOB, REFERENCE_JOB, build_jobs
from .pipeline import KIND_TAG, RANGE_END_TAG, RANGE_START_TAG, TARGET_DATE_TAG, daily_windows, projection_config
from .resources import WarehouseResource
from .settings import TOKYO, Settings, today_jst
from .staging_assets import latest_snapshot_date
from .warehouse import Warehouse, WarehouseLockedError

SENSOR_NAME = "staging_snapshot_sensor"
SCHEDULE_NAME = "daily_0800_jst"
CHAIN_SENSOR_NAME = "daily_chain_sensor"

#: Runs of an automated daily pipeline carry CHAIN_TAG; only those are continued by the chain sensor
#: (a CLI or UI run of `history` does not start a projection run behind the operator's back).
CHAIN_TAG = "occupancy/chain"
CHAIN_VALUE = "daily"
LAUNCHED_BY_TAG = "occupancy/launched_by"  # sensor | schedule
PROVISIONAL_TAG = "occupancy/provisional"  # "true": launched before T's snapshot was in staging

#: The next job of the chain after each job.
NEXT_STEP = {REFERENCE_JOB: HISTORY_JOB, HISTORY_JOB: PROJECTION_JOB}

SENSOR_INTERVAL_SECONDS = 120
#: The sensor and schedule only glance at staging: they wait this long for a writer's lock, then skip.
READ_LOCK_WAIT_SECONDS = 5.0

def latest_staging_snapshot(warehouse: WarehouseResource) -> dt.date | None:
    """Newest snapshot date in staging (None: table missing or empty); raises WarehouseLockedError when busy."""
    base = warehouse.warehouse()
    return latest_snapshot_date(Warehouse(base.url, base.schema_prefix, lock_wait_seconds=READ_LOCK_WAIT_SECONDS))


def runs_for_target(instance, target: dt.date) -> list[DagsterRun]:
    """Every run (any job, any status, any launcher incl. the CLI) of a pipeline for T."""
    return list(instance.get_runs(filters=RunsFilter(tags={TARGET_DATE_TAG: target.isoformat()})))


def _describe(run: DagsterRun) -> str:
    by = run.tags.get(LAUNCHED_BY_TAG) or run.tags.get(KIND_TAG) or "manual"
    return f"run {run.run_id[:8]} ({run.job_name}, {run.status.value}, {by})"


def pipeline_request(target: dt.date, *, launched_by: str, provisional: bool = False) -> RunRequest:
    """The first run of the daily pipeline for T (reference_data); the chain sensor does the rest."""
    tags = {
        TARGET_DATE_TAG: target.isoformat(),
        KIND_TAG: "daily",
        CHAIN_TAG: CHAIN_VALUE,
        LAUNCHED_BY_TAG: launched_by,
    }
    if provisional:
        tags[PROVISIONAL_TAG] = "true"
    return RunRequest(run_key=f"daily-{target.isoformat()}", job_name=REFERENCE_JOB, tags=tags)


def next_step_request(run: DagsterRun, settings: Settings) -> RunRequest | None:
    """The chain's next run after `run` succeeded (None: `run` was the last step)."""
    next_job = NEXT_STEP.get(run.job_name)
    if next_job is None:
        return None
    target = dt.date.fromisoformat(run.tags[TARGET_DATE_TAG])
    history_window, projection_window = daily_windows(settings, target)
    window = history_window if next_job == HISTORY_JOB else projection_window
    tags = {key: value for key, value in run.tags.items() if key.startswith("occupancy/")}
    tags.update({RANGE_START_TAG: window[0].isoformat(), RANGE_END_TAG: window[1].isoformat()})
    return RunRequest(
        run_key=f"daily-{target.isoformat()}/{next_job}/after-{run.run_id}",
        job_name=next_job,
        run_config=projection_config(target, settings) if next_job == PROJECTION_JOB else {},
        tags=tags,
    )


def build_sensors(settings: Settings) -> list:
    jobs = {job.name: job for job in build_jobs(settings)}

    @sensor(
        name=SENSOR_NAME,
        job=jobs[REFERENCE_JOB],
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Starts the daily pipeline for T as soon as staging.tenant_daily_snapshots holds T's "
            "snapshot (cursor: the last T handled). Skips T if a pipeline for it already ran."
        ),
    )
    def staging_snapshot_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
        today = today_jst()
        try:
            latest = latest_staging_snapshot(warehouse)
        except WarehouseLockedError as err:
            return SkipReason(f"warehouse busy, looking again next tick: {err}")
        handled = dt.date.fromisoformat(context.cursor) if context.cursor else None
        context.log.info(
            f"staging.tenant_daily_snapshots: latest snapshot {latest or 'none'}; today (JST) {today}; "
            f"last handled {handled or 'none'}"
        )
        if latest is None:
            return SkipReason("staging.tenant_daily_snapshots has no snapshot yet")
        if latest > today:
            return SkipReason(f"latest snapshot {latest} is after today {today} (JST): not a daily partition yet")
        if latest < settings.history_start:
            return SkipReason(f"latest snapshot {latest} is before the history start {settings.history_start}")
        if handled is not None and latest <= handled:
            return SkipReason(f"latest snapshot {latest}: already handled")
        runs = runs_for_target(context.instance, latest)
        final = [run for run in runs if run.tags.get(PROVISIONAL_TAG) != "true"]
        if final:
            return SensorResult(
                skip_reason=SkipReason(f"snapshot {latest}: a pipeline for it exists, {_describe(final[0])}"),
                cursor=latest.isoformat(),
            )
        if runs:
            context.log.info(
                f"the pipeline for {latest} ran before its snapshot landed ({_describe(runs[0])}): "
                "running it again with the snapshot"
            )
        return SensorResult(
            run_requests=[pipeline_request(latest, launched_by="sensor")], cursor=latest.isoformat()
        )

    @run_status_sensor(
        name=CHAIN_SENSOR_NAME,
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[jobs[REFERENCE_JOB], jobs[HISTORY_JOB]],
        request_jobs=[jobs[HISTORY_JOB], jobs[PROJECTION_JOB]],
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description=(
            "Continues an automated daily pipeline: reference_data succeeded -> history [T, T]; "
            "history succeeded -> projection [T - lookback, T + forward]. A failed run ends the chain."
        ),
    )
    def daily_chain_sensor(context: RunStatusSensorContext):
        run = context.dagster_run
        if run.tags.get(CHAIN_TAG) != CHAIN_VALUE or TARGET_DATE_TAG not in run.tags:
            return SkipReason(f"run {run.run_id[:8]} of {run.job_name} is not part of an automated daily pipeline")
        request = next_step_request(run, settings)
        if request is None:
            return SkipReason(f"run {run.run_id[:8]} of {run.job_name} is the last step")
        context.log.info(
            f"{run.job_name} for {run.tags[TARGET_DATE_TAG]} succeeded (run {run.run_id[:8]}): "
            f"requesting {request.job_name}"
        )
        return request

    return [staging_snapshot_sensor, daily_chain_sensor]


def build_schedules(settings: Settings) -> list:
    jobs = {job.name: job for job in build_jobs(settings)}

    @schedule(
        name=SCHEDULE_NAME,
        cron_schedule="0 8 * * *",
        execution_timezone="Asia/Tokyo",
        job=jobs[REFERENCE_JOB],
        default_status=DefaultScheduleStatus.RUNNING,
        description=(
            "08:00 Asia/Tokyo: starts the daily pipeline for today unless one already exists for it "
            "(usually the sensor's). Runs even if the dump is late; freshness then warns."
        ),
    )
    def daily_0800_jst(context: ScheduleEvaluationContext, warehouse: WarehouseResource):
        when = context.scheduled_execution_time
        target = when.astimezone(TOKYO).date() if when else today_jst()
        runs = runs_for_target(context.instance, target)
        if runs:
            return SkipReason(f"a pipeline for {target} already exists: {_describe(runs[0])}")
        try:
            latest = latest_staging_snapshot(warehouse)
        except WarehouseLockedError:
            latest = None  # cannot tell: treat as not landed, the sensor re-runs T if it was there
        provisional = latest is None or latest < target
        if provisional:
            context.log.warning(
                f"staging has no snapshot for {target} yet (latest: {latest or 'unknown'}): running anyway, "
                "from the latest snapshot; the freshness check will warn and the sensor runs "
                f"{target} again when its snapshot lands"
            )
        return pipeline_request(target, launched_by="schedule", provisional=provisional)

    return [daily_0800_jst]
