"""Launch the `daily` job from the command line (`occupancy-kpi daily/backfill/demo`), in this
process, recorded in the Dagster instance so the run shows in the UI like any other.

Runs the daemon launches (schedule, sensor, UI) queue in the `warehouse` pool (dagster.yaml); a CLI
run joins that queue from outside: it waits until no other run holds the pool, and two CLI processes
take turns through a lock file in $DAGSTER_HOME. A process that waited while another launched the
same partition reports that run instead of launching it again (one materialization of T).

Each run carries its process in its tags (dead_runs.process_tags), and a run whose process is gone
is marked failed before and while waiting (dead_runs.py): a killed CLI run never holds the pool.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dagster import (
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunsFilter,
)

from occupancy_assets.defs.daily.job import daily_selection
from occupancy_assets.defs.dbt.failures import BOOKKEEPING_KEYS
from occupancy_assets.lib.dagster_internals import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from occupancy_assets.lib.dead_runs import fail_dead_runs, process_tags
from occupancy_assets.lib.names import DAILY_JOB, WAREHOUSE_POOL
from occupancy_assets.lib.partitions import partition_key
from occupancy_assets.lib.warehouse import Warehouse

POOL_POLL_SECONDS = 2.0
LOCK_FILE = "occupancy-kpi-launch.lock"


@dataclass
class RunOutcome:
    """What an operator needs to know about one run, in a few lines."""

    run_id: str
    window: tuple[dt.date, dt.date]
    success: bool
    failed_checks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: True when another process launched this run and this one only waited for it
    joined: bool = False
    #: check name -> the lines printed under it: its dates, counts and first offending rows
    #: (failed checks), its dates (warnings); see `check_details`
    details: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        start, end = self.window
        where = str(start) if start == end else f"{start} .. {end}"
        verdict = "ok" if self.success else "FAILED"
        lines = [f"{DAILY_JOB} {where}: {verdict} [run {self.run_id[:8]}]" + (" (launched by another process)" if self.joined else "")]
        for label, names in (("failed check", self.failed_checks), ("warning", self.warnings)):
            for name in names:
                lines.append(f"  {label}: {name}")
                lines += [f"    {line}" for line in self.details.get(name, [])]
        lines += [f"  error: {line}" for line in self.errors]
        return "\n".join(lines)


# -- what a check's evaluation says, in a few lines ----------------------------------------------
# Generic over the metadata, so a new check prints without changes here: date lists (a JSON list, or
# a key naming dates), then the short numbers and words (counts, thresholds), then the first rows of
# every table (markdown or Dagster table: the offending rows), then any longer text (an action).

#: Rows of each table shown per failed check (the check's metadata in the UI has more).
SHOWN_ROWS = 5
#: Dates listed per date entry.
SHOWN_DATES = 10
#: Short values on the counts line.
SHOWN_VALUES = 8
#: Characters per printed line (wide tables are cut).
LINE_WIDTH = 160


def _cut(text: str, width: int = LINE_WIDTH) -> str:
    text = " ".join(text.split()) if "\n" in text else text.rstrip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _table_lines(key: str, value, max_rows: int) -> list[str]:
    """The first rows of a markdown table (or a Dagster table), header included."""
    from dagster import TableMetadataValue

    if isinstance(value, TableMetadataValue):
        records = [record.data for record in value.records]
        columns = list(records[0]) if records else []
        rows = [" | ".join(columns)] + [" | ".join(str(r.get(c)) for c in columns) for r in records[:max_rows]]
        total = len(records)
    else:
        text = [line for line in str(value.value).splitlines() if line.strip()]
        if not text or not text[0].lstrip().startswith("|"):  # markdown, not a table: its first lines
            return [f"{key}:"] + [f"  {_cut(line)}" for line in text[:max_rows]]
        cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text]
        header, body = cells[0], [row for row in cells[1:] if not set("".join(row)) <= set(":- ")]
        rows, total = [" | ".join(row) for row in [header, *body[:max_rows]]], len(body)
    more = f", first {max_rows} shown" if total > max_rows else ""
    return [f"{key} ({total} row{'s' if total != 1 else ''}{more}):"] + [f"  {_cut(row)}" for row in rows]


def _dates_in_tables(tables) -> list[str]:
    """No date list in the metadata (a dbt test's): the dates of the first date column of its rows."""
    from dagster import TableMetadataValue

    for key, value in tables:
        if isinstance(value, TableMetadataValue):
            records = [record.data for record in value.records]
            header = list(records[0]) if records else []
            rows = [[str(r.get(c)) for c in header] for r in records]
        else:
            lines = [line for line in str(value.value).splitlines() if line.lstrip().startswith("|")]
            cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
            header, rows = (cells[0], cells[2:]) if len(cells) > 2 else ([], [])
        column = next((i for i, name in enumerate(header) if "date" in name), None)
        if column is None:
            continue
        values = list(dict.fromkeys(row[column] for row in rows if len(row) > column))
        shown = ", ".join(values[:SHOWN_DATES]) + (", ..." if len(values) > SHOWN_DATES else "")
        return [_cut(f"{header[column]} in {key}: {shown}")] if values else []
    return []


def check_details(evaluation, *, rows: bool = True, max_rows: int = SHOWN_ROWS) -> list[str]:
    """A check evaluation's partition, dates, counts, first offending rows and action, as lines.
    `rows=False` (warnings): the partition and the dates only."""
    from dagster import JsonMetadataValue, MarkdownMetadataValue, TableMetadataValue, TableSchemaMetadataValue

    dates, short, tables, texts = [], [], [], []
    if getattr(evaluation, "partition", None):
        dates.append(f"partition: {evaluation.partition}")
    for key, value in (evaluation.metadata or {}).items():
        raw = getattr(value, "value", value)
        if key in BOOKKEEPING_KEYS or isinstance(value, TableSchemaMetadataValue):
            continue
        if key.startswith("dagster"):
            if not isinstance(raw, (int, float)):
                continue
            key = key.rsplit("/", 1)[-1]  # dagster_dbt/failed_row_count -> failed_row_count
        if isinstance(value, (MarkdownMetadataValue, TableMetadataValue)):
            tables.append((key, value))
        elif isinstance(value, JsonMetadataValue) and isinstance(raw, list):
            shown = ", ".join(str(v) for v in raw[:SHOWN_DATES]) or "none"
            more = f", ... ({len(raw)} listed)" if len(raw) > SHOWN_DATES else ""
            dates.append(_cut(f"{key}: {shown}{more}"))
        elif isinstance(raw, (bool, int, float)) or (isinstance(raw, str) and len(raw) <= 40 and "\n" not in raw):
            if "date" in key and isinstance(raw, str):
                dates.append(f"{key}: {raw}")
            else:
                short.append(f"{key}={raw}")
        elif raw is not None:
            text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
            texts.append(_cut(f"{key}: {text}"))
    if not any(line.split(":", 1)[0] != "partition" for line in dates):
        dates += _dates_in_tables(tables)
    if not rows:
        return [line for line in dates if line.startswith("partition") or "date" in line.split(":", 1)[0]]
    lines = dates
    if short:
        lines.append(_cut(", ".join(short[:SHOWN_VALUES])))
    for key, value in tables:
        lines += _table_lines(key, value, max_rows)
    lines += texts
    if not lines and evaluation.description:
        lines.append(_cut(evaluation.description))
    return lines


def summarize(instance: DagsterInstance, run_id: str, window: tuple[dt.date, dt.date], joined: bool = False) -> RunOutcome:
    """The run's verdict, failed checks (with severity, dates and first offending rows) and step
    errors, from the event log."""
    run = instance.get_run_by_id(run_id)
    outcome = RunOutcome(run_id, window, run is not None and run.status == DagsterRunStatus.SUCCESS, joined=joined)
    for record in instance.all_logs(run_id, of_type={DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.STEP_FAILURE}):
        event = record.dagster_event
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                name = evaluation.asset_check_key.to_user_string()
                warn = evaluation.severity == AssetCheckSeverity.WARN
                (outcome.warnings if warn else outcome.failed_checks).append(name)
                outcome.details[name] = check_details(evaluation, rows=not warn)
        elif event.step_failure_data:
            line = _first_line(event.step_failure_data.error)
            if line and line not in outcome.errors:
                outcome.errors.append(f"{event.step_key}: {line}")
    return outcome


def _first_line(error) -> str | None:
    """The user-facing line of a step failure: the user code's exception, not Dagster's wrapper."""
    while error is not None and error.cause is not None and error.cls_name.startswith("Dagster") and "ExecutionError" in error.cls_name:
        error = error.cause
    message = (error.message or "").strip() if error is not None else ""
    if error is not None and error.cls_name == "Failure":  # its description is the message
        message = message.split("Failure: ", 1)[-1]
    return message.splitlines()[0] if message else None


@contextlib.contextmanager
def launch_lock(instance: DagsterInstance) -> Iterator[None]:
    """One CLI launcher at a time per instance (a lock file in $DAGSTER_HOME; none for an ephemeral one)."""
    root = getattr(instance, "root_directory", None)
    if not root:
        yield
        return
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, LOCK_FILE), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_pool_limit(instance: DagsterInstance) -> None:
    """Write the pool's limit (dagster.yaml `default_limit`) into the instance now. Dagster does it
    lazily, during the queue daemon's first pass over runs that need the pool, and in that very
    first pass a fresh instance lets two of them start at once."""
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits and instance.global_op_concurrency_default_limit:
        if WAREHOUSE_POOL not in storage.get_concurrency_keys():
            storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)


