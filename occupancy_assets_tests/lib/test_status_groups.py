"""The status groups are defined once (dbt_project.yml) and the seed's flags agree with them."""

import re

import pandas as pd

from occupancy_assets.defs.forecast import sql as forecast_sql
from occupancy_assets.defs.occupancy import sql as occupancy_sql
from occupancy_assets.lib.settings import REPO_ROOT
from occupancy_assets.lib.status_groups import STATUS_GROUPS, with_status_codes

SEED = pd.read_csv(REPO_ROOT / "dbt_project" / "seeds" / "management_statuses.csv")


def _codes(mask) -> tuple[int, ...]:
    return tuple(sorted(SEED.loc[mask, "code"]))


def test_the_seed_flags_are_the_groups():
    assert _codes(SEED["status_group"] == "reserved") == STATUS_GROUPS["reserved"] == (4, 5, 6)
    assert _codes(SEED["is_physically_present"] == 1) == STATUS_GROUPS["present"]
    assert _codes(SEED["is_in_scope"] == 1) == STATUS_GROUPS["in_scope"]
    assert _codes(SEED["room_priority"].notna()) == STATUS_GROUPS["in_scope"]


def test_the_groups_nest_as_the_spec_says():
    groups = {name: set(codes) for name, codes in STATUS_GROUPS.items()}
    assert groups["application"] == {4, 5} and groups["application"] < groups["reserved"]
    assert groups["move_in"] == groups["reserved"] | {7, 9}
    assert groups["booked_moveout"] == {13, 14, 15} and groups["booked_moveout"] < groups["present"]
    assert groups["reserved"] | groups["present"] == groups["in_scope"]


def test_sql_text_gets_the_codes():
    assert with_status_codes("x IN ({status:application}) OR y IN ({status:booked_moveout})") == (
        "x IN (4, 5) OR y IN (13, 14, 15)")


def test_no_status_code_list_is_written_by_hand():
    """Python's SQL and dbt's models name groups, never code lists."""
    sources = [REPO_ROOT / m.__file__ for m in (occupancy_sql, forecast_sql)]
    sources += [p for p in (REPO_ROOT / "dbt_project").glob("[mt]*/**/*.sql") if "target" not in p.parts]
    literal = re.compile(r"status\w*\s+(?:in|IN)\s*\(\s*\d")
    assert not [str(p) for p in sources if literal.search(p.read_text())]
    # ... and the Python SQL was filled in (no token left for the database to choke on)
    assert not [v[:80] for m in (occupancy_sql, forecast_sql) for v in vars(m).values()
                if isinstance(v, str) and "{status:" in v]
