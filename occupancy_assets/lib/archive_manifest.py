"""The archive manifest `silver.archived_months`: which months left silver, where they went, with
what checksum. The history's first date is read here (it survives archiving)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from occupancy_assets.lib.warehouse import Warehouse

MANIFEST_TABLE = "archived_months"
#: manifest states
ARCHIVED, RESTORED = "archived", "restored"

manifest_table = sa.Table(
    MANIFEST_TABLE,
    sa.MetaData(),
    sa.Column("month", sa.String(7), primary_key=True),  # YYYY-MM (Asia/Tokyo)
    sa.Column("state", sa.String(16), nullable=False),  # archived | restored
    sa.Column("first_date", sa.Date, nullable=True),  # first / last snapshot date in the archive
    sa.Column("last_date", sa.Date, nullable=True),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("deleted_rows", sa.BigInteger, nullable=False),
    sa.Column("content_checksum", sa.String(80), nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),  # JSON
    sa.Column("object_uri", sa.String(1024), nullable=False),
    sa.Column("object_bytes", sa.BigInteger, nullable=False),
    sa.Column("archived_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("restored_at", sa.DateTime, nullable=True),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)


# -- manifest ------------------------------------------------------------------------------------


def manifest_sa_table(wh: Warehouse) -> sa.Table:
    return manifest_table.to_metadata(sa.MetaData(), schema=wh.schema("silver"))


def _manifest_exists(wh: Warehouse, conn: Connection) -> bool:
    found = conn.execute(
        sa.text("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = :s AND table_name = :n"),
        {"s": wh.schema("silver"), "n": MANIFEST_TABLE},
    ).scalar()
    return bool(found)


def manifest_entry(wh: Warehouse, conn: Connection, month: str) -> dict | None:
    if not _manifest_exists(wh, conn):
        return None
    table = manifest_sa_table(wh)
    row = conn.execute(sa.select(table).where(table.c.month == month)).mappings().first()
    return dict(row) if row else None


def archived_months(wh: Warehouse) -> pd.DataFrame:
    """The manifest, oldest month first (empty frame when nothing was ever archived)."""
    columns = [c.name for c in manifest_table.columns]
    with wh.engine.connect() as conn:
        if not _manifest_exists(wh, conn):
            return pd.DataFrame(columns=columns)
        return wh.read_sql(f"SELECT * FROM {{silver}}.{MANIFEST_TABLE} ORDER BY month", conn=conn)


def first_archived_date(wh: Warehouse, conn: Connection) -> dt.date | None:
    """First snapshot date held by the archive (None: nothing archived). The history starts there
    even after its rows left silver (SPEC 7: `applications` is NULL on the history's first date)."""
    if not _manifest_exists(wh, conn):
        return None
    value = conn.execute(wh.render(f"SELECT MIN(first_date) FROM {{silver}}.{MANIFEST_TABLE}")).scalar()
    return None if value is None else pd.Timestamp(value).date()


def archived_months_between(wh: Warehouse, start: dt.date, end: dt.date) -> list[str]:
    """The months (YYYY-MM) touching [start, end] whose silver rows are in the archive, not in
    silver: a run over them would rebuild part of a month from staging and leave the rest gone."""
    with wh.engine.connect() as conn:
        if not _manifest_exists(wh, conn):
            return []
        rows = wh.read_sql(
            f"SELECT month FROM {{silver}}.{MANIFEST_TABLE} WHERE state = :state AND month BETWEEN :first AND :last ORDER BY month",
            {"state": ARCHIVED, "first": start.strftime("%Y-%m"), "last": end.strftime("%Y-%m")},
            conn=conn,
        )
    return [str(m) for m in rows["month"]]


def archived_snapshot_dates(wh: Warehouse) -> list[dt.date]:
    """Every date from the first to the last snapshot date of each archived month: dates whose
    silver rows are in the archive (coverage must not call their gold rows rows on a gap)."""
    months = archived_months(wh)
    months = months[months["state"] == ARCHIVED].dropna(subset=["first_date", "last_date"])
    dates: list[dt.date] = []
    for first, last in zip(months["first_date"], months["last_date"]):
        dates += list(pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="D").date)
    return dates


def month_after(month: str) -> dt.date:
    """The first day after the month YYYY-MM."""
    year, number = (int(part) for part in month.split("-"))
    return dt.date(year + number // 12, number % 12 + 1, 1)


def archived_refusal(start: dt.date, end: dt.date, months: list[str]) -> str:
    """One line for a run over [start, end] that reaches into archived `months`: what to do."""
    after = month_after(months[-1])
    restore = " and ".join(f"occupancy-kpi restore --month {m}" for m in months)
    return (
        f"{start} .. {end} reaches into archived month(s) {', '.join(months)}: their silver rows are in the "
        f"archive, and a rebuild from staging would leave the month part-built. Restore first ({restore}, "
        f"or the restore_silver_month job), or run from {after} on"
    )
