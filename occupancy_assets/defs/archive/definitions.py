"""The archive domain: the monthly archive asset, the restore job and the monthly schedule."""

from dagster import Definitions

from occupancy_assets.defs.archive.assets import (
    ARCHIVE_RESOURCE_KEY,
    archive_store_resource,
    build_archive_asset,
    build_archive_job,
    build_archive_schedule,
    build_restore_job,
    monthly_partitions,
)
from occupancy_assets.lib.settings import Settings


def build_defs(settings: Settings) -> Definitions:
    partitions = monthly_partitions(settings)
    archive_job = build_archive_job(partitions)
    return Definitions(
        assets=[build_archive_asset(settings, partitions)],
        jobs=[archive_job, build_restore_job(partitions)],
        schedules=[build_archive_schedule(settings, partitions, archive_job)],
        resources={ARCHIVE_RESOURCE_KEY: archive_store_resource(settings)},
    )
