"""`occupancy-kpi`: the operator's command line (see README "Operating it")."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import threading
import time

from occupancy_assets.lib.settings import INSTANCE_CONFIG, REPO_ROOT, Settings, SettingsError, today_jst


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {value!r}")
    return value


def _instance():
    """The Dagster instance in $DAGSTER_HOME (default .dagster/ in the repo), so CLI runs show in the UI."""
    from dagster import DagsterInstance

    home = os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / ".dagster"))
    os.makedirs(home, exist_ok=True)
    config = os.path.join(home, "dagster.yaml")
    # as `make` does: install the repo's instance config, and refresh it when the repo's is newer;
    # any other instance config (production: deploy/dagster.yaml) is the operator's and left alone
    if not os.path.exists(config) or (
        _is_local_instance_config(config) and os.path.getmtime(INSTANCE_CONFIG) > os.path.getmtime(config)
    ):
        with open(INSTANCE_CONFIG) as src, open(config, "w") as dst:
            dst.write(src.read())
    from occupancy_assets.cli.launch import ensure_pool_limit

    instance = DagsterInstance.get()
    ensure_pool_limit(instance)
    return instance


def _is_local_instance_config(path: str) -> bool:
    """A copy of (any version of) the repo's deploy/dagster.local.yaml: every one opens with this comment."""
    with open(path) as handle:
        return handle.readline().startswith("# Local Dagster instance")


def _definitions(settings: Settings):
    from occupancy_assets.definitions import build_definitions

    return build_definitions(settings)


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from occupancy_assets.defs.staging.tables import STAGING_TABLES
    from occupancy_assets.demo.portfolio import DEFAULT_ROOMS, DEFAULT_SEED, generate_portfolio, summarize
    from occupancy_assets.lib.resources import open_warehouse

    rooms = args.rooms or DEFAULT_ROOMS
    seed = DEFAULT_SEED if args.seed is None else args.seed
    history_start = args.history_start or settings.history_start
    today = args.today or today_jst()
    wh = open_warehouse(settings)  # first: a warehouse that cannot be reached is said before the generation
    started = time.perf_counter()
    frames = generate_portfolio(rooms=rooms, seed=seed, history_start=history_start, today=today)
    generated = time.perf_counter()
    wh.replace_tables("staging", STAGING_TABLES, frames)
    loaded = time.perf_counter()
    summary = summarize(frames)
    print(f"demo portfolio: {rooms:,} rooms, seed {seed}, history {history_start} .. {today} -> {wh!r}")
    for table, count in summary["rows"].items():
        print(f"  staging.{table}: {count:,} rows")
    print(f"  snapshots: {summary['snapshot_date_min']} .. {summary['snapshot_date_max']} ({summary['snapshot_days']} days)")
    print(f"  generated in {generated - started:.1f} s, loaded in {loaded - generated:.1f} s")
    return 0


def _run_range(settings: Settings, start: dt.date | None, end: dt.date, command: str, say=print) -> int:
    """One run of the daily job over [start, end] in this process; prints its outcome. A range
    reaching into an archived month is refused before anything runs; without a start, the range
    starts after the archived months at the beginning of the history."""
    from occupancy_assets.cli.launch import run_daily_job
    from occupancy_assets.lib.archive_manifest import archived_months_between, archived_refusal, month_after
    from occupancy_assets.lib.resources import open_warehouse

    wh = open_warehouse(settings)  # first: a warehouse that cannot be reached is said before anything loads
    if start is None:
        start = settings.history_start
        for month in archived_months_between(wh, start, end):
            if month != start.strftime("%Y-%m"):
                break
            start = month_after(month)
    archived = archived_months_between(wh, start, end)
    if archived:
        say(f"{command}: refused - {archived_refusal(start, end, archived)}")
        return 2
    if command == "backfill":
        say(f"backfill {start} .. {end}: one run of the daily job over the range (projections if {end} is the newest dump)")
    else:
        say(f"daily pipeline for {end}")
    outcome = run_daily_job(_definitions(settings), _instance(), wh, start, end, say=say)
    say("  " + outcome.describe().replace("\n", "\n  "))
    return 0 if outcome.success else 1


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    return _run_range(settings, args.start, args.end or today_jst(), "backfill")


