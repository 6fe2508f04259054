"""gold.occupancy_daily_metrics: observed days plus chained projections (SPEC section 7).

A partition is an as-of date T. Materializing the partition range [A, B] writes the observed rows
[A - lookback, B] and, when B is (at or after) the latest snapshot, the projections from it; an
older range writes observed rows only, so re-running history never touches projections or later
observed days. The database does the set-based counting (defs/occupancy/sql.py, a fixed number of statements
per run); `build_daily_metrics` is a pure function that turns those counts into rows, so the KPI
rules are unit-testable without a warehouse. The window is replaced atomically.
"""


import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetDep,
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)

from occupancy_assets.defs.occupancy import sql as kpi_sql
from occupancy_assets.lib.archive_manifest import first_archived_date
from occupancy_assets.lib.gold_window import publish_gold_window, recover_unpublished_window, restore_gold_window
from occupancy_assets.lib.names import FIRST_APPLICATION_KEY, MONTH_END_KEY, OCCUPANCY_KEY, SILVER_KEY, WAREHOUSE_POOL
from occupancy_assets.lib.partitions import daily_partitions, window_dates
from occupancy_assets.lib.resources import WarehouseResource
from occupancy_assets.lib.settings import Settings
from occupancy_assets.lib.warehouse import Warehouse

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
    first_as_of: dt.date,
    last_as_of: dt.date,
    lookback_days: int,
    forward_days: int,
    now: dt.datetime | None = None,
    run_id: str | None = None,
) -> tuple[pd.DataFrame, dt.date, tuple[dt.date, dt.date]]:
    """Compute the rows of the as-of range [first_as_of, last_as_of] and replace them in
    gold.occupancy_daily_metrics in one transaction, which also publishes run `run_id`'s gold
    window (lib/gold_window.py). Returns (rows, as_of, written window)."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    with wh.begin() as conn:
        bounds = wh.read_sql(kpi_sql.AS_OF, {"target_date": last_as_of}, conn=conn).iloc[0]
        if pd.isna(bounds["as_of_date"]):
            raise ValueError(f"silver has no snapshot on or before {last_as_of}: nothing to compute from")
        as_of = pd.Timestamp(bounds["as_of_date"]).date()
        silver_first = pd.Timestamp(bounds["first_snapshot_date"]).date()
        # archived months (defs/archive/) are still the history: its first date stays the first date
        archived_first = first_archived_date(wh, conn)
        first = min(silver_first, archived_first) if archived_first else silver_first
        latest = pd.Timestamp(bounds["latest_snapshot_date"]).date()
        # never before silver's first date: rows of archived months have no silver to be rebuilt from
        window_start = max(first_as_of - dt.timedelta(days=lookback_days), silver_first)
        if as_of == latest:
            # the newest snapshot: observed rows, then its projections (a late dump: from the day before)
            window_start = min(window_start, as_of)
            window_end = as_of + dt.timedelta(days=forward_days)
        else:
            # an older range: observed rows only (none projected over a gap at its end); projections
            # and later days stay as they are
            window_end, forward_days = last_as_of, 0
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
        if as_of == latest:  # no observed row lies after the newest snapshot: later rows are old projections
            conn.execute(wh.render(kpi_sql.DELETE_FROM), {"start_date": window_start})
        else:
            conn.execute(wh.render(kpi_sql.DELETE_WINDOW), {"start_date": window_start, "end_date": window_end})
        if len(rows):
            records = rows.astype(object).where(rows.notna(), None).to_dict("records")
            conn.execute(table.insert(), records)
        if run_id is not None:
            publish_gold_window(wh, conn, run_id)
    return rows, as_of, (window_start, window_end)


def partition_metadata(rows: pd.DataFrame, day: dt.date) -> dict:
    """The KPIs of one as-of date, so the UI plots them by partition (None: no row that day)."""
    row = rows.loc[rows["snapshot_date"] == day]
    if row.empty:
        return {}
    row = row.iloc[0]
    return {
        "occupancy_rate": float(row["occupancy_rate"]),
        "period_end_rooms": int(row["period_end_rooms"]),
        "new_moveins": int(row["new_moveins"]),
        "new_moveouts": int(row["new_moveouts"]),
        "applications": None if pd.isna(row["applications"]) else int(row["applications"]),
        "is_projection": bool(row["is_projection"]),
    }


def build_occupancy_asset(settings: Settings):
    # partition T reads the month-end rows (and silver) of [T - lookback, T]
    lookback = TimeWindowPartitionMapping(start_offset=-settings.lookback_days, allow_nonexistent_upstream_partitions=True)

    @asset(
        key=OCCUPANCY_KEY,
        group_name="gold",
        partitions_def=daily_partitions(settings),
        backfill_policy=BackfillPolicy.single_run(),
        deps=[
            AssetDep(SILVER_KEY, partition_mapping=lookback),
            AssetDep(FIRST_APPLICATION_KEY, partition_mapping=lookback),
            AssetDep(MONTH_END_KEY, partition_mapping=lookback),
        ],
        kinds={"python", "sql"},
        pool=WAREHOUSE_POOL,
        description=(
            "Daily applications, move-ins, move-outs and occupancy (SPEC 7). Partition = as-of date T: "
            f"observed rows [T - {settings.lookback_days}, T], and from the newest snapshot the "
            f"{settings.forward_days} projected days after it."
        ),
    )
    def occupancy_daily_metrics(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        first_as_of, last_as_of = window_dates(context.partition_time_window)
        wh = warehouse.warehouse()
        other, restored = recover_unpublished_window(wh, context.run_id)
        if restored:
            context.log.warning(f"run {other} never published its gold window: restored {', '.join(restored)} first")
        try:
            rows, as_of, (start, end) = compute_and_write(
                wh,
                first_as_of=first_as_of,
                last_as_of=last_as_of,
                lookback_days=settings.lookback_days,
                forward_days=settings.forward_days,
                run_id=context.run_id,
            )
        except BaseException as err:  # an interrupt (SIGINT, SIGTERM, UI termination) too
            # this table is unchanged (one transaction): put back the month-end window this run's
            # dbt step wrote, so the two gold tables keep describing the same dumps (gold_window.py)
            restored = restore_gold_window(wh, context.run_id)
            if restored:
                context.log.warning(f"occupancy did not finish: restored {', '.join(restored)} to their state before the run")
            if isinstance(err, ValueError):
                raise Failure(description=str(err)) from err
            raise
        for key in context.partition_keys:
            values = partition_metadata(rows, dt.date.fromisoformat(key))
            if values:
                context.add_asset_metadata({k: v for k, v in values.items() if v is not None}, partition_key=key)
        observed = rows[rows["is_projection"] == 0]
        last = rows.iloc[-1] if len(rows) else None
        metadata = {
            "as_of": str(as_of),
            "window_start": str(start),
            "window_end": str(end),
            "rows_written": len(rows),
            "observed_rows": len(observed),
            "projected_rows": len(rows) - len(observed),
            "horizon_end": str(last["snapshot_date"]) if last is not None else None,
            "horizon_occupancy_rate": float(last["occupancy_rate"]) if last is not None else None,
            "preview": MetadataValue.md(rows.tail(10).to_markdown(index=False)) if len(rows) else None,
        }
        # the run's own figures go on its last partition only: copied onto every partition of a range
        # run they drew flat lines in the UI's "Plots by partition" (issue 21)
        context.add_asset_metadata({k: v for k, v in metadata.items() if v is not None},
                                   partition_key=context.partition_keys[-1])
        return MaterializeResult()

    return occupancy_daily_metrics
