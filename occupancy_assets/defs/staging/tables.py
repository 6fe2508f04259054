"""The staging source contract (SPEC section 3) as SQLAlchemy tables.

Staging is written by an upstream loader; this project only reads it, except for the demo
generator, which creates these tables with exactly this DDL on DuckDB and MySQL alike.
Tables carry no schema: `Warehouse` maps them to the (prefixed) staging schema.
"""

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

metadata = MetaData()
_mysql = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}

tenant_daily_snapshots = Table(
    "tenant_daily_snapshots",
    metadata,
    Column("snapshot_date", Date, nullable=False),
    Column("tenant_id", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("moving_id", Integer, nullable=True),
    Column("contract_type", Integer),
    Column("full_name", String(100)),
    # Clustered by date first (InnoDB stores rows in primary-key order): every reader takes a
    # window of dates (silver's window, the dump checks), which is then one contiguous range
    # instead of a lookup per row through a secondary index (~90 us a row once the table is larger
    # than the buffer pool). Same key, same uniqueness as (tenant_id, snapshot_date).
    PrimaryKeyConstraint("snapshot_date", "tenant_id"),
    # per-tenant history (a tenant's dumps over time)
    Index("ix_tenant_daily_snapshots_tenant_id", "tenant_id"),
    **_mysql,
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("status", Integer),
    Column("moving_id", Integer),
    Column("contract_type", Integer),
    Column("full_name", String(100)),
    Column("last_name", String(50)),
    Column("first_name", String(50)),
    **_mysql,
)

movings = Table(
    "movings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("tenant_id", Integer, nullable=False),
    Column("apartment_id", Integer, nullable=False),
    Column("room_id", Integer, nullable=False),
    Column("movein_date", Date),
    Column("original_movein_date", Date),
    Column("moveout_date", Date),
    Column("moveout_plans_date", Date),
    Column("moveout_date_integrated", Date),
    Column("rent", Integer),
    Column("cancel_flag", Integer),
    Column("is_moveout", Integer),
    Column("moving_agreement_type", Integer),
    Column("created_at", DateTime),
    Column("updated_at", DateTime),
    **_mysql,
)

apartments = Table(
    "apartments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("apartment_name", String(200)),
    Column("prefecture", String(50)),
    Column("municipality", String(50)),
    Column("room_count", Integer),
    **_mysql,
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("apartment_id", Integer, nullable=False),
    Column("room_number", String(20)),
    **_mysql,
)

#: Load order (parents first) and the names the rest of the project refers to.
STAGING_TABLES: dict[str, Table] = {
    t.name: t for t in (apartments, rooms, tenants, movings, tenant_daily_snapshots)
}
