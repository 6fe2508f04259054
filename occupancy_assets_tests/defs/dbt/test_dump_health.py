"""A bad staging dump changes nothing (issue 10, SPEC 9 staging row): the dump-health gate
(silver.staging_dump_health and its tests) judges the window's dump before silver's window is
replaced. Each test breaks the worked example's staging the way an upstream loader can, runs the
daily job for one date, and checks that the run names the rule and the date, and that silver and
both gold tables are exactly what they were (nothing lost, nothing duplicated, the two gold tables
never describing different data).

DuckDB for every fault; MariaDB for its own (`0000-00-00` dates). Every test gets its own copy of
the session's built example (a file copy on DuckDB, cheap).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from occupancy_assets_tests.conftest import make_settings
from occupancy_assets_tests.helpers import add_snapshot, assert_unchanged, built_rows, execute
from occupancy_assets_tests.worked_example import AS_OF

NEXT_DAY = AS_OF + dt.timedelta(days=1)
GATE_CHECK = "assert_staging_dump_accepted"
WARNINGS_CHECK = "assert_staging_dump_warnings"

DUCKDB = pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
MYSQL = pytest.mark.parametrize("built_example", [pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True)


def without_primary_key(wh) -> None:
    """staging.tenant_daily_snapshots as an upstream loader without the key constraint writes it
    (the contract says `(tenant_id, snapshot_date)` is the key; nothing here may rely on it)."""
    execute(
        wh,
        ("CREATE TABLE {staging}.snapshots_copy AS SELECT * FROM {staging}.tenant_daily_snapshots", {}),
        ("DROP TABLE {staging}.tenant_daily_snapshots", {}),
        ("ALTER TABLE {staging}.snapshots_copy RENAME TO tenant_daily_snapshots", {}),
    )


def assert_blocked(outcome, checks, rule: str, day: dt.date = NEXT_DAY) -> None:
    """The run failed on the gate, and both the check's rows and the run's one-line error name the
    rule and the date."""
    assert not outcome.success
    passed, rows = checks[GATE_CHECK]
    assert not passed and rule in rows and str(day) in rows, rows
    error = " ".join(outcome.errors)
    assert GATE_CHECK in error and rule in error and str(day) in error, outcome.describe()


@pytest.mark.parametrize("built_example", ["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True)
def test_the_gate_counts_exactly_the_rows_silver_keeps(example):
    """The gate applies silver's scope rules in its own single pass (for MariaDB's sake): its
    `accepted_rows` must be silver's row count on every date."""
    wh, _ = example
    gate = wh.read_sql("SELECT snapshot_date, accepted_rows FROM {silver}.staging_dump_health ORDER BY snapshot_date")
    silver = wh.read_sql(
        "SELECT snapshot_date, COUNT(*) AS accepted_rows FROM {silver}.tenant_room_snapshot_daily GROUP BY snapshot_date ORDER BY snapshot_date"
    )
    assert len(gate) == 3
    assert [(str(pd.Timestamp(d).date()), int(n)) for d, n in gate.itertuples(index=False)] == [
        (str(pd.Timestamp(d).date()), int(n)) for d, n in silver.itertuples(index=False)
    ]


@DUCKDB
def test_an_emptied_staging_table_deletes_nothing(example):
    """Problem 2: no dump at all while silver holds the date -> `no_dump`, not a green run."""
    wh, run = example
    before = built_rows(wh)
    execute(wh, ("DELETE FROM {staging}.tenant_daily_snapshots", {}))
    outcome, checks = run(AS_OF)
    assert_blocked(outcome, checks, "no_dump", AS_OF)
    assert_unchanged(wh, before)


@DUCKDB
def test_a_truncated_dump_is_rejected_and_the_next_good_day_is_judged_against_the_last_good_one(example):
    """Problem 3: 4 -> 1 kept rows (-75%, limit 20%) never reaches silver; the next day's full dump
    is compared with 2026-02-01 (the last accepted), not with the rejected day, and goes through."""
    wh, run = example
    before = built_rows(wh)
    add_snapshot(wh, NEXT_DAY, tenants=[1, 2, 7])  # tenant 1 is the only one silver keeps
    outcome, checks = run(NEXT_DAY)
    assert_blocked(outcome, checks, "row_count_jump")
    assert "vs 2026-02-01: 4 rows" in checks[GATE_CHECK][1]
    assert_unchanged(wh, before)

    following = NEXT_DAY + dt.timedelta(days=1)
    add_snapshot(wh, following)
    outcome, checks = run(following)
    assert checks[GATE_CHECK][0], checks[GATE_CHECK]
    silver_days = wh.read_sql("SELECT DISTINCT snapshot_date FROM {silver}.tenant_room_snapshot_daily")
    assert {pd.Timestamp(d).date() for d in silver_days["snapshot_date"]} >= {AS_OF, following}
    assert NEXT_DAY not in {pd.Timestamp(d).date() for d in silver_days["snapshot_date"]}


