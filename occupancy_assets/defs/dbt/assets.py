"""dbt models and seeds as Dagster assets.

Keys mirror the warehouse: `["silver", "tenant_room_snapshot_daily"]`, `["staging", "movings"]`, ...
silver and kpi_month_end_metrics are one daily-partitioned multi-asset, built by ONE `dbt build`
over the run's partition window (vars `min_date` / `max_date`): silver's blocking checks are dbt
tests with severity error, so dbt itself skips the month-end model when one fails, and the run
fails with the check's failing rows in its metadata. The seeds and the trace row are unpartitioned.
A daily run thus starts dbt twice (silver + month-end, then the trace); three times when the seeds
changed.
"""


import datetime as dt
import json
import shutil
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    TableColumn,
    TableRecord,
    TableSchema,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from occupancy_assets.defs.dbt import sql as dbt_sql
from occupancy_assets.defs.dbt.failures import dbt_failure, run_results, with_failing_rows
from occupancy_assets.lib.archive_manifest import archived_months_between, archived_refusal
from occupancy_assets.lib.dbt_project import dbt_project
from occupancy_assets.lib.gold_window import (
    WINDOW_TABLES,
    publish_gold_window,
    recover_unpublished_window,
    restore_gold_window,
    save_gold_window,
)
from occupancy_assets.lib.names import MONTH_END_KEY, OCCUPANCY_KEY, PROPERTY_KEY, SILVER_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.partitions import daily_partitions, partition_key, window_dates
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import Settings
from occupancy_assets.lib.warehouse import patched_environ

#: The daily-partitioned dbt models (tag `daily` in dbt_project.yml), built together by one `dbt
#: build`: the dump-health gate first (its blocking test keeps a bad dump out of silver), then silver
#: and the KPI tables (the property rollup's test reads kpi_month_end_metrics, so the two must be
#: rebuilt by the same invocation).
DAILY_SELECT = "tag:daily"


