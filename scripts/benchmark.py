"""Benchmark of the pipeline: run by hand (`make bench`), never part of the test suite.

Measures, with the real jobs and the real dbt project (docs/benchmarks.md has the latest figures):

1. DuckDB at full demo scale: demo data generation + load; the full-history backfill (one run of
   the `daily` job over every partition, per step); the daily case: the `daily` job for T (and how
   many dbt processes it starts), the dbt step alone (silver + month-end + property, one `dbt
   build`) on partition T, and the KPI step (`defs/occupancy/assets.compute_and_write`) for as-of T.
2. Constant daily cost: the same one-day measurements on two warehouses holding the *same*
   portfolio with 6 and with 12 months of history (the 6-month one is the 12-month staging data
   with the older dumps cut off), and the ratio 12m / 6m (should stay near 1.0).
3. MariaDB/MySQL at a smaller, stated scale: load, full backfill, daily pipeline, KPI step.
   With `--mysql-full` (`make bench-mysql`): at the full scale of part 1 instead (same portfolio,
   same history), beside part 1's DuckDB figures, with the goals of issue 20 checked (load < 120 s,
   full backfill < 200 s, daily run < 20 s, KPI step < 0.5 s; every model < 60 s of dbt SQL in the
   backfill, < 1 s in the daily run); part 2 is skipped unless asked for. `--mysql-quick` also
   compares silver and gold row for row between the two warehouses.

Everything runs in a temporary directory (DuckDB files, DAGSTER_HOME, dbt target folders) on an
ephemeral Dagster instance; the MySQL schemas get a unique prefix and are dropped at the end.
Dagster and dbt log output goes to --log, the results to stdout: a table and one JSON line
(prefixed `BENCHMARK_JSON `).

    .venv/bin/python scripts/benchmark.py            # full run, several minutes on 2 cores
    .venv/bin/python scripts/benchmark.py --quick    # small scales, a smoke run
    .venv/bin/python scripts/benchmark.py --mysql-full   # DuckDB and MariaDB at full scale (make bench-mysql)
"""

from __future__ import annotations

import argparse
import calendar
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

DEFAULT_TODAY = dt.date(2026, 11, 27)  # fixed, so runs on different days are comparable
DEFAULT_MYSQL_URL = os.environ.get("OCCUPANCY_TEST_MYSQL_URL", "mysql+pymysql://root:@127.0.0.1:3306/")
#: issue 20's goals for MariaDB at full scale (seconds), and per model (dbt's SQL time of each model)
MYSQL_FULL_GOALS = {"load": 120.0, "backfill": 200.0, "daily": 20.0, "kpi_step": 0.5}
MYSQL_MODEL_GOALS = {"backfill": 60.0, "daily": 1.0}
#: the tables `--mysql-quick` compares row for row between DuckDB and MariaDB (timestamps left out)
COMPARED_TABLES = ("silver.tenant_room_snapshot_daily", "silver.first_application_dates", "gold.kpi_month_end_metrics",
                   "gold.occupancy_property_daily", "gold.occupancy_daily_metrics")
TIMESTAMP_COLUMNS = {"loaded_at", "generated_at", "updated_at"}
FULL = dict(rooms=16_108, history_months=None, compare_months=(6, 12), mysql_rooms=2_000, mysql_months=6,
            repeat=5, repeat_pipeline=3)
QUICK = dict(rooms=1_000, history_months=3, compare_months=(2, 4), mysql_rooms=300, mysql_months=2,
             repeat=3, repeat_pipeline=1)


# -- output ------------------------------------------------------------------------------------


class Report:
    """Results and progress go to the terminal; everything Dagster and dbt print goes to the log."""

    def __init__(self, log_path: Path):
        self.started = time.perf_counter()
        self.out = os.fdopen(os.dup(1), "w", buffering=1)
        self.progress = os.fdopen(os.dup(2), "w", buffering=1)
        self.log_path = log_path
        log = open(log_path, "w")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        log.close()
        self.rows: list[tuple[str, str, float | None, str]] = []

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f}s] {message}", file=self.progress)

    def add(self, section: str, what: str, seconds: float | None, note: str = "") -> None:
        self.rows.append((section, what, seconds, note))

    def table(self) -> str:
        width = max(len(what) for _, what, _, _ in self.rows)
        lines, section = [], None
        for sec, what, seconds, note in self.rows:
            if sec != section:
                lines.append(f"\n{sec}")
                section = sec
            value = "" if seconds is None else f"{seconds:9.3f} s"
            lines.append(f"  {what:<{width}}  {value:>11}  {note}".rstrip())
        return "\n".join(lines)


