"""`occupancy-kpi status` and `occupancy-kpi verify`: the operator's morning look and the release
sign-off, replacing the old guide's hand-run SQL.

`collect_status` / `collect_verify` return what they found (tests read it); `run_status` /
`run_verify` print it and turn it into the exit code (0: nothing needs attention / PASS). The SQL
of this module is in the constants below; where a check of SPEC 9 already states the same rule
(arithmetic, gaps, version alignment, guardrails), the check's own SQL and code are reused, so
`status` and the asset checks can never disagree about what a violation is.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from typing import TextIO

import pandas as pd

from occupancy_assets.lib.gold_window import unpublished_run
from occupancy_assets.lib.resources import open_warehouse
from occupancy_assets.lib.settings import Settings, today_jst
from occupancy_assets.lib.warehouse import Warehouse

#: (label, layer, table, date key, column of the last write) of the tables whose coverage `status` reports.
COVERED_TABLES = (
    ("silver", "silver", "tenant_room_snapshot_daily", "snapshot_date", "loaded_at"),
    ("kpi", "gold", "kpi_month_end_metrics", "as_of_date", "generated_at"),
    ("occupancy", "gold", "occupancy_daily_metrics", "snapshot_date", "updated_at"),
)

#: Date range, number of dates and last write of one table ({table}, {updated} filled in from COVERED_TABLES).
TABLE_COVERAGE = """
SELECT MIN({key}) AS first_date, MAX({key}) AS last_date,
       COUNT(DISTINCT {key}) AS dates, MAX({updated}) AS last_update
FROM {table}
"""

#: The occupancy table's horizon: latest observed date, projection basis, future days past :today.
OCCUPANCY_HORIZON = """
SELECT MAX(CASE WHEN is_projection = 0 THEN snapshot_date END) AS last_observed_date,
       MAX(projection_basis_date) AS projection_basis_date,
       MAX(snapshot_date) AS horizon_end,
       SUM(CASE WHEN snapshot_date > :today THEN 1 ELSE 0 END) AS future_days
