import pandas as pd
import pytest
import sqlalchemy as sa

from occupancy_assets.defs.staging.tables import STAGING_TABLES
from occupancy_assets.lib.warehouse import DBT_PASSWORD_ENV, Warehouse
from occupancy_assets_tests.conftest import load_staging
from occupancy_assets_tests.worked_example import staging_frames


def test_duckdb_dbt_env_points_at_the_file(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}", "p_")
    assert wh.dbt_env() == {
        "OCCUPANCY_SCHEMA_PREFIX": "p_",
        "OCCUPANCY_DBT_TARGET": "duckdb",
        "OCCUPANCY_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
    }


def test_mysql_dbt_env_keeps_the_password_secret():
    wh = Warehouse("mysql+pymysql://kpi:s3cret@db.example:3307/", "")
    env = wh.dbt_env()
    assert env["OCCUPANCY_DBT_TARGET"] == "mysql"
    assert (env["OCCUPANCY_MYSQL_HOST"], env["OCCUPANCY_MYSQL_PORT"], env["OCCUPANCY_MYSQL_USER"]) == ("db.example", "3307", "kpi")
    # dbt scrubs DBT_ENV_SECRET_* values from its logs; the repr never shows it either
    assert env[DBT_PASSWORD_ENV] == "s3cret" and DBT_PASSWORD_ENV.startswith("DBT_ENV_SECRET_")
    assert "s3cret" not in repr(wh)


def test_unsupported_url_is_a_clear_error():
    with pytest.raises(ValueError, match="unsupported warehouse"):
        Warehouse("sqlite:///x.db")


def test_render_substitutes_only_schema_names():
    wh = Warehouse("duckdb:///:memory:", "t_")
    assert str(wh.render("SELECT * FROM {silver}.x WHERE d = :d")) == 'SELECT * FROM "t_silver".x WHERE d = :d'


EXPECTED_COLUMNS = {
    "tenant_daily_snapshots": ["snapshot_date", "tenant_id", "status", "moving_id", "contract_type", "full_name"],
    "tenants": ["id", "status", "moving_id", "contract_type", "full_name", "last_name", "first_name"],
    "movings": [
        "id", "tenant_id", "apartment_id", "room_id", "movein_date", "original_movein_date", "moveout_date",
        "moveout_plans_date", "moveout_date_integrated", "rent", "cancel_flag", "is_moveout",
        "moving_agreement_type", "created_at", "updated_at",
    ],
    "apartments": ["id", "apartment_name", "prefecture", "municipality", "room_count"],
    "rooms": ["id", "apartment_id", "room_number"],
}


def test_staging_tables_have_the_contract_columns_on_both_warehouses(empty_warehouse):
    wh = empty_warehouse
    frames = staging_frames()
    load_staging(wh, frames)
    schemas = set(wh.read_sql("SELECT schema_name FROM information_schema.schemata").iloc[:, 0])
    assert schemas >= {wh.schema("staging"), wh.schema("silver"), wh.schema("gold")}
    for name, expected in EXPECTED_COLUMNS.items():
        assert wh.columns("staging", name) == expected, name
        assert list(STAGING_TABLES[name].columns.keys()) == expected
    counts = {name: int(wh.read_sql(f"SELECT COUNT(*) AS n FROM {{staging}}.{name}").n[0]) for name in EXPECTED_COLUMNS}
    assert counts == {name: len(frames[name]) for name in EXPECTED_COLUMNS}
    # the primary key (snapshot_date, tenant_id) is enforced
    first = frames["tenant_daily_snapshots"].iloc[0]
    with pytest.raises(sa.exc.IntegrityError):
        with wh.begin() as conn:
            conn.execute(
                wh.render("INSERT INTO {staging}.tenant_daily_snapshots (snapshot_date, tenant_id, status) VALUES (:d, :t, 9)"),
                {"d": first.snapshot_date.date(), "t": int(first.tenant_id)},
            )
    # NULL moving_id survives the bulk load (old dumps fall back to tenants.moving_id)
    with_null = frames["tenant_daily_snapshots"].copy()
    with_null.loc[0, "moving_id"] = pd.NA
    load_staging(wh, {**frames, "tenant_daily_snapshots": with_null})
    nulls = wh.read_sql("SELECT COUNT(*) AS n FROM {staging}.tenant_daily_snapshots WHERE moving_id IS NULL")
    assert int(nulls.n[0]) == 1