def median_of(n: int, fn: Callable[[], object]) -> tuple[float, list[float]]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def months_before(day: dt.date, months: int) -> dt.date:
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


# -- one warehouse -------------------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    """A warehouse loaded with staging data, its settings and Dagster definitions."""

    url: str
    prefix: str
    history_start: dt.date
    today: dt.date

    def __post_init__(self):
        from occupancy_assets.definitions import build_definitions
        from occupancy_assets.lib.settings import Settings
        from occupancy_assets.lib.warehouse import Warehouse

        self.settings = dataclasses.replace(
            Settings.from_env({}),
            warehouse_url=self.url,
            schema_prefix=self.prefix,
            history_start=self.history_start,
            forward_days=90,
            lookback_days=3,
        )
        self.wh = Warehouse(self.url, self.prefix)
        self.defs = build_definitions(self.settings)

    def load(self, frames) -> float:
        from occupancy_assets.defs.staging.tables import STAGING_TABLES

        started = time.perf_counter()
        self.wh.replace_tables("staging", STAGING_TABLES, frames)
        return time.perf_counter() - started

    def silver_rows(self) -> int:
        return int(self.wh.read_sql("SELECT COUNT(*) AS n FROM {silver}.tenant_room_snapshot_daily").iloc[0, 0])

    def kpi_window(self) -> Callable[[], object]:
        """The daily window of the KPI step: [T - lookback, T + forward], as_of = T."""
        from occupancy_assets.defs.occupancy.assets import compute_and_write

        t = self.today
        return lambda: compute_and_write(
            self.wh,
            first_as_of=t,
            last_as_of=t,
            lookback_days=self.settings.lookback_days,
            forward_days=self.settings.forward_days,
        )


def job_summary(instance, outcome) -> dict:
    """A run's duration (Dagster run stats), its steps, and the SQL time dbt reported per model."""
    stats = instance.get_run_stats(outcome.run_id)
    steps, dbt_sql = {}, {}
    for step in instance.get_run_step_stats(outcome.run_id):
        if step.start_time and step.end_time:
            steps[step.step_key] = round(step.end_time - step.start_time, 3)
        for event in step.materialization_events:  # one per partition; the model ran once
            materialization = event.asset_materialization
            duration = materialization.metadata.get("Execution Duration")
            key = materialization.asset_key.to_user_string()
            if duration is not None and key not in dbt_sql:
                dbt_sql[key] = round(float(duration.value), 3)
    return {
        "job": "daily",
        "window": [str(d) for d in outcome.window] if outcome.window else None,
        "dbt_processes": sum(1 for key in steps if key in DBT_STEPS),
        "success": outcome.success,
        "failed_checks": outcome.failed_checks,
        "warnings": outcome.warnings,
        "seconds": round(stats.end_time - stats.start_time, 3),
        "steps": steps,
        "dbt_sql_seconds": dbt_sql,
    }


#: the steps of the daily job that start a dbt process
DBT_STEPS = ("daily_dbt_models", "kpi_reference_trace", "reference_seeds")


def run_pipeline(report: Report, name: str, fn: Callable[[], object], instance) -> tuple[float, list[dict]]:
    """Time one run of the daily job (launch.run_daily_job): wall clock and its step stats."""
    started = time.perf_counter()
    outcome = fn()
    elapsed = time.perf_counter() - started
    jobs = [job_summary(instance, outcome)]
    if not outcome.success:
        report.say("  " + outcome.describe())
        raise SystemExit(f"{name} failed; see {report.log_path}")
    warned = sorted({c for j in jobs for c in j["warnings"]})
    if warned:
        report.say(f"  {name}: checks not passing (warnings, run succeeded): {', '.join(warned)}")
    return elapsed, jobs


