"""The Dagster code location: `dagster dev` (workspace.yaml) and the CLI load `defs` from here."""

from dagster import Definitions, in_process_executor

from .archive_assets import build_archive_definitions
from .automation import build_schedules, build_sensors
from .checks import build_checks
from .dbt_assets import build_dbt_assets
from .forecast_asset import build_forecast_asset, build_forecast_checks
from .jobs import build_daily_job
from .occupancy_metrics import build_occupancy_asset
from .resources import build_resources
from .settings import Settings
from .staging_assets import observe_staging


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Everything for one configuration; tests build their own with a temporary warehouse."""
    settings = settings or Settings.from_env()
    daily_job = build_daily_job(settings)
    archive = build_archive_definitions(settings)
    return Definitions(
        assets=[
            observe_staging,
            *build_dbt_assets(settings),
            build_occupancy_asset(settings),
            build_forecast_asset(settings),
            *archive.assets,
        ],
        asset_checks=[*build_checks(settings), *build_forecast_checks(settings)],
        jobs=[daily_job, *archive.jobs],
        sensors=build_sensors(settings, daily_job),
        schedules=[*build_schedules(settings, daily_job), *archive.schedules],
        resources={**build_resources(settings), **archive.resources},
        # also for the runs of UI asset backfills and "Materialize" (the implicit asset job): as for
        # `daily`, a process per step would import the code location again for each of ~12 steps
        executor=in_process_executor,
    )


defs = build_definitions()
