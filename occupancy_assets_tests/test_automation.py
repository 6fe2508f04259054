"""The staging sensor, the 08:00 JST schedule and the run chain (automation.py), driven the way the
daemon drives them: build_*_context against a real warehouse and a Dagster instance.

The chain tests launch each RunRequest as the daemon would (same job, tags and run config),
in process, on the worked example (SPEC 12). They run on DuckDB only: what they test (which run
follows which, what a blocking check stops) does not depend on the backend, a pipeline run costs
several dbt invocations, and the MySQL pipeline path is covered by test_worked_example. The
sensor and schedule, which read staging, run on both backends.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
)
from dagster._core.test_utils import create_run_for_test

from occupancy_assets import automation, pipeline
from occupancy_assets.automation import (
    CHAIN_SENSOR_NAME,
    CHAIN_TAG,
    LAUNCHED_BY_TAG,
    PROVISIONAL_TAG,
    SCHEDULE_NAME,
    SENSOR_NAME,
    build_schedules,
    build_sensors,
)
from occupancy_assets.jobs import HISTORY_JOB, PROJECTION_JOB, REFERENCE_JOB, WRITER_TAG
from occupancy_assets.pipeline import RANGE_END_TAG, RANGE_START_TAG, TARGET_DATE_TAG
from occupancy_assets.resources import WarehouseResource
from occupancy_assets.settings import TOKYO

from .conftest import load_staging, make_settings
from .helpers import add_snapshot, built_rows, delete_date
from .worked_example import AS_OF, staging_frames

D = dt.date.fromisoformat


# -- helpers -----------------------------------------------------------------------------------


def _resources(wh) -> dict:
    url = wh.url.render_as_string(hide_password=False)
    return {"warehouse": WarehouseResource(url=url, schema_prefix=wh.schema_prefix)}


def _settings(wh):
    return make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix)


def sensor_tick(wh, instance, cursor=None):
    sensor = {s.name: s for s in build_sensors(_settings(wh))}[SENSOR_NAME]
    with build_sensor_context(instance=instance, cursor=cursor, resources=_resources(wh)) as context:
        return sensor.evaluate_tick(context)


def schedule_tick(wh, instance, day: dt.date):
    schedule = {s.name: s for s in build_schedules(_settings(wh))}[SCHEDULE_NAME]
    at_eight = dt.datetime.combine(day, dt.time(8, 0), tzinfo=TOKYO)
    # as a context manager: the context enters an instance (and Dagster's defs-state storage) it must leave
    with build_schedule_context(
        instance=instance, scheduled_execution_time=at_eight, resources=_resources(wh)
    ) as context:
        return schedule.evaluate_tick(context)


@pytest.fixture
def instance(tmp_path):
    """A throwaway instance with a ref on disk (schedule contexts need one). Not entered as a
    context manager: that would leave Dagster's global defs-state storage pointing at it."""
    instance = DagsterInstance.local_temp(str(tmp_path))
    yield instance
    instance.dispose()


def record_run(instance, request):
    """What the daemon does with a RunRequest before launching it: a run with its tags."""
    return create_run_for_test(instance, job_name=request.job_name, tags=request.tags)


# -- sensor and schedule -------------------------------------------------------------------------


def test_sensor_requests_each_new_snapshot_once(empty_warehouse, instance):
    wh = empty_warehouse

    tick = sensor_tick(wh, instance)  # no staging table at all
    assert tick.run_requests == [] and "no snapshot" in tick.skip_message

    load_staging(wh, staging_frames())  # the dump of 2026-02-01 has landed
    tick = sensor_tick(wh, instance)
    assert len(tick.run_requests) == 1
    request = tick.run_requests[0]
    assert request.job_name == REFERENCE_JOB
    assert request.run_key == "daily-2026-02-01"
    assert request.tags[TARGET_DATE_TAG] == "2026-02-01"
    assert request.tags[CHAIN_TAG] == "daily" and request.tags[LAUNCHED_BY_TAG] == "sensor"
    assert PROVISIONAL_TAG not in request.tags
    assert tick.cursor == "2026-02-01"

    again = sensor_tick(wh, instance, cursor=tick.cursor)  # same snapshot, next tick
    assert again.run_requests == [] and "already handled" in again.skip_message

    add_snapshot(wh, D("2026-02-02"))
    later = sensor_tick(wh, instance, cursor=tick.cursor)
    assert [r.tags[TARGET_DATE_TAG] for r in later.run_requests] == ["2026-02-02"]
    assert later.run_requests[0].run_key == "daily-2026-02-02"
    assert later.cursor == "2026-02-02"