def add_jobs(report: Report, section: str, jobs: list[dict]) -> None:
    for job in jobs:
        sql = sum(job["dbt_sql_seconds"].values())
        per_model = ", ".join(f"{k.split('/')[-1]} {v:.1f}" for k, v in job["dbt_sql_seconds"].items()
                              if len(job["dbt_sql_seconds"]) > 1)
        note = f"dbt SQL {sql:.2f} s" + (f" ({per_model})" if per_model else "") if job["dbt_sql_seconds"] else ""
        slow = sorted(job["steps"].items(), key=lambda kv: -kv[1])[:3]
        steps = ", ".join(f"{k} {v:.1f}" for k, v in slow)
        report.add(section, f"  job {job['job']}", job["seconds"], "; ".join(x for x in (note, steps) if x))


def history_one_day(scenario: Scenario, instance) -> tuple[Callable[[], None], list[dict]]:
    """The daily dbt models (silver, first applications, month-end, property: one `dbt build`, with
    their tests) on partition T alone, as a one-asset re-run from the UI would."""
    from occupancy_assets.cli.launch import summarize
    from occupancy_assets.lib.names import DAILY_JOB, FIRST_APPLICATION_KEY, MONTH_END_KEY, PROPERTY_KEY, SILVER_KEY

    summaries = []
    keys = [SILVER_KEY, FIRST_APPLICATION_KEY, MONTH_END_KEY, PROPERTY_KEY]

    def once():
        result = scenario.defs.resolve_job_def(DAILY_JOB).execute_in_process(
            instance=instance, partition_key=str(scenario.today), asset_selection=keys, raise_on_error=False
        )
        outcome = summarize(instance, result.run_id, (scenario.today, scenario.today))
        if not outcome.success:
            raise SystemExit(f"history job for {scenario.today} failed: {outcome.describe()}")
        summaries.append(job_summary(instance, outcome))

    return once, summaries


def kpi_statements(scenario: Scenario, repeat: int) -> dict[str, float]:
    """Median time of each read statement of the KPI step for the daily window, each on a fresh
    connection as the step opens one (DuckDB: a cold file), to show which part depends on history."""
    from occupancy_assets.defs.occupancy import sql as kpi_sql

    t = scenario.today
    statements = {
        "AS_OF": (kpi_sql.AS_OF, {"target_date": t}),
        "HISTORY": (kpi_sql.HISTORY, {"start_date": t - dt.timedelta(days=scenario.settings.lookback_days), "end_date": t}),
        "PROJECTED_EVENTS": (
            kpi_sql.PROJECTED_EVENTS,
            {"as_of_date": t, "horizon_end": t + dt.timedelta(days=scenario.settings.forward_days)},
        ),
    }
    return {
        name: round(median_of(repeat, lambda sql=sql, params=params: scenario.wh.read_sql(sql, params))[0], 4)
        for name, (sql, params) in statements.items()
    }


def one_day_costs(report: Report, scenario: Scenario, instance, repeat: int, repeat_pipeline: int) -> dict:
    """Median cost of the history job on T and of the KPI step for the daily window."""
    once, summaries = history_one_day(scenario, instance)
    history_median, history_times = median_of(repeat_pipeline, once)
    dbt_sql = statistics.median(sum(s["dbt_sql_seconds"].values()) for s in summaries)
    kpi_median, kpi_times = median_of(repeat, scenario.kpi_window())
    statements = kpi_statements(scenario, repeat)
    return {
        "history_job_one_day_seconds": round(history_median, 3),
        "history_job_one_day_runs": [round(t, 3) for t in history_times],
        "history_job_one_day_dbt_sql_seconds": round(dbt_sql, 3),
        "history_job_one_day_steps": summaries[-1]["steps"],
        "kpi_step_daily_window_seconds": round(kpi_median, 4),
        "kpi_step_daily_window_runs": [round(t, 4) for t in kpi_times],
        "kpi_step_statement_seconds": statements,
        "kpi_step_history_statement_seconds": statements["HISTORY"],
    }


def statement_note(costs: dict) -> str:
    return ", ".join(f"{name} {seconds:.3f} s" for name, seconds in costs["kpi_step_statement_seconds"].items())


# -- the three parts -------------------------------------------------------------------------------


