"""gold.occupancy_daily_metrics: observed days plus chained projections (SPEC section 7).

The database does the set-based counting (kpi_sql.py, a fixed number of statements per run);
`build_daily_metrics` is a pure function that turns those counts into rows, so the KPI rules are
unit-testable without a warehouse. A run replaces exactly its partition window, atomically.
"""


import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)
from pydantic import Field

from . import kpi_sql
from .archive import first_archived_date
from .partitions import occupancy_partitions, window_dates
from .resources import WarehouseResource
from .settings import Settings, today_jst
from .warehouse import Warehouse

OCCUPANCY_KEY = AssetKey(["gold", "occupancy_daily_metrics"])
SILVER_KEY = AssetKey(["silver", "tenant_room_snapshot_daily"])
MONTH_END_KEY = AssetKey(["gold", "kpi_month_end_metrics"])
#: built in silver's dbt step (dbt_assets.py); applications read it (kpi_sql.HISTORY)
FIRST_APPLICATION_KEY = AssetKey(["silver", "first_application_dates"])

COLUMNS = [
    "snapshot_date",
    "applications",
    "new_moveins",
    "new_moveouts",
    "occupancy_delta",
    "period_start_rooms",
    "period_end_rooms",
    "occupancy_rate",
    "is_projection",
    "projection_basis_date",
    "updated_at",
]

