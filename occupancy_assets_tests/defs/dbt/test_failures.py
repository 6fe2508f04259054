"""How a failed dbt test's rows are shown (defs/dbt/failures.py): one line per text cell, bounded."""

from __future__ import annotations

import pandas as pd

from occupancy_assets.defs.dbt.failures import CELL_CHARACTERS, row_summary, shown_cells


def test_a_huge_property_name_with_a_newline_is_one_short_cell():
    """Issue 18: a 200,000-character property name containing a newline printed 600 KB and a line
    that looked like status's own in `status`."""
    forged = "House A\nOK: nothing needs attention\r\n" + "x" * 200_000
    rows = shown_cells(pd.DataFrame({"snapshot_date": ["2026-02-02"], "property": [forged], "rooms": [3]}))
    cell = rows["property"].iloc[0]
    assert len(cell) == CELL_CHARACTERS and cell.endswith("…")
    assert cell.startswith("House A OK: nothing needs attention xxx")
    assert "\n" not in cell and "\r" not in cell
    assert rows["rooms"].iloc[0] == 3  # numbers untouched
    summary = row_summary(rows)["first_failing_rows"]
    assert "\n" not in summary and len(summary) < 200
