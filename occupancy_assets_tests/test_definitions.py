"""The code location at a glance: a snapshot of what `build_definitions` declares (asset keys and
groups, partitions, backfill policies, dependencies and their partition mappings, checks with their
blocking flag, the job, schedule, sensor and pools), compared with definitions_snapshot.json.

A deliberate change: `UPDATE_SNAPSHOT=1 pytest occupancy_assets_tests/test_definitions.py`, then
review the diff of the JSON file like any other change.
"""

import datetime as dt
import json
import os
from pathlib import Path

from dagster import Definitions

from occupancy_assets.definitions import build_definitions, defs
from occupancy_assets.defs.dbt.assets import dbt_args, dbt_tests_reading_unbuilt_models, dbt_vars
from occupancy_assets.lib.dbt_project import dbt_project
from occupancy_assets_tests.conftest import make_settings

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def describe(definitions: Definitions) -> dict:
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kind": "observable source" if node.is_observable else ("materializable" if node.is_materializable else "external"),
            "partitions": None if partitions is None else f"{type(partitions).__name__} from {partitions.start.date()} ({partitions.timezone}), end_offset {partitions.end_offset}",
            "backfill_policy": None if node.backfill_policy is None else str(node.backfill_policy.policy_type.value),
            "deps": {
                parent.to_user_string(): type(graph.get_partition_mapping(key, parent)).__name__
                + (f"(start_offset={graph.get_partition_mapping(key, parent).start_offset})"
                   if hasattr(graph.get_partition_mapping(key, parent), "start_offset") else "")
                for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string())
            },
            "checks": {
                check.name: {"blocking": graph.get_check_spec(check).blocking}
                for check in sorted(graph.get_check_keys_for_assets([key]), key=lambda k: k.name)
            },
        }
    job = definitions.resolve_job_def("daily")
    return {
        "assets": assets,
        "jobs": {
            job.name: {
                "partitions": str(job.partitions_def),
                "pools": sorted({node.definition.pool or "-" for node in job.graph.node_dict.values()}),
                "steps": sorted(job.graph.node_dict),
            }
        },
        "schedules": {
            s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
            for s in definitions.schedules
        },
        "sensors": {s.name: {"job": s.job_name if s.targets else None, "interval_seconds": s.minimum_interval_seconds} for s in definitions.sensors},
        "resources": sorted(definitions.resources),
    }


def test_definitions_match_the_snapshot():
    got = describe(build_definitions(make_settings("duckdb:///unused.duckdb", history_start=dt.date(2025, 10, 1))))
    if os.environ.get("UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(SNAPSHOT.read_text())


def test_the_code_location_loads_from_the_environment():
    assert isinstance(defs, Definitions)
    assert defs.resolve_job_def("daily").partitions_def.timezone == "Asia/Tokyo"


def test_dbt_arguments_carry_the_window_and_the_settings_as_vars():
    settings = make_settings("duckdb:///unused.duckdb", health_max_row_change=0.3)
    assert dbt_vars(settings) == {
        "history_start": "2026-01-30", "health_max_row_change": 0.3, "health_min_tenants": 1000}
    args = dbt_args("build", dbt_vars(settings, (dt.date(2026, 1, 1), dt.date(2026, 1, 31))))
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {
        "history_start": "2026-01-30", "health_max_row_change": 0.3, "health_min_tenants": 1000,
        "min_date": "2026-01-01", "max_date": "2026-01-31"}
    assert dbt_args("build", {}, exclude=["a_test"])[-2:] == ["--exclude", "a_test"]
    try:
        dbt_vars(settings, (dt.date(2026, 1, 2), dt.date(2026, 1, 1)))
    except ValueError as err:
        assert "before its start" in str(err)
    else:
        raise AssertionError("a window ending before it starts must be refused")


def test_a_partial_dbt_build_leaves_out_tests_that_read_a_model_it_does_not_rebuild():
    manifest = json.loads(dbt_project.manifest_path.read_text())
    everything = {"tenant_room_snapshot_daily", "first_application_dates", "kpi_month_end_metrics", "occupancy_property_daily"}
    assert dbt_tests_reading_unbuilt_models(manifest, everything) == []
    assert dbt_tests_reading_unbuilt_models(manifest, everything - {"occupancy_property_daily"}) == [
        "assert_occupancy_property_rollup"]