def bench_duckdb_full(report: Report, args, tmp: Path, instance) -> dict:
    from occupancy_assets.cli.launch import run_daily_job
    from occupancy_assets.demo.portfolio import DEFAULT_HISTORY_START, DEFAULT_SEED, generate_portfolio

    t = args.today
    history_start = months_before(t, args.history_months) if args.history_months else DEFAULT_HISTORY_START
    section = f"1. DuckDB, {args.rooms:,} rooms, history {history_start} .. {t}"
    report.say(f"{section}: generating the demo portfolio")
    started = time.perf_counter()
    frames = generate_portfolio(rooms=args.rooms, seed=DEFAULT_SEED, history_start=history_start, today=t)
    generated = time.perf_counter() - started
    scenario = Scenario(f"duckdb:///{tmp / 'full.duckdb'}", "", history_start, t)
    loaded = scenario.load(frames)
    snapshot_rows = len(frames["tenant_daily_snapshots"])
    del frames
    report.add(section, "demo data: generate", generated, f"{snapshot_rows:,} snapshot rows")
    report.add(section, "demo data: load into DuckDB", loaded)

    report.say(f"{section}: full-history backfill")
    backfill_s, backfill_jobs = run_pipeline(
        report, "backfill", lambda: run_daily_job(scenario.defs, instance, scenario.wh, scenario.history_start, t, say=report.say), instance
    )
    silver_rows = scenario.silver_rows()
    days = (t - scenario.history_start).days + 1
    report.add(section, "full backfill, whole graph (one run)", backfill_s,
               f"{days} days, {silver_rows:,} silver rows, occupancy through T+90")
    add_jobs(report, section, backfill_jobs)

    report.say(f"{section}: daily pipeline for {t} (x{args.repeat_pipeline})")
    daily_runs: list[list[dict]] = []

    def daily_once():
        daily_runs.append(
            run_pipeline(report, "daily", lambda: run_daily_job(scenario.defs, instance, scenario.wh, t, t, say=report.say), instance)[1]
        )

    daily_median, daily_times = median_of(args.repeat_pipeline, daily_once)
    report.add(section, f"daily pipeline for T, whole graph (median of {args.repeat_pipeline})", daily_median,
               f"{daily_runs[-1][0]['dbt_processes']} dbt processes")
    add_jobs(report, section, daily_runs[-1])
    kpi_in_dagster = daily_runs[-1][0]["steps"].get("gold__occupancy_daily_metrics")

    report.say(f"{section}: one-day steps")
    costs = one_day_costs(report, scenario, instance, args.repeat, args.repeat_pipeline)
    report.add(section, f"dbt step alone on partition T (median of {args.repeat_pipeline})", costs["history_job_one_day_seconds"],
               f"dbt SQL {costs['history_job_one_day_dbt_sql_seconds']:.2f} s; the rest is dbt start-up/parse and checks")
    report.add(section, f"KPI step, window [T-3, T+90] (median of {args.repeat})", costs["kpi_step_daily_window_seconds"],
               "compute_and_write, 94 rows replaced"
               + (f"; {kpi_in_dagster:.2f} s as a Dagster step in the daily run" if kpi_in_dagster else ""))
    report.add(section, "  KPI step read statements", None, statement_note(costs))
    return {
        "rooms": args.rooms,
        "history_start": str(scenario.history_start),
        "today": str(t),
        "snapshot_rows": snapshot_rows,
        "silver_rows": silver_rows,
        "generate_seconds": round(generated, 3),
        "load_seconds": round(loaded, 3),
        "backfill_seconds": round(backfill_s, 3),
        "backfill_jobs": backfill_jobs,
        "daily_pipeline_seconds": round(daily_median, 3),
        "daily_pipeline_runs": [round(x, 3) for x in daily_times],
        "daily_jobs": daily_runs[-1],
        **costs,
    }


