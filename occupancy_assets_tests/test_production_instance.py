"""The production Dagster instance (deploy/dagster.yaml) on a real PostgreSQL server.

An instance is built from the file itself (storage from the DAGSTER_PG_* variables, a database of
its own per test run), the daily job runs through it as the CLI runs it (a backfill range, then the
daily run of one partition, against a small DuckDB warehouse: SPEC 12's worked example), and a
fresh instance object built from the same file reads the runs, the materializations and the check
results back from PostgreSQL.

Skips when no PostgreSQL server answers; fails instead when CI=true (`.ci/run` starts it).
Point it elsewhere with OCCUPANCY_TEST_PG_HOST / OCCUPANCY_TEST_PG_PORT / OCCUPANCY_TEST_PG_USER.
"""

from __future__ import annotations

import os
import shutil
import uuid

import psycopg2  # installed with dagster-postgres
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from occupancy_assets.cli.launch import run_daily_job
from occupancy_assets.cli.status import latest_check_problems
from occupancy_assets.definitions import build_definitions
from occupancy_assets.lib.names import DAILY_JOB, OCCUPANCY_KEY, SEED_KEYS, SILVER_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.partitions import partition_key
from occupancy_assets.lib.settings import REPO_ROOT
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import IN_CI, load_staging, make_settings
from occupancy_assets_tests.worked_example import AS_OF, SNAPSHOT_DATES, staging_frames

DEPLOY_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
PG_HOST = os.environ.get("OCCUPANCY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("OCCUPANCY_TEST_PG_PORT", "5432"))
PG_USERS = [os.environ["OCCUPANCY_TEST_PG_USER"]] if os.environ.get("OCCUPANCY_TEST_PG_USER") else ["postgres", "root"]


def _admin_connection():
    """(connection to the `postgres` database, user) or (None, reason)."""
    errors = []
    for user in PG_USERS:
        try:
            conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="postgres", connect_timeout=5)
        except psycopg2.OperationalError as err:
            errors.append(f"{user}: {str(err).strip()}")
            continue
        conn.autocommit = True
        return conn, user
    return None, f"no PostgreSQL server at {PG_HOST}:{PG_PORT} ({'; '.join(errors)})"


@pytest.fixture(scope="module")
def pg_database():
    """A database of its own on the PostgreSQL server, dropped at the end: (host, port, user, db)."""
    admin, user = _admin_connection()
    if admin is None:
        if IN_CI:
            pytest.fail(f"CI=true requires the PostgreSQL instance test to run, but {user}")
        pytest.skip(user)
    name = f"occ_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_HOST, PG_PORT, user, name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def production_home(pg_database, tmp_path, monkeypatch):
    """A $DAGSTER_HOME holding deploy/dagster.yaml unchanged, its variables pointing at the test database."""
    host, port, user, db = pg_database
    for key, value in {"HOST": host, "PORT": str(port), "USERNAME": user, "PASSWORD": "", "DB": db}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{key}", value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _pg_rows(pg_database, sql: str) -> list[tuple]:
    host, port, user, db = pg_database
    with psycopg2.connect(host=host, port=port, user=user, dbname=db, connect_timeout=5) as conn:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()


def test_the_instance_has_the_production_settings(production_home):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(production_home))) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        # the run queue with the warehouse pool, exactly as the local dagster.yaml has it
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        pools = instance.get_concurrency_config().pool_config
        assert (pools.pool_granularity.value, pools.default_pool_limit) == ("run", 1)
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure  # a failed check is not retried


