"""The dbt domain's tests that break the worked example: each gets a fresh copy of the session's build."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid

import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from occupancy_assets.cli.launch import run_daily_job
from occupancy_assets.definitions import build_definitions
from occupancy_assets_tests.conftest import copy_warehouse, make_settings
from occupancy_assets_tests.helpers import check_rows


@pytest.fixture
def example(built_example, tmp_path):
    """A fresh copy of the built worked example: (warehouse, run(day, **settings) -> (outcome, checks))."""
    source, home = built_example
    wh = copy_warehouse(source, f"t{uuid.uuid4().hex[:8]}_" if source.dialect == "mysql" else "", tmp_path)
    shutil.copytree(home, tmp_path / "instance")
    url = wh.url.render_as_string(hide_password=False)
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "instance"))) as instance:

        def run(day: dt.date, **overrides):
            defs = build_definitions(make_settings(url, wh.schema_prefix, **overrides))
            outcome = run_daily_job(defs, instance, wh, day, day, say=lambda _: None)
            return outcome, check_rows(instance, outcome.run_id)

        yield wh, run
    if wh.schema_prefix:
        wh.drop_schemas()