def cmd_daily(args: argparse.Namespace, settings: Settings) -> int:
    target = args.target_date or today_jst()
    return _run_range(settings, target, target, "daily")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Demo data, then the pipeline as one stage whose Dagster and dbt output goes to a log file
    (cli/run_log.py; --verbose: to the terminal), then the KPI card and the status report."""
    from occupancy_assets.cli.run_log import Terminal, latest_step, log_path, stage

    today = args.today or today_jst()
    demo_args = argparse.Namespace(rooms=args.rooms, seed=args.seed, history_start=None, today=today)
    if cmd_demo_data(demo_args, settings):
        return 1
    instance = _instance()  # first: it settles $DAGSTER_HOME, where the log goes
    log = None if args.verbose else log_path(os.environ["DAGSTER_HOME"])
    terminal = Terminal()
    if log is not None:
        terminal.line(f"the pipeline's full output (Dagster, dbt): {log}")
    with stage(terminal, log, "pipeline: backfill of the whole history, one run of the daily job", latest_step(instance, time.time())):
        code = _run_range(settings, None, today, "backfill", say=terminal.line)
    terminal.close()
    from occupancy_assets.cli.report import print_kpi_card
    from occupancy_assets.cli.status import run_status

    print_kpi_card(settings)
    print()
    run_status(settings, today=today, instance=instance)  # informational: the exit code is the pipeline's
    return code


def cmd_archive(args: argparse.Namespace, settings: Settings) -> int:
    """Archive one month (--month) or every month older than the retention still in silver, through
    the archive job (the same runs the monthly schedule launches)."""
    from occupancy_assets.cli.launch import holding_the_warehouse
    from occupancy_assets.defs.archive.assets import ARCHIVE_JOB, months_due
    from occupancy_assets.defs.archive.months import ArchiveError, check_archivable
    from occupancy_assets.defs.archive.runs import run_archive
    from occupancy_assets.lib.resources import open_warehouse

    today = args.today or today_jst()
    defs = _definitions(settings)
    partition_keys = defs.resolve_job_def(ARCHIVE_JOB).partitions_def.get_partition_keys()
    if args.month:
        if args.month not in partition_keys:
            try:
                check_archivable(args.month, today, settings.retention_months)
            except ArchiveError as err:
                print(f"archive {args.month}: refused - {err}")
                return 1
            history = f"{partition_keys[0]} .. {partition_keys[-1]}"
            print(f"archive {args.month}: refused - not a month of the history ({history})")
            return 1
        months = [args.month]
    else:
        months = months_due(open_warehouse(settings), settings, today, partition_keys)
        if not months:
            print(
                f"nothing to archive: no month older than the retention of {settings.retention_months} months "
                f"has rows in silver (today {today})"
            )
            return 0
    print(f"archive {', '.join(months)} (retention {settings.retention_months} months, today {today})")
    instance = _instance()
    with holding_the_warehouse(instance):  # it deletes silver rows: never beside another writer
        runs = run_archive(defs, instance, months, today=today)
    for run in runs:
        print("  " + run.describe())
    return 0 if all(run.success for run in runs) else 1


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Load an archived month back into silver through the restore job."""
    from occupancy_assets.cli.launch import holding_the_warehouse
    from occupancy_assets.defs.archive.assets import RESTORE_JOB
    from occupancy_assets.defs.archive.runs import run_restore

    defs = _definitions(settings)
    months = defs.resolve_job_def(RESTORE_JOB).partitions_def.get_partition_keys()
    if args.month not in months:
        print(f"restore {args.month}: refused - not a month of the history ({months[0]} .. {months[-1]})")
        return 2
    instance = _instance()
    with holding_the_warehouse(instance):
        run = run_restore(defs, instance, args.month)
    print("restore " + run.describe())
    return 0 if run.success else 1


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from occupancy_assets.cli.report import print_kpi_card
    from occupancy_assets.cli.status import run_status
    from occupancy_assets.lib.resources import open_warehouse

    wh = open_warehouse(settings)
    if wh.dialect == "duckdb" and not wh.duckdb_path.exists():  # opening it would create an empty file
        print(f"status: no warehouse at {wh.duckdb_path}: nothing is built yet; run `occupancy-kpi backfill` "
              "(or `make demo`), or check OCCUPANCY_WAREHOUSE_URL")
        return 1
    print_kpi_card(settings)  # the card with the forecast and the emptiest houses, then the health report
    return run_status(settings, instance=_instance())


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from occupancy_assets.cli.status import run_verify

    return run_verify(settings)


