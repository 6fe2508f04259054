"""dbt models as Dagster assets.

Keys mirror the warehouse: `["silver", "tenant_room_snapshot_daily"]`, `["staging", "movings"]`, ...
Daily-partitioned models (silver, kpi_month_end_metrics) get the history partitions with a single-run backfill
policy: a backfill of any range is one `dbt build` whose vars carry the window.
"""


import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from .dbt_project import dbt_project
from .partitions import history_partitions, window_dates
from .resources import WarehouseResource
from .settings import Settings


class OccupancyDbtTranslator(DagsterDbtTranslator):
    """Asset key = [layer, table], group = layer, whatever the schema prefix."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return AssetKey([layer_of(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return dbt_resource_props["source_name"]
        return layer_of(dbt_resource_props)


def layer_of(dbt_resource_props: Mapping[str, Any]) -> str:
    """The unprefixed layer a model or seed lives in (its `+schema` config)."""
    return dbt_resource_props.get("config", {}).get("schema") or "silver"


translator = OccupancyDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_build_args(start: dt.date | None = None, end: dt.date | None = None, **extra_vars: Any) -> list[str]:
    """`dbt build` arguments for one window; no window means a full rebuild from history_start."""
    dbt_vars: dict[str, Any] = dict(extra_vars)
    if start is not None and end is not None:
        if end < start:
            raise ValueError(f"window end {end} is before its start {start}")
        dbt_vars.update(min_date=start.isoformat(), max_date=end.isoformat())
    args = ["build"]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    return args


def _run_dbt(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, args: list[str]):
    from .checks.dbt_failures import with_failing_rows
    from .warehouse import patched_environ

    # dagster-dbt hands os.environ to the dbt process; the profile reads the warehouse from it.
    with patched_environ(warehouse.warehouse().dbt_env()):
        invocation = dbt.cli(args, context=context)
    # a failed dbt test's check result gets its failing rows as metadata (SPEC 9)
    yield from with_failing_rows(invocation.stream(), invocation.target_path, invocation.manifest, warehouse.warehouse())


def _partitioned_dbt_model(model: str, settings: Settings, select: str | None = None):
    """One daily-partitioned dbt model as its own asset step.

    silver and kpi_month_end_metrics are separate steps (separate dbt invocations) so that a
    blocking check on silver stops kpi_month_end_metrics in the same run. `select` adds models
    built in the same step (silver's step also keeps first_application_dates).
    """

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        select=select or model,
        name=model,
        partitions_def=history_partitions(settings),
        backfill_policy=BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
    )
    def _model(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        start, end = window_dates(context.partition_time_window)
        context.log.info(f"rebuilding {model} for {start} .. {end}")
        yield from _run_dbt(context, dbt, warehouse, dbt_build_args(start, end))

    return _model


def _unpartitioned_dbt(select: str, name: str, doc: str, dbt_args: tuple[str, ...] = ("build",)):
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        select=select,
        name=name,
        dagster_dbt_translator=translator,
    )
    def _assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        yield from _run_dbt(context, dbt, warehouse, list(dbt_args))

    _assets.__doc__ = doc
    return _assets


def build_dbt_assets(settings: Settings) -> list:
    return [
        _unpartitioned_dbt(
            "resource_type:seed",
            "reference_seeds",
            "Status labels and the KPI guardrail references (dbt seeds).",
            # `dbt seed`, not `build`: tests that read a seed belong to the models they check
            dbt_args=("seed",),
        ),
        _partitioned_dbt_model(
            "tenant_room_snapshot_daily", settings, select="tenant_room_snapshot_daily first_application_dates"
        ),
        _partitioned_dbt_model("kpi_month_end_metrics", settings),
        _unpartitioned_dbt(
            "kpi_reference_trace", "kpi_reference_trace", "One row of dashboard metadata, rebuilt after the KPI tables."
        ),
    ]