@DUCKDB
def test_a_double_booked_room_leaves_both_gold_tables_as_they_were(example):
    """Problem 3: tenant 7 made resident of room 101 since December, where tenant 1 lives: two
    occupants at 00:00. Rejected before silver, so month-end and occupancy never disagree."""
    wh, run = example
    before = built_rows(wh)
    add_snapshot(wh, NEXT_DAY)
    execute(
        wh,
        ("UPDATE {staging}.tenant_daily_snapshots SET status = 9 WHERE tenant_id = 7 AND snapshot_date = :d", {"d": NEXT_DAY}),
        ("UPDATE {staging}.movings SET movein_date = :m WHERE id = 7", {"m": dt.date(2025, 12, 1)}),
    )
    outcome, checks = run(NEXT_DAY, health_max_row_change=0.5)  # 5 kept rows vs 4: not the point here
    assert_blocked(outcome, checks, "double_booked_room")
    assert "room 101" in checks[GATE_CHECK][1]
    assert_unchanged(wh, before)


@DUCKDB
@pytest.mark.parametrize(
    ("fault", "rule", "example_key"),
    [
        # status 99 is in no seed row: tenant 1 would vanish from every KPI
        (("UPDATE {staging}.tenant_daily_snapshots SET status = 99 WHERE tenant_id = 1 AND snapshot_date = :d", {}),
         "unknown_status", "status 99, tenant 1"),
        # a move-in in 2099 on a resident: the occupied room would count as empty
        (("UPDATE {staging}.movings SET movein_date = :m WHERE id = 1", {"m": dt.date(2099, 1, 1)}),
         "invalid_date", "tenant 1"),
        # a contract pointing at a room missing from staging.rooms: counted with a NULL property
        (("UPDATE {staging}.movings SET room_id = 999 WHERE id = 1", {}), "dangling_reference", "tenant 1"),
        # tenant 1 twice in the dump, the second row in tenant 5's room: one person in two rooms
        (("INSERT INTO {staging}.tenant_daily_snapshots (snapshot_date, tenant_id, status, moving_id, contract_type, full_name) "
          "VALUES (:d, 1, 9, 5, 1, 'Tenant 1')", {}), "tenant_in_two_rooms", "tenant 1"),
        # a dump row without a tenant id (twice: once it was counted as a tenant in two rooms)
        (("INSERT INTO {staging}.tenant_daily_snapshots (snapshot_date, tenant_id, status, moving_id, contract_type, full_name) "
          "VALUES (:d, NULL, 9, 5, 1, 'Nobody'), (:d, NULL, 9, 1, 1, 'Nobody')", {}),
         "missing_tenant_id", "dump rows with tenant_id NULL"),
    ],
    ids=["unknown-status", "move-in-2099", "dangling-room", "tenant-in-two-rooms", "null-tenant-id"],
)
def test_bad_values_are_rejected_before_silver(example, fault, rule, example_key):
    """Problem 4: each bad value blocks the run, naming the rule, the date and an example key."""
    wh, run = example
    before = built_rows(wh)
    add_snapshot(wh, NEXT_DAY)
    sql, params = fault
    without_primary_key(wh)
    execute(wh, (sql, {"d": NEXT_DAY, **params}))
    outcome, checks = run(NEXT_DAY)
    assert_blocked(outcome, checks, rule)
    assert example_key in checks[GATE_CHECK][1]
    assert_unchanged(wh, before)


@DUCKDB
def test_a_repeated_dump_is_rejected_from_the_configured_portfolio_size(example):
    """SPEC 9: the dump repeats the previous day's exactly (judged here from 1 tenant up)."""
    wh, run = example
    before = built_rows(wh)
    add_snapshot(wh, NEXT_DAY)
    outcome, checks = run(NEXT_DAY, health_min_tenants_for_repeat=1)
    assert_blocked(outcome, checks, "repeated_dump")
    assert "same as 2026-02-01" in checks[GATE_CHECK][1]
    assert_unchanged(wh, before)


@DUCKDB
def test_duplicate_key_rows_collapse_by_the_tie_break_whatever_their_order(example):
    """SPEC 5.5: one (tenant, date) twice with the same contract: the best status (9 before 10)
    wins whichever row was loaded first; the run goes on with a warning naming the tenant."""
    wh, run = example
    add_snapshot(wh, NEXT_DAY, tenants=[2, 3, 4, 5, 7])  # tenant 1 below, twice, the worse status first
    without_primary_key(wh)
    execute(
        wh,
        *[
            ("INSERT INTO {staging}.tenant_daily_snapshots (snapshot_date, tenant_id, status, moving_id, contract_type, full_name) "
             "VALUES (:d, 1, :s, 1, 1, 'Tenant 1')", {"d": NEXT_DAY, "s": status})
            for status in (10, 9)
        ],
    )
    outcome, checks = run(NEXT_DAY)
    assert checks[GATE_CHECK][0], checks[GATE_CHECK]
    passed, rows = checks[WARNINGS_CHECK]
    assert not passed and "duplicate_key" in rows and "tenant 1" in rows
    kept = wh.read_sql(
        "SELECT management_status_code FROM {silver}.tenant_room_snapshot_daily WHERE tenant_id = 1 AND snapshot_date = :d",
        {"d": NEXT_DAY},
    )
    assert kept["management_status_code"].tolist() == [9]


