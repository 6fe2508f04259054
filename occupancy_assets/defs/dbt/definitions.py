"""The dbt domain: the seeds, the dump-health gate, silver, month-end and property KPIs (one
`dbt build` per run), the trace, their dbt tests as checks, and silver's Python checks."""

from dagster import Definitions

from occupancy_assets.defs.dbt.assets import build_dbt_assets
from occupancy_assets.defs.dbt.silver_checks import build_silver_checks
from occupancy_assets.lib.settings import Settings


def build_defs(settings: Settings) -> Definitions:
    return Definitions(assets=build_dbt_assets(settings), asset_checks=build_silver_checks(settings))
