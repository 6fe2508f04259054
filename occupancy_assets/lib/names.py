"""Names every layer agrees on: asset keys, the job, the concurrency pool.

The bottom of the package: it imports nothing from it, so assets, checks, automation and the
CLI can all depend on it without depending on each other.
"""

from dagster import AssetKey

STAGING_TABLE_NAMES = ("tenant_daily_snapshots", "tenants", "movings", "apartments", "rooms")
STAGING_KEYS = {name: AssetKey(["staging", name]) for name in STAGING_TABLE_NAMES}

#: the dump-health gate: the window's dump judged before silver is replaced (its blocking dbt test)
DUMP_HEALTH_KEY = AssetKey(["silver", "staging_dump_health"])
SILVER_KEY = AssetKey(["silver", "tenant_room_snapshot_daily"])
#: each tenant-room pair's first status-4/5 date, kept by the silver build (it survives archiving)
FIRST_APPLICATION_KEY = AssetKey(["silver", "first_application_dates"])
MONTH_END_KEY = AssetKey(["gold", "kpi_month_end_metrics"])
OCCUPANCY_KEY = AssetKey(["gold", "occupancy_daily_metrics"])
TRACE_KEY = AssetKey(["gold", "kpi_reference_trace"])
PROPERTY_KEY = AssetKey(["gold", "occupancy_property_daily"])
FORECAST_KEY = AssetKey(["gold", "occupancy_forecast_daily"])
#: the operator's confirmed real events, which the checks on the numbers' meaning then accept
ACCEPTED_CHANGES_KEY = AssetKey(["gold", "accepted_kpi_changes"])
SEED_KEYS = (AssetKey(["silver", "management_statuses"]), AssetKey(["gold", "kpi_references"]), ACCEPTED_CHANGES_KEY)

#: The one job of the daily pipeline (UI, schedule, sensor and CLI all launch it).
DAILY_JOB = "daily"

#: Every asset and check that writes or scans the warehouse runs in this Dagster pool; its limit
#: is 1 (dagster.yaml), so runs from any launcher queue behind each other.
WAREHOUSE_POOL = "warehouse"