def test_sensor_and_schedule_never_start_two_pipelines_for_one_date(empty_warehouse, instance):
    wh = empty_warehouse
    load_staging(wh, staging_frames())

    # the sensor started 2026-02-01 at 07:10; the 08:00 schedule then finds that run and skips
    by_sensor = sensor_tick(wh, instance).run_requests[0]
    record_run(instance, by_sensor)
    tick = schedule_tick(wh, instance, D("2026-02-01"))
    assert tick.run_requests == [] and "already exists" in tick.skip_message

    # 2026-02-02: the sensor was off; the schedule starts the pipeline (dump present: not provisional)
    add_snapshot(wh, D("2026-02-02"))
    tick = schedule_tick(wh, instance, D("2026-02-02"))
    assert len(tick.run_requests) == 1
    request = tick.run_requests[0]
    assert (request.job_name, request.run_key) == (REFERENCE_JOB, "daily-2026-02-02")
    assert request.tags[LAUNCHED_BY_TAG] == "schedule" and PROVISIONAL_TAG not in request.tags
    record_run(instance, request)
    # ... and the sensor, turned back on without a cursor, does not run 2026-02-02 again
    tick = sensor_tick(wh, instance)
    assert tick.run_requests == [] and "exists" in tick.skip_message
    assert tick.cursor == "2026-02-02"


def test_late_dump_schedule_runs_provisionally_and_the_sensor_completes_it_once(empty_warehouse, instance):
    wh = empty_warehouse
    load_staging(wh, staging_frames())  # latest dump: 2026-02-01

    # 2026-02-02 08:00, no dump for 2026-02-02 yet: the schedule still runs, marked provisional
    tick = schedule_tick(wh, instance, D("2026-02-02"))
    assert len(tick.run_requests) == 1
    provisional = tick.run_requests[0]
    assert provisional.tags[TARGET_DATE_TAG] == "2026-02-02" and provisional.tags[PROVISIONAL_TAG] == "true"
    record_run(instance, provisional)

    # the dump lands at 09:00: the sensor runs 2026-02-02 with it (the provisional run could not)
    add_snapshot(wh, D("2026-02-02"))
    tick = sensor_tick(wh, instance, cursor="2026-02-01")
    assert [r.tags[TARGET_DATE_TAG] for r in tick.run_requests] == ["2026-02-02"]
    assert PROVISIONAL_TAG not in tick.run_requests[0].tags
    record_run(instance, tick.run_requests[0])

    # from then on nothing requests 2026-02-02 again: not the schedule, not the sensor (even without cursor)
    assert schedule_tick(wh, instance, D("2026-02-02")).run_requests == []
    assert sensor_tick(wh, instance).run_requests == []
    assert len(automation.runs_for_target(instance, D("2026-02-02"))) == 2


def test_schedule_is_0800_tokyo_and_everything_targets_the_project_jobs():
    settings = make_settings("duckdb:///unused.duckdb")
    (schedule,) = build_schedules(settings)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 8 * * *", "Asia/Tokyo")
    assert schedule.job_name == REFERENCE_JOB
    sensors = {s.name: s for s in build_sensors(settings)}
    assert set(sensors) == {SENSOR_NAME, CHAIN_SENSOR_NAME}
    assert sensors[SENSOR_NAME].job_name == REFERENCE_JOB
    chain = sensors[CHAIN_SENSOR_NAME]
    assert [target.job_name for target in chain.targets] == [HISTORY_JOB, PROJECTION_JOB]


# -- the chain, end to end -------------------------------------------------------------------------


def _launch(defs, instance, request):
    """Launch a RunRequest the way the daemon does: its job, tags and run config."""
    return defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance, tags=request.tags, run_config=request.run_config, raise_on_error=False
    )


ON_DUCKDB = pytest.mark.parametrize("example_warehouse", ["duckdb"], indirect=True)


