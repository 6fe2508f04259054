"""silver.first_application_dates (dbt, maintained by the silver run over its window), on DuckDB and
MariaDB: it holds each tenant-room pair's first status-4/5 date, re-running a window changes nothing,
and a window rebuilt with different data moves a first date exactly as a scan of silver would."""

import uuid

import pandas as pd
import pytest
from dagster import DagsterInstance

from occupancy_assets.definitions import build_definitions
from occupancy_assets.lib.names import FIRST_APPLICATION_KEY, MONTH_END_KEY, SEED_KEYS, SILVER_KEY
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import load_staging, make_settings
from occupancy_assets_tests.helpers import run_assets
from occupancy_assets_tests.worked_example import AS_OF, SNAPSHOT_DATES, staging_frames

D0, D1, D2 = SNAPSHOT_DATES
HISTORY = [SILVER_KEY, FIRST_APPLICATION_KEY, MONTH_END_KEY]  # the daily dbt build


@pytest.fixture(scope="module", params=["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)])
def built(request, tmp_path_factory):
    if request.param == "duckdb":
        url, prefix = f"duckdb:///{tmp_path_factory.mktemp('firsts') / 'w.duckdb'}", ""
    else:
        url, prefix = request.getfixturevalue("mysql_url"), f"t{uuid.uuid4().hex[:8]}_"
    wh = Warehouse(url, prefix)
    load_staging(wh, staging_frames())
    defs = build_definitions(make_settings(url, prefix))
    instance = DagsterInstance.ephemeral()
    assert run_assets(defs, instance, SEED_KEYS, D0).success
    assert run_assets(defs, instance, HISTORY, D0, AS_OF).success
    yield wh, defs, instance
    if prefix:
        wh.drop_schemas()


def _firsts(wh) -> dict[tuple[int, int, int], object]:
    rows = wh.read_sql("SELECT * FROM {silver}.first_application_dates")
    return {
        (int(r.tenant_id), int(r.apartment_id), int(r.room_id)): pd.Timestamp(r.first_application_date).date()
        for r in rows.itertuples()
    }


def _history(defs, instance, window) -> None:
    outcome = run_assets(defs, instance, HISTORY, *window)
    assert outcome.success, outcome.describe()


def _set_status(wh, tenant: int, day, status: int) -> None:
    with wh.begin() as conn:
        conn.execute(
            wh.render(
                "UPDATE {staging}.tenant_daily_snapshots SET status = :s "
                "WHERE tenant_id = :t AND snapshot_date = :d"
            ),
            {"s": status, "t": tenant, "d": day},
        )


def test_each_pair_keeps_its_first_status_4_or_5_day(built):
    wh, *_ = built
    # T3 (room 102) is 仮予約 on 01-30; T4 (room 103) on 02-01; T6 is cancelled, so never in silver
    assert _firsts(wh) == {(3, 1, 102): D0, (4, 1, 103): D2}


def test_rerunning_windows_changes_nothing(built):
    wh, defs, instance = built
    before = _firsts(wh)
    _history(defs, instance, (D0, D0))  # the window holding T3's first date
    _history(defs, instance, (D1, AS_OF))
    assert _firsts(wh) == before


def test_a_rebuilt_window_moves_a_first_date_later_and_back(built):
    wh, defs, instance = built
    try:
        _set_status(wh, 3, D0, 8)  # corrected dump: T3 was only キャンセル-listed on 01-30
        _history(defs, instance, (D0, D0))
        assert _firsts(wh)[(3, 1, 102)] == D1  # found after the window, in silver's 01-31 row
    finally:
        _set_status(wh, 3, D0, 4)
    _history(defs, instance, (D0, D0))  # the stored later date gives way to the window's earlier one
    assert _firsts(wh) == {(3, 1, 102): D0, (4, 1, 103): D2}
