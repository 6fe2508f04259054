"""The staging domain: the five external dump tables, observed (row counts, latest snapshot date)."""

from dagster import Definitions

from occupancy_assets.defs.staging.assets import observe_staging
from occupancy_assets.lib.settings import Settings


def build_defs(settings: Settings) -> Definitions:  # noqa: ARG001 - every domain takes the settings
    return Definitions(assets=[observe_staging])
