"""The one job of the daily pipeline (SPEC 10), and what a run of it selects.

`daily` holds every asset of the graph, partitioned by as-of date: staging observation, the seeds,
silver + kpi_month_end_metrics (one `dbt build`), occupancy_daily_metrics, the trace, and every
check. The schedule, the sensor, the CLI and the UI launch it for a partition key T (one day) or a
range [A, B] (a backfill: one run, SPEC 10's single-run policy). Every step is in the `warehouse`
pool (dagster.yaml: limit 1, run granularity), so runs from any launcher queue behind each other.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, DagsterInstance, define_asset_job

from occupancy_assets.lib.names import (
    DAILY_JOB,
    DUMP_HEALTH_KEY,
    FIRST_APPLICATION_KEY,
    FORECAST_KEY,
    MONTH_END_KEY,
    OCCUPANCY_KEY,
    PROPERTY_KEY,
    SEED_KEYS,
    SILVER_KEY,
    STAGING_KEYS,
    TRACE_KEY,
)
from occupancy_assets.lib.partitions import daily_partitions
from occupancy_assets.lib.settings import Settings
from occupancy_assets.lib.warehouse import Warehouse

#: The job's assets in pipeline order; the seeds are left out of a run whose seeds are current.
PIPELINE_KEYS = (
    *STAGING_KEYS.values(), *SEED_KEYS, DUMP_HEALTH_KEY, SILVER_KEY, FIRST_APPLICATION_KEY, MONTH_END_KEY, PROPERTY_KEY,
    OCCUPANCY_KEY, FORECAST_KEY, TRACE_KEY,
)


def build_daily_job(settings: Settings):
    return define_asset_job(
        DAILY_JOB,
        selection=AssetSelection.assets(*PIPELINE_KEYS),
        partitions_def=daily_partitions(settings),
        description=(
            "The daily pipeline for as-of date T (a partition) or a range: staging observation, seeds, "
            "silver + month-end KPIs (dbt), occupancy_daily_metrics with projections, the trace, all checks."
        ),
    )


def stale_seed_keys(instance: DagsterInstance, code_versions: dict[AssetKey, str | None], wh: Warehouse) -> list[AssetKey]:
    """Seeds whose CSV changed since their last load (dagster-dbt's code version is the file's
    checksum), never loaded in this instance, or missing from the warehouse."""
    stale = []
    for key in SEED_KEYS:
        event = instance.get_latest_materialization_event(key)
        loaded = event.asset_materialization.tags.get("dagster/code_version") if event and event.asset_materialization else None
        layer, table = key.path
        if loaded is None or loaded != code_versions.get(key) or not wh.table_exists(layer, table):
            stale.append(key)
    return stale


def daily_selection(instance: DagsterInstance, code_versions: dict[AssetKey, str | None], wh: Warehouse) -> list[AssetKey]:
    """The assets of one daily run: everything, the seeds only when they changed."""
    stale = set(stale_seed_keys(instance, code_versions, wh))
    return [key for key in PIPELINE_KEYS if key not in SEED_KEYS or key in stale]
