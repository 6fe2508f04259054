"""Monthly maintenance in Dagster (SPEC 10): the archive asset, the restore job, the monthly schedule.

- `archive/tenant_room_snapshot_monthly`: monthly partitions (Asia/Tokyo months, key YYYY-MM);
  materializing month M archives silver's rows of M (archive.archive_month: write Parquet, read
  back and verify, then delete in one transaction, then optimize). Its materialization metadata
  shows rows archived, bytes, object path, checksum and deleted rows.
- `restore_silver_month` (job, same monthly partitions): loads an archived month back into silver.
- `monthly_archive_0900_jst` (schedule, 2nd of each month 09:00 JST): one run per month that is
  older than the retention and still has rows in silver.

Everything is built by `build_archive_definitions(settings)`; `definitions.build_definitions` adds
it to the code location. The CLI (`occupancy-kpi archive|restore`) runs the same job and asset
through `run_archive` / `run_restore`.
"""


import datetime as dt
from dataclasses import dataclass, field

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    Config,
    DagsterInstance,
    DefaultScheduleStatus,
    Definitions,
    Failure,
    MaterializeResult,
    MonthlyPartitionsDefinition,
    OpExecutionContext,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    TimeWindowPartitionMapping,
    asset,
    define_asset_job,
    job,
    op,
    schedule,
)
from dagster import ConfigurableResource
from pydantic import Field

from . import archive
from .dead_runs import process_tags
from .keys import SILVER_KEY, WAREHOUSE_POOL
from .resources import WarehouseResource
from .settings import DEFAULT_ARCHIVE_DIR, TOKYO, Settings, today_jst
from .warehouse import Warehouse, WarehouseLockedError

ARCHIVE_KEY = AssetKey(["archive", "tenant_room_snapshot_monthly"])
ARCHIVE_JOB = "archive_silver_month"
RESTORE_JOB = "restore_silver_month"
ARCHIVE_SCHEDULE = "monthly_archive_0900_jst"
ARCHIVE_OP = "archive__tenant_room_snapshot_monthly"
ARCHIVE_RESOURCE_KEY = "archive_store"
MONTH_TAG = "occupancy/archive_month"
#: the schedule only glances at silver: it waits this long for a writer's lock
SCHEDULE_LOCK_WAIT_SECONDS = 5.0


def monthly_partitions(settings: Settings) -> MonthlyPartitionsDefinition:
    """Asia/Tokyo calendar months from the history start's month through the last complete month."""
    start = dt.datetime.combine(settings.history_start.replace(day=1), dt.time())
    return MonthlyPartitionsDefinition(start_date=start, timezone="Asia/Tokyo", fmt=archive.MONTH_FORMAT, end_offset=0)


class ArchiveStoreResource(ConfigurableResource):
    """Where archived months go: `local_dir` (default data/archive/), or S3 when `s3_bucket` is set
    (production), through dagster-aws' S3Resource (credentials from the usual AWS chain)."""

    local_dir: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    aws_region: str | None = None

    def store(self) -> archive.ArchiveStore:
        if self.s3_bucket:
            from dagster_aws.s3 import S3Resource

            client = S3Resource(region_name=self.aws_region, endpoint_url=self.s3_endpoint_url).get_client()
            return archive.S3ArchiveStore(client, self.s3_bucket, self.s3_prefix)
        return archive.LocalArchiveStore(self.local_dir or DEFAULT_ARCHIVE_DIR)


def archive_store_resource(settings: Settings) -> ArchiveStoreResource:
    return ArchiveStoreResource(
        local_dir=settings.archive_dir,
        s3_bucket=settings.archive_s3_bucket,
        s3_prefix=settings.archive_s3_prefix,
        s3_endpoint_url=settings.archive_s3_endpoint_url,
        aws_region=settings.aws_region,
    )


class ArchiveRunConfig(Config):
    today: str | None = Field(
        default=None,
        description="Date the retention is judged against (YYYY-MM-DD, Asia/Tokyo). Default: today; "
        "the monthly schedule passes its tick's date.",
    )


def months_due(wh, settings: Settings, today: dt.date, partition_keys: list[str] | None = None) -> list[str]:
    """Months older than the retention that still have rows in silver (inside the partitions)."""
    before = archive.retention_start(today, settings.retention_months)
    months = archive.months_with_rows_before(wh, before)
    if partition_keys is not None:
        months = [m for m in months if m in set(partition_keys)]
    return months


@dataclass
class ArchiveDefinitions:
    """What the archive adds to the code location: pass each list to Definitions (and merge resources)."""

    assets: list
    jobs: list
    schedules: list
    resources: dict = field(default_factory=dict)


