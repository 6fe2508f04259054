"""The SQL the dbt assets run themselves: the per-date metadata of their materializations.

Templates: `{silver}` / `{gold}` become the (prefixed) schema names (Warehouse.render).
"""

# The month-end KPIs of each date in [start_date, end_date].
MONTH_END_BY_DATE = """
SELECT as_of_date, occupancy_rate, occupancy_room_count_0000, occupancy_room_count_eod,
       same_day_moveins, same_day_moveouts, rent_jpy, revpar_jpy, recpar_cash_jpy
FROM {gold}.kpi_month_end_metrics
WHERE as_of_date BETWEEN :start_date AND :end_date
"""

# silver's row count of each date in [start_date, end_date].
SILVER_ROWS_BY_DATE = """
SELECT snapshot_date, COUNT(*) AS row_count
FROM {silver}.tenant_room_snapshot_daily
WHERE snapshot_date BETWEEN :start_date AND :end_date
GROUP BY snapshot_date
"""
