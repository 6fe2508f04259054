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
