"""Human-readable summaries of the gold tables (the demo's KPI card)."""

from __future__ import annotations

from .settings import Settings
from .resources import open_warehouse

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
