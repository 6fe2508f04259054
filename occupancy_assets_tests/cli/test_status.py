"""`occupancy-kpi status` and `verify` (status.py) on the worked example (SPEC 12), healthy and broken,
on DuckDB and MariaDB. Every breakage is undone in a `finally`, so the module's warehouse stays healthy.
"""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
from dagster import AssetCheckEvaluation, AssetCheckKey, AssetCheckSeverity, DagsterInstance

from occupancy_assets.cli import main as cli
from occupancy_assets.cli import status
from occupancy_assets.defs.occupancy.assets import OCCUPANCY_KEY
from occupancy_assets_tests.helpers import add_snapshot, delete_date
from occupancy_assets_tests.worked_example import AS_OF

D = dt.date.fromisoformat


def _run_status(settings, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    code = status.run_status(settings, out=out, **kwargs)
    return code, out.getvalue()


def _run_verify(settings) -> tuple[int, str]:
    out = io.StringIO()
    code = status.run_verify(settings, out=out)
    return code, out.getvalue()


def _execute(wh, sql: str, params: dict | None = None) -> None:
    with wh.begin() as conn:
        conn.execute(wh.render(sql), params or {})


# -- status ----------------------------------------------------------------------------------------


def test_status_of_a_healthy_warehouse(example_warehouse):
    wh, settings, *_ = example_warehouse
    report = status.collect_status(wh, settings, today=AS_OF)
    silver, kpi, occupancy = (report.coverage[k] for k in ("silver", "kpi", "occupancy"))
    assert (silver.first_date, silver.last_date, silver.dates) == (D("2026-01-30"), D("2026-02-01"), 3)
    assert (kpi.first_date, kpi.last_date, kpi.dates) == (D("2026-01-30"), D("2026-02-01"), 3)
    assert (occupancy.first_date, occupancy.last_date, occupancy.dates) == (D("2026-01-30"), D("2026-02-04"), 6)
    assert all(cov.last_update is not None for cov in (silver, kpi, occupancy))
    assert report.freshness_lag_days == 0
    assert (report.last_observed_date, report.projection_basis_date) == (AS_OF, AS_OF)
    assert (report.horizon_end, report.future_days) == (D("2026-02-04"), 3)
    assert report.violations.empty and report.gaps == [] and report.unbuilt == []
    assert report.trace is not None and status._date(report.trace["as_of_date"]) == AS_OF
    assert report.ok, report.attention

    code, text = _run_status(settings, today=AS_OF)
    assert code == 0
    assert "2026-01-30 .. 2026-02-04" in text and "3 future days (through 2026-02-04)" in text
    assert "no Dagster instance" in text and "OK: nothing needs attention" in text


def test_status_flags_stale_data(example_warehouse):
    wh, settings, *_ = example_warehouse
    report = status.collect_status(wh, settings, today=D("2026-02-05"))
    assert report.freshness_lag_days == 4
    assert report.future_days == 0  # 2026-02-04 is no longer in the future
    assert not report.ok and any(reason.startswith("stale") for reason in report.attention)
    code, text = _run_status(settings, today=D("2026-02-05"))
    assert code == 1 and "ATTENTION" in text and "lag 4 day(s)" in text


def test_status_flags_an_arithmetic_violation(example_warehouse):
    wh, settings, *_ = example_warehouse
    # 2026-02-03: start 2 + delta 1 = end 3 (SPEC 12); an end of 9 breaks end = start + delta and rate = end / 4
    set_end = "UPDATE {gold}.occupancy_daily_metrics SET period_end_rooms = :end WHERE snapshot_date = :d"
    _execute(wh, set_end, {"end": 9, "d": D("2026-02-03")})
    try:
        report = status.collect_status(wh, settings, today=AS_OF)
        assert [status._date(d) for d in report.violations["snapshot_date"]] == [D("2026-02-03")]
        row = report.violations.iloc[0]
        assert (int(row["bad_end"]), int(row["bad_delta"]), int(row["bad_rate"])) == (1, 0, 1)
        code, text = _run_status(settings, today=AS_OF)
        assert code == 1
        assert "1 violation(s) in gold.occupancy_daily_metrics" in text and "2026-02-03" in text
    finally:
        _execute(wh, set_end, {"end": 3, "d": D("2026-02-03")})
    assert status.collect_status(wh, settings, today=AS_OF).ok


def test_status_flags_gaps_and_dumps_not_built(example_warehouse):
    wh, settings, *_ = example_warehouse
    add_snapshot(wh, D("2026-02-03"))  # a dump for 02-03, none for 02-02, and no pipeline run yet
    try:
        report = status.collect_status(wh, settings, today=D("2026-02-03"))
        assert report.gaps == [D("2026-02-02")]
        assert report.unbuilt == [D("2026-02-03")]
        code, text = _run_status(settings, today=D("2026-02-03"))
        assert code == 1
        assert "gaps          2026-02-02" in text and "not built     2026-02-03" in text
    finally:
        delete_date(wh, D("2026-02-03"))


def test_status_reads_the_latest_check_results_from_the_instance(example_warehouse):
    wh, settings, *_ = example_warehouse
    key = AssetCheckKey(OCCUPANCY_KEY, "arithmetic")
    instance = DagsterInstance.ephemeral()
    code, text = _run_status(settings, today=AS_OF, instance=instance, check_keys=[key])
    # a built warehouse and an instance without a single check result: a mistyped DAGSTER_HOME
    # would hide every failed run (issue 18), so it is attention
    assert code == 1 and "latest evaluation of 0 check(s): none failed" in text
    assert "holds no check result: is DAGSTER_HOME the instance that ran the pipeline?" in text

    instance.report_runless_asset_event(
        AssetCheckEvaluation(asset_key=OCCUPANCY_KEY, check_name="arithmetic", passed=False,
                             severity=AssetCheckSeverity.ERROR, metadata={"violating_rows": 2})
    )
    report = status.collect_status(wh, settings, today=AS_OF, instance=instance, check_keys=[key])
    assert [(p.check, p.state, p.severity, p.detail) for p in report.failed_checks] == [
        ("gold/occupancy_daily_metrics:arithmetic", "failed", "ERROR", "violating_rows=2")
    ]
    assert not report.ok

    # a later passing evaluation is what counts
    instance.report_runless_asset_event(
        AssetCheckEvaluation(
            asset_key=OCCUPANCY_KEY, check_name="arithmetic", passed=True, severity=AssetCheckSeverity.ERROR
        )
    )
    code, text = _run_status(settings, today=AS_OF, instance=instance, check_keys=[key])
    assert code == 0 and "latest evaluation of 1 check(s): none failed" in text

    # a failed WARN check is listed, and status still exits 0 (issue 18: a healthy day is exit 0)
    warn_key = AssetCheckKey(OCCUPANCY_KEY, "drift")
    instance.report_runless_asset_event(
        AssetCheckEvaluation(asset_key=OCCUPANCY_KEY, check_name="drift", passed=False,
                             severity=AssetCheckSeverity.WARN, metadata={"drift_dates": 1})
    )
    code, text = _run_status(settings, today=AS_OF, instance=instance, check_keys=[key, warn_key])
    assert code == 0, text
    assert "gold/occupancy_daily_metrics:drift failed (WARN" in text
    assert "OK: nothing needs attention (1 warning(s) listed above)" in text


def test_status_lists_stuck_and_failed_runs(example_warehouse):
    """A run whose process is gone is listed as stuck (status only looks: the sensor or the CLI fails
    it); once failed it is listed as failed until its partition is run again. Both need attention."""
    from occupancy_assets.lib.dead_runs import fail_dead_runs
    from occupancy_assets_tests.lib.test_dead_runs import dead_pid_tags, run_holding_the_pool

    wh, settings, *_ = example_warehouse
    with DagsterInstance.ephemeral() as instance:
        code, text = _run_status(settings, today=AS_OF, instance=instance, check_keys=[])
        assert code == 0 and "runs          none stuck, no failed run waiting to be run again" in text

        run = run_holding_the_pool(instance, dead_pid_tags(), "2026-02-01")
        code, text = _run_status(settings, today=AS_OF, instance=instance, check_keys=[])
        assert code == 1 and "runs          1 stuck, 0 failed" in text
        assert f"    stuck: run {run.run_id[:8]} daily 2026-02-01 STARTED, 0m ago: process " in text
        assert "is gone; the sensor's next tick or the next occupancy-kpi daily/backfill marks it failed" in text
        assert "1 run(s) stuck" in text

        fail_dead_runs(instance, by="the test")
        code, text = _run_status(settings, today=AS_OF, instance=instance, check_keys=[])
        assert code == 1 and "runs          0 stuck, 1 failed" in text
        assert f"    failed: run {run.run_id[:8]} daily 2026-02-01 FAILURE, 0m ago: Run process " in text
        assert "1 run(s) failed and not run again since" in text


def test_status_lists_the_pipeline_runs_failed_checks(example_warehouse):
    """The fixture's own runs, with every check of the definitions: the worked example is
    months old, so the freshness check (WARN) failed when it ran."""
    wh, settings, defs, instance = example_warehouse
    keys = defs.resolve_asset_graph().asset_check_keys
    report = status.collect_status(wh, settings, today=AS_OF, instance=instance, check_keys=keys)
    assert report.checks_evaluated and report.checks_evaluated >= 1
    failed = {p.check: p for p in report.failed_checks}
    freshness = failed["silver/tenant_room_snapshot_daily:freshness"]
    assert (freshness.state, freshness.severity) == ("failed", "WARN")
    # a failed WARN check is listed but needs no attention; only ERROR checks (or ones that did not run) do
    blocking = [p for p in report.failed_checks if p.severity != "WARN"]
    assert report.ok == (not blocking and not report.attention)
    assert not any("asset check" in reason for reason in report.attention) or blocking


def test_status_of_an_empty_warehouse(empty_warehouse):
    from occupancy_assets_tests.conftest import make_settings

    wh = empty_warehouse
    settings = make_settings(wh.url.render_as_string(hide_password=False), wh.schema_prefix)
    report = status.collect_status(wh, settings, today=AS_OF)
    assert {cov.exists for cov in report.coverage.values()} == {False}
    assert len(report.attention) == 3 and not report.ok


# -- verify ----------------------------------------------------------------------------------------


def test_verify_passes_on_the_worked_example(example_warehouse):
    wh, settings, *_ = example_warehouse
    report = status.collect_verify(wh)
    assert report.passed, report.reasons
    assert report.alignment["metrics_kpi_definition_version"] == report.alignment["trace_kpi_definition_version"]
    # the Feb 2026 references describe the 16,108-room portfolio: listed, not evaluated, not failing
    assert len(report.guardrails) == 5 and set(report.guardrails["status"]) == {"not_evaluated"}
    code, text = _run_verify(settings)
    assert code == 0 and "PASS" in text and "5 not evaluated" in text


def test_verify_fails_on_a_version_mismatch(example_warehouse):
    wh, settings, *_ = example_warehouse
    version = wh.read_sql("SELECT kpi_definition_version FROM {gold}.kpi_reference_trace").iloc[0, 0]
    _execute(wh, "UPDATE {gold}.kpi_reference_trace SET kpi_definition_version = 'occupancy-kpi/old'")
    try:
        report = status.collect_verify(wh)
        assert not report.passed
        assert any("version alignment" in reason and "occupancy-kpi/old" in reason for reason in report.reasons)
        code, text = _run_verify(settings)
        assert code == 1 and "FAIL" in text
    finally:
        _execute(wh, "UPDATE {gold}.kpi_reference_trace SET kpi_definition_version = :v", {"v": version})


def test_verify_fails_on_guardrails_evaluated_against_this_portfolio(example_warehouse):
    """References re-pointed at the 4-room example are evaluated: the Feb 2026 figures are far off."""
    wh, settings, *_ = example_warehouse
    _execute(wh, "UPDATE {gold}.kpi_references SET total_physical_rooms = 4")
    try:
        report = status.collect_verify(wh)
        rows = {(status._date(r.reference_date), r.metric): r for r in report.guardrails.itertuples()}
        # actual values: SPEC 12's first table
        assert {key: row.actual for key, row in rows.items()} == {
            (D("2026-01-31"), "occupancy_rate"): 0.5,
            (D("2026-01-31"), "rent_jpy"): 60000,
            (D("2026-01-31"), "revpar_jpy"): 30000,
            (D("2026-01-31"), "recpar_cash_jpy"): 28560,
            (D("2026-02-01"), "occupancy_room_count_0000"): 2,
        }
        assert set(report.guardrails["status"]) == {"fail"}
        assert len(report.reasons) == 5 and not report.passed
    finally:
        _execute(wh, "UPDATE {gold}.kpi_references SET total_physical_rooms = 16108")


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_verify_verdict_follows_the_guardrail_contract(example_warehouse, monkeypatch):
    """pass / not_evaluated pass the sign-off; fail / missing (and anything unknown) fail it."""
    from occupancy_assets.defs.occupancy import checks as gold

    wh, *_ = example_warehouse

    def fake(statuses):
        return lambda _wh: pd.DataFrame(
            {
                "reference_date": [D("2026-01-31")] * len(statuses),
                "metric": [f"m{i}" for i in range(len(statuses))],
                "expected": 1.0, "tolerance": 0.1, "actual": 1.0, "status": statuses,
            }
        )

    monkeypatch.setattr(gold, "reference_guardrails", fake(["pass", "not_evaluated"]))
    assert status.collect_verify(wh).passed
    monkeypatch.setattr(gold, "reference_guardrails", fake(["pass", "missing", "fail", "bogus"]))
    report = status.collect_verify(wh)
    assert [reason.split(":")[1].strip().split(" ")[0] for reason in report.reasons] == ["missing", "fail", "bogus"]


# -- the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_cli_status_and_verify(example_warehouse, monkeypatch, tmp_path, capsys):
    wh, settings, *_ = example_warehouse
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", wh.url.render_as_string(hide_password=False))
    monkeypatch.setenv("OCCUPANCY_HISTORY_START", settings.history_start.isoformat())
    monkeypatch.setenv("OCCUPANCY_FORWARD_DAYS", str(settings.forward_days))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assert cli.main(["verify"]) == 0
    assert "PASS" in capsys.readouterr().out
    # today (JST) is long after the worked example: stale, so status asks for attention
    assert cli.main(["status"]) == 1
    out = capsys.readouterr().out
    assert "stale: the latest snapshot is 2026-02-01" in out
    assert "latest evaluation of 0 check(s)" in out  # a fresh $DAGSTER_HOME: an instance, no results yet
    assert f"Dagster instance at {tmp_path / 'dagster_home'} holds no check result" in out