def test_daily_and_backfill_runs_are_read_back_from_postgres(pg_database, production_home, tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    load_staging(wh, staging_frames())
    settings = make_settings(wh.url.render_as_string(hide_password=False))
    defs = build_definitions(settings)
    said = []

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(production_home))) as instance:
        backfill = run_daily_job(defs, instance, wh, SNAPSHOT_DATES[0], SNAPSHOT_DATES[1], say=said.append)
        assert backfill.success, backfill.describe()
        daily = run_daily_job(defs, instance, wh, AS_OF, AS_OF, say=said.append)
        assert daily.success, daily.describe()
    assert said == []  # nothing held the pool

    # A new instance object from the same file: everything below comes from PostgreSQL.
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(production_home))) as fresh:
        runs = {run.run_id: run for run in fresh.get_runs(filters=RunsFilter(job_name=DAILY_JOB))}
        assert set(runs) == {backfill.run_id, daily.run_id}
        for run in runs.values():
            assert run.status == DagsterRunStatus.SUCCESS
            assert WAREHOUSE_POOL in run.run_op_concurrency.all_pools  # what the CLI and the queue wait on
        assert runs[backfill.run_id].tags[ASSET_PARTITION_RANGE_START_TAG] == partition_key(SNAPSHOT_DATES[0])
        assert runs[backfill.run_id].tags[ASSET_PARTITION_RANGE_END_TAG] == partition_key(SNAPSHOT_DATES[1])
        assert runs[daily.run_id].tags[PARTITION_NAME_TAG] == partition_key(AS_OF)
        assert [r.run_id for r in fresh.get_runs(filters=RunsFilter(tags={PARTITION_NAME_TAG: partition_key(AS_OF)}))] == [
            daily.run_id
        ]  # how the sensor and the schedule find "a run of T already exists"

        # materializations per partition: the backfill wrote the range, the daily run AS_OF
        for key in (SILVER_KEY, OCCUPANCY_KEY):
            partitions = {
                record.partition_key: record.run_id
                for record in fresh.fetch_materializations(key, limit=100).records
            }
            assert partitions == {
                partition_key(SNAPSHOT_DATES[0]): backfill.run_id,
                partition_key(SNAPSHOT_DATES[1]): backfill.run_id,
                partition_key(AS_OF): daily.run_id,
            }, key
        # the seeds were loaded by the backfill only: the daily run found their materialization
        # (and code version) in PostgreSQL and left them out
        for key in SEED_KEYS:
            seeded = fresh.fetch_materializations(key, limit=10).records
            assert [record.run_id for record in seeded] == [backfill.run_id], key

        # check results: the daily run's evaluations, as stored, and the latest execution per check
        evaluations = {
            record.dagster_event.event_specific_data.asset_check_key: record.dagster_event.event_specific_data
            for record in fresh.all_logs(daily.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        }
        assert len(evaluations) >= 10
        blocking_failed = [key for key, e in evaluations.items() if not e.passed and e.severity.value == "ERROR"]
        assert blocking_failed == [] == daily.failed_checks
        assert sorted(k.to_user_string() for k, e in evaluations.items() if not e.passed) == sorted(daily.warnings)
        latest = fresh.event_log_storage.get_latest_asset_check_execution_by_key(list(evaluations))
        assert set(latest) == set(evaluations)
        for key, record in latest.items():
            assert record.run_id == daily.run_id, key
            expected = AssetCheckExecutionRecordStatus.SUCCEEDED if evaluations[key].passed else AssetCheckExecutionRecordStatus.FAILED
            assert record.status == expected, key
        # `occupancy-kpi status` reads its "failed checks" the same way: only the warnings show
        _, problems = latest_check_problems(fresh, list(evaluations), settings)
        assert {p.severity for p in problems} <= {"WARN"}
        assert OCCUPANCY_KEY in {key.asset_key for key in evaluations}

    # and they are rows in the test's own PostgreSQL database
    stored = dict(_pg_rows(pg_database, "SELECT run_id, status FROM runs"))
    assert stored == {backfill.run_id: "SUCCESS", daily.run_id: "SUCCESS"}
    evaluated = _pg_rows(
        pg_database,
        "SELECT check_name, execution_status FROM asset_check_executions "
        f"WHERE run_id = '{daily.run_id}' AND execution_status <> 'PLANNED'",
    )
    assert sorted(evaluated) == sorted(
        (key.name, "SUCCEEDED" if e.passed else "FAILED") for key, e in evaluations.items()
    )


def test_the_cli_uses_the_production_instance(production_home):
    """`occupancy-kpi` in a production image: the CLI keeps $DAGSTER_HOME/dagster.yaml (deploy's,
    even when the repo's local dagster.yaml is newer) and records its runs in PostgreSQL."""
    from dagster_postgres import PostgresRunStorage

    from occupancy_assets.cli import main as cli

    config = production_home / "dagster.yaml"
    os.utime(config, (0, 0))
    instance = cli._instance()
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
    finally:
        instance.dispose()
    assert config.read_text() == DEPLOY_YAML.read_text()
