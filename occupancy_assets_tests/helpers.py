"""Helpers shared by the automation, status and concurrency tests: edits of a test warehouse's
staging dumps (a new or a bad dump) and their undoing, and timestamp-free copies of the built rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .worked_example import AS_OF


def add_snapshot(wh, day: dt.date, copy_of: dt.date = AS_OF, tenants: list[int] | None = None) -> None:
    """A new dump in staging: the `copy_of` dump under another date (optionally only some tenants)."""
    rows = wh.read_sql(
        "SELECT * FROM {staging}.tenant_daily_snapshots WHERE snapshot_date = :d", {"d": copy_of}
    )
    if tenants is not None:
        rows = rows[rows["tenant_id"].isin(tenants)]
    rows["snapshot_date"] = pd.Timestamp(day)
    with wh.begin() as conn:
        for record in rows.astype(object).where(rows.notna(), None).to_dict("records"):
            conn.execute(
                wh.render(
                    "INSERT INTO {staging}.tenant_daily_snapshots "
                    "(snapshot_date, tenant_id, status, moving_id, contract_type, full_name) "
                    "VALUES (:snapshot_date, :tenant_id, :status, :moving_id, :contract_type, :full_name)"
                ),
                record,
            )


def delete_date(wh, day: dt.date) -> None:
    """Undo add_snapshot (and a silver window built from it)."""
    has_silver = wh.table_exists("silver", "tenant_room_snapshot_daily")
    with wh.begin() as conn:
        tables = ["{staging}.tenant_daily_snapshots"] + (["{silver}.tenant_room_snapshot_daily"] if has_silver else [])
        for table in tables:
            conn.execute(wh.render(f"DELETE FROM {table} WHERE snapshot_date = :d"), {"d": day})


def built_rows(wh) -> dict[str, pd.DataFrame]:
    """silver and gold rows without their load timestamps, sorted: equal frames = identical rows."""
    tables = {
        "silver": "SELECT * FROM {silver}.tenant_room_snapshot_daily",
        "kpi": "SELECT * FROM {gold}.kpi_month_end_metrics",
        "occupancy": "SELECT * FROM {gold}.occupancy_daily_metrics",
    }
    out = {}
    for name, sql in tables.items():
        frame = wh.read_sql(sql)
        frame = frame.drop(columns=[c for c in ("loaded_at", "generated_at", "updated_at") if c in frame])
        out[name] = frame.astype(str).sort_values(list(frame.columns[:4])).reset_index(drop=True)
    return out
