"""The Dagster code location: `dagster dev` (workspace.yaml) and the CLI load `defs` from here.

Each domain folder under defs/ returns its own `Definitions` for a `Settings`; this module only
merges them with the shared resources, so tests can build a code location of their own.
"""

from dagster import Definitions, in_process_executor

from occupancy_assets.defs.alerts import definitions as alerts
from occupancy_assets.defs.archive import definitions as archive
from occupancy_assets.defs.daily import definitions as daily
from occupancy_assets.defs.dbt import definitions as dbt
from occupancy_assets.defs.forecast import definitions as forecast
from occupancy_assets.defs.occupancy import definitions as occupancy
from occupancy_assets.defs.staging import definitions as staging
from occupancy_assets.lib.resources import build_resources
from occupancy_assets.lib.settings import Settings

#: the domains of the graph, upstream first
DOMAINS = (staging, dbt, occupancy, forecast, daily, archive, alerts)


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Everything for one configuration; tests build their own with a temporary warehouse."""
    settings = settings or Settings.from_env()
    return Definitions.merge(
        *(domain.build_defs(settings) for domain in DOMAINS),
        Definitions(
            resources=build_resources(settings),
            # every job and the implicit asset job (UI "Materialize", asset backfills) run in one
            # process: the steps run one after the other anyway (one DuckDB writer), and a process
            # per step would import the code location again for each of ~12 steps
            executor=in_process_executor,
        ),
    )


defs = build_definitions()
