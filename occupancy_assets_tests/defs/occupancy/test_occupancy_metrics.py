"""The pure part of occupancy_daily_metrics: SPEC 7 rules on hand-made counts (no warehouse)."""

import datetime as dt

import pandas as pd
import pytest

from occupancy_assets.defs.occupancy.assets import COLUMNS, build_daily_metrics

D = dt.date.fromisoformat
NOW = dt.datetime(2026, 2, 1, 9, 0)


def _history() -> pd.DataFrame:
    # the worked example's observed counts (SPEC 12): applications, ins, outs, 00:00 rooms, total
    return pd.DataFrame(
        {
            "snapshot_date": [D("2026-01-30"), D("2026-01-31"), D("2026-02-01")],
            "applications": [0, 0, 1],
            "new_moveins": [0, 0, 1],
            "new_moveouts": [0, 1, 0],
            "period_start_rooms": [3, 3, 2],
            "total_physical_rooms": [4, 4, 4],
        }
    )


def _events() -> pd.DataFrame:
    return pd.DataFrame({"event_date": [D("2026-02-02"), D("2026-02-03")], "new_moveins": [0, 1], "new_moveouts": [1, 0]})


def _build(**overrides) -> pd.DataFrame:
    args = dict(
        as_of=D("2026-02-01"),
        first_snapshot_date=D("2026-01-30"),
        window_start=D("2026-01-30"),
        window_end=D("2026-02-04"),
        forward_days=3,
        updated_at=NOW,
    )
    args.update(overrides)
    return build_daily_metrics(_history(), _events(), **args)


def test_observed_rows_and_chained_projections():
    rows = _build()
    assert list(rows.columns) == COLUMNS
    assert [d.isoformat() for d in rows.snapshot_date] == [
        "2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04"
    ]
    assert rows.applications.isna().tolist() == [True, False, False, False, False, False]  # first snapshot: NULL
    assert rows.applications.dropna().astype(int).tolist() == [0, 1, 0, 0, 0]
    assert rows.occupancy_delta.tolist() == [0, -1, 1, -1, 1, 0]
    assert rows.period_start_rooms.tolist() == [3, 3, 2, 3, 2, 3]
    assert rows.period_end_rooms.tolist() == [3, 2, 3, 2, 3, 3]
    assert rows.occupancy_rate.tolist() == [0.75, 0.5, 0.75, 0.5, 0.75, 0.75]
    assert rows.is_projection.tolist() == [0, 0, 0, 1, 1, 1]
    assert rows.projection_basis_date.tolist() == [D("2026-01-30"), D("2026-01-31")] + [D("2026-02-01")] * 4
    assert (rows.updated_at == NOW).all()


def test_only_the_window_is_returned_and_the_horizon_caps_projections():
    rows = _build(window_start=D("2026-01-31"), window_end=D("2026-02-10"), forward_days=2)
    assert [d.isoformat() for d in rows.snapshot_date] == ["2026-01-31", "2026-02-01", "2026-02-02", "2026-02-03"]
    # a window that starts after as_of still chains from the as_of day's end (3 rooms)
    later = _build(window_start=D("2026-02-03"), window_end=D("2026-02-04"))
    assert later.period_start_rooms.tolist() == [2, 3] and later.period_end_rooms.tolist() == [3, 3]


def test_a_day_without_its_month_end_row_is_a_clear_error():
    history = _history()
    history.loc[1, "period_start_rooms"] = None
    with pytest.raises(ValueError, match="kpi_month_end_metrics has no row for 2026-01-31"):
        build_daily_metrics(
            history, _events(), as_of=D("2026-02-01"), first_snapshot_date=D("2026-01-30"),
            window_start=D("2026-01-30"), window_end=D("2026-02-04"), forward_days=3, updated_at=NOW,
        )
