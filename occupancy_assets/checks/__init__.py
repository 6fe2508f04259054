"""Asset checks (SPEC section 9). dbt tests surface as checks through dagster-dbt; the rest are here."""

from ..settings import Settings
from .gold import build_gold_checks
from .silver import build_silver_checks


def build_checks(settings: Settings) -> list:
    return [*build_silver_checks(settings), *build_gold_checks(settings)]
