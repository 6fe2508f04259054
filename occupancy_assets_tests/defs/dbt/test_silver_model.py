"""silver.tenant_room_snapshot_daily rules beyond the worked example (SPEC 5), on DuckDB and MariaDB:
old dumps without moving_id, duplicate input rows, window isolation and atomic window rebuilds."""

import time
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from occupancy_assets.definitions import build_definitions
from occupancy_assets.defs.staging.tables import STAGING_TABLES
from occupancy_assets.lib.names import MONTH_END_KEY, SEED_KEYS, SILVER_KEY
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import make_settings
from occupancy_assets_tests.helpers import run_assets
from occupancy_assets_tests.worked_example import AS_OF, SNAPSHOT_DATES, staging_frames

D0, D1, D2 = SNAPSHOT_DATES
HISTORY = [SILVER_KEY, MONTH_END_KEY]  # the one `dbt build` of the daily models

# Real upstream dumps carry no primary key, so duplicates can reach silver's input.
_SNAPSHOTS_WITHOUT_PK = sa.Table(
    "tenant_daily_snapshots",
    sa.MetaData(),
    *[sa.Column(c.name, c.type) for c in STAGING_TABLES["tenant_daily_snapshots"].columns],
)


def _edge_case_frames() -> dict[str, pd.DataFrame]:
    frames = staging_frames()
    snaps = frames["tenant_daily_snapshots"]
    # an old dump without moving_id: falls back to tenants.moving_id
    snaps.loc[(snaps.tenant_id == 1) & (snaps.snapshot_date == pd.Timestamp(D0)), "moving_id"] = pd.NA
    # tenant 3 re-signed for the same room as contract 8: the dump of D2 lists both contracts
    movings = frames["movings"]
    resigned = movings[movings.id == 3].assign(id=8, rent=57_000)
    frames["movings"] = pd.concat([movings, resigned], ignore_index=True)
    duplicate = snaps[(snaps.tenant_id == 3) & (snaps.snapshot_date == pd.Timestamp(D2))].assign(moving_id=8)
    frames["tenant_daily_snapshots"] = pd.concat([snaps, duplicate], ignore_index=True).astype({"moving_id": "Int64"})
    return frames


@pytest.fixture(scope="module", params=["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)])
def built(request, tmp_path_factory):
    if request.param == "duckdb":
        url, prefix = f"duckdb:///{tmp_path_factory.mktemp('silver') / 'w.duckdb'}", ""
    else:
        url, prefix = request.getfixturevalue("mysql_url"), f"t{uuid.uuid4().hex[:8]}_"
    wh = Warehouse(url, prefix)
    tables = {**STAGING_TABLES, "tenant_daily_snapshots": _SNAPSHOTS_WITHOUT_PK}
    wh.replace_tables("staging", tables, _edge_case_frames())
    settings = make_settings(url, prefix)
    defs = build_definitions(settings)
    instance = DagsterInstance.ephemeral()
    assert run_assets(defs, instance, SEED_KEYS, D0).success
    assert run_assets(defs, instance, HISTORY, D0, AS_OF).success
    yield wh, defs, instance
    if prefix:
        wh.drop_schemas()


def _silver(wh: Warehouse) -> pd.DataFrame:
    return wh.read_sql(
        "SELECT snapshot_date, tenant_id, apartment_id, room_id, moving_id, rent_jpy, is_room_primary, loaded_at "
        "FROM {silver}.tenant_room_snapshot_daily ORDER BY snapshot_date, tenant_id"
    )


def test_old_dump_without_moving_id_uses_the_tenants_contract(built):
    wh, *_ = built
    rows = _silver(wh)
    t1 = rows[(rows.tenant_id == 1) & (pd.to_datetime(rows.snapshot_date) == pd.Timestamp(D0))]
    assert [(int(r.moving_id), int(r.room_id), int(r.is_room_primary)) for r in t1.itertuples()] == [(1, 101, 1)]


def test_duplicate_input_rows_collapse_to_the_highest_contract(built):
    wh, *_ = built
    rows = _silver(wh)
    t3 = rows[(rows.tenant_id == 3) & (pd.to_datetime(rows.snapshot_date) == pd.Timestamp(D2))]
    assert [(int(r.moving_id), int(r.rent_jpy), int(r.is_room_primary)) for r in t3.itertuples()] == [(8, 57_000, 1)]
    assert not rows.duplicated(["snapshot_date", "tenant_id", "apartment_id", "room_id"]).any()
    assert len(rows) == 12  # the worked example's 12 rows, nothing added


def test_a_window_run_leaves_other_dates_untouched(built):
    wh, defs, instance = built
    before = _silver(wh)
    time.sleep(1.1)  # MySQL DATETIME has whole seconds
    assert run_assets(defs, instance, HISTORY, D1).success
    after = _silver(wh)
    is_d1 = pd.to_datetime(after.snapshot_date) == pd.Timestamp(D1)
    pd.testing.assert_frame_equal(after[~is_d1], before[~is_d1])
    assert (after[is_d1].loaded_at.reset_index(drop=True) > before[is_d1].loaded_at.reset_index(drop=True)).all()
    pd.testing.assert_frame_equal(
        after.drop(columns="loaded_at").reset_index(drop=True), before.drop(columns="loaded_at").reset_index(drop=True)
    )


def test_a_failed_window_rebuild_keeps_the_previous_rows(built):
    """Delete and insert share one transaction: a rebuild that fails half-way leaves nothing half-written."""
    wh, defs, instance = built
    before = _silver(wh)
    with wh.begin() as conn:  # break staging so the insert fails after the window delete
        conn.execute(wh.render("ALTER TABLE {staging}.rooms RENAME COLUMN room_number TO room_label"))
    try:
        assert not run_assets(defs, instance, HISTORY, D0, AS_OF).success
        pd.testing.assert_frame_equal(_silver(wh), before)
    finally:
        with wh.begin() as conn:
            conn.execute(wh.render("ALTER TABLE {staging}.rooms RENAME COLUMN room_label TO room_number"))