@DUCKDB
def test_a_future_dated_row_is_reported_and_moves_nothing(example):
    """Problem 5: a row dated 2099 is listed by the warning check, is not a gap maker for `status`
    and not the latest snapshot; today's run goes on."""
    from occupancy_assets.cli.status import collect_status
    from occupancy_assets.defs.staging.assets import latest_snapshot_date
    from occupancy_assets.lib.settings import today_jst

    wh, run = example
    add_snapshot(wh, dt.date(2099, 1, 1), tenants=[1])
    outcome, checks = run(AS_OF)
    assert outcome.success, outcome.describe()
    passed, rows = checks[WARNINGS_CHECK]
    assert not passed and "future_dated" in rows and "2099-01-01" in rows
    assert latest_snapshot_date(wh) == AS_OF
    report = collect_status(wh, make_settings(wh.url.render_as_string(hide_password=False)), today=today_jst())
    assert report.gaps == []  # was 26,000 "gaps" up to 2099


@MYSQL
def test_mysql_zero_dates(example):
    """MariaDB accepts `0000-00-00` when the loader's sql_mode allows it: a dump row dated so is
    reported (never read, nothing crashes), and a zero move-in on a resident blocks the run."""
    wh, run = example
    before = built_rows(wh)
    add_snapshot(wh, NEXT_DAY)
    with wh.begin() as conn:
        conn.execute(sa.text("SET SESSION sql_mode = ''"))
        conn.execute(wh.render(
            "INSERT INTO {staging}.tenant_daily_snapshots (snapshot_date, tenant_id, status, moving_id, contract_type, full_name) "
            "VALUES ('0000-00-00', 1, 9, 1, 1, 'Tenant 1')"
        ))
        conn.execute(wh.render("UPDATE {staging}.movings SET movein_date = '0000-00-00' WHERE id = 1"))
    outcome, checks = run(NEXT_DAY)
    assert_blocked(outcome, checks, "invalid_date")
    passed, rows = checks[WARNINGS_CHECK]
    assert not passed and "invalid_snapshot_date" in rows
    assert_unchanged(wh, before)


# -- both gold tables or neither (gold_window.py) ----------------------------------------------


def gold_rows(wh) -> dict[str, pd.DataFrame]:
    """Both gold tables of the daily run plus the property table, without timestamps."""
    rows = built_rows(wh)
    frame = wh.read_sql("SELECT * FROM {gold}.occupancy_property_daily").drop(columns=["generated_at"], errors="ignore")
    rows["property"] = frame.astype(str).sort_values(list(frame.columns[:2])).reset_index(drop=True)
    del rows["silver"]  # silver keeps a window that passed its own checks
    return rows


@DUCKDB
def test_a_gold_test_failing_after_the_write_puts_the_gold_window_back(example):
    """Rooms 101 and 102 re-filed under house B in staging.rooms: house A has 1 room and 2 occupied
    on the new day. The dump passes the gate; dbt writes month-end and the property table, then the
    capacity test fails. The run puts both windows back, so month-end and occupancy (never reached)
    still describe the same dumps."""
    wh, run = example
    before = gold_rows(wh)
    add_snapshot(wh, NEXT_DAY)
    execute(wh, ("UPDATE {staging}.rooms SET apartment_id = 2 WHERE id IN (101, 102)", {}))
    outcome, checks = run(NEXT_DAY)
    assert not outcome.success
    assert checks[GATE_CHECK][0]
    assert not checks["assert_occupancy_property_capacity"][0]
    after = gold_rows(wh)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)


@DUCKDB
def test_a_failed_occupancy_step_puts_the_month_end_window_back(example, monkeypatch):
    """dbt wrote the new day's month-end and property rows; occupancy fails (in this process: the
    job runs in process). The run puts the dbt gold windows back."""
    wh, run = example
    before = gold_rows(wh)
    add_snapshot(wh, NEXT_DAY)

    def broken(*args, **kwargs):
        raise RuntimeError("the warehouse went away")

    monkeypatch.setattr("occupancy_assets.defs.occupancy.assets.compute_and_write", broken)
    outcome, _ = run(NEXT_DAY)
    assert not outcome.success and "the warehouse went away" in " ".join(outcome.errors)
    after = gold_rows(wh)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