def bench_constant_time(report: Report, args, tmp: Path, instance) -> dict:
    import pandas as pd

    from occupancy_assets.cli.launch import run_daily_job
    from occupancy_assets.demo.portfolio import DEFAULT_SEED, generate_portfolio

    t = args.today
    short, long = args.compare_months
    starts = {short: months_before(t, short), long: months_before(t, long)}
    section = f"2. One-day cost vs history length (DuckDB, {args.rooms:,} rooms, same portfolio)"
    report.say(f"{section}: generating {long} months of history")
    frames_long = generate_portfolio(rooms=args.rooms, seed=DEFAULT_SEED, history_start=starts[long], today=t)
    snaps = frames_long["tenant_daily_snapshots"]
    recent = snaps["snapshot_date"] >= pd.Timestamp(starts[short])
    frames_short = {**frames_long, "tenant_daily_snapshots": snaps[recent].reset_index(drop=True)}
    results = {}
    for months, frames in ((short, frames_short), (long, frames_long)):
        scenario = Scenario(f"duckdb:///{tmp / f'history_{months}m.duckdb'}", "", starts[months], t)
        scenario.load(frames)
        report.say(f"{section}: {months} months, backfill {starts[months]} .. {t}")
        backfill_s, _ = run_pipeline(
            report, f"backfill {months}m", lambda: run_daily_job(scenario.defs, instance, scenario.wh, starts[months], t, say=report.say), instance
        )
        report.say(f"{section}: {months} months, one-day steps")
        costs = one_day_costs(report, scenario, instance, args.repeat, args.repeat_pipeline)
        results[months] = {"history_start": str(starts[months]), "silver_rows": scenario.silver_rows(),
                           "backfill_seconds": round(backfill_s, 3), **costs}
        report.add(section, f"{months:>2} months: full backfill ({results[months]['silver_rows']:,} silver rows)", backfill_s)
        report.add(section, f"{months:>2} months: history job on partition T", costs["history_job_one_day_seconds"],
                   f"dbt SQL {costs['history_job_one_day_dbt_sql_seconds']:.3f} s")
        report.add(section, f"{months:>2} months: KPI step, window [T-3, T+90]", costs["kpi_step_daily_window_seconds"])
        report.add(section, f"{months:>2} months:   of which the HISTORY statement", costs["kpi_step_history_statement_seconds"],
                   "observed days incl. the first-application lookup")
    measures = {
        "history_job_one_day": "history_job_one_day_seconds",
        "history_job_one_day_dbt_sql": "history_job_one_day_dbt_sql_seconds",
        "kpi_step_daily_window": "kpi_step_daily_window_seconds",
        "kpi_step_history_statement": "kpi_step_history_statement_seconds",
        "full_backfill": "backfill_seconds",
    }
    ratios = {what: results[long][key] / max(results[short][key], 1e-9) for what, key in measures.items()}
    for what, ratio in ratios.items():
        report.add(section, f"ratio {long}m / {short}m: {what.replace('_', ' ')}", None, f"{ratio:.2f}")
    return {
        "months": [short, long],
        "by_months": results,
        "ratio_long_over_short": {k: round(v, 3) for k, v in ratios.items()},
    }


