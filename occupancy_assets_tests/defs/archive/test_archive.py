"""Monthly archive of silver to Parquet and its restore (SPEC 10), on DuckDB and MariaDB, to a local
folder and to a real S3 API served locally (moto in server mode).

A demo portfolio of 15 months (2025-09-01 .. 2026-11-27, 60 rooms) is built through the pipeline
once per warehouse. With a 12-month retention on 2026-11-27, 2025-09 and 2025-10 are archivable.
"""

import argparse
import dataclasses
import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, build_schedule_context

from occupancy_assets.cli import main as cli
from occupancy_assets.cli.launch import run_daily_job
from occupancy_assets.cli.status import collect_status, format_status
from occupancy_assets.definitions import build_definitions
from occupancy_assets.defs.archive import operations
from occupancy_assets.defs.archive.assets import (
    ARCHIVE_JOB,
    ARCHIVE_OP,
    ARCHIVE_SCHEDULE,
    archive_store_resource,
    months_due,
)
from occupancy_assets.defs.archive.content import content_checksum, table_fingerprint
from occupancy_assets.defs.archive.months import (
    KEY_COLUMNS,
    ArchiveError,
    ArchiveVerificationError,
    RetentionError,
    check_archivable,
    month_bounds,
    parse_month,
    retention_start,
)
from occupancy_assets.defs.archive.runs import run_archive, run_restore
from occupancy_assets.defs.archive.storage import LocalArchiveStore, object_key
from occupancy_assets.demo.portfolio import generate_portfolio
from occupancy_assets.lib.archive_manifest import MANIFEST_TABLE, archived_months
from occupancy_assets.lib.resources import warehouse_resource
from occupancy_assets.lib.settings import TOKYO, retention_months_needed
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import load_staging, make_settings

HISTORY_START = dt.date(2025, 9, 1)
TODAY = dt.date(2026, 11, 27)
ROOMS = 60
OLD_MONTHS = ["2025-09", "2025-10"]
RETAINED_START = dt.date(2025, 11, 1)
BUCKET = "occupancy-archive"


# -- pure functions ------------------------------------------------------------------------------