@ON_DUCKDB
def test_daemon_chain_runs_the_daily_pipeline_and_rerunning_it_changes_nothing(example_warehouse):
    wh, settings, defs, _ = example_warehouse
    before = built_rows(wh)
    before_updated = wh.read_sql("SELECT MAX(updated_at) AS t FROM {gold}.occupancy_daily_metrics").iloc[0]["t"]
    instance = DagsterInstance.ephemeral()  # a fresh daemon instance: no run for 2026-02-01 yet
    sensors = {s.name: s for s in build_sensors(settings)}
    chain = sensors[CHAIN_SENSOR_NAME]

    tick = sensors[SENSOR_NAME].evaluate_tick(build_sensor_context(instance=instance, resources=_resources(wh)))
    (request,) = tick.run_requests
    launched = []
    while request is not None:
        result = _launch(defs, instance, request)
        assert result.success, request.job_name
        launched.append((request.job_name, request.tags.get(RANGE_START_TAG), request.tags.get(RANGE_END_TAG)))
        context = build_run_status_sensor_context(
            sensor_name=CHAIN_SENSOR_NAME,
            dagster_event=result.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        )
        followup = chain(context)
        request = followup if isinstance(followup, RunRequest) else None
        if request is not None:
            # one next step per finished run, keyed by that run: a re-evaluated event is de-duplicated
            assert request.run_key.endswith(result.run_id)
            assert request.tags[TARGET_DATE_TAG] == "2026-02-01" and request.tags[CHAIN_TAG] == "daily"
    assert launched == [
        (REFERENCE_JOB, None, None),
        (HISTORY_JOB, "2026-02-01", "2026-02-01"),
        # lookback 3 days clamped to the history start, forward 3 days
        (PROJECTION_JOB, "2026-01-30", "2026-02-04"),
    ]
    runs = instance.get_runs()
    assert {run.tags[WRITER_TAG] for run in runs} == {"true"}  # queued behind each other by dagster.yaml
    projection_run = next(run for run in runs if run.job_name == PROJECTION_JOB)
    assert projection_run.run_config == pipeline.projection_config(AS_OF, settings)

    after_chain = built_rows(wh)
    for name in before:
        pd.testing.assert_frame_equal(after_chain[name], before[name])
    updated = wh.read_sql("SELECT MAX(updated_at) AS t FROM {gold}.occupancy_daily_metrics").iloc[0]["t"]
    assert pd.Timestamp(updated) > pd.Timestamp(before_updated)  # rewritten, not skipped

    # the same T again, as `occupancy-kpi daily` runs it: identical rows once more
    outcomes = pipeline.daily(defs, settings, instance, AS_OF)
    assert [o.success for o in outcomes] == [True, True, True], [o.describe() for o in outcomes]
    after_cli = built_rows(wh)
    for name in before:
        pd.testing.assert_frame_equal(after_cli[name], before[name])


def test_chain_sensor_ignores_runs_that_are_not_an_automated_pipeline():
    settings = make_settings("duckdb:///unused.duckdb")
    chain = {s.name: s for s in build_sensors(settings)}[CHAIN_SENSOR_NAME]
    instance = DagsterInstance.ephemeral()
    manual = create_run_for_test(instance, job_name=HISTORY_JOB, tags={TARGET_DATE_TAG: "2026-02-01"})
    event = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=HISTORY_JOB)
    context = build_run_status_sensor_context(
        sensor_name=CHAIN_SENSOR_NAME, dagster_event=event, dagster_instance=instance, dagster_run=manual
    )
    assert "not part of an automated daily pipeline" in chain(context).skip_message

    last = create_run_for_test(
        instance, job_name=PROJECTION_JOB, tags={TARGET_DATE_TAG: "2026-02-01", CHAIN_TAG: "daily"}
    )
    context = build_run_status_sensor_context(
        sensor_name=CHAIN_SENSOR_NAME, dagster_event=event, dagster_instance=instance, dagster_run=last
    )
    assert "last step" in chain(context).skip_message


@ON_DUCKDB
def test_a_failing_blocking_check_stops_the_downstream_step(example_warehouse):
    """A bad dump for 2026-02-02 (one tenant of six): silver's blocking snapshot_health check fails the
    history run, so kpi_month_end_metrics(T) and the projection step never run."""
    wh, settings, defs, instance = example_warehouse
    T = D("2026-02-02")
    occupancy_before = wh.read_sql("SELECT * FROM {gold}.occupancy_daily_metrics ORDER BY snapshot_date")
    add_snapshot(wh, T, tenants=[1])
    try:
        outcomes = pipeline.daily(defs, settings, instance, T)
        assert [(o.job, o.success) for o in outcomes] == [(REFERENCE_JOB, True), (HISTORY_JOB, False)]
        assert any(check.endswith(":snapshot_health") for check in outcomes[1].failed_checks), outcomes[1].describe()
        assert "blocking asset check" in (outcomes[1].error or "")
        occupancy_after = wh.read_sql("SELECT * FROM {gold}.occupancy_daily_metrics ORDER BY snapshot_date")
        pd.testing.assert_frame_equal(occupancy_after, occupancy_before)  # not even updated_at moved
        kpi = wh.read_sql("SELECT COUNT(*) AS n FROM {gold}.kpi_month_end_metrics WHERE snapshot_date = :d", {"d": T})
        assert int(kpi.iloc[0]["n"]) == 0
        history_run = instance.get_run_by_id(outcomes[1].run_id)
        assert history_run.status == DagsterRunStatus.FAILURE  # the chain sensor only follows SUCCESS
    finally:
        delete_date(wh, T)
