"""Both gold tables describe the same dumps, or neither changes (issue 10: write both or neither).

A daily run writes kpi_month_end_metrics and occupancy_property_daily for its window in the dbt
build, tests them, and only then writes occupancy_daily_metrics in its own step. A gold test that
fails after the write (dbt cannot un-write a model), or an occupancy step that fails, would leave
month-end describing the new dumps and occupancy the old ones. So the dbt step saves the window's
rows of the two dbt gold tables before dbt starts (into the dbt audit schema, replaced by every
run, with a marker naming the run), and the run puts them back when it cannot finish gold: a dbt
build that failed after writing them, or a failed occupancy step. silver keeps its new window: it
passed its own checks (and the dump-health gate), and the next run rebuilds gold from it.

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
    return [f"gold.{table}" for table in tables]
