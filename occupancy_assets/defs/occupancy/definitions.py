"""The occupancy domain: gold.occupancy_daily_metrics (observed days and projections per as-of
date) and the checks that guard it and the trace."""

from dagster import Definitions

from occupancy_assets.defs.occupancy.assets import build_occupancy_asset
from occupancy_assets.defs.occupancy.checks import build_gold_checks
from occupancy_assets.lib.settings import Settings


def build_defs(settings: Settings) -> Definitions:
    return Definitions(assets=[build_occupancy_asset(settings)], asset_checks=build_gold_checks(settings))
