"""The three jobs the pipeline is made of, in dependency order.

A Dagster run has one partition range, and the layers' partition sets differ (history ends
today, occupancy reaches today + forward days), so one pipeline run is a sequence:

1. `reference_data`: observe staging, load the dbt seeds (unpartitioned);
2. `history`: silver + kpi_month_end_metrics over a date range (+ their checks);
3. `projection`: occupancy_daily_metrics over [start, end + forward] + kpi_reference_trace (+ checks).

A failing blocking check in step 2 fails that run, and step 3 is never started for it.

Every job carries WRITER_TAG: dagster.yaml limits runs with that tag to one at a time, so runs
launched through the queue (schedule, sensors, UI) wait for each other instead of colliding on
the warehouse (docs/operating.md).
"""

from functools import cache

from dagster import AssetKey, AssetSelection, define_asset_job

from .occupancy_metrics import FIRST_APPLICATION_KEY, MONTH_END_KEY, OCCUPANCY_KEY, SILVER_KEY
from .partitions import history_partitions, occupancy_partitions
from .settings import Settings
from .staging_assets import STAGING_KEYS

SEED_KEYS = [AssetKey(["silver", "management_statuses"]), AssetKey(["gold", "kpi_references"])]
TRACE_KEY = AssetKey(["gold", "kpi_reference_trace"])

REFERENCE_JOB = "reference_data"
HISTORY_JOB = "history"
PROJECTION_JOB = "projection"

#: Run tag limited to one in-progress run by dagster.yaml (concurrency > runs > tag_concurrency_limits).
WRITER_TAG = "occupancy/warehouse-writer"
WRITER_TAGS = {WRITER_TAG: "true"}


@cache
def build_jobs(settings: Settings):
    """Cached per settings: the sensors (automation.py) must target the very job objects in Definitions."""
    return [
        define_asset_job(
            REFERENCE_JOB,
            selection=AssetSelection.assets(*STAGING_KEYS.values(), *SEED_KEYS),
            description="Observe the staging tables and load the reference seeds.",
            tags=WRITER_TAGS,
        ),
        define_asset_job(
            HISTORY_JOB,
            selection=AssetSelection.assets(SILVER_KEY, FIRST_APPLICATION_KEY, MONTH_END_KEY),
            partitions_def=history_partitions(settings),
            description="silver snapshot and month-end KPIs for a date range, with their checks.",
            tags=WRITER_TAGS,
        ),
        define_asset_job(
            PROJECTION_JOB,
            selection=AssetSelection.assets(OCCUPANCY_KEY, TRACE_KEY),
            partitions_def=occupancy_partitions(settings),
            description="occupancy_daily_metrics over a window (observed + projected) and the trace row.",
            tags=WRITER_TAGS,
        ),
    ]
