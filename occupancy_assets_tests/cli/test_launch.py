"""What `occupancy-kpi daily/backfill` print for a failed run: each failed check with its dates,
counts and first offending rows, from the check's own metadata (generic: a new check prints without
changes to launch.py). A small run of stand-in checks through Dagster; no dbt, no warehouse."""

import datetime as dt

import pandas as pd
import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    asset_check,
    materialize,
)

from occupancy_assets.cli.launch import summarize
from occupancy_assets.defs.alerts.check_lines import SHOWN_ROWS, check_details

WINDOW = (dt.date(2026, 2, 1), dt.date(2026, 2, 7))
ROWS = pd.DataFrame({
    "snapshot_date": [f"2026-02-0{i}" for i in range(1, 8)],
    "tenant_id": [101, 102, 103, 104, 105, 106, 107],
    "reason": ["row count jump vs previous snapshot"] * 7,
})


@asset(key=["gold", "things"])
def things():
    return 1


@asset_check(asset=things)
def arithmetic_like():
    """As defs/occupancy/checks.py does: a JSON list of dates, counts, a markdown table of rows, an action."""
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, metadata={
        "violating_rows": 7,
        "violating_dates": MetadataValue.json(list(ROWS["snapshot_date"])),
        "violations": MetadataValue.md(ROWS.to_markdown(index=False)),
        "action": "re-run the daily job over the listed dates",
    })


@asset_check(asset=things)
def dbt_test_like():
    """As defs/dbt/failures.py does for a dbt test: dagster-dbt's bookkeeping plus the stored failing rows."""
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, metadata={
        "unique_id": "test.occupancy_kpi.assert_x", "invocation_id": "abc", "status": "fail",
        "dagster_dbt/failed_row_count": 2,
        "failing_rows": MetadataValue.md(ROWS.head(2).to_markdown(index=False)),
        "failures_table": '"dbt_test__audit"."assert_x"',
    })


@asset_check(asset=things)
def dump_health_like():
    """A check written later (staging dump health): `failing_dates` as text and a Dagster table."""
    schema = TableSchema(columns=[TableColumn("snapshot_date"), TableColumn("tenant_id")])
    records = [TableRecord({"snapshot_date": d, "tenant_id": int(t)}) for d, t in zip(ROWS["snapshot_date"], ROWS["tenant_id"])]
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, metadata={
        "failing_dates": "2026-02-03, 2026-02-04",
        "examples": MetadataValue.table(records, schema=schema),
    })


@asset_check(asset=things)
def gaps_like():
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata={
        "gap_count": 2, "gap_dates": MetadataValue.json(["2026-01-05", "2026-01-06"]),
        "worst_days": MetadataValue.md(ROWS.to_markdown(index=False)),
    })


@asset_check(asset=things)
def fine():
    return AssetCheckResult(passed=True, metadata={"rows": 1})


@pytest.fixture(scope="module")
def outcome():
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [things, arithmetic_like, dbt_test_like, dump_health_like, gaps_like, fine], instance=instance, raise_on_error=False
    )
    return summarize(instance, result.run_id, WINDOW)


def _block(text: str, header: str) -> list[str]:
    """The indented lines under one `failed check:` / `warning:` line of describe()."""
    lines = text.splitlines()
    start = lines.index(header)
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        block.append(line.strip())
    return block


def test_a_failed_check_prints_its_dates_counts_first_rows_and_action(outcome):
    text = outcome.describe()
    assert "gold/things:arithmetic_like" in outcome.failed_checks
    block = _block(text, "  failed check: gold/things:arithmetic_like")
    assert block[0] == "violating_dates: " + ", ".join(ROWS["snapshot_date"])
    assert "violating_rows=7" in block
    assert block[block.index("violations (7 rows, first 5 shown):") + 1] == "snapshot_date | tenant_id | reason"
    shown = [line for line in block if line.startswith("2026-02-0")]
    assert len(shown) == SHOWN_ROWS
    assert shown[0] == "2026-02-01 | 101 | row count jump vs previous snapshot"
    assert block[-1] == "action: re-run the daily job over the listed dates"