def runs_holding_the_pool(instance: DagsterInstance) -> list:
    runs = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]))
    return [run for run in runs if run.run_op_concurrency and WAREHOUSE_POOL in (run.run_op_concurrency.all_pools or ())]


def wait_for_the_pool(instance: DagsterInstance, say: Callable[[str], None]) -> None:
    """Wait while another run (any launcher) holds the warehouse pool; a run of this host whose
    process is gone is marked failed instead of waited for (also one that dies while we wait)."""
    announced = None
    while True:
        busy = runs_holding_the_pool(instance)
        # only a holder can block us: run_daily_job already cleared the dead runs before it asked
        if busy and fail_dead_runs(instance, by="occupancy-kpi on start", say=say):
            busy = runs_holding_the_pool(instance)
        if not busy:
            return
        if busy[0].run_id != announced:
            announced = busy[0].run_id
            say(f"waiting for run {announced[:8]} ({busy[0].job_name}, {busy[0].status.value}) to release the warehouse")
        time.sleep(POOL_POLL_SECONDS)


def run_daily_job(
    defs: Definitions,
    instance: DagsterInstance,
    wh: Warehouse,
    start: dt.date,
    end: dt.date,
    say: Callable[[str], None] = print,
) -> RunOutcome:
    """One run of the daily job over the as-of range [start, end] (start == end: the daily run of T)."""
    job = defs.resolve_job_def(DAILY_JOB)
    graph = defs.resolve_asset_graph()
    code_versions = {key: graph.get(key).code_version for key in graph.get_all_asset_keys()}
    asked_at = time.time()
    fail_dead_runs(instance, by="occupancy-kpi on start", say=say)  # a dead run of T is not one to join
    running = {r.dagster_run.run_id for r in _runs_of(instance, start) if not r.dagster_run.is_finished} if start == end else set()
    with launch_lock(instance):
        wait_for_the_pool(instance, say)
        if start == end:
            joined = _run_launched_meanwhile(instance, start, asked_at, running)
            if joined is not None:
                return summarize(instance, joined, (start, end), joined=True)
        selection = daily_selection(instance, code_versions, wh)
        if start == end:
            result = job.execute_in_process(
                instance=instance, partition_key=partition_key(start), asset_selection=selection,
                tags=process_tags(), raise_on_error=False,
            )
        else:
            tags = {ASSET_PARTITION_RANGE_START_TAG: partition_key(start), ASSET_PARTITION_RANGE_END_TAG: partition_key(end),
                    **process_tags()}
            result = job.execute_in_process(instance=instance, tags=tags, asset_selection=selection, raise_on_error=False)
    return summarize(instance, result.run_id, (start, end))


def _runs_of(instance: DagsterInstance, day: dt.date, limit: int | None = None) -> list:
    """Run records of the daily job for partition T, newest first."""
    from occupancy_assets.lib.dagster_internals import PARTITION_NAME_TAG

    return list(instance.get_run_records(
        filters=RunsFilter(job_name=DAILY_JOB, tags={PARTITION_NAME_TAG: partition_key(day)}), limit=limit
    ))


def _run_launched_meanwhile(instance: DagsterInstance, day: dt.date, since: float, running: set[str]) -> str | None:
    """The run of partition T that was in progress when this process asked, or was created while it
    waited (newest first); None: T has to be run."""
    for record in _runs_of(instance, day, limit=5):
        if record.dagster_run.run_id in running or record.create_timestamp.timestamp() >= since:
            return record.dagster_run.run_id
    return None
