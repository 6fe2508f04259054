"""The SQL of gold.occupancy_daily_metrics (SPEC section 7), in one place.

Templates: `{silver}` / `{gold}` become the (prefixed) schema names (Warehouse.render);
everything else is a bound parameter. Each query is set-based over a date window, so a run
costs the same number of statements whatever the window or the history length.
"""

from occupancy_assets.lib.status_groups import with_status_codes

# The latest snapshot on or before the target date, the first and the latest snapshot of the history.
AS_OF = """
SELECT
    (SELECT MAX(snapshot_date) FROM {silver}.tenant_room_snapshot_daily
     WHERE snapshot_date <= :target_date) AS as_of_date,
    (SELECT MIN(snapshot_date) FROM {silver}.tenant_room_snapshot_daily) AS first_snapshot_date,
    (SELECT MAX(snapshot_date) FROM {silver}.tenant_room_snapshot_daily) AS latest_snapshot_date
"""

# Observed days in [start_date, end_date]: one row per date that has a snapshot.
# applications = pairs whose first status-4/5 row over all history falls on the date, read from
# silver.first_application_dates (kept by the silver run; it outlives the archived silver months).
HISTORY = with_status_codes("""
WITH day_pairs AS (
    SELECT
        snapshot_date, tenant_id, apartment_id, room_id,
        MAX(CASE WHEN management_status_code IN ({status:move_in}) AND move_in_date = snapshot_date
                 THEN 1 ELSE 0 END) AS is_new_movein,
        MAX(CASE WHEN moveout_plans_date = snapshot_date THEN 1 ELSE 0 END) AS is_new_moveout
    FROM {silver}.tenant_room_snapshot_daily
    WHERE snapshot_date BETWEEN :start_date AND :end_date
    GROUP BY snapshot_date, tenant_id, apartment_id, room_id
),
day_counts AS (
    SELECT snapshot_date, SUM(is_new_movein) AS new_moveins, SUM(is_new_moveout) AS new_moveouts
    FROM day_pairs
    GROUP BY snapshot_date
),
first_application AS (
    SELECT first_application_date AS first_date
    FROM {silver}.first_application_dates
    WHERE first_application_date BETWEEN :start_date AND :end_date
),
applications AS (
    SELECT first_date AS snapshot_date, COUNT(*) AS applications
    FROM first_application
    WHERE first_date BETWEEN :start_date AND :end_date
    GROUP BY first_date
)
SELECT
    c.snapshot_date,
    COALESCE(a.applications, 0) AS applications,
    c.new_moveins,
    c.new_moveouts,
    k.occupancy_room_count_0000 AS period_start_rooms,
    k.total_physical_rooms
FROM day_counts AS c
LEFT JOIN applications AS a ON a.snapshot_date = c.snapshot_date
LEFT JOIN {gold}.kpi_month_end_metrics AS k ON k.as_of_date = c.snapshot_date
ORDER BY c.snapshot_date
""")

# Scheduled events known in the as_of snapshot, for the projection days (as_of, horizon_end].
PROJECTED_EVENTS = with_status_codes("""
SELECT event_date, SUM(is_movein) AS new_moveins, SUM(is_moveout) AS new_moveouts
FROM (
    SELECT move_in_date AS event_date, 1 AS is_movein, 0 AS is_moveout
    FROM {silver}.tenant_room_snapshot_daily
    WHERE snapshot_date = :as_of_date AND management_status_code IN ({status:application})
      AND move_in_date > :as_of_date AND move_in_date <= :horizon_end
    UNION ALL
    SELECT moveout_date AS event_date, 0 AS is_movein, 1 AS is_moveout
    FROM {silver}.tenant_room_snapshot_daily
    WHERE snapshot_date = :as_of_date
      AND moveout_date > :as_of_date AND moveout_date <= :horizon_end
) AS events
GROUP BY event_date
""")

# Replace exactly the run's window (same transaction as the insert that follows).
DELETE_WINDOW = """
DELETE FROM {gold}.occupancy_daily_metrics WHERE snapshot_date BETWEEN :start_date AND :end_date
"""

# A run that projects from the newest snapshot replaces every row from its window start on: the
# projections are replaced as a whole, so a shorter horizon leaves no projection of an older basis.
DELETE_FROM = """
DELETE FROM {gold}.occupancy_daily_metrics WHERE snapshot_date >= :start_date
"""
