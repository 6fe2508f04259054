"""The daily job and what launches it: the 08:00 JST schedule and the staging sensor."""

from dagster import Definitions

from occupancy_assets.defs.daily.automation import build_schedules, build_sensors
from occupancy_assets.defs.daily.job import build_daily_job
from occupancy_assets.lib.settings import Settings


def build_defs(settings: Settings) -> Definitions:
    job = build_daily_job(settings)
    return Definitions(jobs=[job], schedules=build_schedules(settings, job), sensors=build_sensors(settings, job))