def test_a_failed_dbt_test_prints_the_dates_of_its_failing_rows(outcome):
    block = _block(outcome.describe(), "  failed check: gold/things:dbt_test_like")
    assert block[0] == "snapshot_date in failing_rows: 2026-02-01, 2026-02-02"
    assert block[1] == 'failed_row_count=2, failures_table="dbt_test__audit"."assert_x"'  # short values: one line
    assert block[2:4] == ["failing_rows (2 rows):", "snapshot_date | tenant_id | reason"]
    assert not any("invocation_id" in line or "unique_id" in line for line in block)


def test_a_new_check_prints_without_changes(outcome):
    block = _block(outcome.describe(), "  failed check: gold/things:dump_health_like")
    assert block[0] == "failing_dates: 2026-02-03, 2026-02-04"
    assert block[1] == "examples (7 rows, first 5 shown):"
    assert block[2:4] == ["snapshot_date | tenant_id", "2026-02-01 | 101"]


def test_a_warning_prints_its_dates_only(outcome):
    assert outcome.warnings == ["gold/things:gaps_like"]
    assert _block(outcome.describe(), "  warning: gold/things:gaps_like") == ["gap_dates: 2026-01-05, 2026-01-06"]
    assert "gold/things:fine" not in outcome.describe()


def test_a_partitioned_evaluation_names_its_partition_and_long_lists_are_capped():
    evaluation = AssetCheckEvaluation(
        asset_key=AssetKey(["silver", "x"]), check_name="c", passed=False, partition="2026-02-03",
        metadata={"missing_dates": MetadataValue.json([f"2026-03-{d:02d}" for d in range(1, 31)]),
                  "note": "x" * 500},
    )
    lines = check_details(evaluation)
    assert lines[0] == "partition: 2026-02-03"
    assert lines[1].startswith("missing_dates: 2026-03-01, ") and lines[1].endswith("2026-03-10, ... (30 listed)")
    assert len(lines[2]) <= 160 and lines[2].endswith("...")


# -- one writer: archive and restore wait for the warehouse like daily and backfill ---------------


def test_restore_waits_while_another_run_holds_the_warehouse(monkeypatch, tmp_path, capsys):
    """Issue 18: `archive` / `restore` started while a daily run held the warehouse ran beside it
    (an archive deleted silver rows inside the run's window). Now they wait for the pool, as the
    daily and backfill commands do, and start only once the holder has finished."""
    import os
    import threading
    import time

    from dagster import RunsFilter

    from occupancy_assets.cli import launch
    from occupancy_assets.cli import main as cli
    from occupancy_assets.defs.archive.assets import RESTORE_JOB
    from occupancy_assets.lib.dead_runs import process_tags
    from occupancy_assets_tests.lib.test_dead_runs import run_holding_the_pool

    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("OCCUPANCY_HISTORY_START", "2025-10-01")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(launch, "POOL_POLL_SECONDS", 0.2)
    cli._instance()  # the instance config, as the command installs it
    instance = DagsterInstance.get()
    holder = run_holding_the_pool(instance, process_tags(os.getpid()))  # a live process: not a dead run

    codes: list[int] = []
    command = threading.Thread(target=lambda: codes.append(cli.main(["restore", "--month", "2025-10"])))
    command.start()
    time.sleep(3)
    assert command.is_alive(), "restore did not wait for the run holding the warehouse"
    assert f"waiting for run {holder.run_id[:8]} (daily, STARTED) to release the warehouse" in capsys.readouterr().out
    assert not instance.get_runs(filters=RunsFilter(job_name=RESTORE_JOB))
    released = time.time()
    instance.report_run_failed(holder)
    command.join(120)
    assert not command.is_alive() and codes == [1]  # it ran: nothing archived, so nothing to restore
    [record] = instance.get_run_records(filters=RunsFilter(job_name=RESTORE_JOB))
    assert record.create_timestamp.timestamp() >= released