def test_schema_prefix_isolates_two_copies(backend, tmp_path, request):
    if backend == "duckdb":
        url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    else:
        url = request.getfixturevalue("mysql_url")
    a, b = Warehouse(url, "pa_"), Warehouse(url, "pb_")
    try:
        frames = staging_frames()
        load_staging(a, frames)
        load_staging(b, {**frames, "rooms": frames["rooms"].head(2)})
        assert int(a.read_sql("SELECT COUNT(*) AS n FROM {staging}.rooms").n[0]) == 4
        assert int(b.read_sql("SELECT COUNT(*) AS n FROM {staging}.rooms").n[0]) == 2
    finally:
        a.drop_schemas()
        b.drop_schemas()


_ROUND_TRIP = sa.Table(
    "round_trip",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("day", sa.Date),
    sa.Column("stamp", sa.DateTime),
    sa.Column("amount", sa.Integer),
    sa.Column("name", sa.String(100)),
    sa.Index("ix_round_trip_day", "day"),
    mysql_charset="utf8mb4",
)


@pytest.mark.parametrize("load_data", [True, False], ids=["load_data", "multirow_insert"])
def test_bulk_load_round_trips_nulls_dates_and_text_exactly(empty_warehouse, load_data, monkeypatch):
    """The MySQL fast path (LOAD DATA LOCAL INFILE, or multi-row INSERTs when the server forbids
    it) and DuckDB's native scan load the same values: NULLs, dates, timestamps, utf8mb4 text and
    the characters the LOAD DATA format escapes (tab, newline, backslash, a literal \\N)."""
    wh = empty_warehouse
    if not load_data:
        if wh.dialect != "mysql":
            pytest.skip("the INSERT fallback is MySQL's")
        monkeypatch.setenv("OCCUPANCY_MYSQL_LOAD_DATA", "0")
    names = ["阿部 さくら", None, "tab\there", "new\nline\r\n", "back\\slash", "\\N", "", "NULL", "🏠 絵文字", "quote ' \" `"]
    frame = pd.DataFrame({
        # unsorted ids: the loader sorts by primary key
        "id": [10, 3, 7, 1, 2, 9, 4, 5, 6, 8],
        "day": pd.to_datetime(["2026-02-01", None, "2025-10-01", "2026-12-31", "2026-01-31",
                               "2026-02-28", None, "2000-01-01", "2026-11-27", "2026-03-01"]),
        "stamp": pd.to_datetime(["2026-02-01 09:30:15", None, "2025-10-01 00:00:00", "2026-12-31 23:59:59",
                                 None, "2026-02-28 12:00:00", "2026-02-28 12:00:01", None,
                                 "2026-11-27 08:00:00", "2026-03-01 00:00:01"]),
        "amount": pd.array([60_000, None, 0, -1, 2_147_483_647, None, 55_000, 1, 2, 3], dtype="Int64"),
        "name": names,
    })
    wh.replace_tables("staging", {"round_trip": _ROUND_TRIP}, {"round_trip": frame})
    back = wh.read_sql("SELECT id, day, stamp, amount, name FROM {staging}.round_trip ORDER BY id")
    expected = frame.sort_values("id", ignore_index=True)
    assert list(back["id"]) == list(expected["id"])
    assert [None if pd.isna(v) else pd.Timestamp(v) for v in back["day"]] == \
        [None if pd.isna(v) else v for v in expected["day"]]
    assert [None if pd.isna(v) else pd.Timestamp(v) for v in back["stamp"]] == \
        [None if pd.isna(v) else v for v in expected["stamp"]]
    assert [None if pd.isna(v) else int(v) for v in back["amount"]] == \
        [None if pd.isna(v) else int(v) for v in expected["amount"]]
    assert list(back["name"]) == list(expected["name"])
    if wh.dialect == "mysql":  # the secondary index is rebuilt after the load
        indexes = wh.read_sql(
            "SELECT DISTINCT index_name FROM information_schema.statistics "
            "WHERE table_schema = :schema AND table_name = 'round_trip'", {"schema": wh.schema("staging")})
        assert set(indexes.iloc[:, 0]) == {"PRIMARY", "ix_round_trip_day"}
