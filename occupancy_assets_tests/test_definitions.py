from dagster import AssetKey, Definitions

from occupancy_assets.dbt_assets import dbt_build_args
from occupancy_assets.definitions import build_definitions, defs

import datetime as dt
import json

import pytest

STAGING = ["tenant_daily_snapshots", "tenants", "movings", "apartments", "rooms"]


def test_definitions_load_with_the_staging_and_layer_keys():
    assert isinstance(defs, Definitions)
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for name in STAGING:
        assert AssetKey(["staging", name]) in keys
        assert graph.get(AssetKey(["staging", name])).group_name == "staging"
    for key in (["silver", "tenant_room_snapshot_daily"], ["gold", "kpi_month_end_metrics"],
                ["gold", "occupancy_daily_metrics"], ["gold", "kpi_reference_trace"]):
        assert AssetKey(key) in keys
        assert graph.get(AssetKey(key)).group_name == key[0]


def test_silver_reads_staging_and_gold_reads_silver():
    graph = defs.resolve_asset_graph()
    silver = graph.get(AssetKey(["silver", "tenant_room_snapshot_daily"]))
    assert {AssetKey(["staging", n]) for n in STAGING} <= set(silver.parent_keys)
    occupancy = graph.get(AssetKey(["gold", "occupancy_daily_metrics"]))
    assert AssetKey(["gold", "kpi_month_end_metrics"]) in occupancy.parent_keys
    trace = graph.get(AssetKey(["gold", "kpi_reference_trace"]))
    assert AssetKey(["gold", "occupancy_daily_metrics"]) in trace.parent_keys


def test_partitions_are_daily_in_tokyo_and_backfill_in_one_run():
    graph = defs.resolve_asset_graph()
    silver = graph.get(AssetKey(["silver", "tenant_room_snapshot_daily"]))
    occupancy = graph.get(AssetKey(["gold", "occupancy_daily_metrics"]))
    assert silver.partitions_def.timezone == "Asia/Tokyo"
    assert silver.partitions_def.start.date() == dt.date(2025, 10, 1)
    assert silver.backfill_policy.max_partitions_per_run is None  # single run
    assert occupancy.backfill_policy.max_partitions_per_run is None
    # occupancy reaches forward_days (90) further than history
    last_history = silver.partitions_def.get_last_partition_key()
    last_occupancy = occupancy.partitions_def.get_last_partition_key()
    gap = dt.date.fromisoformat(last_occupancy) - dt.date.fromisoformat(last_history)
    assert gap.days == 90


def test_dbt_build_args_carry_the_window_as_vars():
    assert dbt_build_args() == ["build"]
    args = dbt_build_args(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {"min_date": "2026-01-01", "max_date": "2026-01-31"}
    with pytest.raises(ValueError):
        dbt_build_args(dt.date(2026, 1, 2), dt.date(2026, 1, 1))


def test_jobs_exist():
    for name in ("reference_data", "history", "projection"):
        assert build_definitions().resolve_job_def(name).name == name
