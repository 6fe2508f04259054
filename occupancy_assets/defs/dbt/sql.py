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

# The snapshot date before :day in the property table (the day a one-day change is measured from).
PROPERTY_PREVIOUS_DATE = """
SELECT MAX(snapshot_date) AS previous_date
FROM {gold}.occupancy_property_daily
WHERE snapshot_date < :day
"""

# The emptiest houses on :day (rate, then id: ties in a fixed order).
PROPERTY_LOWEST = """
SELECT apartment_id, property, total_physical_rooms, occupancy_room_count_eod, occupancy_rate
FROM {gold}.occupancy_property_daily
WHERE snapshot_date = :day AND total_physical_rooms > 0
ORDER BY occupancy_rate, apartment_id
LIMIT :limit
"""

# The houses whose occupied rooms moved most from :previous to :day.
PROPERTY_CHANGES = """
SELECT c.apartment_id, c.property, c.total_physical_rooms, c.occupancy_room_count_eod, c.occupancy_rate,
       c.occupancy_room_count_eod - p.occupancy_room_count_eod AS change_rooms
FROM {gold}.occupancy_property_daily AS c
INNER JOIN {gold}.occupancy_property_daily AS p
    ON p.apartment_id = c.apartment_id AND p.snapshot_date = :previous
WHERE c.snapshot_date = :day AND c.occupancy_room_count_eod <> p.occupancy_room_count_eod
ORDER BY ABS(c.occupancy_room_count_eod - p.occupancy_room_count_eod) DESC, c.apartment_id
LIMIT :limit
"""
