"""Fixtures: small warehouses, built fast, on DuckDB (a temp file) and on the real MariaDB server.

MySQL tests skip locally when no server answers, and fail when CI=true (CI must run them).
Point them elsewhere with OCCUPANCY_TEST_MYSQL_URL (default root@127.0.0.1:3306).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster._core.instance.ref import InstanceRef

from occupancy_assets.defs.staging.tables import STAGING_TABLES
from occupancy_assets.lib.settings import LAYERS, Settings
from occupancy_assets.lib.warehouse import Warehouse

MYSQL_URL = os.environ.get("OCCUPANCY_TEST_MYSQL_URL", "mysql+pymysql://root:@127.0.0.1:3306/")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_sessionstart(session):
    # dagster-dbt needs a parsed manifest to build the dbt assets; `make test` prepares it,
    # this covers a bare `pytest` after editing a model.
    from occupancy_assets.lib.dbt_project import dbt_project

    if not dbt_project.manifest_path.exists():
        dbt_project.preparer.prepare(dbt_project)


def _mysql_unavailable_reason() -> str | None:
    try:
        with sa.create_engine(MYSQL_URL, poolclass=sa.pool.NullPool).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure means "no server here"
        return f"no MySQL/MariaDB server at {sa.engine.make_url(MYSQL_URL).render_as_string(hide_password=True)}: {err}"
    return None


@pytest.fixture(scope="session")
def mysql_url() -> str:
    reason = _mysql_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires the MySQL tests to run, but {reason}")
        pytest.skip(reason)
    return MYSQL_URL


def make_settings(url: str, prefix: str = "", **overrides) -> Settings:
    values = dict(
        warehouse_url=url,
        history_start=dt.date(2026, 1, 30),
        forward_days=3,
        lookback_days=3,
        schema_prefix=prefix,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(params=["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def warehouse_url(backend, tmp_path, request) -> tuple[str, str]:
    """(url, schema prefix) of an empty warehouse of the parametrized backend."""
    if backend == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}", ""
        return
    url = request.getfixturevalue("mysql_url")
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    yield url, prefix
    Warehouse(url, prefix).drop_schemas()


@pytest.fixture
def empty_warehouse(warehouse_url) -> Warehouse:
    url, prefix = warehouse_url
    return Warehouse(url, prefix)


def load_staging(wh: Warehouse, frames) -> None:
    wh.replace_tables("staging", STAGING_TABLES, frames)


def copy_warehouse(source: Warehouse, new_prefix: str, tmp_dir) -> Warehouse:
    """A copy of a built warehouse: the DuckDB file, or on MySQL every table of the prefix's
    databases under a new prefix (CREATE TABLE LIKE keeps the indexes)."""
    if source.dialect == "duckdb":
        target = Path(tmp_dir) / "warehouse.duckdb"
        shutil.copyfile(source.duckdb_path, target)
        return Warehouse(f"duckdb:///{target}", "")
    copy = Warehouse(source.url, new_prefix)
    copy.ensure_schemas()
    with source.engine.begin() as conn:
        for layer in LAYERS:
            tables = conn.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": source.schema(layer)},
            ).scalars().all()
            for table in tables:
                old, new = f"`{source.schema(layer)}`.`{table}`", f"`{copy.schema(layer)}`.`{table}`"
                conn.execute(sa.text(f"CREATE TABLE {new} LIKE {old}"))
                conn.execute(sa.text(f"INSERT INTO {new} SELECT * FROM {old}"))
    return copy


@pytest.fixture(scope="session", params=["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)])
def built_example(request, tmp_path_factory):
    """SPEC 12's worked example in staging, and the daily job backfilled over it once per test
    session and backend (dbt starts as few times as possible); modules get copies."""
    from dagster import DagsterInstance

    from occupancy_assets.cli.launch import run_daily_job
    from occupancy_assets.definitions import build_definitions
    from occupancy_assets_tests.worked_example import AS_OF, SNAPSHOT_DATES, staging_frames

    home = tmp_path_factory.mktemp("example-instance")
    if request.param == "duckdb":
        url, prefix = f"duckdb:///{tmp_path_factory.mktemp('example') / 'warehouse.duckdb'}", ""
    else:
        url, prefix = request.getfixturevalue("mysql_url"), f"t{uuid.uuid4().hex[:8]}_"
    wh = Warehouse(url, prefix)
    load_staging(wh, staging_frames())
    settings = make_settings(url, prefix)
    with DagsterInstance.local_temp(str(home)) as instance:
        outcome = run_daily_job(build_definitions(settings), instance, wh, SNAPSHOT_DATES[0], AS_OF, say=lambda _: None)
        assert outcome.success, outcome.describe()
    yield wh, home
    if prefix:
        wh.drop_schemas()


@pytest.fixture(scope="module")
def example_warehouse(built_example, tmp_path_factory):
    """A module's own copy of the built worked example: (warehouse, settings, definitions, instance),
    the instance holding the build's run (its check results)."""
    from dagster import DagsterInstance

    from occupancy_assets.definitions import build_definitions

    source, home = built_example
    tmp = tmp_path_factory.mktemp("example-copy")
    wh = copy_warehouse(source, f"t{uuid.uuid4().hex[:8]}_" if source.dialect == "mysql" else "", tmp)
    shutil.copytree(home, tmp / "instance")
    settings = make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix)
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp / "instance"))) as instance:
        yield wh, settings, build_definitions(settings), instance
    if wh.schema_prefix:
        wh.drop_schemas()