def bench_mysql(report: Report, args, instance) -> dict:
    import sqlalchemy as sa

    from occupancy_assets.cli.launch import run_daily_job
    from occupancy_assets.demo.portfolio import DEFAULT_HISTORY_START, DEFAULT_SEED, generate_portfolio

    t = args.today
    if args.mysql_full:  # part 1's portfolio and history
        history_start = months_before(t, args.history_months) if args.history_months else DEFAULT_HISTORY_START
    else:
        history_start = months_before(t, args.mysql_months)
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    with sa.create_engine(args.mysql_url, poolclass=sa.pool.NullPool).connect() as conn:
        server = conn.execute(sa.text("SELECT VERSION()")).scalar()
    section = f"3. MySQL ({server}), {args.mysql_rooms:,} rooms, history {history_start} .. {t}"
    scenario = Scenario(args.mysql_url, prefix, history_start, t)
    try:
        report.say(f"{section}: generating and loading (schema prefix {prefix})")
        frames = generate_portfolio(rooms=args.mysql_rooms, seed=DEFAULT_SEED, history_start=history_start, today=t)
        snapshot_rows = len(frames["tenant_daily_snapshots"])
        loaded = scenario.load(frames)
        report.add(section, "demo data: load", loaded, f"{snapshot_rows:,} snapshot rows")
        report.say(f"{section}: full backfill")
        backfill_s, backfill_jobs = run_pipeline(
            report, "mysql backfill", lambda: run_daily_job(scenario.defs, instance, scenario.wh, history_start, t, say=report.say), instance
        )
        silver_rows = scenario.silver_rows()
        report.add(section, "full backfill, whole graph", backfill_s, f"{silver_rows:,} silver rows")
        add_jobs(report, section, backfill_jobs)
        report.say(f"{section}: daily pipeline and one-day steps")
        daily_s, daily_jobs = run_pipeline(
            report, "mysql daily", lambda: run_daily_job(scenario.defs, instance, scenario.wh, t, t, say=report.say), instance
        )
        report.add(section, "daily pipeline for T, whole graph", daily_s)
        add_jobs(report, section, daily_jobs)
        costs = one_day_costs(report, scenario, instance, args.repeat, args.repeat_pipeline)
        report.add(section, f"dbt step alone on partition T (median of {args.repeat_pipeline})", costs["history_job_one_day_seconds"],
                   f"dbt SQL {costs['history_job_one_day_dbt_sql_seconds']:.2f} s")
        report.add(section, f"KPI step, window [T-3, T+90] (median of {args.repeat})", costs["kpi_step_daily_window_seconds"])
        report.add(section, "  KPI step read statements", None, statement_note(costs))
        goals = None
        if args.mysql_full:
            measured = {"load": loaded, "backfill": backfill_s, "daily": daily_s,
                        "kpi_step": costs["kpi_step_daily_window_seconds"]}
            goals = {k: {"seconds": round(measured[k], 3), "goal": g, "met": measured[k] < g} for k, g in MYSQL_FULL_GOALS.items()}
            for k, v in goals.items():
                report.add(section, f"goal: {k.replace('_', ' ')} < {v['goal']:g} s", v["seconds"], "met" if v["met"] else "NOT met")
            for run, jobs in (("backfill", backfill_jobs), ("daily", daily_jobs)):
                limit = MYSQL_MODEL_GOALS[run]
                over = {k.split("/")[-1]: v for k, v in jobs[0]["dbt_sql_seconds"].items() if v >= limit}
                goals[f"{run}_per_model"] = {"goal": limit, "met": not over, "over": over}
                report.add(section, f"goal: every model's dbt SQL in the {run} < {limit:g} s", None,
                           "met" if not over else "NOT met: " + ", ".join(f"{k} {v:.1f} s" for k, v in over.items()))
        return {
            "full_scale": bool(args.mysql_full),
            "goals": goals,
            "server": server,
            "rooms": args.mysql_rooms,
            "history_start": str(history_start),
            "snapshot_rows": snapshot_rows,
            "silver_rows": silver_rows,
            "load_seconds": round(loaded, 3),
            "backfill_seconds": round(backfill_s, 3),
            "backfill_jobs": backfill_jobs,
            "daily_pipeline_seconds": round(daily_s, 3),
            "daily_jobs": daily_jobs,
            **costs,
        }
    finally:
        scenario.wh.drop_schemas()


def bench_mysql_quick(report: Report, args, tmp: Path, instance) -> dict:
    """`make bench-mysql-quick`, the step before merging a change to a dbt model or to SQL in Python:
    one portfolio (default 2,000 rooms, 6 months) on DuckDB and MariaDB, backfill and daily run of
    T, and dbt's own SQL time per model side by side as MariaDB / DuckDB ratios (issue 20)."""
    from occupancy_assets.cli.launch import run_daily_job
    from occupancy_assets.demo.portfolio import DEFAULT_SEED, generate_portfolio

    t = args.today
    history_start = months_before(t, args.mysql_months)
    frames = generate_portfolio(rooms=args.mysql_rooms, seed=DEFAULT_SEED, history_start=history_start, today=t)
    section = f"MariaDB vs DuckDB, {args.mysql_rooms:,} rooms, history {history_start} .. {t}"
    scenarios = {"duckdb": Scenario(f"duckdb:///{tmp / 'quick.duckdb'}", "", history_start, t),
                 "mysql": Scenario(args.mysql_url, f"benchq{uuid.uuid4().hex[:6]}_", history_start, t)}
    runs: dict = {}
    try:
        for name, scenario in scenarios.items():
            report.say(f"{section}: {name}")
            runs[name] = {"load": scenario.load(frames)}
            for run, (start, end) in {"backfill": (history_start, t), "daily": (t, t)}.items():
                seconds, jobs = run_pipeline(report, f"{name} {run}", lambda s=start, e=end, sc=scenario: run_daily_job(
                    sc.defs, instance, sc.wh, s, e, say=report.say), instance)
                runs[name][run] = {"seconds": round(seconds, 3), "dbt_sql_seconds": jobs[0]["dbt_sql_seconds"]}
        report.say(f"{section}: comparing silver and gold row for row")
        runs["identical"] = compare_tables(scenarios["duckdb"].wh, scenarios["mysql"].wh)
    finally:
        scenarios["mysql"].wh.drop_schemas()
    for table, result in runs["identical"].items():
        report.add(section, f"row for row: {table}", None, result)
    report.add(section, "load", runs["mysql"]["load"], f"DuckDB {runs['duckdb']['load']:.2f} s, "
               f"ratio {runs['mysql']['load'] / runs['duckdb']['load']:.1f}x")
    for run in ("backfill", "daily"):
        my, duck = runs["mysql"][run], runs["duckdb"][run]
        report.add(section, f"{run}, whole job", my["seconds"], f"DuckDB {duck['seconds']:.2f} s")
        for model, seconds in my["dbt_sql_seconds"].items():
            other = duck["dbt_sql_seconds"].get(model)
            ratio = f", ratio {seconds / other:.1f}x" if other else ""
            report.add(section, f"  {run}: {model.split('/')[-1]} (dbt SQL)", seconds,
                       f"DuckDB {other if other is not None else float('nan'):.2f} s{ratio}")
    return runs


