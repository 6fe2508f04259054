"""The forecast domain: the pickup forecast per as-of date and its backtest check."""

from dagster import Definitions

from occupancy_assets.defs.forecast.assets import build_forecast_asset, build_forecast_checks
from occupancy_assets.lib.settings import Settings


def build_defs(settings: Settings) -> Definitions:
    return Definitions(assets=[build_forecast_asset(settings)], asset_checks=build_forecast_checks(settings))
