"""Staging tables: written upstream, observed here (SPEC section 3)."""


import datetime as dt

import pandas as pd
from dagster import AssetSpec, DataVersion, ObserveResult, multi_observable_source_asset

from occupancy_assets.defs.staging.tables import STAGING_TABLES
from occupancy_assets.lib.names import STAGING_KEYS
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import today_jst
from occupancy_assets.lib.warehouse import Warehouse

_DESCRIPTIONS = {
    "tenant_daily_snapshots": "Every tenant's management status on each day a dump was taken.",
    "tenants": "Current state of each tenant.",
    "movings": "One row per contract (current state): room, dates, rent.",
    "apartments": "Share houses.",
    "rooms": "Rentable rooms; their count is total_physical_rooms.",
}

_OBSERVE_SQL = {
    name: f"SELECT COUNT(*) AS row_count FROM {{staging}}.{name}" for name in STAGING_TABLES
}
_OBSERVE_SQL["tenant_daily_snapshots"] = (
    "SELECT COUNT(*) AS row_count, MIN(snapshot_date) AS first_snapshot_date, "
    "MAX(snapshot_date) AS latest_snapshot_date FROM {staging}.tenant_daily_snapshots"
)


#: Cheap on both backends: MAX over the (snapshot_date) index / DuckDB zone maps. Dumps dated after
#: :up_to (today) never count as the latest: a future-dated row must not blind the automation.
LATEST_SNAPSHOT = (
    "SELECT MAX(snapshot_date) AS latest_snapshot_date FROM {staging}.tenant_daily_snapshots "
    "WHERE snapshot_date <= :up_to"
)


def latest_snapshot_date(wh: Warehouse, up_to: dt.date | None = None) -> dt.date | None:
    """Newest dump date in staging on or before `up_to` (default: today, JST); None: table missing or empty."""
    if not wh.table_exists("staging", "tenant_daily_snapshots"):
        return None
    value = wh.read_sql(LATEST_SNAPSHOT, {"up_to": up_to or today_jst()}).iloc[0]["latest_snapshot_date"]
    return None if pd.isna(value) else pd.Timestamp(value).date()


@multi_observable_source_asset(
    specs=[
        AssetSpec(key, group_name="staging", description=_DESCRIPTIONS[name], kinds={"sql"})
        for name, key in STAGING_KEYS.items()
    ],
    name="observe_staging",
)
def observe_staging(warehouse: WarehouseResource):
    """Row counts (and the latest snapshot date) as metadata; the data version changes with them."""
    wh = warehouse.warehouse()
    with wh.engine.connect() as conn:
        for name, key in STAGING_KEYS.items():
            if not wh.table_exists("staging", name):
                yield ObserveResult(asset_key=key, metadata={"exists": False}, data_version=DataVersion("missing"))
                continue
            row = wh.read_sql(_OBSERVE_SQL[name], conn=conn).iloc[0]
            metadata = {k: (str(v) if k.endswith("date") else int(v)) for k, v in row.items() if v is not None}
            version = "|".join(f"{k}={metadata[k]}" for k in sorted(metadata))
            yield ObserveResult(asset_key=key, metadata=metadata, data_version=DataVersion(version))