FROM {gold}.occupancy_daily_metrics
"""

#: Dates with a kpi_month_end_metrics row (one row per date): compared with the staging dumps.
KPI_DATES = """
SELECT as_of_date FROM {gold}.kpi_month_end_metrics WHERE as_of_date >= :from_date
"""

#: The trace row (dashboard metadata): when it was built and from which KPI date.
TRACE = """
SELECT as_of_date, kpi_definition_version, trace_generated_at FROM {gold}.kpi_reference_trace
"""

#: Lines of offending rows / dates shown per section (the counts always cover everything).
SHOWN = 10


def _date(value) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _stamp(value) -> str:
    if value is None or pd.isna(value):
        return "never"
    return str(pd.Timestamp(value).to_pydatetime().replace(microsecond=0))


def _dates_text(dates: list[dt.date]) -> str:
    shown = ", ".join(str(d) for d in dates[:SHOWN])
    return shown + (f", ... ({len(dates)} in all)" if len(dates) > SHOWN else "")


# -- status --------------------------------------------------------------------------------------


@dataclass
class Coverage:
    table: str
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    dates: int = 0
    last_update: object = None
    exists: bool = True


@dataclass
class CheckProblem:
    check: str  # asset_key:check_name
    state: str  # failed | did not run
    severity: str  # ERROR | WARN | -
    detail: str
    run_id: str


@dataclass
class StatusReport:
    today: dt.date
    warehouse: str
    coverage: dict[str, Coverage]
    freshness_lag_days: int | None = None
    last_observed_date: dt.date | None = None
    projection_basis_date: dt.date | None = None
    horizon_end: dt.date | None = None
    future_days: int = 0
    violations: pd.DataFrame = field(default_factory=pd.DataFrame)
    gaps: list[dt.date] = field(default_factory=list)
    unbuilt: list[dt.date] = field(default_factory=list)
    trace: dict | None = None
    checks_evaluated: int | None = None  # None: no Dagster instance
    failed_checks: list[CheckProblem] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)
    #: silver months archived to Parquet (archive.archived_months: the manifest)
    archived_months: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: runs queued or in progress with a dead process or for too long, and recent failed runs (dead_runs.py)
    stuck_runs: list = field(default_factory=list)
    failed_runs: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.attention


def collect_status(
    wh: Warehouse, settings: Settings, *, today: dt.date | None = None, instance=None, check_keys=None
) -> StatusReport:
    """Everything `status` prints, from a fixed number of set-based queries (plus the instance)."""
    from occupancy_assets.defs.dbt import silver_checks as silver
    from occupancy_assets.defs.dbt import silver_checks_sql as silver_sql
    from occupancy_assets.defs.occupancy import checks as gold
    from occupancy_assets.defs.occupancy import checks_sql as gold_sql

    today = today or today_jst()
    report = StatusReport(today=today, warehouse=repr(wh), coverage={})
    for label, layer, table, key, updated in COVERED_TABLES:
        name = f"{layer}.{table}"
        if not wh.table_exists(layer, table):
            report.coverage[label] = Coverage(name, exists=False)
            report.attention.append(f"{name} does not exist: run a backfill (occupancy-kpi backfill)")
            continue
        row = wh.read_sql(TABLE_COVERAGE.format(table="{" + layer + "}." + table, key=key, updated=updated)).iloc[0]
        report.coverage[label] = Coverage(
            name, _date(row["first_date"]), _date(row["last_date"]), int(row["dates"] or 0), row["last_update"]
        )
        if not int(row["dates"] or 0):
            report.attention.append(f"{name} is empty: run a backfill (occupancy-kpi backfill)")

    silver_cov, kpi_cov, occ_cov = (report.coverage[k] for k in ("silver", "kpi", "occupancy"))
    if silver_cov.last_date:
        report.freshness_lag_days = (today - silver_cov.last_date).days
        if report.freshness_lag_days > silver.MAX_FRESHNESS_LAG_DAYS:
            report.attention.append(
                f"stale: the latest snapshot is {silver_cov.last_date}, {report.freshness_lag_days} days before "
                f"today (at most {silver.MAX_FRESHNESS_LAG_DAYS}); is the upstream dump late?"
            )

    if occ_cov.dates:
        horizon = wh.read_sql(OCCUPANCY_HORIZON, {"today": today}).iloc[0]
        report.last_observed_date = _date(horizon["last_observed_date"])
        report.projection_basis_date = _date(horizon["projection_basis_date"])
        report.horizon_end = _date(horizon["horizon_end"])
        report.future_days = int(horizon["future_days"] or 0)
        if silver_cov.last_date and (report.last_observed_date or dt.date.min) < silver_cov.last_date:
            report.attention.append(
                f"gold.occupancy_daily_metrics is observed through {report.last_observed_date} but silver through "
                f"{silver_cov.last_date}: the projection step has not run for the latest snapshot"
            )
        if kpi_cov.dates and silver_cov.exists:
            report.violations = wh.read_sql(gold_sql.ARITHMETIC_VIOLATIONS, {"rate_tolerance": gold.RATE_TOLERANCE})
            if len(report.violations):
                report.attention.append(
                    f"{len(report.violations)} arithmetic violation(s) in gold.occupancy_daily_metrics"
                )

    if wh.table_exists("staging", "tenant_daily_snapshots"):
        dump_rows = wh.read_sql(silver_sql.DUMP_DATES, {"from_date": settings.history_start, "to_date": today})
        dumps = [_date(v) for v in dump_rows["snapshot_date"]]
        report.gaps = silver.gap_dates(dumps, settings.history_start)
        if report.gaps:
            report.attention.append(f"{len(report.gaps)} gap(s): dates without a staging dump inside the history")
        if kpi_cov.exists:
            built = {_date(v) for v in wh.read_sql(KPI_DATES, {"from_date": settings.history_start})["as_of_date"]}
            report.unbuilt = sorted(d for d in dumps if d <= today and d not in built)
            if report.unbuilt:
                report.attention.append(
                    f"{len(report.unbuilt)} staging dump(s) not built into gold.kpi_month_end_metrics"
                )

    from occupancy_assets.lib.archive_manifest import archived_months

    report.archived_months = archived_months(wh)

    if wh.table_exists("gold", "kpi_reference_trace"):
        trace = wh.read_sql(TRACE)
        report.trace = trace.iloc[0].to_dict() if len(trace) == 1 else None

    unpublished = unpublished_run(wh)
    if unpublished is not None:
        report.attention.append(
            f"run {unpublished} saved a gold window and never published it (interrupted or killed): the gold "
            "tables may describe different dumps until the next run, which puts it back first"
        )
    if instance is not None:
        report.checks_evaluated, report.failed_checks = latest_check_problems(instance, check_keys, settings)
        # a failed WARN check is listed, not attention: it flags a change that may be real (the
        # operating guide's check table says what to look at); ERROR checks and checks that did not
        # run mean a published number may be wrong or missing
        blocking = [p for p in report.failed_checks if p.severity != "WARN"]
        if blocking:
            report.attention.append(f"{len(blocking)} asset check(s) failed (ERROR) or did not run")
        if report.checks_evaluated == 0 and check_keys != [] and wh.table_exists("gold", "kpi_month_end_metrics"):
            # a mistyped DAGSTER_HOME opens an empty instance: its failed runs would go unseen
            home = getattr(instance, "root_directory", None) or "this instance"
            report.attention.append(
                f"the warehouse is built but the Dagster instance at {home} holds no check result: "
                "is DAGSTER_HOME the instance that ran the pipeline?"
            )
        from occupancy_assets.lib.dead_runs import recent_failures, stuck_runs

        report.stuck_runs, report.failed_runs = stuck_runs(instance), recent_failures(instance)
        if report.stuck_runs:
            report.attention.append(f"{len(report.stuck_runs)} run(s) stuck: see runs above")
        if report.failed_runs:
            report.attention.append(
                f"{len(report.failed_runs)} run(s) failed and not run again since: fix the cause, run them again"
            )
    return report


def latest_check_problems(instance, check_keys, settings: Settings) -> tuple[int, list[CheckProblem]]:
    """(checks with an evaluation, problems) from each check's latest execution in the instance."""
    from dagster import DagsterRunStatus

    from occupancy_assets.lib.dagster_internals import AssetCheckExecutionRecordStatus

    if check_keys is None:
        from occupancy_assets.definitions import build_definitions

        check_keys = build_definitions(settings).resolve_asset_graph().asset_check_keys
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    problems = []
    for key, record in sorted(records.items(), key=lambda item: item[0].to_user_string()):
        if record.status == AssetCheckExecutionRecordStatus.FAILED:
            evaluation = record.evaluation
            severity = evaluation.severity.value if evaluation else "-"
            detail = _metadata_summary(evaluation.metadata if evaluation else {})
            problems.append(CheckProblem(key.to_user_string(), "failed", severity, detail, record.run_id))
        elif record.status == AssetCheckExecutionRecordStatus.PLANNED:
            run = instance.get_run_by_id(record.run_id)
            if run is not None and run.status == DagsterRunStatus.FAILURE:
                detail = "its run failed before the check ran"
                problems.append(CheckProblem(key.to_user_string(), "did not run", "-", detail, record.run_id))
    return len(records), problems


