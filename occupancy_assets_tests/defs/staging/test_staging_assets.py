import datetime as dt

from dagster import AssetKey, DagsterInstance

from occupancy_assets.definitions import build_definitions
from occupancy_assets.lib.names import DAILY_JOB, STAGING_KEYS
from occupancy_assets_tests.conftest import load_staging, make_settings
from occupancy_assets_tests.worked_example import staging_frames


def test_observing_staging_records_row_counts_and_the_latest_snapshot(empty_warehouse):
    wh = empty_warehouse
    frames = staging_frames()
    load_staging(wh, frames)
    defs = build_definitions(make_settings(str(wh.url.render_as_string(hide_password=False)), wh.schema_prefix))
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def(DAILY_JOB).execute_in_process(
        instance=instance, asset_selection=list(STAGING_KEYS.values()), partition_key="2026-02-01"
    )
    assert result.success
    snapshots = instance.fetch_observations(AssetKey(["staging", "tenant_daily_snapshots"]), limit=1).records[0]
    metadata = {k: v.value for k, v in snapshots.asset_observation.metadata.items()}
    assert metadata["row_count"] == len(frames["tenant_daily_snapshots"])
    assert metadata["latest_snapshot_date"] == str(dt.date(2026, 2, 1))
    assert metadata["first_snapshot_date"] == str(dt.date(2026, 1, 30))
    rooms = instance.fetch_observations(AssetKey(["staging", "rooms"]), limit=1).records[0]
    assert rooms.asset_observation.metadata["row_count"].value == 4