occupancy_table = sa.Table(
    "occupancy_daily_metrics",
    sa.MetaData(),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    sa.Column("applications", sa.Integer, nullable=True),
    sa.Column("new_moveins", sa.Integer, nullable=False),
    sa.Column("new_moveouts", sa.Integer, nullable=False),
    sa.Column("occupancy_delta", sa.Integer, nullable=False),
    sa.Column("period_start_rooms", sa.Integer, nullable=False),
    sa.Column("period_end_rooms", sa.Integer, nullable=False),
    sa.Column("occupancy_rate", sa.Numeric(12, 6), nullable=False),
    sa.Column("is_projection", sa.Integer, nullable=False),
    sa.Column("projection_basis_date", sa.Date, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)


class OccupancyRunConfig(Config):
    """The old job's TARGET_DATE / LOOKBACK_DAYS / FORWARD_DAYS."""

    target_date: str | None = Field(
        default=None,
        description="As-of bound (YYYY-MM-DD, JST). Default: the window's last date or today, whichever is earlier.",
    )
    lookback_days: int | None = Field(
        default=None, description="Days before the target the daily pipeline recomputes (default OCCUPANCY_LOOKBACK_DAYS)."
    )
    forward_days: int | None = Field(
        default=None, description="Projection horizon after as_of (default OCCUPANCY_FORWARD_DAYS)."
    )


def build_daily_metrics(
    history: pd.DataFrame,
    projected_events: pd.DataFrame,
    *,
    as_of: dt.date,
    first_snapshot_date: dt.date,
    window_start: dt.date,
    window_end: dt.date,
    forward_days: int,
    updated_at: dt.datetime,
) -> pd.DataFrame:
    """Rows of SPEC 7 for [window_start, window_end].

    `history`: one row per observed date <= as_of (must include as_of itself) with applications,
    new_moveins, new_moveouts, period_start_rooms, total_physical_rooms.
    `projected_events`: event_date, new_moveins, new_moveouts from the as_of snapshot.
    """
    history = history.copy()
    history["snapshot_date"] = pd.to_datetime(history["snapshot_date"]).dt.date
    missing_kpi = history.loc[history["period_start_rooms"].isna(), "snapshot_date"]
    if len(missing_kpi):
        raise ValueError(
            "gold.kpi_month_end_metrics has no row for "
            f"{', '.join(map(str, missing_kpi))}: materialize it for these dates first"
        )
    for col in ("applications", "new_moveins", "new_moveouts", "period_start_rooms", "total_physical_rooms"):
        history[col] = history[col].astype("int64")
    history["occupancy_delta"] = history["new_moveins"] - history["new_moveouts"]
    history["period_end_rooms"] = history["period_start_rooms"] + history["occupancy_delta"]
    history["is_projection"] = 0
    history["projection_basis_date"] = history["snapshot_date"]
    history["applications"] = history["applications"].astype("Int64")
    history.loc[history["snapshot_date"] == first_snapshot_date, "applications"] = pd.NA

    basis = history.loc[history["snapshot_date"] == as_of]
    if basis.empty:
        raise ValueError(f"no observed row for as_of date {as_of}")
    basis = basis.iloc[0]

    horizon_end = min(as_of + dt.timedelta(days=forward_days), window_end)
    days = pd.date_range(as_of + dt.timedelta(days=1), horizon_end, freq="D").date
    events = projected_events.copy()
    events["event_date"] = pd.to_datetime(events["event_date"]).dt.date
    events = events.set_index("event_date").reindex(days, fill_value=0)
    projection = pd.DataFrame(
        {
            "snapshot_date": list(days),
            "applications": pd.array([0] * len(days), dtype="Int64"),
            "new_moveins": events["new_moveins"].astype("int64").to_numpy(),
            "new_moveouts": events["new_moveouts"].astype("int64").to_numpy(),
        }
    )
    projection["occupancy_delta"] = projection["new_moveins"] - projection["new_moveouts"]
    # chain: start(D) = end(D-1), beginning with the as_of day's observed end
    projection["period_end_rooms"] = int(basis["period_end_rooms"]) + projection["occupancy_delta"].cumsum()
    projection["period_start_rooms"] = projection["period_end_rooms"] - projection["occupancy_delta"]
    projection["total_physical_rooms"] = int(basis["total_physical_rooms"])
    projection["is_projection"] = 1
    projection["projection_basis_date"] = as_of

    rows = pd.concat([history, projection], ignore_index=True)
    rows = rows[(rows["snapshot_date"] >= window_start) & (rows["snapshot_date"] <= window_end)].copy()
    rows["occupancy_rate"] = (rows["period_end_rooms"] / rows["total_physical_rooms"]).round(6)
    rows["updated_at"] = updated_at
    for col in ("new_moveins", "new_moveouts", "occupancy_delta", "period_start_rooms", "period_end_rooms", "is_projection"):
        rows[col] = rows[col].astype("int64")
    return rows[COLUMNS].sort_values("snapshot_date").reset_index(drop=True)


def compute_and_write(
    wh: Warehouse,
    *,
    window_start: dt.date,
    window_end: dt.date,
    target_date: dt.date,
    forward_days: int,
    now: dt.datetime | None = None,
) -> tuple[pd.DataFrame, dt.date]:
    """Compute the window and replace it in gold.occupancy_daily_metrics in one transaction."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    with wh.begin() as conn:
        bounds = wh.read_sql(kpi_sql.AS_OF, {"target_date": target_date}, conn=conn).iloc[0]
        if pd.isna(bounds["as_of_date"]):
            raise ValueError(f"silver has no snapshot on or before {target_date}: nothing to compute from")
        as_of = pd.Timestamp(bounds["as_of_date"]).date()
        first = pd.Timestamp(bounds["first_snapshot_date"]).date()
        # archived months (archive.py) are still the history: its first date stays the first date
        archived_first = first_archived_date(wh, conn)
        first = min(first, archived_first) if archived_first else first
        latest = pd.Timestamp(bounds["latest_snapshot_date"]).date()
        if window_end > as_of and latest > as_of:
            # projecting from an older as_of would overwrite days that have their own snapshot
            raise ValueError(
                f"the window {window_start}..{window_end} reaches past as_of {as_of}, but silver already has "
                f"snapshots up to {latest}: end the window at {as_of}, or use a target date >= {latest}"
            )
        history = wh.read_sql(
            kpi_sql.HISTORY,
            {"start_date": min(window_start, as_of), "end_date": min(window_end, as_of)},
            conn=conn,
        )
        events = wh.read_sql(
            kpi_sql.PROJECTED_EVENTS,
            {"as_of_date": as_of, "horizon_end": as_of + dt.timedelta(days=forward_days)},
            conn=conn,
        )
        rows = build_daily_metrics(
            history,
            events,
            as_of=as_of,
            first_snapshot_date=first,
            window_start=window_start,
            window_end=window_end,
            forward_days=forward_days,
            updated_at=now,
        )
        table = occupancy_table.to_metadata(sa.MetaData(), schema=wh.schema("gold"))
        table.create(conn, checkfirst=True)
        conn.execute(wh.render(kpi_sql.DELETE_WINDOW), {"start_date": window_start, "end_date": window_end})
        if len(rows):
            records = rows.astype(object).where(rows.notna(), None).to_dict("records")
            conn.execute(table.insert(), records)
    return rows, as_of


def build_occupancy_asset(settings: Settings):
    mapping = TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)

    @asset(
        key=OCCUPANCY_KEY,
        group_name="gold",
        partitions_def=occupancy_partitions(settings),
        backfill_policy=BackfillPolicy.single_run(),
        deps=[
            AssetDep(SILVER_KEY, partition_mapping=mapping),
            AssetDep(FIRST_APPLICATION_KEY, partition_mapping=mapping),
            AssetDep(MONTH_END_KEY, partition_mapping=mapping),
        ],
        kinds={"python", "sql"},
        description="Daily applications, move-ins, move-outs and occupancy, observed and projected (SPEC 7).",
    )
    def occupancy_daily_metrics(
        context: AssetExecutionContext, config: OccupancyRunConfig, warehouse: WarehouseResource
    ) -> MaterializeResult:
        window_start, window_end = window_dates(context.partition_time_window)
        target = dt.date.fromisoformat(config.target_date) if config.target_date else min(window_end, today_jst())
        forward = config.forward_days if config.forward_days is not None else settings.forward_days
        try:
            rows, as_of = compute_and_write(
                warehouse.warehouse(),
                window_start=window_start,
                window_end=window_end,
                target_date=target,
                forward_days=forward,
            )
        except ValueError as err:
            raise Failure(description=str(err)) from err
        observed = rows[rows["is_projection"] == 0]
        latest = observed.iloc[-1] if len(observed) else None
        last = rows.iloc[-1] if len(rows) else None
        metadata = {
            "window_start": str(window_start),
            "window_end": str(window_end),
            "target_date": str(target),
            "as_of": str(as_of),
            "rows_written": len(rows),
            "observed_rows": len(observed),
            "projected_rows": len(rows) - len(observed),
            "latest_occupancy_rate": float(latest["occupancy_rate"]) if latest is not None else None,
            "latest_period_end_rooms": int(latest["period_end_rooms"]) if latest is not None else None,
            "horizon_end": str(last["snapshot_date"]) if last is not None else None,
            "horizon_occupancy_rate": float(last["occupancy_rate"]) if last is not None else None,
            "preview": MetadataValue.md(rows.tail(10).to_markdown(index=False)) if len(rows) else None,
        }
        return MaterializeResult(metadata={k: v for k, v in metadata.items() if v is not None})

    return occupancy_daily_metrics
