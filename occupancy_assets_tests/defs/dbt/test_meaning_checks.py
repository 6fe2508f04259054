"""Checks on what the numbers mean (issue 18, problem 4): faults that keep the dump's shape (every
row-count rule passes) but make a published KPI wrong. Each breaks the worked example's next dump,
runs the daily job for that date, and asserts the rule, the date and the example keys in the
check's rows and the run's error, that gold is what it was, and that the operator's documented
acceptance (a row in gold.accepted_kpi_changes, the seed) lets the same run through.

The worked example's live contracts on 2026-02-02: House A (apartment 1) tenants 1, 3, 4 and 7 at
60,000 / 55,000 / 52,000 / 58,000 JPY; House B tenant 5 at 70,000. At the end of 2026-02-01
House A has 2 rooms occupied (101: tenant 1, 102: tenant 3).
"""

from __future__ import annotations

import datetime as dt

import pytest

from occupancy_assets_tests.defs.dbt.test_dump_health import NEXT_DAY
from occupancy_assets_tests.helpers import add_snapshot, assert_unchanged, built_rows, execute

RENT_CHECK = "assert_staging_rent_plausible"
COLLAPSE_CHECK = "assert_occupancy_property_collapse"
ROOMS_CHECK = "assert_occupancy_property_rooms_stable"
BACKENDS = pytest.mark.parametrize(
    "built_example", ["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True
)


def accept(wh, check_name: str, day, apartment_id: int | None, reason: str) -> None:
    execute(wh, (
        "INSERT INTO {gold}.accepted_kpi_changes (check_name, as_of_date, apartment_id, reason) "
        "VALUES (:c, :d, :a, :r)", {"c": check_name, "d": day, "a": apartment_id, "r": reason},
    ))


@BACKENDS
@pytest.mark.parametrize(
    ("rent", "finding", "shown"),
    [
        (-50_000, "rent_not_positive", "rent_jpy=-50000"),
        (0, "rent_not_positive", "rent_jpy=0"),
        # ten times the rent: 600,000 against the other three's 55,000 average (10.9x > 5x)
        (600_000, "rent_far_above_property", "others_mean_rent=55000"),
        # a typo'd 5,000: 55,000 / 5,000 = 11x below
        (5_000, "rent_far_below_property", "others_mean_rent=55000"),
    ],
    ids=["negative", "zero", "ten-times", "a-tenth"],
)
def test_an_implausible_rent_never_reaches_silver(example, rent, finding, shown):
    wh, run = example
    before = built_rows(wh)
    add_snapshot(wh, NEXT_DAY)
    execute(wh, ("UPDATE {staging}.movings SET rent = :r WHERE id = 1", {"r": rent}))
    outcome, checks = run(NEXT_DAY)
    assert not outcome.success
    passed, rows = checks[RENT_CHECK]
    assert not passed and finding in rows, rows
    error = " ".join(outcome.errors)  # the run's one line: the test and its rows as key=value
    assert RENT_CHECK in error and "tenant_id=1" in error and finding in error and shown in error, error
    assert_unchanged(wh, before)  # silver too: the gate's test runs before silver's window is replaced


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_a_confirmed_rent_is_accepted_per_property(example):
    wh, run = example
    add_snapshot(wh, NEXT_DAY)
    execute(wh, ("UPDATE {staging}.movings SET rent = 600000 WHERE id = 1", {}))
    accept(wh, "staging_rent_plausible", NEXT_DAY, 1, "penthouse, confirmed by the owner")
    outcome, checks = run(NEXT_DAY)
    assert outcome.success, outcome.describe()
    assert checks[RENT_CHECK][0]
    rent = wh.read_sql("SELECT rent_jpy FROM {silver}.tenant_room_snapshot_daily WHERE tenant_id = 1 AND snapshot_date = :d", {"d": NEXT_DAY})
    assert rent["rent_jpy"].tolist() == [600_000]


@BACKENDS
def test_a_property_whose_rows_vanish_from_the_dump_fails_and_gold_stays(example):
    """House A's two residents missing from the dump: 2 -> 0 rooms occupied. A 50% smaller dump
    passes the row-count rule when it allows 90%; the property rule still stops the day."""
    wh, run = example
    before = built_rows(wh)
    add_snapshot(wh, NEXT_DAY, tenants=[2, 4, 5, 6, 7])
    outcome, checks = run(NEXT_DAY, health_max_row_change=0.9)
    assert not outcome.success
    passed, rows = checks[COLLAPSE_CHECK]
    assert not passed and "Worked Example House A" in rows, rows
    error = " ".join(outcome.errors)
    assert COLLAPSE_CHECK in error and f"snapshot_date={NEXT_DAY}" in error, error
    assert "previous_eod_rooms=2" in error and "eod_rooms=0" in error and "property=Worked Example House A" in error, error
    # gold put back (both tables or neither); silver keeps the dump, which passed silver's checks
    assert_unchanged(wh, {name: before[name] for name in ("kpi", "occupancy")})
    days = wh.read_sql("SELECT COUNT(*) AS n FROM {gold}.occupancy_property_daily WHERE snapshot_date = :d", {"d": NEXT_DAY})
    assert int(days["n"].iloc[0]) == 0

    accept(wh, "occupancy_property_collapse", NEXT_DAY, 1, "House A closed for renovation")
    outcome, checks = run(NEXT_DAY, health_max_row_change=0.9)
    assert outcome.success, outcome.describe()
    assert checks[COLLAPSE_CHECK][0]


@BACKENDS
def test_rooms_that_appear_or_disappear_warn_per_property(example):
    """A room added to House B (1 -> 2) and a new House C with one room on NEXT_DAY, House C gone
    again the day after: each property is named with its room counts, and each day still
    publishes (warn: the change can be real). An accepted change is not reported again."""
    wh, run = example
    add_snapshot(wh, NEXT_DAY)
    execute(
        wh,
        ("INSERT INTO {staging}.rooms (id, apartment_id, room_number) VALUES (202, 2, '202'), (301, 3, '301')", {}),
        ("INSERT INTO {staging}.apartments (id, apartment_name, prefecture, municipality, room_count) "
         "VALUES (3, 'Worked Example House C', '東京都', '中野区', 1)", {}),
    )
    outcome, checks = run(NEXT_DAY)
    assert outcome.success, outcome.describe()
    passed, rows = checks[ROOMS_CHECK]
    assert not passed and "Worked Example House B" in rows and "Worked Example House C" in rows, rows
    assert "Worked Example House A" not in rows, rows
    published = wh.read_sql(
        "SELECT apartment_id, total_physical_rooms FROM {gold}.occupancy_property_daily WHERE snapshot_date = :d ORDER BY apartment_id",
        {"d": NEXT_DAY},
    )
    assert published.astype(int).values.tolist() == [[1, 3], [2, 2], [3, 1]]

    day_after = NEXT_DAY + dt.timedelta(days=1)
    add_snapshot(wh, day_after)
    execute(wh, ("DELETE FROM {staging}.rooms WHERE id = 301", {}), ("DELETE FROM {staging}.apartments WHERE id = 3", {}))
    outcome, checks = run(day_after)
    passed, rows = checks[ROOMS_CHECK]
    assert outcome.success and not passed, rows
    assert "Worked Example House C" in rows and "Worked Example House B" not in rows, rows

    accept(wh, "occupancy_property_rooms", day_after, 3, "House C's lease ended")
    outcome, checks = run(day_after)
    assert outcome.success and checks[ROOMS_CHECK][0], checks[ROOMS_CHECK]
