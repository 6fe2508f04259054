"""Helpers shared by the automation, status and concurrency tests: edits of a test warehouse's
staging dumps (a new or a bad dump) and their undoing, timestamp-free copies of the built rows, and
a DAGSTER_HOME + environment + workspace for tests that start the CLI or a real dagster-daemon, and
a run's check results."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
from dagster import DagsterEventType

from occupancy_assets_tests.worked_example import AS_OF


def add_snapshot(wh, day: dt.date, copy_of: dt.date = AS_OF, tenants: list[int] | None = None) -> None:
    """A new dump in staging: the `copy_of` dump under another date (optionally only some tenants)."""
    rows = wh.read_sql(
        "SELECT * FROM {staging}.tenant_daily_snapshots WHERE snapshot_date = :d", {"d": copy_of}
    )
    if tenants is not None:
        rows = rows[rows["tenant_id"].isin(tenants)]
    rows["snapshot_date"] = pd.Timestamp(day)
    with wh.begin() as conn:
        for record in rows.astype(object).where(rows.notna(), None).to_dict("records"):
            conn.execute(
                wh.render(
                    "INSERT INTO {staging}.tenant_daily_snapshots "
                    "(snapshot_date, tenant_id, status, moving_id, contract_type, full_name) "
                    "VALUES (:snapshot_date, :tenant_id, :status, :moving_id, :contract_type, :full_name)"
                ),
                record,
            )


def delete_date(wh, day: dt.date) -> None:
    """Undo add_snapshot (and a silver window built from it)."""
    has_silver = wh.table_exists("silver", "tenant_room_snapshot_daily")
    with wh.begin() as conn:
        tables = ["{staging}.tenant_daily_snapshots"] + (["{silver}.tenant_room_snapshot_daily"] if has_silver else [])
        for table in tables:
            conn.execute(wh.render(f"DELETE FROM {table} WHERE snapshot_date = :d"), {"d": day})


def built_rows(wh) -> dict[str, pd.DataFrame]:
    """silver and gold rows without their load timestamps, sorted: equal frames = identical rows."""
    tables = {
        "silver": "SELECT * FROM {silver}.tenant_room_snapshot_daily",
        "kpi": "SELECT * FROM {gold}.kpi_month_end_metrics",
        "occupancy": "SELECT * FROM {gold}.occupancy_daily_metrics",
    }
    out = {}
    for name, sql in tables.items():
        frame = wh.read_sql(sql)
        frame = frame.drop(columns=[c for c in ("loaded_at", "generated_at", "updated_at") if c in frame])
        out[name] = frame.astype(str).sort_values(list(frame.columns[:4])).reset_index(drop=True)
    return out


def run_assets(defs, instance, keys, start: dt.date, end: dt.date | None = None):
    """One run of the daily job restricted to `keys` over the as-of range [start, end]: what a UI
    "Materialize selected" of those assets does. Returns launch.RunOutcome."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from occupancy_assets.cli.launch import summarize
    from occupancy_assets.lib.names import DAILY_JOB

    end = end or start
    job = defs.resolve_job_def(DAILY_JOB)
    if start == end:
        result = job.execute_in_process(
            instance=instance, partition_key=start.isoformat(), asset_selection=list(keys), raise_on_error=False
        )
    else:
        tags = {ASSET_PARTITION_RANGE_START_TAG: start.isoformat(), ASSET_PARTITION_RANGE_END_TAG: end.isoformat()}
        result = job.execute_in_process(instance=instance, tags=tags, asset_selection=list(keys), raise_on_error=False)
    return summarize(instance, result.run_id, (start, end))


# -- a real instance for subprocesses (CLI, dagster-daemon) ----------------------------------------

VENV_BIN = Path(sys.executable).parent


def instance_at(home: Path):
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME as `make` installs it: the repo's deploy/dagster.local.yaml, storage created once."""
    from occupancy_assets.cli.launch import ensure_pool_limit
    from occupancy_assets.lib.settings import INSTANCE_CONFIG

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    instance = instance_at(home)  # two processes creating the SQLite schema at once would race
    ensure_pool_limit(instance)  # as every `occupancy-kpi` command does on its instance
    instance.dispose()
    return home


def subprocess_env(settings, path: Path, home: Path) -> dict:
    """The environment of a CLI or daemon process on the DuckDB file `path` and the instance `home`."""
    return {
        **os.environ,
        "OCCUPANCY_WAREHOUSE_URL": f"duckdb:///{path}",
        "OCCUPANCY_HISTORY_START": settings.history_start.isoformat(),
        "OCCUPANCY_FORWARD_DAYS": str(settings.forward_days),
        "OCCUPANCY_LOOKBACK_DAYS": str(settings.lookback_days),
        "DAGSTER_HOME": str(home),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def write_workspace(tmp_path: Path) -> Path:
    """A workspace.yaml loading this checkout's code location (for dagster-daemon, dagster job launch)."""
    from occupancy_assets.lib.settings import REPO_ROOT

    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_module:\n      module_name: occupancy_assets.definitions\n"
                         f"      location_name: occupancy_kpi\n      working_directory: {REPO_ROOT}\n")
    return workspace


RESOURCES_QUERY = """
query {
  allTopLevelResourceDetailsOrError(repositorySelector: {repositoryLocationName: "occupancy_kpi", repositoryName: "__repository__"}) {
    __typename
    ... on ResourceDetailsList {
      results { name resourceType configuredValues { key value type } nestedResources { name } }
    }
    ... on PythonError { message }
  }
}
"""


def resource_view(tmp_path: Path, home: Path) -> dict:
    """The UI's resource view (GraphQL, as the webserver serves it) of the code location."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        with define_out_of_process_context(str(write_workspace(tmp_path)), None, instance) as context:
            result = execute_dagster_graphql(context, RESOURCES_QUERY)
    assert result.data["allTopLevelResourceDetailsOrError"]["__typename"] == "ResourceDetailsList", result.data
    return result.data


def daemon_setup(example_warehouse, tmp_path: Path) -> tuple[Path, Path, dict, Path]:
    """A copy of the built example's DuckDB file with its own $DAGSTER_HOME, for runs and a
    dagster-daemon in subprocesses: (warehouse file, home, environment, workspace.yaml)."""
    wh, settings, *_ = example_warehouse
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(wh.duckdb_path, path)
    home = dagster_home(tmp_path)
    return path, home, subprocess_env(settings, path, home), write_workspace(tmp_path)


def check_rows(instance, run_id: str) -> dict[str, tuple[bool, str]]:
    """check name -> (passed, its failing rows as the UI shows them) for one run."""
    out = {}
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        rows = evaluation.metadata.get("failing_rows")
        out[evaluation.asset_check_key.name] = (evaluation.passed, getattr(rows, "value", "") or "")
    return out


def execute(wh, *statements: tuple[str, dict]) -> None:
    with wh.begin() as conn:
        for sql, params in statements:
            conn.execute(wh.render(sql), params)


def assert_unchanged(wh, before) -> None:
    after = built_rows(wh)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
