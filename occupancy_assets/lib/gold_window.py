"""Both gold tables describe the same dumps, or neither changes (issues 10 and 18).

A daily run writes kpi_month_end_metrics and occupancy_property_daily for its window in the dbt
build, tests them, and only then writes occupancy_daily_metrics in its own step. A gold test that
fails after the write (dbt cannot un-write a model), a failed or interrupted occupancy step, a
SIGINT / SIGTERM / UI termination anywhere in between, or a crash would leave month-end
describing the new dumps and occupancy the old ones. So:

1. save: before dbt starts, the dbt step copies the window's rows of the two dbt gold tables into
   the dbt audit schema, with a marker row naming the run (the window is *unpublished*);
2. publish: the occupancy step deletes the marker row in the same transaction that writes its
   window, so "occupancy written" and "marker gone" are one commit (a run without the occupancy
   step publishes at the end of its dbt step);
3. restore: while the marker row is there, the copies are put back (and the marker deleted, one
   transaction) by whoever finds the run unfinished: the run itself when a step fails or is
   interrupted, the CLI when its run ends without success, and otherwise (a crash, a kill, a
   restore that failed on a full disk) the next run, before it writes anything.

So after any interrupt the gold tables agree at the latest when the next run starts, and by the
end of the interrupted run whenever its process survives. silver keeps its new window: it passed
its own checks (and the dump-health gate), and the next run rebuilds gold from it.

The cost is one copy of the window's rows per table (a daily window: a few hundred rows).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from occupancy_assets.lib.warehouse import Warehouse

#: The dbt gold tables of a daily window, with their date column.
WINDOW_TABLES = {"kpi_month_end_metrics": "as_of_date", "occupancy_property_daily": "snapshot_date"}
#: Which run saved the copies, and its window (one row).
MARKER = "{audit}.gold_window_saved"


def _saved(table: str) -> str:
    return "{audit}." + f"{table}__before_run"


def save_gold_window(wh: Warehouse, window: tuple[dt.date, dt.date], run_id: str) -> None:
    """Copy the window's rows of each existing dbt gold table aside, before dbt replaces them."""
    start, end = window
    wh.ensure_schemas()
    existing = [table for table in WINDOW_TABLES if wh.table_exists("gold", table)]
    with wh.begin() as conn:
        conn.execute(wh.render(f"DROP TABLE IF EXISTS {MARKER}"))
        conn.execute(wh.render(f"CREATE TABLE {MARKER} (run_id VARCHAR(64), start_date DATE, end_date DATE)"))
        for table, column in WINDOW_TABLES.items():
            conn.execute(wh.render(f"DROP TABLE IF EXISTS {_saved(table)}"))
            if table in existing:
                conn.execute(
                    wh.render(f"CREATE TABLE {_saved(table)} AS SELECT * FROM {{gold}}.{table} WHERE {column} BETWEEN :start AND :end"),
                    {"start": start, "end": end},
                )
        conn.execute(wh.render(f"INSERT INTO {MARKER} VALUES (:run_id, :start, :end)"), {"run_id": run_id, "start": start, "end": end})


def restore_gold_window(wh: Warehouse, run_id: str) -> list[str]:
    """Put back what `save_gold_window` saved in run `run_id` (nothing if that run saved nothing):
    each table's window is deleted and re-filled from its copy (or left empty: the table had no
    rows there). Returns the restored tables."""
    if not wh.table_exists("audit", "gold_window_saved"):
        return []
    marker = wh.read_sql(f"SELECT run_id, start_date, end_date FROM {MARKER}")
    if len(marker) != 1 or marker.iloc[0]["run_id"] != run_id:
        return []
    start, end = (pd.Timestamp(marker.iloc[0][c]).date() for c in ("start_date", "end_date"))
    tables = {table: column for table, column in WINDOW_TABLES.items() if wh.table_exists("gold", table)}
    saved = {table for table in tables if wh.table_exists("audit", f"{table}__before_run")}
    columns = {table: ", ".join(wh.quote(c) for c in wh.columns("gold", table)) for table in saved}
    with wh.begin() as conn:
        for table, column in tables.items():
            conn.execute(wh.render(f"DELETE FROM {{gold}}.{table} WHERE {column} BETWEEN :start AND :end"), {"start": start, "end": end})
            if table in saved:
                conn.execute(wh.render(f"INSERT INTO {{gold}}.{table} ({columns[table]}) SELECT {columns[table]} FROM {_saved(table)}"))
        conn.execute(wh.render(f"DELETE FROM {MARKER} WHERE run_id = :run_id"), {"run_id": run_id})
    return [f"gold.{table}" for table in tables]


def unpublished_run(wh: Warehouse) -> str | None:
    """The run whose saved window was never published (None: every window was)."""
    if not wh.table_exists("audit", "gold_window_saved"):
        return None
    marker = wh.read_sql(f"SELECT run_id FROM {MARKER}")
    return str(marker.iloc[0]["run_id"]) if len(marker) == 1 else None


def recover_unpublished_window(wh: Warehouse, run_id: str) -> tuple[str | None, list[str]]:
    """Before run `run_id` writes: put back the window another run saved and never published
    (it crashed or was killed after dbt wrote gold). Returns (that run, the restored tables)."""
    other = unpublished_run(wh)
    if other is None or other == run_id:
        return None, []
    return other, restore_gold_window(wh, other)


def publish_gold_window(wh: Warehouse, conn, run_id: str) -> None:
    """Inside the transaction that completes gold for run `run_id`: its saved window is no longer
    needed (the marker row goes in the same commit as the write)."""
    if wh.table_exists("audit", "gold_window_saved"):
        conn.execute(wh.render(f"DELETE FROM {MARKER} WHERE run_id = :run_id"), {"run_id": run_id})
