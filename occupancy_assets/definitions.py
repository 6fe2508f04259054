"""The Dagster code location: `dagster dev` (workspace.yaml) and the CLI load `defs` from here."""

from __future__ import annotations

from dagster import Definitions

from .dbt_assets import build_dbt_assets
from .jobs import build_jobs
from .occupancy_metrics import build_occupancy_asset
from .resources import build_resources
from .settings import Settings
from .staging_assets import observe_staging


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Everything for one configuration; tests build their own with a temporary warehouse."""
    settings = settings or Settings.from_env()
    return Definitions(
        assets=[observe_staging, *build_dbt_assets(settings), build_occupancy_asset(settings)],
        jobs=build_jobs(settings),
        resources=build_resources(settings),
    )


defs = build_definitions()