def _metadata_summary(metadata) -> str:
    """The check's short scalar metadata (counts, dates, lags) as `key=value`, for one line."""
    from occupancy_assets.defs.dbt.failures import BOOKKEEPING_KEYS

    parts = []
    for key, value in metadata.items():
        if key in BOOKKEEPING_KEYS or key == "first_failing_rows":
            continue
        raw = getattr(value, "value", value)
        if isinstance(raw, (int, float, str)) and len(str(raw)) <= 40:
            parts.append(f"{key}={raw}")
    first_rows = metadata.get("first_failing_rows")  # a dbt test's first failing rows (dbt_failures.row_summary)
    first_rows = getattr(first_rows, "value", first_rows)
    return ", ".join(parts[:6]) + (f"; failing rows: {str(first_rows)[:240]}" if first_rows else "")


def format_status(report: StatusReport) -> str:
    lines = [f"occupancy-kpi status - today {report.today} (Asia/Tokyo) - {report.warehouse}", "", "coverage"]
    for cov in report.coverage.values():
        if not cov.exists:
            lines.append(f"  {cov.table:<38} missing")
        elif not cov.dates:
            lines.append(f"  {cov.table:<38} empty")
        else:
            lines.append(
                f"  {cov.table:<38} {cov.first_date} .. {cov.last_date}  {cov.dates:>4} dates  "
                f"last update {_stamp(cov.last_update)} UTC"
            )
    if report.horizon_end:
        lines.append(
            f"  projections: {report.future_days} future days (through {report.horizon_end}), "
            f"from the {report.projection_basis_date} snapshot"
        )
    if report.trace:
        lines.append(
            f"  trace: as of {_date(report.trace['as_of_date'])}, {report.trace['kpi_definition_version']}, "
            f"built {_stamp(report.trace['trace_generated_at'])} UTC"
        )
    lag = report.freshness_lag_days
    lines.append("")
    latest = report.coverage["silver"].last_date
    freshness = "no snapshot in silver" if lag is None else f"latest snapshot {latest}, lag {lag} day(s)"
    lines.append(f"freshness     {freshness}")
    lines.append(f"arithmetic    {len(report.violations)} violation(s) in gold.occupancy_daily_metrics")
    if len(report.violations):
        shown = report.violations.head(SHOWN)
        columns = [c for c in ("snapshot_date", "period_start_rooms", "occupancy_delta", "period_end_rooms",
                               "new_moveins", "new_moveouts", "occupancy_rate", "total_physical_rooms") if c in shown]
        lines.extend("    " + line for line in shown[columns].to_string(index=False).splitlines())
    lines.append(f"gaps          {_dates_text(report.gaps) if report.gaps else 'none'}")
    unbuilt = _dates_text(report.unbuilt) if report.unbuilt else "none"
    lines.append(f"not built     {unbuilt} (staging dumps without KPI rows)")
    lines.extend(format_archived_months(report.archived_months))
    if report.checks_evaluated is None:
        lines.append("checks        no Dagster instance: latest check results not read")
    elif not report.failed_checks:
        lines.append(f"checks        latest evaluation of {report.checks_evaluated} check(s): none failed")
    else:
        lines.append(
            f"checks        latest evaluation of {report.checks_evaluated} check(s): "
            f"{len(report.failed_checks)} problem(s)"
        )
        # the failed checks first (the cause); the checks a failed run never reached, one line per run
        for problem in report.failed_checks:
            if problem.state != "did not run":
                lines.append(
                    f"    {problem.check} {problem.state} ({problem.severity}, run {problem.run_id[:8] or '-'}) "
                    f"{problem.detail}".rstrip()
                )
        skipped: dict[str, list[str]] = {}
        for problem in report.failed_checks:
            if problem.state == "did not run":
                skipped.setdefault(problem.run_id, []).append(problem.check)
        for run_id, checks in skipped.items():
            lines.append(
                f"    {len(checks)} check(s) did not run: their run {run_id[:8]} failed before them "
                f"({', '.join(checks[:3])}{', ...' if len(checks) > 3 else ''})"
            )
    if report.checks_evaluated is not None:
        if not (report.stuck_runs or report.failed_runs):
            lines.append("runs          none stuck, no failed run waiting to be run again")
        else:
            lines.append(f"runs          {len(report.stuck_runs)} stuck, {len(report.failed_runs)} failed")
            lines.extend(f"    stuck: {problem.describe()}" for problem in report.stuck_runs)
            lines.extend(f"    failed: {problem.describe()}" for problem in report.failed_runs)
    lines.append("")
    if report.ok:
        warnings = sum(1 for p in report.failed_checks if p.severity == "WARN")
        lines.append("OK: nothing needs attention" + (f" ({warnings} warning(s) listed above)" if warnings else ""))
    else:
        lines.append("ATTENTION:")
        lines.extend(f"  - {reason}" for reason in report.attention)
    return "\n".join(lines)