class OccupancyDbtTranslator(DagsterDbtTranslator):
    """Asset key = [layer, table] and group = layer, whatever the schema prefix."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=[props["source_name"], props["name"]], group_name=props["source_name"])
        layer = layer_of(props)
        return spec.replace_attributes(key=[layer, props["name"]], group_name=layer)


def layer_of(dbt_resource_props: Mapping[str, Any]) -> str:
    """The unprefixed layer a model or seed lives in (its `+schema` config)."""
    return dbt_resource_props.get("config", {}).get("schema") or "silver"


@cache
def dbt_project_manifest() -> dict[str, Any]:
    return json.loads(dbt_project.manifest_path.read_text())


def daily_models() -> set[str]:
    """The names of the models DAILY_SELECT selects, from the manifest."""
    return {node["name"] for node in dbt_project_manifest()["nodes"].values()
            if node["resource_type"] == "model" and "daily" in node["tags"]}


translator = OccupancyDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_vars(settings: Settings, window: tuple[dt.date, dt.date] | None = None) -> dict[str, Any]:
    """The vars of one dbt invocation: the settings dbt needs, and the partition window if any
    (no window: dbt rebuilds everything from history_start)."""
    values: dict[str, Any] = {
        "history_start": settings.history_start.isoformat(),
        "health_max_row_change": settings.health_max_row_change,
        "health_min_tenants": settings.health_min_tenants_for_repeat,
    }
    if window is not None:
        start, end = window
        if end < start:
            raise ValueError(f"window end {end} is before its start {start}")
        values.update(min_date=start.isoformat(), max_date=end.isoformat())
    return values


def dbt_args(command: str, dbt_var_values: Mapping[str, Any], exclude: list[str] | None = None) -> list[str]:
    """`dbt <command> --vars {...} [--exclude ...]`; dagster-dbt adds the `--select` of the assets
    being built."""
    excluded = ["--exclude", *exclude] if exclude else []
    return [command, "--vars", json.dumps(dict(dbt_var_values), sort_keys=True), *excluded]


def dbt_tests_reading_unbuilt_models(manifest: Mapping[str, Any], built: set[str]) -> list[str]:
    """Tests that read one of the daily models being built and another that is not: run now, they
    would judge a table this run did not rebuild (materializing kpi_month_end_metrics alone must not
    run the property rollup test, which also reads occupancy_property_daily)."""
    excluded, daily = [], daily_models()
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "test":
            continue
        models = {parent.split(".")[-1] for parent in node.get("depends_on", {}).get("nodes", [])
                  if parent.startswith("model.") and parent.split(".")[-1] in daily}
        if models & built and models - built:
            excluded.append(node["name"])
    return sorted(excluded)


def run_dbt(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    args: list[str],
    window: tuple[dt.date, dt.date] | None = None,
    before_failing: Callable[[Mapping[str, Mapping[str, Any]]], None] | None = None,
):
    """Run dbt against the run's warehouse and stream its events.

    Held back until dbt has exited (DuckDB admits one process per file): failed test results, which
    then get their stored failing rows, and, for a partition window, the models' outputs, which then
    get each partition's own values as metadata (the UI plots them by partition); the outputs of an
    unpartitioned build (seeds, the trace) get their table's row count. Then, if dbt failed,
    `before_failing(run results)` and one Failure that names what failed.
    """
    wh = warehouse.warehouse()
    # dagster-dbt hands os.environ to the dbt process; the profile reads the warehouse from it.
    with patched_environ(wh.dbt_env()):
        invocation = dbt.cli(args, context=context, raise_on_error=False)
    failed_checks, outputs = [], []
    try:
        for event in invocation.stream():
            if isinstance(event, AssetCheckResult) and not event.passed:
                failed_checks.append(event)
            elif isinstance(event, Output):
                outputs.append(event)
            else:
                yield event
        results = run_results(invocation)
        failed_checks = [with_failing_rows(event, results, wh) for event in failed_checks]
        yield from failed_checks
        if outputs and window is not None:
            add_partition_metadata(context, wh, window)
        elif outputs:
            outputs = [with_row_count(context, wh, event) for event in outputs]
        yield from outputs
        if not invocation.is_successful():
            if before_failing is not None:
                before_failing(results)
            raise dbt_failure(results, invocation, failed_checks)
    finally:
        # each invocation gets its own target folder (~1 MB): nothing reads it once dbt has exited
        shutil.rmtree(invocation.target_path, ignore_errors=True)


def add_partition_metadata(context: AssetExecutionContext, wh, window: tuple[dt.date, dt.date]) -> None:
    """Each date's own KPIs on its partition of kpi_month_end_metrics, its row count on silver's."""
    params = {"start_date": window[0], "end_date": window[1]}
    selected = context.selected_asset_keys
    if MONTH_END_KEY in selected and wh.table_exists("gold", "kpi_month_end_metrics"):
        for row in wh.read_sql(dbt_sql.MONTH_END_BY_DATE, params).itertuples(index=False):
            values = row._asdict()
            day = pd.Timestamp(values.pop("as_of_date")).date()
            metadata = {k: float(v) if k == "occupancy_rate" else int(v) for k, v in values.items() if pd.notna(v)}
            context.add_asset_metadata(metadata, asset_key=MONTH_END_KEY, partition_key=partition_key(day))
    if SILVER_KEY in selected and wh.table_exists("silver", "tenant_room_snapshot_daily"):
        for row in wh.read_sql(dbt_sql.SILVER_ROWS_BY_DATE, params).itertuples(index=False):
            day = pd.Timestamp(row.snapshot_date).date()
            context.add_asset_metadata({"row_count": int(row.row_count)}, asset_key=SILVER_KEY, partition_key=partition_key(day))
    if PROPERTY_KEY in selected and wh.table_exists("gold", "occupancy_property_daily"):
        context.add_asset_metadata(houses_metadata(wh, window[1]), asset_key=PROPERTY_KEY, partition_key=partition_key(window[1]))


#: houses listed in each of the property table's metadata tables
HOUSES_LISTED = 10
HOUSE_COLUMNS = [
    TableColumn("apartment_id", "int"), TableColumn("property", "string"), TableColumn("rooms", "int"),
    TableColumn("occupied", "int", description="rooms occupied at the end of the day"), TableColumn("rate", "float"),
]


def houses_metadata(wh, day: dt.date) -> dict[str, MetadataValue]:
    """The houses an operator looks at first, as tables on the window's last partition: the
    emptiest on `day`, and the largest one-day moves of occupied rooms (issue 21)."""

    def records(frame: pd.DataFrame, change: bool) -> list[TableRecord]:
        out = []
        for row in frame.itertuples(index=False):
            values = {
                "apartment_id": int(row.apartment_id), "property": str(row.property or ""), "rooms": int(row.total_physical_rooms),
                "occupied": int(row.occupancy_room_count_eod),
                "rate": round(float(row.occupancy_rate), 4) if pd.notna(row.occupancy_rate) else None,
            }
            if change:
                values["change_rooms"] = int(row.change_rooms)
            out.append(TableRecord(values))
        return out

    lowest = wh.read_sql(dbt_sql.PROPERTY_LOWEST, {"day": day, "limit": HOUSES_LISTED})
    metadata = {"lowest_occupancy_houses": MetadataValue.table(records(lowest, False), schema=TableSchema(HOUSE_COLUMNS))}
    previous = wh.read_sql(dbt_sql.PROPERTY_PREVIOUS_DATE, {"day": day})["previous_date"].iloc[0]
    if pd.notna(previous):
        moved = wh.read_sql(dbt_sql.PROPERTY_CHANGES, {"day": day, "previous": pd.Timestamp(previous).date(), "limit": HOUSES_LISTED})
        schema = TableSchema([*HOUSE_COLUMNS, TableColumn("change_rooms", "int", description=f"occupied rooms since {pd.Timestamp(previous).date()}")])
        metadata["largest_one_day_changes"] = MetadataValue.table(records(moved, True), schema=schema)
    return metadata


def with_row_count(context: AssetExecutionContext, wh, output: Output) -> Output:
    """An unpartitioned dbt output with its table's row count (`dagster/row_count`, the UI's "Rows")."""
    layer, table = context.asset_key_for_output(output.output_name).path
    if not wh.table_exists(layer, table):
        return output
    count = int(wh.read_sql(f"SELECT COUNT(*) AS row_count FROM {{{layer}}}.{table}").iloc[0, 0])
    return output.with_metadata({**output.metadata, "dagster/row_count": count})


def build_dbt_assets(settings: Settings) -> list:
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        select=DAILY_SELECT,
        name="daily_dbt_models",
        partitions_def=daily_partitions(settings),
        backfill_policy=BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
    )
    def daily_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        """silver snapshot and month-end KPIs over the partition window, with their dbt tests."""
        window = window_dates(context.partition_time_window)
        built = {key.path[-1] for key in context.selected_asset_keys}
        context.log.info(f"dbt build of {', '.join(sorted(built))} for {window[0]} .. {window[1]}")
        exclude = dbt_tests_reading_unbuilt_models(dbt_project_manifest(), built)
        wh = warehouse.warehouse()
        archived = archived_months_between(wh, *window)
        if archived:  # refused before anything is written (the CLI refuses before launching)
            raise Failure(description=archived_refusal(*window, archived))
        other, restored = recover_unpublished_window(wh, context.run_id)
        if restored:
            context.log.warning(f"run {other} never published its gold window: restored {', '.join(restored)} first")
        save_gold_window(wh, window, context.run_id)

        def put_gold_back(results: Mapping[str, Mapping[str, Any]]) -> None:
            """dbt failed after writing a gold window (a gold test): put it back, so month-end and
            occupancy (which this run will not reach) still describe the same dumps."""
            written = [uid for uid, result in results.items()
                       if uid.startswith("model.") and uid.split(".")[-1] in WINDOW_TABLES and result.get("status") == "success"]
            if written:
                restored = restore_gold_window(wh, context.run_id)
                context.log.warning(f"dbt failed after writing the gold window: restored {', '.join(restored)} for {window[0]} .. {window[1]}")

        args = dbt_args("build", dbt_vars(settings, window), exclude)
        try:
            yield from run_dbt(context, dbt, warehouse, args, window, before_failing=put_gold_back)
        except Failure:
            raise  # dbt failed and said so: put_gold_back has run
        except BaseException:
            # failed or interrupted (SIGINT, SIGTERM, UI termination) while dbt may have written
            # gold: put the window back now (the next run would, lib/gold_window.py)
            restored = restore_gold_window(wh, context.run_id)
            if restored:
                context.log.warning(f"dbt step did not finish: restored {', '.join(restored)} for {window[0]} .. {window[1]}")
            raise
        if OCCUPANCY_KEY not in (context.run.asset_selection or {OCCUPANCY_KEY}):
            with wh.begin() as conn:  # no occupancy step in this run: month-end alone is the gold
                publish_gold_window(wh, conn, context.run_id)

    def unpartitioned(select: str, name: str, command: str, doc: str):
        @dbt_assets(
            manifest=dbt_project.manifest_path,
            project=dbt_project,
            select=select,
            name=name,
            dagster_dbt_translator=translator,
            pool=WAREHOUSE_POOL,
        )
        def _assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
            yield from run_dbt(context, dbt, warehouse, dbt_args(command, dbt_vars(settings)))

        _assets.__doc__ = doc
        return _assets

    return [
        # `dbt seed`, not `build`: tests that read a seed belong to the models they check
        unpartitioned("resource_type:seed", "reference_seeds", "seed", "Status labels and the KPI guardrail references (dbt seeds)."),
        daily_dbt_models,
        unpartitioned("kpi_reference_trace", "kpi_reference_trace", "build", "One row of dashboard metadata, rebuilt after the KPI tables."),
    ]
