"""Human-readable summaries of the gold tables (the demo's KPI card)."""

from __future__ import annotations

import pandas as pd

from occupancy_assets.lib.resources import open_warehouse
from occupancy_assets.lib.settings import Settings

LATEST_KPI = """
SELECT as_of_date, occupancy_room_count_0000, occupancy_room_count_eod, total_physical_rooms,
       occupancy_rate, rent_jpy, revpar_jpy, recpar_cash_jpy
FROM {gold}.kpi_month_end_metrics
WHERE as_of_date = (SELECT MAX(as_of_date) FROM {gold}.kpi_month_end_metrics)
"""

PROJECTION = """
SELECT snapshot_date, period_end_rooms, occupancy_rate
FROM {gold}.occupancy_daily_metrics
WHERE is_projection = 1 AND projection_basis_date = :as_of
ORDER BY snapshot_date
"""


def print_kpi_card(settings: Settings) -> None:
    wh = open_warehouse(settings)
    if not wh.table_exists("gold", "kpi_month_end_metrics"):
        print("no KPI rows yet: gold.kpi_month_end_metrics does not exist (run a backfill)")
        return
    latest = wh.read_sql(LATEST_KPI)
    if latest.empty:
        print("no KPI rows yet")
        return
    k = latest.iloc[0]
    print()
    print(f"KPI card, {k.as_of_date}")
    print(f"  occupancy   {float(k.occupancy_rate):.1%}  ({int(k.occupancy_room_count_eod):,} of {int(k.total_physical_rooms):,} rooms at end of day)")
    print(f"  RENT        {int(k.rent_jpy):>8,} JPY")
    print(f"  RevPAR      {int(k.revpar_jpy):>8,} JPY")
    print(f"  RecPAR cash {int(k.recpar_cash_jpy):>8,} JPY")
    projection = wh.read_sql(PROJECTION, {"as_of": k.as_of_date})
    if not projection.empty:
        picks = projection.iloc[[i for i in (0, 29, 59, 89, len(projection) - 1) if i < len(projection)]].drop_duplicates()
        glance = ", ".join(f"{r.snapshot_date}: {float(r.occupancy_rate):.1%}" for r in picks.itertuples())
        print(f"  projected   {glance}")
    print_forecast_card(wh)


def print_forecast_card(wh) -> None:
    """Occupancy at +30/+60/+90 days: on-the-books and the pickup forecast with its P10-P90 band
    (gold.occupancy_forecast_daily), and the houses with the lowest occupancy today
    (gold.occupancy_property_daily). Silent about a table that does not exist yet."""
    from occupancy_assets.defs.forecast.sql import LATEST_FORECAST, LOWEST_PROPERTIES

    if wh.table_exists("gold", "occupancy_forecast_daily"):
        rows = wh.read_sql(LATEST_FORECAST)
        if not rows.empty:
            print(f"  forecast as of {rows.as_of_date.iloc[0]} (on the books -> expected [P10-P90]):")
            for lead in (30, 60, 90):
                r = rows[rows.lead_days.astype(int) == lead]
                if r.empty:
                    continue
                r = r.iloc[0]
                total = float(r.total_physical_rooms)
                band = (
                    f"[{float(r.p10_period_end_rooms) / total:.1%}-{float(r.p90_period_end_rooms) / total:.1%}]"
                    if pd.notna(r.p10_period_end_rooms)
                    else "[no band yet]"
                )
                print(
                    f"    +{lead} days {r.snapshot_date}: {float(r.otb_period_end_rooms) / total:.1%} -> "
                    f"{float(r.expected_occupancy_rate):.1%} {band}"
                )
    if wh.table_exists("gold", "occupancy_property_daily"):
        houses = wh.read_sql(LOWEST_PROPERTIES).head(5)
        if not houses.empty:
            print(f"  lowest occupancy houses, {houses.snapshot_date.iloc[0]}:")
            for h in houses.itertuples():
                print(
                    f"    {float(h.occupancy_rate):6.1%}  {int(h.occupancy_room_count_eod):>3} of {int(h.total_physical_rooms):>3} rooms"
                    f"  {h.property} ({h.municipality})"
                )
