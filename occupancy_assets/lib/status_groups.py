"""The groups of management status codes (application, reserved, move-in, booked move-out,
present, in scope), read from dbt_project.yml's `status_groups` var: the one definition that dbt's
models (macro `status_codes`) and the Python SQL both use. In SQL text, `{status:application}`
becomes `4, 5`.
"""

import re

from occupancy_assets.lib.settings import DBT_VARS

STATUS_GROUPS: dict[str, tuple[int, ...]] = {name: tuple(codes) for name, codes in DBT_VARS["status_groups"].items()}


def with_status_codes(sql: str) -> str:
    """`sql` with each `{status:<group>}` replaced by the group's codes (an unknown group raises)."""
    return re.sub(r"\{status:(\w+)\}", lambda m: ", ".join(map(str, STATUS_GROUPS[m.group(1)])), sql)
