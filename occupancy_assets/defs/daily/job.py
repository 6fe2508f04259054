"""The one job of the daily pipeline (SPEC 10), and what a run of it selects.

`daily` holds every asset of the graph, partitioned by as-of date: staging observation, the seeds,
silver + kpi_month_end_metrics (one `dbt build`), occupancy_daily_metrics, the trace, and every
check. The schedule, the sensor, the CLI and the UI launch it for a partition key T (one day) or a
range [A, B] (a backfill: one run, SPEC 10's single-run policy). Every step is in the `warehouse`
pool (dagster.yaml: limit 1, run granularity), so runs from any launcher queue behind each other.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, DagsterInstance, define_asset_job

from occupancy_assets.lib.names import DAILY_JOB, SEED_KEYS
from occupancy_assets.lib.partitions import daily_partitions
from occupancy_assets.lib.settings import LAYERS, Settings
from occupancy_assets.lib.warehouse import Warehouse

#: The job runs every asset of the warehouse's layers (asset keys are [layer, table]; the archive
#: has its own jobs) and the staging tables they read (observable sources); the seeds are left out
#: of a run whose seeds are current. (`key_prefixes(include_sources=True)` says the same, but the
#: parameter is beta and its warning would be a second line on every CLI error.)
_LAYER_ASSETS = AssetSelection.key_prefixes(*([layer] for layer in LAYERS))
DAILY_SELECTION = _LAYER_ASSETS | _LAYER_ASSETS.upstream_source_assets()


def build_daily_job(settings: Settings):
    return define_asset_job(
        DAILY_JOB,
        selection=DAILY_SELECTION,
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
    """The assets of one daily run (`code_versions` has every asset of the code location): those of
    the job, the seeds only when they changed."""
    stale = set(stale_seed_keys(instance, code_versions, wh))
    return [key for key in code_versions if key.path[0] in LAYERS and (key not in SEED_KEYS or key in stale)]
