"""The SQL of gold.occupancy_forecast_daily and its backtest check, in one place.

Templates: `{silver}` / `{gold}` become the (prefixed) schema names (Warehouse.render); everything
else is a bound parameter. Every query is set-based over a date window whose length is bounded by
the settings (learn window + horizon), never by the number of past as-of dates.
"""

from occupancy_assets.lib.status_groups import with_status_codes

# First snapshot date, and the latest one on or before :end_date.
BOUNDS = """
SELECT
    (SELECT MIN(as_of_date) FROM {gold}.kpi_month_end_metrics) AS first_date,
    (SELECT MAX(as_of_date) FROM {gold}.kpi_month_end_metrics WHERE as_of_date <= :end_date) AS last_date
"""

# Per snapshot date in [start_date, end_date]: the observed level of SPEC 7 (period_end_rooms =
# 00:00 rooms + move-ins - move-outs, pairs) and the room total. Silver's key makes each row a
# distinct pair, so counts are pair counts.
ACTUALS = with_status_codes("""
WITH flows AS (
    SELECT
        snapshot_date,
        SUM(CASE WHEN management_status_code IN ({status:move_in}) AND move_in_date = snapshot_date
                 THEN 1 ELSE 0 END) AS moveins,
        SUM(CASE WHEN moveout_plans_date = snapshot_date THEN 1 ELSE 0 END) AS moveouts
    FROM {silver}.tenant_room_snapshot_daily
    WHERE snapshot_date BETWEEN :start_date AND :end_date
      AND (move_in_date = snapshot_date OR moveout_plans_date = snapshot_date)
    GROUP BY snapshot_date
)
SELECT
    k.as_of_date AS snapshot_date,
    k.occupancy_room_count_0000 AS start_rooms,
    COALESCE(f.moveins, 0) AS moveins,
    COALESCE(f.moveouts, 0) AS moveouts,
    k.total_physical_rooms
FROM {gold}.kpi_month_end_metrics AS k
LEFT JOIN flows AS f ON f.snapshot_date = k.as_of_date
WHERE k.as_of_date BETWEEN :start_date AND :end_date
ORDER BY k.as_of_date
""")

# Per snapshot date in [start_date, end_date] and future event date (<= :max_event_date): what the
# snapshot had booked. Two definitions (defs/forecast/model.py explains why):
#   booked_*: what the day's status proves: reservations (4, 5, 6) / notices given (13, 14, 15);
#   otb_*:    SPEC 7's on-the-books projection: reservations 4, 5 / any in-scope row's effective
#             move-out; only needed for the as-of dates being written (>= :otb_start_date).
# Events further than the horizon ahead are dropped by the caller (no dialect-specific date math).
EVENTS = with_status_codes("""
SELECT
    snapshot_date,
    event_date,
    SUM(booked_movein) AS booked_moveins,
    SUM(booked_moveout) AS booked_moveouts,
    SUM(otb_movein) AS otb_moveins,
    SUM(otb_moveout) AS otb_moveouts
FROM (
    SELECT
        snapshot_date,
        move_in_date AS event_date,
        1 AS booked_movein,
        CASE WHEN management_status_code IN ({status:application}) THEN 1 ELSE 0 END AS otb_movein,
        0 AS booked_moveout,
        0 AS otb_moveout
    FROM {silver}.tenant_room_snapshot_daily
    WHERE snapshot_date BETWEEN :start_date AND :end_date
      AND management_status_code IN ({status:reserved})
      AND move_in_date > snapshot_date AND move_in_date <= :max_event_date
    UNION ALL
    SELECT
        snapshot_date,
        moveout_date AS event_date,
        0 AS booked_movein,
        0 AS otb_movein,
        CASE WHEN management_status_code IN ({status:booked_moveout}) THEN 1 ELSE 0 END AS booked_moveout,
        1 AS otb_moveout
    FROM {silver}.tenant_room_snapshot_daily
    WHERE snapshot_date BETWEEN :start_date AND :end_date
      AND moveout_date > snapshot_date AND moveout_date <= :max_event_date
      AND (management_status_code IN ({status:booked_moveout}) OR snapshot_date >= :otb_start_date)
) AS events
GROUP BY snapshot_date, event_date
""")

# Replace exactly the run's as-of window (same transaction as the insert that follows).
DELETE_WINDOW = """
DELETE FROM {gold}.occupancy_forecast_daily WHERE as_of_date BETWEEN :start_date AND :end_date
"""

# The stored forecasts the backtest scores: target days in [start_date, end_date], chosen leads.
STORED_FORECASTS = """
SELECT as_of_date, snapshot_date, lead_days, otb_period_end_rooms, expected_period_end_rooms,
       p10_period_end_rooms, p90_period_end_rooms
FROM {gold}.occupancy_forecast_daily
WHERE snapshot_date BETWEEN :start_date AND :end_date
  AND lead_days IN (:lead_1, :lead_2, :lead_3, :lead_4)
"""

# The latest forecast and its as-of date (KPI card).
LATEST_FORECAST = """
SELECT as_of_date, snapshot_date, lead_days, otb_period_end_rooms, expected_period_end_rooms,
       expected_occupancy_rate, p10_period_end_rooms, p90_period_end_rooms, total_physical_rooms
FROM {gold}.occupancy_forecast_daily
WHERE as_of_date = (SELECT MAX(as_of_date) FROM {gold}.occupancy_forecast_daily)
ORDER BY lead_days
"""

# The lowest-occupancy properties on the latest day of gold.occupancy_property_daily (KPI card).
LOWEST_PROPERTIES = """
SELECT snapshot_date, apartment_id, property, municipality, total_physical_rooms,
       occupancy_room_count_eod, occupancy_rate
FROM {gold}.occupancy_property_daily
WHERE snapshot_date = (SELECT MAX(snapshot_date) FROM {gold}.occupancy_property_daily)
  AND total_physical_rooms > 0
ORDER BY occupancy_rate, total_physical_rooms DESC, apartment_id
"""
