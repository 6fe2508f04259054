"""Alerts: one sensor that sends failed runs, failing checks and recoveries to the configured channels."""

from dagster import Definitions

from occupancy_assets.defs.alerts.sensors import build_sensors
from occupancy_assets.lib.settings import Settings


def build_defs(settings: Settings) -> Definitions:
    return Definitions(sensors=build_sensors(settings))