def build_archive_definitions(settings: Settings) -> ArchiveDefinitions:
    partitions = monthly_partitions(settings)
    by_month = TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)  # month -> its days

    @asset(
        key=ARCHIVE_KEY,
        group_name="archive",
        partitions_def=partitions,
        deps=[AssetDep(SILVER_KEY, partition_mapping=by_month)],
        pool=WAREHOUSE_POOL,
        kinds={"parquet", "s3"} if settings.archive_s3_bucket else {"parquet"},
        description=(
            "silver.tenant_room_snapshot_daily's rows of one month (Asia/Tokyo), archived to Parquet: written, "
            f"read back and verified (rows + checksum), then deleted from silver. Months inside the retention "
            f"({settings.retention_months} months) are refused; an archived month re-runs as a no-op."
        ),
    )
    def tenant_room_snapshot_monthly(
        context: AssetExecutionContext,
        config: ArchiveRunConfig,
        warehouse: WarehouseResource,
        archive_store: ArchiveStoreResource,
    ) -> MaterializeResult:
        month = context.partition_key
        today = dt.date.fromisoformat(config.today) if config.today else today_jst()
        try:
            outcome = archive.archive_month(
                warehouse.warehouse(), archive_store.store(), month, today=today,
                retention_months=settings.retention_months,
            )
        except archive.ArchiveError as err:
            raise Failure(description=str(err)) from err
        context.log.info(outcome.message)
        return MaterializeResult(metadata=outcome.metadata())

    @op(name="restore_archived_month", pool=WAREHOUSE_POOL)
    def restore_archived_month(
        context: OpExecutionContext, warehouse: WarehouseResource, archive_store: ArchiveStoreResource
    ) -> None:
        month = context.partition_key
        try:
            outcome = archive.restore_month(warehouse.warehouse(), archive_store.store(), month)
        except archive.ArchiveError as err:
            raise Failure(description=str(err)) from err
        context.log.info(outcome.message)
        context.log_event(AssetObservation(asset_key=ARCHIVE_KEY, partition=month, metadata=outcome.metadata()))

    @job(
        name=RESTORE_JOB,
        partitions_def=partitions,
        description=(
            "Loads an archived month back into silver.tenant_room_snapshot_daily, row-for-row as archived "
            "(checksum verified before commit). Then rebuild gold for those dates if needed (a backfill)."
        ),
    )
    def restore_silver_month():
        restore_archived_month()

    archive_job = define_asset_job(
        ARCHIVE_JOB,
        selection=[ARCHIVE_KEY],
        partitions_def=partitions,
        description="Archive one month of silver to Parquet, verified, then delete it from silver.",
    )

    @schedule(
        name=ARCHIVE_SCHEDULE,
        cron_schedule="0 9 2 * *",
        execution_timezone="Asia/Tokyo",
        job=archive_job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=(
            "2nd of each month, 09:00 Asia/Tokyo: archives every month older than the retention "
            f"({settings.retention_months} months) that still has rows in silver, one run per month."
        ),
    )
    def monthly_archive(context: ScheduleEvaluationContext, warehouse: WarehouseResource):
        when = context.scheduled_execution_time
        today = when.astimezone(TOKYO).date() if when else today_jst()
        keys = partitions.get_partition_keys()
        base = warehouse.warehouse()
        try:  # a glance only: a writer holding the warehouse must not stall the tick
            due = months_due(Warehouse(base.url, base.schema_prefix, lock_wait_seconds=SCHEDULE_LOCK_WAIT_SECONDS),
                             settings, today, keys)
        except WarehouseLockedError as err:
            # cannot tell which months still have rows: request every month older than the
            # retention (an archived month's run is a no-op) rather than skip a whole month
            before = archive.retention_start(today, settings.retention_months)
            due = [key for key in keys if archive.parse_month(key) < before]
            context.log.warning(f"warehouse busy ({err}); requesting every month before {before}")
        if not due:
            return SkipReason(
                f"no month older than the retention of {settings.retention_months} months has rows in silver "
                f"(judged on {today})"
            )
        return [
            RunRequest(
                run_key=f"archive-{month}-{today.isoformat()}",
                partition_key=month,
                run_config={"ops": {ARCHIVE_OP: {"config": {"today": today.isoformat()}}}},
                tags={MONTH_TAG: month},
            )
            for month in due
        ]

    return ArchiveDefinitions(
        assets=[tenant_room_snapshot_monthly],
        jobs=[archive_job, restore_silver_month],
        schedules=[monthly_archive],
        resources={ARCHIVE_RESOURCE_KEY: archive_store_resource(settings)},
    )


# -- running it in this process (CLI, tests) ------------------------------------------------------


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
    failure = failure.removeprefix("dagster._core.definitions.events.Failure: ")
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


def archived_months(settings: Settings):
    """The archive manifest (one row per archived month), for `occupancy-kpi status`."""
    from .resources import warehouse_resource

    return archive.archived_months(warehouse_resource(settings).warehouse())


def format_archived_months(frame) -> list[str]:
    """Lines for `status`: month, state, rows, object, checksum."""
    if frame is None or frame.empty:
        return ["archive       no month archived"]
    lines = [f"archive       {len(frame)} month(s) archived"]
    for row in frame.itertuples(index=False):
        lines.append(
            f"    {row.month} {row.state:<8} {int(row.row_count):>9,} rows  {int(row.object_bytes):>11,} bytes  "
            f"{row.object_uri}  {str(row.content_checksum)[:19]}"
        )
    return lines
