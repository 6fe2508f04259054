"""The Dagster code location: `dagster dev` (workspace.yaml) and the CLI load `defs` from here."""

from dagster import Definitions

from .archive_assets import build_archive_definitions
from .automation import build_schedules, build_sensors
from .checks import build_checks
from .dbt_assets import build_dbt_assets
from .jobs import build_jobs
from .occupancy_metrics import build_occupancy_asset
from .resources import build_resources
from .settings import Settings
from .staging_assets import observe_staging


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Everything for one configuration; tests build their own with a temporary warehouse."""
    settings = settings or Settings.from_env()
    archive = build_archive_definitions(settings)
    return Definitions(
        assets=[observe_staging, *build_dbt_assets(settings), build_occupancy_asset(settings), *archive.assets],
        asset_checks=build_checks(settings),
        jobs=[*build_jobs(settings), *archive.jobs],
        sensors=build_sensors(settings),
        schedules=[*build_schedules(settings), *archive.schedules],
        resources={**build_resources(settings), **archive.resources},
    )


defs = build_definitions()
