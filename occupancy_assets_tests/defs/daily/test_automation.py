"""The staging sensor and the 08:00 JST schedule (automation.py), driven the way the daemon drives
them: build_*_context against a real warehouse and a Dagster instance, each RunRequest launched as
the daemon would (the daily job, its partition, its asset selection).

Sensor and schedule only read staging, so their request logic runs on both backends; the late-dump
story launches real runs, on DuckDB (the MySQL pipeline path is covered by test_worked_example).
"""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import DagsterInstance, RunRequest, build_schedule_context, build_sensor_context
from dagster._core.storage.tags import PARTITION_NAME_TAG
from dagster._core.test_utils import create_run_for_test

from occupancy_assets.definitions import build_definitions
from occupancy_assets.defs.daily.automation import SCHEDULE_NAME, SENSOR_NAME, build_schedules, build_sensors
from occupancy_assets.defs.daily.job import build_daily_job
from occupancy_assets.lib.names import DAILY_JOB, SEED_KEYS
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import TOKYO, today_jst
from occupancy_assets_tests.conftest import load_staging, make_settings
from occupancy_assets_tests.helpers import add_snapshot
from occupancy_assets_tests.worked_example import AS_OF, staging_frames

D = dt.date.fromisoformat


# -- helpers -----------------------------------------------------------------------------------


def _resources(wh) -> dict:
    return {"warehouse": WarehouseResource(url=wh.url.render_as_string(hide_password=False), schema_prefix=wh.schema_prefix)}


def _defs(wh):
    return build_definitions(make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix))


def sensor_tick(wh, instance, cursor=None):
    defs = _defs(wh)
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    with build_sensor_context(instance=instance, cursor=cursor, resources=_resources(wh), definitions=defs) as context:
        return sensor.evaluate_tick(context)


def schedule_tick(wh, instance, day: dt.date):
    defs = _defs(wh)
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    at_eight = dt.datetime.combine(day, dt.time(8, 0), tzinfo=TOKYO)
    with build_schedule_context(
        instance=instance, scheduled_execution_time=at_eight, resources=_resources(wh),
        repository_def=defs.get_repository_def(),
    ) as context:
        return schedule.evaluate_tick(context)


@pytest.fixture
def instance(tmp_path):
    """A throwaway instance with a ref on disk (schedule contexts need one)."""
    instance = DagsterInstance.local_temp(str(tmp_path))
    yield instance
    instance.dispose()


def record_run(instance, request: RunRequest):
    """What the daemon does with a RunRequest before launching it: a run of the job with its tags."""
    return create_run_for_test(instance, job_name=DAILY_JOB, tags={**request.tags, PARTITION_NAME_TAG: request.partition_key})


def launch(defs, instance, request: RunRequest):
    """Launch a RunRequest as the daemon does: the daily job, the request's partition and selection."""
    result = defs.resolve_job_def(DAILY_JOB).execute_in_process(
        instance=instance, partition_key=request.partition_key, asset_selection=request.asset_selection,
        tags=request.tags, raise_on_error=False,
    )
    assert result.success
    return result


# -- sensor and schedule -------------------------------------------------------------------------


def test_sensor_requests_each_new_dump_once(empty_warehouse, instance):
    wh = empty_warehouse
    tick = sensor_tick(wh, instance)  # no staging table at all
    assert tick.run_requests == [] and "no dump" in tick.skip_message

    load_staging(wh, staging_frames())  # the dump of 2026-02-01 has landed
    tick = sensor_tick(wh, instance)
    (request,) = tick.run_requests
    assert (request.partition_key, request.run_key, tick.cursor) == ("2026-02-01", "2026-02-01", "2026-02-01")
    assert request.tags["occupancy/launched_by"] == "sensor"
    assert set(SEED_KEYS) <= set(request.asset_selection)  # never loaded in this instance: seeds too

    again = sensor_tick(wh, instance, cursor=tick.cursor)  # same dump, next tick
    assert again.run_requests == [] and "already handled" in again.skip_message

    add_snapshot(wh, D("2026-02-02"))
    later = sensor_tick(wh, instance, cursor=tick.cursor)
    assert [r.partition_key for r in later.run_requests] == ["2026-02-02"] and later.cursor == "2026-02-02"


