"""kpi_day_over_day (issue 18, problem 4): a published KPI's change from the day before against a
robust band of recent same-type days. Hand-built portfolios of 1,000 rooms at 50,000 JPY, so every
expected finding can be worked out on paper (the docstring of each test does it)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from occupancy_assets.defs.occupancy.plausibility import day_over_day_result, judge_day_over_day
from occupancy_assets_tests.helpers import execute

START = dt.date(2026, 1, 5)  # 12 ordinary days follow: no month end, no first of the month


def portfolio(eod: list[int], total: list[int], rent: list[int] | None = None, start: dt.date = START) -> pd.DataFrame:
    rent = rent or [50_000] * len(eod)
    days = [start + dt.timedelta(days=i) for i in range(len(eod))]
    return pd.DataFrame({
        "as_of_date": days,
        "is_month_end": [int((d + dt.timedelta(days=1)).day == 1) for d in days],
        "occupancy_rate": [round(e / t, 6) for e, t in zip(eod, total)],
        "occupancy_room_count_eod": eod,
        "rent_jpy": rent,
        "revpar_jpy": [round(r * e / t) for r, e, t in zip(rent, eod, total)],
        "total_physical_rooms": total,
    })


def test_a_jump_of_twenty_rooms_after_days_of_one_is_unusual():
    """Days 0-11: 700, 701, ... 711 rooms occupied (+1 a day: +0.1 points, +0.14%). Day 12: 731
    (+20). Rate: +0.020 against a usual +0.001, band 0.005 (the floor; the MAD is 0) -> unusual.
    Rooms: +2.8% against +0.14%, band 1% -> unusual. RevPAR moves with the rooms (rent and total
    fixed): +2.8%, band 1.5% -> unusual. Rent and total rooms did not move."""
    judged = judge_day_over_day(portfolio([700 + i for i in range(12)] + [731], [1000] * 13), set())
    assert set(judged["kpi"]) == {"occupancy_rate", "occupancy_room_count_eod", "revpar_jpy"}
    assert set(judged["as_of_date"]) == {START + dt.timedelta(days=12)}
    rate = judged.set_index("kpi").loc["occupancy_rate"]
    assert rate["change"] == pytest.approx(0.020) and rate["usual_change"] == pytest.approx(0.001)
    assert rate["band"] == pytest.approx(0.005)
    assert not judged["accepted"].any()


def test_a_new_empty_property_moves_the_total_and_the_rate():
    """Day 12: 50 rooms listed, nobody in them (1,000 -> 1,050; 711 occupied). Total rooms: +5%
    against a usual 0 with band 0 -> unusual. Rate 0.711 -> 0.677143: -3.4 points -> unusual.
    RevPAR x 1000/1050: -4.8% -> unusual. The occupied rooms did not change."""
    judged = judge_day_over_day(portfolio([700 + i for i in range(12)] + [711], [1000] * 12 + [1050]), set())
    assert set(judged["kpi"]) == {"total_physical_rooms", "occupancy_rate", "revpar_jpy"}
    total = judged.set_index("kpi").loc["total_physical_rooms"]
    assert total["change"] == pytest.approx(0.05) and total["band"] == 0


def test_month_ends_are_judged_against_month_ends():
    """Seven months: +1 room a day, -25 on each month end (move-outs gather there). Against the
    ordinary days' band every month end would be unusual; against earlier month ends none is."""
    start = dt.date(2026, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(212)]
    eod, rooms = [], 5000
    for day in days:
        rooms += -25 if (day + dt.timedelta(days=1)).day == 1 else 1
        eod.append(rooms)
    assert judge_day_over_day(portfolio(eod, [8000] * len(days), start=start), set()).empty


def test_a_small_portfolio_is_not_flagged_for_one_room():
    """60 rooms: one move-out is 1.7 points of occupancy. A change 3 rooms explain is never unusual."""
    eod = [40] * 12 + [38]
    assert judge_day_over_day(portfolio(eod, [60] * 13), set()).empty


@pytest.mark.parametrize("built_example", ["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True)
def test_the_check_reads_the_table_and_the_operators_acceptance(example_warehouse):
    """On a warehouse: the new-property day fails (WARN) naming the date and the KPIs; a row in
    gold.accepted_kpi_changes for that date makes it pass and is counted as accepted."""
    wh, *_ = example_warehouse
    rows = portfolio([700 + i for i in range(12)] + [711], [1000] * 12 + [1050])
    rows = rows.assign(occupancy_room_count_0000=rows["occupancy_room_count_eod"], same_day_moveins=0, same_day_moveouts=0,
                       recpar_cash_jpy=rows["revpar_jpy"], same_day_moveout_policy="p", kpi_definition_version="v",
                       generated_at=dt.datetime(2026, 1, 1))
    columns = list(rows.columns)
    insert = (f"INSERT INTO {{gold}}.kpi_month_end_metrics ({', '.join(columns)}) "
              f"VALUES ({', '.join(':' + c for c in columns)})")
    execute(wh, ("DELETE FROM {gold}.kpi_month_end_metrics", {}), *[(insert, r) for r in rows.to_dict("records")])
    result = day_over_day_result(wh)
    new_day = str(START + dt.timedelta(days=12))
    assert not result.passed and result.severity.value == "WARN"
    assert result.metadata["findings"].value == 3
    assert result.metadata["dates"].value == [new_day]
    assert "total_physical_rooms" in result.metadata["unusual_changes"].value

    execute(wh, ("INSERT INTO {gold}.accepted_kpi_changes (check_name, as_of_date, apartment_id, reason) "
                 "VALUES ('kpi_day_over_day', :d, NULL, 'House Z opened')", {"d": new_day}))
    result = day_over_day_result(wh)
    assert result.passed
    assert result.metadata["accepted_findings"].value == 3