def cmd_alert_test(args: argparse.Namespace, settings: Settings) -> int:
    """A test message on each configured alert channel; non-zero if one failed or none is set."""
    from occupancy_assets.defs.alerts.sensors import send_test

    lines = send_test(settings)
    print("\n".join(lines))
    return 0 if all(": sent" in line for line in lines) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="occupancy-kpi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo-data", help="write the synthetic demo portfolio into staging (replacing it)")
    p.add_argument("--rooms", type=int, help="number of rooms (default: full scale, 16,108)")
    p.add_argument("--seed", type=int, help="random seed (same arguments give identical tables)")
    p.add_argument("--history-start", type=_date, help="first snapshot date (default OCCUPANCY_HISTORY_START)")
    p.add_argument("--today", type=_date, help="last snapshot date (default: today in Asia/Tokyo)")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("demo", help="demo data + the whole pipeline on the configured (default: embedded) warehouse")
    p.add_argument("--rooms", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--today", type=_date)
    p.add_argument("--verbose", action="store_true", help="stream Dagster's and dbt's output instead of writing it to a log file")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("backfill", help="rebuild silver and gold for a date range through Dagster, with the checks")
    p.add_argument("--start", type=_date, help="first date (default OCCUPANCY_HISTORY_START)")
    p.add_argument("--end", type=_date, help="last date (default: today in Asia/Tokyo)")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("daily", help="the daily pipeline for one target date, as the schedule runs it")
    p.add_argument("--target-date", type=_date, help="default: today in Asia/Tokyo")
    p.set_defaults(func=cmd_daily)

    p = sub.add_parser(
        "status", help="coverage, freshness, violations, gaps, failed checks; non-zero exit if attention needed"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "archive", help="archive silver months older than the retention to Parquet (verified, then deleted)"
    )
    p.add_argument(
        "--month", type=_month,
        help="YYYY-MM (default: every month older than OCCUPANCY_RETENTION_MONTHS still in silver)"
    )
    p.add_argument("--today", type=_date, help="judge the retention as of this date (default: today in Asia/Tokyo)")
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("restore", help="load an archived month back into silver, row for row")
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("verify", help="release sign-off: version alignment and reference guardrails")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("alert-test", help="send a test message on each configured alert channel (webhook, e-mail)")
    p.set_defaults(func=cmd_alert_test)
    return parser


def _check_dates(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> None:
    """Dates that cannot name a partition are argument errors (exit 2), said before anything runs."""
    today = today_jst()
    if args.command == "backfill":
        start, end = args.start or settings.history_start, args.end or today
        if start < settings.history_start:
            parser.error(f"--start {start} is before the history start {settings.history_start} (OCCUPANCY_HISTORY_START)")
        if end > today:
            parser.error(f"--end {end} is after today {today} (Asia/Tokyo): there is no partition for it yet")
        if end < start:
            parser.error(f"--end {end} is before --start {start}")
    if args.command == "daily" and args.target_date is not None:
        if args.target_date > today:
            parser.error(f"--target-date {args.target_date} is after today {today} (Asia/Tokyo): there is no partition for it yet")
        if args.target_date < settings.history_start:
            parser.error(
                f"--target-date {args.target_date} is before the history start {settings.history_start} (OCCUPANCY_HISTORY_START)"
            )


#: Commands that write a warehouse from nothing: a DuckDB file's missing folder is created, not refused.
CREATES_WAREHOUSE = ("demo", "demo-data")


def _error(err: Exception) -> int:
    """`occupancy-kpi: error: ...`, one line per line of the message (a SettingsError: per variable); exit 2."""
    for line in str(err).splitlines() or [type(err).__name__]:
        print(f"occupancy-kpi: error: {line}", file=sys.stderr)
    return 2


def _check_reachable(settings: Settings) -> None:
    """A MySQL warehouse given by URL is connected to before Dagster is imported (seconds on a busy
    machine), so a wrong password or a host that does not answer is said at once. Aurora's URL needs
    the secret, fetched through dagster-aws: the commands check it when they open the warehouse."""
    from occupancy_assets.lib.warehouse import Warehouse, check_connection

    if not settings.aurora_secret_arn:
        wh = Warehouse(settings.warehouse_url, settings.schema_prefix)
        if wh.dialect == "mysql":
            check_connection(wh)


def main(argv: list[str] | None = None) -> int:
    from occupancy_assets.lib.dagster_internals import setup_interrupt_handlers

    if threading.current_thread() is threading.main_thread():  # signals are the main thread's
        setup_interrupt_handlers()  # SIGTERM as Ctrl-C: the run stops step by step, gold stays whole
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # the environment is judged before anything runs (and before the dates, which need it)
        settings = Settings.from_env(may_create_warehouse=args.command in CREATES_WAREHOUSE)
    except SettingsError as err:
        return _error(err)
    _check_dates(parser, args, settings)
    try:
        _check_reachable(settings)
        return args.func(args, settings)
    except (ValueError, RuntimeError) as err:
        return _error(err)
    except KeyboardInterrupt:
        print("occupancy-kpi: interrupted (SIGINT or SIGTERM); a run it started is failed and its gold window put back",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