def _normalized(frame):
    """A table's rows as sorted tuples of strings: dates as YYYY-MM-DD, numbers rounded to 6
    places, NULL as None, so DuckDB's and MySQL's types compare (DATE/TIMESTAMP, DECIMAL/DOUBLE)."""
    import pandas as pd

    columns = sorted(c for c in frame.columns if c not in TIMESTAMP_COLUMNS)
    out = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values) or values.map(lambda v: isinstance(v, dt.date)).any():
            out[column] = pd.to_datetime(values).dt.strftime("%Y-%m-%d").where(values.notna(), None)
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            if numbers.notna().sum() == values.notna().sum() and values.notna().any():
                out[column] = numbers.astype("float64").round(6).map(lambda v: None if pd.isna(v) else f"{v:.6f}")
            else:
                out[column] = values.map(lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    rows = pd.DataFrame(out)[columns].astype(object)
    rows = rows.where(rows.notna(), None)
    return columns, sorted(rows.itertuples(index=False, name=None), key=lambda r: tuple("" if v is None else str(v) for v in r))


def compare_tables(duck, mysql) -> dict[str, str]:
    """Each of COMPARED_TABLES on DuckDB and MariaDB, row for row (all columns but timestamps)."""
    results = {}
    for name in COMPARED_TABLES:
        layer, table = name.split(".")
        sql = f"SELECT * FROM {{{layer}}}.{table}"
        (cols_a, rows_a), (cols_b, rows_b) = _normalized(duck.read_sql(sql)), _normalized(mysql.read_sql(sql))
        if cols_a != cols_b:
            results[name] = f"DIFFERENT columns: {sorted(set(cols_a) ^ set(cols_b))}"
        elif rows_a == rows_b:
            results[name] = f"identical, {len(rows_a):,} rows"
        else:
            only_a, only_b = set(rows_a) - set(rows_b), set(rows_b) - set(rows_a)
            results[name] = f"DIFFERENT: {len(rows_a):,} vs {len(rows_b):,} rows, {len(only_a):,} only on DuckDB, {len(only_b):,} only on MariaDB"
    return results


# -- main ------------------------------------------------------------------------------------


def machine() -> dict:
    load = os.getloadavg()
    return {
        "date": dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m-%d %H:%M JST"),
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": version("duckdb"),
        "dagster": version("dagster"),
        "dbt_core": version("dbt-core"),
        "loadavg_1m_at_start": round(load[0], 2),
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, help=f"DuckDB portfolio size (default {FULL['rooms']:,}; --quick {QUICK['rooms']:,})")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=DEFAULT_TODAY,
                        help=f"T: last snapshot date and daily target (default {DEFAULT_TODAY}; not after today in JST)")
    parser.add_argument("--history-months", type=int,
                        help="part 1 history length in months (default: from 2025-10-01, the demo's history start)")
    parser.add_argument("--compare-months", type=int, nargs=2, metavar=("SHORT", "LONG"),
                        help="part 2 history lengths in months (default 6 12)")
    parser.add_argument("--skip-mysql", action="store_true", help="skip part 3")
    parser.add_argument("--skip-constant", action="store_true", help="skip part 2")
    parser.add_argument("--mysql-url", default=DEFAULT_MYSQL_URL, help="SQLAlchemy URL of the MySQL/MariaDB server")
    parser.add_argument("--mysql-rooms", type=int, help=f"MySQL portfolio size (default {FULL['mysql_rooms']:,})")
    parser.add_argument("--mysql-months", type=int, help=f"MySQL history length in months (default {FULL['mysql_months']})")
    parser.add_argument("--repeat", type=int, help="repetitions of the KPI step (median; default 5)")
    parser.add_argument("--repeat-pipeline", type=int, help="repetitions of dbt-backed runs (median; default 3)")
    parser.add_argument("--mysql-full", action="store_true",
                        help="part 3 at part 1's full scale (rooms, history), checked against issue 20's goals; "
                             "skips part 2 unless --compare-months is given")
    parser.add_argument("--mysql-quick", action="store_true",
                        help="only MariaDB vs DuckDB per-model dbt timings on one portfolio (default 2,000 rooms, "
                             "6 months): make bench-mysql-quick, before merging any SQL change")
    parser.add_argument("--quick", action="store_true", help="small scales and fewer repetitions: a smoke run")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "occupancy-benchmark.log",
                        help="where Dagster/dbt output goes")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    if args.mysql_full:
        if args.skip_mysql:
            parser.error("--mysql-full and --skip-mysql contradict each other")
        args.skip_constant = args.skip_constant or args.compare_months is None
        args.mysql_rooms = args.mysql_rooms or args.rooms or defaults["rooms"]
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from occupancy_assets.lib.settings import today_jst

    if args.today > today_jst():
        raise SystemExit(f"--today {args.today} is after today in Asia/Tokyo: its partition does not exist yet")
    report = Report(args.log)
    try:
        return run(args, argv, report)
    except BaseException as err:  # the console is redirected to the log: say it where it is seen
        import traceback

        traceback.print_exc()
        report.say(f"benchmark failed: {err!r} (details in {args.log})")
        return 1