def run_status(
    settings: Settings, *, today: dt.date | None = None, instance=None, check_keys=None, out: TextIO | None = None
) -> int:
    """Print the status report; exit code 1 when something needs attention."""
    wh = open_warehouse(settings)
    report = collect_status(wh, settings, today=today, instance=instance, check_keys=check_keys)
    print(format_status(report), file=out or sys.stdout)
    return 0 if report.ok else 1


# -- verify --------------------------------------------------------------------------------------

#: Guardrail statuses that fail the sign-off ("not_evaluated" is listed but does not fail).
FAILING_GUARDRAILS = ("fail", "missing")
GUARDRAIL_STATUSES = ("pass", "not_evaluated", *FAILING_GUARDRAILS)


@dataclass
class VerifyReport:
    warehouse: str
    alignment: dict
    guardrails: pd.DataFrame
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.reasons


def collect_verify(wh: Warehouse) -> VerifyReport:
    """Version alignment (the gold check's own rule) and every reference guardrail."""
    from occupancy_assets.defs.occupancy.checks import reference_guardrails, version_alignment_result

    reasons = []
    if not (wh.table_exists("gold", "kpi_month_end_metrics") and wh.table_exists("gold", "kpi_reference_trace")):
        alignment = {"error": "gold.kpi_month_end_metrics or gold.kpi_reference_trace does not exist"}
        reasons.append(alignment["error"] + ": run a backfill first")
    else:
        result = version_alignment_result(wh)
        alignment = {key: getattr(value, "value", value) for key, value in result.metadata.items()}
        if not result.passed:
            reasons.append(
                f"version alignment: metrics {alignment.get('metrics_kpi_definition_version')} "
                f"vs trace {alignment.get('trace_kpi_definition_version')} ({alignment.get('trace_rows')} trace row(s))"
                + (f"; {alignment['action']}" if "action" in alignment else "")
            )
    if wh.table_exists("gold", "kpi_references") and wh.table_exists("gold", "kpi_month_end_metrics"):
        guardrails = reference_guardrails(wh)
    else:
        guardrails = pd.DataFrame(columns=["reference_date", "metric", "expected", "tolerance", "actual", "status"])
        reasons.append("gold.kpi_references or gold.kpi_month_end_metrics does not exist: load the seeds and backfill")
    if guardrails.empty and not reasons:
        reasons.append("no reference guardrails (gold.kpi_references is empty)")
    for row in guardrails.itertuples(index=False):
        if row.status not in GUARDRAIL_STATUSES or row.status in FAILING_GUARDRAILS:
            reasons.append(
                f"guardrail {row.metric} on {_date(row.reference_date)}: {row.status} "
                f"(expected {row.expected} +-{row.tolerance}, actual {row.actual})"
            )
    return VerifyReport(repr(wh), alignment, guardrails, reasons)