def test_retention_keeps_the_current_month_and_the_twelve_before_it():
    assert retention_start(TODAY, 12) == dt.date(2025, 11, 1)
    check_archivable("2025-10", TODAY, 12)
    refused = r"inside the retention of 12 months .* newest month that can be archived is 2025-10"
    with pytest.raises(RetentionError, match=refused):
        check_archivable("2025-11", TODAY, 12)
    assert retention_start(dt.date(2026, 12, 1), 12) == dt.date(2025, 12, 1)
    assert month_bounds("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))


def test_the_shortest_allowed_retention_keeps_everything_the_forecast_reads():
    """After archiving, the forecast's figures must not move: every day its daily run reads
    (learn_days + forward_days back from today) stays in silver, on every day of the year."""
    for learn, forward in [(180, 90), (180, 0), (30, 365), (1, 1)]:
        months = retention_months_needed(learn, forward)
        for offset in range(0, 731):
            today = dt.date(2026, 1, 1) + dt.timedelta(days=offset)
            assert retention_start(today, months) <= today - dt.timedelta(days=learn + forward), (learn, forward, today)
    with pytest.raises(ArchiveError, match="YYYY-MM"):
        parse_month("2025-13")


def test_object_path_is_per_month_and_per_schema_prefix():
    assert object_key("", "2025-10") == "silver/tenant_room_snapshot_daily/month=2025-10/part-0.parquet"
    assert object_key("ci7_", "2025-10").startswith("ci7_silver/")


def test_checksum_sees_what_per_column_sums_cannot():
    schema = pa.schema([("snapshot_date", pa.date32()), ("tenant_id", pa.int64()), ("apartment_id", pa.int64()),
                        ("room_id", pa.int64()), ("rent_jpy", pa.int64()), ("tenant_name", pa.string())])
    day = dt.date(2025, 10, 1)
    key = {"snapshot_date": day, "apartment_id": 1}
    rows = pa.Table.from_pylist([
        {**key, "tenant_id": 1, "room_id": 101, "rent_jpy": 50_000, "tenant_name": "a"},
        {**key, "tenant_id": 2, "room_id": 102, "rent_jpy": 60_000, "tenant_name": None},
    ], schema=schema)
    swapped = rows.set_column(4, "rent_jpy", pa.array([60_000, 50_000], pa.int64()))
    empty_name = rows.set_column(5, "tenant_name", pa.array(["a", ""], pa.string()))
    assert table_fingerprint(rows) == table_fingerprint(swapped)  # same sums and counts
    assert content_checksum(rows) != content_checksum(swapped)
    assert content_checksum(rows) != content_checksum(empty_name)  # NULL is not ''
    assert content_checksum(rows) == content_checksum(rows.take([1, 0]))  # order-free


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    """ENOSPC while the object is copied into the archive folder (issue 18: `.partial` Parquet files
    were left behind): the error reaches the caller, and the folder holds nothing of it."""
    import errno
    import shutil

    source = tmp_path / "month.parquet"
    source.write_bytes(b"x" * 1000)
    store = LocalArchiveStore(tmp_path / "archive")

    def disk_full(src, dst, **kwargs):
        Path(dst).write_bytes(b"x" * 10)  # part of it landed
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.put(source, object_key("", "2025-10"))
    assert [p for p in (tmp_path / "archive").rglob("*") if p.is_file()] == []


# -- fixtures ------------------------------------------------------------------------------------


@dataclass
class Portfolio:
    wh: Warehouse
    settings: object
    defs: object
    instance: DagsterInstance
    tmp: Path


@pytest.fixture(scope="module", params=["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)])
def portfolio(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("archive")
    if request.param == "duckdb":
        url, prefix = f"duckdb:///{tmp / 'warehouse.duckdb'}", ""
    else:
        url, prefix = request.getfixturevalue("mysql_url"), f"t{uuid.uuid4().hex[:8]}_"
    wh = Warehouse(url, prefix)
    load_staging(wh, generate_portfolio(rooms=ROOMS, seed=12, history_start=HISTORY_START, today=TODAY))
    settings = make_settings(url, prefix, history_start=HISTORY_START, forward_days=30,
                             archive_dir=str(tmp / "archive"), retention_months=12)
    defs = build_definitions(settings)
    instance = DagsterInstance.ephemeral()
    outcome = run_daily_job(defs, instance, wh, HISTORY_START, TODAY, say=lambda _: None)
    assert outcome.success, outcome.describe()
    yield Portfolio(wh, settings, defs, instance, tmp)
    if prefix:
        wh.drop_schemas()


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3 API on a free 127.0.0.1 port (moto server), with throwaway credentials."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# -- helpers -------------------------------------------------------------------------------------


def _silver(wh) -> pd.DataFrame:
    frame = wh.read_sql("SELECT * FROM {silver}.tenant_room_snapshot_daily")
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    # value by value: astype(str) formats a timestamp column as a whole (".402" or ".402000",
    # by whichever other rows are in it), which failed a restore comparison now and then
    frame["loaded_at"] = pd.to_datetime(frame["loaded_at"]).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    return frame.astype(str).sort_values(list(KEY_COLUMNS)).reset_index(drop=True)


def _in_months(frame: pd.DataFrame, months) -> pd.Series:
    return frame["snapshot_date"].str[:7].isin(months)


def _gold(wh) -> dict[str, pd.DataFrame]:
    """Both gold tables without their write timestamps, sorted by date (the KPI table's date key is
    snapshot_date today and as_of_date after the SPEC 6 rename: whichever exists)."""
    out = {}
    for name in ("kpi_month_end_metrics", "occupancy_daily_metrics"):
        frame = wh.read_sql(f"SELECT * FROM {{gold}}.{name}")
        frame = frame.drop(columns=[c for c in ("generated_at", "updated_at") if c in frame])
        key = "as_of_date" if "as_of_date" in frame else "snapshot_date"
        out[name] = frame.astype(str).sort_values(key).reset_index(drop=True)
    return out


def _first_applications(wh) -> pd.DataFrame:
    frame = wh.read_sql(
        "SELECT tenant_id, apartment_id, room_id, first_application_date FROM {silver}.first_application_dates"
    )
    return frame.astype(str).sort_values(["tenant_id", "apartment_id", "room_id"]).reset_index(drop=True)


def _schedule_tick(defs, settings, instance, day: dt.date):
    schedule = defs.resolve_schedule_def(ARCHIVE_SCHEDULE)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 9 2 * *", "Asia/Tokyo")
    at_nine = dt.datetime.combine(day, dt.time(9, 0), tzinfo=TOKYO)
    # the repository resolves the partitioned job's run requests
    with build_schedule_context(
        instance=instance, scheduled_execution_time=at_nine, repository_def=defs.get_repository_def(),
        resources={"warehouse": warehouse_resource(settings)},
    ) as context:
        return schedule.evaluate_tick(context)


def _manifest(wh) -> pd.DataFrame:
    return archived_months(wh)


def _fail_verification(*args, **kwargs):
    raise ArchiveVerificationError("injected: the read-back does not match (test)")


def _run_ok(runs):
    assert all(run.success for run in runs), [run.describe() for run in runs]
    return runs


# -- the local folder ----------------------------------------------------------------------------


def test_archive_to_a_local_folder_keeps_gold_and_restores_exactly(portfolio, monkeypatch, tmp_path, capsys):
    wh, settings, defs, instance = portfolio.wh, portfolio.settings, portfolio.defs, portfolio.instance
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    silver_before, gold_before, firsts_before = _silver(wh), _gold(wh), _first_applications(wh)
    old = _in_months(silver_before, OLD_MONTHS)
    assert old.sum() > 0 and (~old).sum() > 0
    partition_keys = defs.resolve_job_def(ARCHIVE_JOB).partitions_def.get_partition_keys()
    assert months_due(wh, settings, TODAY, partition_keys) == OLD_MONTHS
    # the monthly schedule's tick (2nd, 09:00 JST) requests one run per month due
    tick = _schedule_tick(defs, settings, instance, dt.date(2026, 11, 2))
    assert [(r.partition_key, r.run_config["ops"][ARCHIVE_OP]["config"]["today"]) for r in tick.run_requests] == [
        ("2025-09", "2026-11-02"), ("2025-10", "2026-11-02")]

    # the test means something: pairs whose first application is in an archived month apply again later
    carried = wh.read_sql(
        "SELECT COUNT(*) AS n FROM {silver}.first_application_dates AS f WHERE f.first_application_date < :cut "
        "AND EXISTS (SELECT 1 FROM {silver}.tenant_room_snapshot_daily AS s WHERE s.tenant_id = f.tenant_id "
        "AND s.apartment_id = f.apartment_id AND s.room_id = f.room_id AND s.management_status_code IN (4, 5) "
        "AND s.snapshot_date >= :cut)",
        {"cut": RETAINED_START},
    )["n"].iloc[0]
    assert carried > 0, "no pair carries an application over the archive boundary: the gold comparison proves nothing"

    # a month inside the retention is refused, naming the retention; nothing changes
    [refused] = run_archive(defs, instance, ["2026-06"], today=TODAY)
    assert not refused.success
    assert "inside the retention of 12 months" in refused.message and "2025-10" in refused.message
    assert cli.cmd_archive(argparse.Namespace(month="2026-11", today=TODAY), settings) == 1  # not even a partition yet
    assert "inside the retention of 12 months" in capsys.readouterr().out

    # a crash between write and delete (verification fails): the object was written, nothing deleted
    with monkeypatch.context() as patch:
        patch.setattr(operations, "verify_archive", _fail_verification)
        [crashed] = run_archive(defs, instance, ["2025-09"], today=TODAY)
    assert not crashed.success and "injected" in crashed.message
    store = LocalArchiveStore(settings.archive_dir)
    assert store.size(object_key(wh.schema_prefix, "2025-09"))  # written ...
    pd.testing.assert_frame_equal(_silver(wh), silver_before)  # ... but silver untouched
    assert _manifest(wh).empty

    # archive the months due, through the same job the schedule runs
    runs = _run_ok(run_archive(defs, instance, months_due(wh, settings, TODAY, partition_keys), today=TODAY))
    for run, month in zip(runs, OLD_MONTHS):
        meta = run.metadata
        expected_rows = int(_in_months(silver_before, [month]).sum())
        assert (meta["action"], meta["rows_archived"], meta["deleted_rows"]) == (
            "archived", expected_rows, expected_rows)
        assert meta["object_uri"].endswith(f"month={month}/part-0.parquet") and meta["object_bytes"] > 0
        assert meta["checksum"].startswith("sha256:")
        assert pq.read_metadata(meta["object_uri"]).num_rows == expected_rows
    pd.testing.assert_frame_equal(_silver(wh), silver_before[~old].reset_index(drop=True))  # exactly those rows gone
    assert list(_manifest(wh)["month"]) == OLD_MONTHS

    # re-running an archived month is a no-op that says so (through the CLI)
    assert cli.cmd_archive(argparse.Namespace(month="2025-09", today=TODAY), settings) == 0
    assert "already archived" in capsys.readouterr().out
    # status lists the archived months
    report = collect_status(wh, settings, today=TODAY)
    assert "archive       2 month(s) archived" in format_status(report)
    assert list(report.archived_months["state"]) == ["archived", "archived"]

    # a run reaching into an archived month is refused before anything is written (issue 18: it
    # rebuilt part of the month from staging, and every later run failed `coverage`) ...
    inside = run_daily_job(defs, instance, wh, dt.date(2025, 10, 10), dt.date(2025, 10, 12), say=lambda _: None)
    assert not inside.success
    error = " ".join(inside.errors)
    assert "reaches into archived month(s) 2025-10" in error and "occupancy-kpi restore --month 2025-10" in error, error
    pd.testing.assert_frame_equal(_silver(wh), silver_before[~old].reset_index(drop=True))
    # ... and by the CLI before it launches anything, exit 2
    assert cli.cmd_backfill(argparse.Namespace(start=dt.date(2025, 10, 10), end=dt.date(2025, 10, 12)), settings) == 2
    assert "backfill: refused - 2025-10-10 .. 2025-10-12 reaches into archived month(s) 2025-10" in capsys.readouterr().out

    # a backfill without --start starts after the archived months; gold for every retained date is
    # identical after recomputing it from the archived silver, and coverage knows the archived dates
    assert cli.cmd_backfill(argparse.Namespace(start=None, end=TODAY), settings) == 0
    assert f"backfill {RETAINED_START} .. {TODAY}" in capsys.readouterr().out
    for name, frame in _gold(wh).items():
        pd.testing.assert_frame_equal(frame, gold_before[name], obj=name)
    pd.testing.assert_frame_equal(_first_applications(wh), firsts_before)

    # restore brings back identical rows (loaded_at included)
    for month in OLD_MONTHS:
        [restored] = [run_restore(defs, instance, month)]
        assert restored.success, restored.describe()
        assert restored.metadata["action"] == "restored"
        assert restored.metadata["rows_restored"] == int(_in_months(silver_before, [month]).sum())
    silver_after = _silver(wh)
    pd.testing.assert_frame_equal(
        silver_after[_in_months(silver_after, OLD_MONTHS)].reset_index(drop=True),
        silver_before[old].reset_index(drop=True),
    )
    assert list(_manifest(wh)["state"]) == ["restored", "restored"]

    # ... and the restored months rebuild to the same silver and gold
    outcome = run_daily_job(defs, instance, wh, HISTORY_START, dt.date(2025, 10, 31), say=lambda _: None)
    assert outcome.success, outcome.describe()
    for name, frame in _gold(wh).items():
        pd.testing.assert_frame_equal(frame, gold_before[name], obj=name)
    without_load = lambda f: f.drop(columns="loaded_at")  # noqa: E731
    pd.testing.assert_frame_equal(without_load(_silver(wh)), without_load(silver_before))


# -- S3 (a local moto server) ------------------------------------------------------------------------


def test_archive_to_s3_and_restore(portfolio, s3_endpoint, monkeypatch):
    """Same contract against the S3 API. Starts as a fresh S3 deployment over the same warehouse
    (the local test restored every month; its manifest is dropped)."""
    wh, instance = portfolio.wh, portfolio.instance
    with wh.begin() as conn:
        conn.execute(wh.render(f"DROP TABLE IF EXISTS {{silver}}.{MANIFEST_TABLE}"))
    prefix = f"ci-{uuid.uuid4().hex[:6]}/archive"
    settings = dataclasses.replace(portfolio.settings, archive_s3_bucket=BUCKET, archive_s3_prefix=prefix,
                                   archive_s3_endpoint_url=s3_endpoint, aws_region="us-east-1")
    defs = build_definitions(settings)
    client = archive_store_resource(settings).store().client
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    silver_before = _silver(wh)
    old = _in_months(silver_before, OLD_MONTHS)
    assert old.sum() > 0

    with monkeypatch.context() as patch:
        patch.setattr(operations, "verify_archive", _fail_verification)
        [crashed] = run_archive(defs, instance, ["2025-10"], today=TODAY)
    assert not crashed.success
    pd.testing.assert_frame_equal(_silver(wh), silver_before)

    runs = _run_ok(run_archive(defs, instance, OLD_MONTHS, today=TODAY))
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [f"{prefix}/{object_key(wh.schema_prefix, m)}" for m in OLD_MONTHS]
    for run, month in zip(runs, OLD_MONTHS):
        assert run.metadata["object_uri"] == f"s3://{BUCKET}/{prefix}/{object_key(wh.schema_prefix, month)}"
        assert run.metadata["deleted_rows"] == int(_in_months(silver_before, [month]).sum())
    pd.testing.assert_frame_equal(_silver(wh), silver_before[~old].reset_index(drop=True))

    [again] = _run_ok(run_archive(defs, instance, ["2025-10"], today=TODAY))
    assert again.metadata["action"] == "already_archived" and "already archived" in again.message

    for month in OLD_MONTHS:
        restored = run_restore(defs, instance, month)
        assert restored.success, restored.describe()
    pd.testing.assert_frame_equal(_silver(wh), silver_before)