def test_a_future_dated_dump_row_never_becomes_the_latest(empty_warehouse, instance):
    wh = empty_warehouse
    load_staging(wh, staging_frames())
    add_snapshot(wh, today_jst() + dt.timedelta(days=8))  # an upstream clock error
    tick = sensor_tick(wh, instance)
    assert [r.partition_key for r in tick.run_requests] == ["2026-02-01"]


def test_sensor_and_schedule_never_start_two_runs_for_one_date(empty_warehouse, instance):
    wh = empty_warehouse
    load_staging(wh, staging_frames())

    # the sensor started 2026-02-01 at 07:10; the 08:00 schedule finds that run by its partition and skips
    record_run(instance, sensor_tick(wh, instance).run_requests[0])
    tick = schedule_tick(wh, instance, D("2026-02-01"))
    assert tick.run_requests == [] and "already exists" in tick.skip_message

    # 2026-02-02: the sensor was off; the schedule runs today's partition
    add_snapshot(wh, D("2026-02-02"))
    tick = schedule_tick(wh, instance, D("2026-02-02"))
    (request,) = tick.run_requests
    assert (request.partition_key, request.tags["occupancy/launched_by"]) == ("2026-02-02", "schedule")
    record_run(instance, request)
    # ... and the sensor, turned back on without a cursor, waits for that run instead of starting another
    tick = sensor_tick(wh, instance)
    assert tick.run_requests == [] and "in progress" in tick.skip_message


def test_schedule_is_0800_tokyo_and_targets_the_daily_job():
    settings = make_settings("duckdb:///unused.duckdb")
    job = build_daily_job(settings)
    (schedule,) = build_schedules(settings, job)
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == ("0 8 * * *", "Asia/Tokyo", DAILY_JOB)
    (sensor,) = build_sensors(settings, job)
    assert sensor.job_name == DAILY_JOB


# -- a late dump, end to end -------------------------------------------------------------------------


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_a_date_a_range_run_built_is_never_run_again(example_warehouse):
    """The fixture built [first snapshot, AS_OF] in one range run (as `occupancy-kpi demo` does): no
    run carries AS_OF's partition tag, yet the sensor's first tick (no cursor, as in `make dev` right
    after `make demo`) and the 08:00 schedule of AS_OF both see that AS_OF is built and launch nothing."""
    wh, settings, defs, instance = example_warehouse
    first = sensor_tick(wh, instance, cursor=None)
    assert first.run_requests == [] and "built by a range run" in first.skip_message
    assert first.cursor == AS_OF.isoformat()
    at_eight = schedule_tick(wh, instance, AS_OF)
    assert at_eight.run_requests == [] and "range run" in at_eight.skip_message


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_late_dump_runs_at_eight_and_once_more_when_the_dump_lands(example_warehouse):
    """02-02 08:00 without the 02-02 dump: the schedule's run projects from 02-01. The dump lands at
    09:00: the sensor runs 02-02 once more, now as of 02-02; then nothing asks for 02-02 again."""
    wh, settings, defs, instance = example_warehouse
    day = AS_OF + dt.timedelta(days=1)
    (early,) = schedule_tick(wh, instance, day).run_requests
    assert early.partition_key == day.isoformat()
    assert not set(SEED_KEYS) & set(early.asset_selection)  # loaded by the fixture's run: not again
    launch(defs, instance, early)
    occupancy = wh.read_sql("SELECT MAX(projection_basis_date) AS basis FROM {gold}.occupancy_daily_metrics").iloc[0]
    assert str(occupancy["basis"])[:10] == str(AS_OF)

    add_snapshot(wh, day)
    tick = sensor_tick(wh, instance, cursor=str(AS_OF))
    (late,) = tick.run_requests
    assert (late.partition_key, late.run_key) == (day.isoformat(), f"{day}/with-dump")
    launch(defs, instance, late)
    occupancy = wh.read_sql("SELECT MAX(projection_basis_date) AS basis FROM {gold}.occupancy_daily_metrics").iloc[0]
    assert str(occupancy["basis"])[:10] == str(day)

    assert schedule_tick(wh, instance, day).run_requests == []
    again = sensor_tick(wh, instance)
    assert again.run_requests == [] and "already run" in again.skip_message
