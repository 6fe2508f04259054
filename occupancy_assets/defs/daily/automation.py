"""The daily pipeline in the Dagster daemon (SPEC 10): a staging sensor and an 08:00 JST schedule,
both launching the `daily` job for partition T (one run does everything, job.py).

Never twice for one T: both look for runs of T in the instance by Dagster's own partition tag
(`dagster/partition`), and for a materialization of occupancy_daily_metrics for T (what a range run,
a backfill or `occupancy-kpi demo`, leaves: it has no partition tag), before requesting one; run keys only de-duplicate within one sensor or
schedule. One deliberate exception, so a late dump is never lost: when the 08:00 run had to go
before T's dump landed, its occupancy_daily_metrics materialization records an `as_of` before T,
and the sensor runs T once more when the dump arrives (run key `T/with-dump`).

Every sensor tick first marks failed the runs of this host whose process is gone (a killed
`occupancy-kpi daily`, dead_runs.py), so a dead run never holds the warehouse pool for long.
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterRun,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    build_schedule_from_partitioned_job,
    schedule,
    sensor,
)

from occupancy_assets.defs.daily.job import daily_selection
from occupancy_assets.defs.staging.assets import latest_snapshot_date
from occupancy_assets.lib.dagster_internals import PARTITION_NAME_TAG
from occupancy_assets.lib.dead_runs import fail_dead_runs
from occupancy_assets.lib.names import OCCUPANCY_KEY
from occupancy_assets.lib.partitions import partition_key
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import Settings, today_jst
from occupancy_assets.lib.warehouse import Warehouse, WarehouseLockedError

SENSOR_NAME = "staging_snapshot_sensor"
SCHEDULE_NAME = "daily_0800_jst"
SENSOR_INTERVAL_SECONDS = 120
#: The sensor and schedule only glance at staging: they wait this long for a writer's lock, then skip.
READ_LOCK_WAIT_SECONDS = 5.0
IN_PROGRESS = (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)


def latest_staging_snapshot(warehouse: WarehouseResource, today: dt.date) -> dt.date | None:
    """Newest dump date in staging up to today (future-dated rows never count); None: none yet.
    Raises WarehouseLockedError when a writer holds the warehouse longer than a glance."""
    base = warehouse.warehouse()
    return latest_snapshot_date(Warehouse(base.url, base.schema_prefix, lock_wait_seconds=READ_LOCK_WAIT_SECONDS), today)


def runs_for_partition(instance, day: dt.date) -> list[DagsterRun]:
    """Every run of partition T, newest first: of the daily job from any launcher (schedule, sensor,
    UI, CLI), and of assets materialized from the UI's asset graph (Dagster's implicit asset job)."""
    return list(instance.get_runs(filters=RunsFilter(tags={PARTITION_NAME_TAG: partition_key(day)})))


def built_as_of(instance, day: dt.date) -> dt.date | None:
    """The as_of the latest materialization of occupancy partition T was computed from."""
    result = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=OCCUPANCY_KEY, asset_partitions=[partition_key(day)]), limit=1
    )
    if not result.records:
        return None
    value = result.records[0].asset_materialization.metadata.get("as_of")
    return dt.date.fromisoformat(getattr(value, "value", value)) if value is not None else None


def _code_versions(context) -> dict[AssetKey, str | None]:
    graph = context.repository_def.asset_graph
    return {key: graph.get(key).code_version for key in graph.get_all_asset_keys()}


def daily_request(context, warehouse: WarehouseResource, day: dt.date, run_key: str, launched_by: str) -> RunRequest:
    """A run of the daily job for partition T; the seeds only when they changed (job.py)."""
    selection = daily_selection(context.instance, _code_versions(context), warehouse.warehouse())
    return RunRequest(
        run_key=run_key,
        partition_key=partition_key(day),
        asset_selection=selection,
        tags={"occupancy/launched_by": launched_by},
    )


def _describe(run: DagsterRun) -> str:
    return f"run {run.run_id[:8]} ({run.status.value})"


def build_sensors(settings: Settings, job) -> list:
    @sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Starts the daily job for T as soon as staging.tenant_daily_snapshots holds T's dump "
            "(cursor: the last T handled). Skips T when a run of it exists; re-runs T once when the "
            "08:00 run had to go before T's dump landed. Each tick first marks failed the runs of this host "
            "whose process is gone (a killed CLI run), so they release the warehouse pool."
        ),
    )
    def staging_snapshot_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
        fail_dead_runs(context.instance, by=f"the {SENSOR_NAME} sensor", say=context.log.warning)
        today = today_jst()
        try:
            latest = latest_staging_snapshot(warehouse, today)
        except WarehouseLockedError as err:
            return SkipReason(f"warehouse busy, looking again next tick: {err}")
        handled = dt.date.fromisoformat(context.cursor) if context.cursor else None
        context.log.info(f"staging: latest dump {latest or 'none'} (up to today {today}, JST); last handled {handled or 'none'}")
        if latest is None:
            return SkipReason("staging.tenant_daily_snapshots has no dump up to today yet")
        if latest < settings.history_start:
            return SkipReason(f"latest dump {latest} is before the history start {settings.history_start}")
        if handled is not None and latest <= handled:
            return SkipReason(f"latest dump {latest}: already handled")
        runs = runs_for_partition(context.instance, latest)
        if any(run.status in IN_PROGRESS for run in runs):
            return SkipReason(f"dump {latest}: a run of it is in progress, looking again next tick")
        as_of = built_as_of(context.instance, latest)  # also set when a range run (backfill, demo) built T
        if not runs and as_of is None:
            request = daily_request(context, warehouse, latest, partition_key(latest), "sensor")
            return SensorResult(run_requests=[request], cursor=latest.isoformat())
        if (not runs or runs[0].status == DagsterRunStatus.SUCCESS) and as_of is not None and as_of < latest:
            context.log.info(f"the run of {latest} went before its dump landed (as_of {as_of}): running it again")
            request = daily_request(context, warehouse, latest, f"{partition_key(latest)}/with-dump", "sensor")
            return SensorResult(run_requests=[request], cursor=latest.isoformat())
        done = _describe(runs[0]) if runs else f"built by a range run (as_of {as_of})"
        return SensorResult(skip_reason=SkipReason(f"dump {latest}: already run, {done}"), cursor=latest.isoformat())

    return [staging_snapshot_sensor]


def build_schedules(settings: Settings, job) -> list:
    # the cron, timezone and partition (the last one at tick time: today, JST) come from the job
    partitioned = build_schedule_from_partitioned_job(job, hour_of_day=8, minute_of_hour=0, name=SCHEDULE_NAME)

    @schedule(
        name=SCHEDULE_NAME,
        cron_schedule=partitioned.cron_schedule,
        execution_timezone=partitioned.execution_timezone,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=(
            "08:00 Asia/Tokyo: the daily job for today's partition, unless a run of it exists (usually the "
            "sensor's). Runs even if the dump is late (projections from the day before; freshness warns)."
        ),
    )
    def daily_0800_jst(context: ScheduleEvaluationContext, warehouse: WarehouseResource):
        for request in partitioned.evaluate_tick(context).run_requests or []:
            day = dt.date.fromisoformat(request.partition_key)
            runs = runs_for_partition(context.instance, day)
            if runs:
                return SkipReason(f"a run of {day} already exists: {_describe(runs[0])}")
            if built_as_of(context.instance, day) is not None:
                return SkipReason(f"{day} was already built by a range run (backfill, demo)")
            return daily_request(context, warehouse, day, request.run_key or partition_key(day), "schedule")
        return SkipReason("no partition to run")

    return [daily_0800_jst]
