"""Monthly maintenance in Dagster (SPEC 10): the archive asset, the restore job, the monthly schedule.

- `archive/tenant_room_snapshot_monthly`: monthly partitions (Asia/Tokyo months, key YYYY-MM);
  materializing month M archives silver's rows of M (archive_month: write Parquet, read
  back and verify, then delete in one transaction, then optimize). Its materialization metadata
  shows rows archived, bytes, object path, checksum and deleted rows.
- `restore_silver_month` (job, same monthly partitions): loads an archived month back into silver.
- `monthly_archive_0900_jst` (schedule, 2nd of each month 09:00 JST): one run per month that is
  older than the retention and still has rows in silver.

definitions.py puts them together; the CLI (`occupancy-kpi archive|restore`) runs the same job and
asset in its own process through runs.py.
"""


import datetime as dt

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    Config,
    ConfigurableResource,
    DefaultScheduleStatus,
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
from pydantic import Field

from occupancy_assets.defs.archive.months import MONTH_FORMAT, ArchiveError, parse_month, retention_start
from occupancy_assets.defs.archive.operations import archive_month, months_with_rows_before, restore_month
from occupancy_assets.defs.archive.storage import ArchiveStore, LocalArchiveStore, S3ArchiveStore
from occupancy_assets.lib.names import SILVER_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import DEFAULT_ARCHIVE_DIR, TIMEZONE, TOKYO, Settings, today_jst
from occupancy_assets.lib.warehouse import Warehouse, WarehouseLockedError

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
    return MonthlyPartitionsDefinition(start_date=start, timezone=TIMEZONE, fmt=MONTH_FORMAT, end_offset=0)


class ArchiveStoreResource(ConfigurableResource):
    """Where archived months go: `local_dir` (default data/archive/), or S3 when `s3_bucket` is set
    (production), through dagster-aws' S3Resource (credentials from the usual AWS chain)."""

    local_dir: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    aws_region: str | None = None

    def store(self) -> ArchiveStore:
        if self.s3_bucket:
            from dagster_aws.s3 import S3Resource

            client = S3Resource(region_name=self.aws_region, endpoint_url=self.s3_endpoint_url).get_client()
            return S3ArchiveStore(client, self.s3_bucket, self.s3_prefix)
        return LocalArchiveStore(self.local_dir or DEFAULT_ARCHIVE_DIR)


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
    before = retention_start(today, settings.retention_months)
    months = months_with_rows_before(wh, before)
    if partition_keys is not None:
        months = [m for m in months if m in set(partition_keys)]
    return months


def build_archive_asset(settings: Settings, partitions: MonthlyPartitionsDefinition):
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
            outcome = archive_month(
                warehouse.warehouse(), archive_store.store(), month, today=today,
                retention_months=settings.retention_months,
            )
        except ArchiveError as err:
            raise Failure(description=str(err)) from err
        context.log.info(outcome.message)
        return MaterializeResult(metadata=outcome.metadata())

    return tenant_room_snapshot_monthly


def build_restore_job(partitions: MonthlyPartitionsDefinition):
    @op(name="restore_archived_month", pool=WAREHOUSE_POOL)
    def restore_archived_month(
        context: OpExecutionContext, warehouse: WarehouseResource, archive_store: ArchiveStoreResource
    ) -> None:
        month = context.partition_key
        try:
            outcome = restore_month(warehouse.warehouse(), archive_store.store(), month)
        except ArchiveError as err:
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

    return restore_silver_month


def build_archive_job(partitions: MonthlyPartitionsDefinition):
    return define_asset_job(
        ARCHIVE_JOB,
        selection=[ARCHIVE_KEY],
        partitions_def=partitions,
        description="Archive one month of silver to Parquet, verified, then delete it from silver.",
    )


def build_archive_schedule(settings: Settings, partitions: MonthlyPartitionsDefinition, archive_job):
    @schedule(
        name=ARCHIVE_SCHEDULE,
        cron_schedule="0 9 2 * *",
        execution_timezone=TIMEZONE,
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
            before = retention_start(today, settings.retention_months)
            due = [key for key in keys if parse_month(key) < before]
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

    return monthly_archive