def format_verify(report: VerifyReport) -> str:
    lines = [f"occupancy-kpi verify - {report.warehouse}", "", "version alignment"]
    lines.extend(f"  {key}: {value}" for key, value in report.alignment.items())
    lines.extend(["", "reference guardrails"])
    if report.guardrails.empty:
        lines.append("  none")
    else:
        shown = report.guardrails.copy()
        shown["reference_date"] = shown["reference_date"].map(_date)
        lines.extend("  " + line for line in shown.to_string(index=False).splitlines())
        not_evaluated = int((report.guardrails["status"] == "not_evaluated").sum())
        if not_evaluated:
            lines.append(f"  ({not_evaluated} not evaluated: listed, not failing)")
    lines.append("")
    if report.passed:
        lines.append("PASS: versions aligned, no reference guardrail failed or missing")
    else:
        lines.append("FAIL:")
        lines.extend(f"  - {reason}" for reason in report.reasons)
    return "\n".join(lines)


def run_verify(settings: Settings, *, out: TextIO | None = None) -> int:
    """Print the sign-off; exit code 0 only on PASS."""
    wh = open_warehouse(settings)
    report = collect_verify(wh)
    print(format_verify(report), file=out or sys.stdout)
    return 0 if report.passed else 1


def format_archived_months(frame) -> list[str]:
    """Lines for `status`: month, state, rows, object, checksum."""
    if frame is None or frame.empty:
        return ["archive       no month archived"]
    lines = [f"archive       {len(frame)} month(s) archived"]
    for row in frame.itertuples(index=False):
        lines.append(
            f"    {row.month} {row.state:<8} {int(row.row_count):>9,} rows  {int(row.object_bytes):>11,} bytes  "
            f"{row.object_uri}  {str(row.content_checksum)[:19]}"
        )
    return lines
