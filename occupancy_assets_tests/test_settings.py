import datetime as dt

import pytest

from occupancy_assets.settings import DEFAULT_DUCKDB_PATH, Settings


def test_defaults_follow_the_spec():
    s = Settings.from_env({})
    assert s.warehouse_url == f"duckdb:///{DEFAULT_DUCKDB_PATH}"
    assert DEFAULT_DUCKDB_PATH.parts[-2:] == ("data", "warehouse.duckdb")
    assert (s.history_start, s.forward_days, s.lookback_days, s.schema_prefix) == (dt.date(2025, 10, 1), 90, 3, "")
    assert [s.schema(layer) for layer in ("staging", "silver", "gold")] == ["staging", "silver", "gold"]


def test_schema_prefix_applies_to_all_three_layers():
    s = Settings.from_env({"OCCUPANCY_SCHEMA_PREFIX": "ci42_", "OCCUPANCY_FORWARD_DAYS": "30"})
    assert [s.schema(layer) for layer in ("staging", "silver", "gold")] == ["ci42_staging", "ci42_silver", "ci42_gold"]
    assert s.forward_days == 30
    with pytest.raises(ValueError, match="unknown layer"):
        s.schema("bronze")