def run(args: argparse.Namespace, argv, report: Report) -> int:
    info = machine()
    command = " ".join([Path(sys.executable).name, "scripts/benchmark.py", *(argv if argv is not None else sys.argv[1:])])
    report.say(f"benchmark: {command}  (Dagster/dbt output: {args.log})")
    results: dict = {"machine": info, "command": command, "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="occupancy-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["DAGSTER_HOME"] = str(tmp / "dagster_home")
        (tmp / "dagster_home").mkdir()
        # dbt's per-invocation target folders land here, not in the checkout; the prepared
        # partial-parse file is copied in so dbt starts as it would from dbt_project/target.
        os.environ["DBT_TARGET_PATH"] = str(tmp / "dbt_target")
        (tmp / "dbt_target").mkdir()
        partial_parse = REPO_ROOT / "dbt_project" / "target" / "partial_parse.msgpack"
        if partial_parse.exists():
            shutil.copy(partial_parse, tmp / "dbt_target")

        from dagster import DagsterInstance

        with DagsterInstance.ephemeral() as instance:
            if args.mysql_quick:
                results["mysql_quick"] = bench_mysql_quick(report, args, tmp, instance)
                return finish(args, report, info, command, results)
            results["duckdb_full"] = bench_duckdb_full(report, args, tmp, instance)
            if not args.skip_constant:
                results["constant_time"] = bench_constant_time(report, args, tmp, instance)
            if not args.skip_mysql:
                results["mysql"] = bench_mysql(report, args, instance)
    return finish(args, report, info, command, results)


def finish(args, report: Report, info: dict, command: str, results: dict) -> int:
    """Print the table and the JSON line."""
    results["machine"]["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    results["total_seconds"] = round(time.perf_counter() - report.started, 1)

    out = report.out
    print(f"occupancy-kpi benchmark, {info['date']}", file=out)
    print(f"command: {command}", file=out)
    print(f"machine: {info['nproc']} cores, {info['platform']}, Python {info['python']}, duckdb {info['duckdb']}, "
          f"dagster {info['dagster']}, dbt-core {info['dbt_core']}; load average (1 min) "
          f"{info['loadavg_1m_at_start']} at start, {results['machine']['loadavg_1m_at_end']} at end", file=out)
    print(f"T = {args.today}; daily window = [T-3, T+90]; medians where stated", file=out)
    print(report.table(), file=out)
    print(f"\ntotal {results['total_seconds']:.0f} s", file=out)
    print("BENCHMARK_JSON " + json.dumps(results, default=str), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
