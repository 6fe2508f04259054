"""SQL of the gold checks (defs/occupancy/checks.py). Templates for `Warehouse.read_sql`: schemas as
`{silver}` / `{gold}`, values as bound parameters.

The gold tables hold one row per date, so these statements scan them whole; silver is only
asked for its distinct snapshot dates and its first date (index on snapshot_date). The few rules
that need calendar arithmetic (D-1, as_of + forward days) are judged in pandas on the fetched
rows, which keeps every statement identical on DuckDB and MySQL/MariaDB.
"""

OCCUPANCY_TABLE = "{gold}.occupancy_daily_metrics"
MONTH_END_TABLE = "{gold}.kpi_month_end_metrics"

# -- version alignment (kpi_reference_trace) ------------------------------------------------

#: The latest kpi_month_end_metrics row's definition version.
LATEST_METRICS_VERSION = f"""
SELECT as_of_date, kpi_definition_version
FROM {MONTH_END_TABLE}
WHERE as_of_date = (SELECT MAX(as_of_date) FROM {MONTH_END_TABLE})
"""

#: The trace row(s): there must be exactly one.
TRACE_VERSION = """
SELECT as_of_date, kpi_definition_version, same_day_moveout_policy
FROM {gold}.kpi_reference_trace
"""

# -- occupancy_daily_metrics ----------------------------------------------------------------

#: as_of: the latest observed (non-projected) row.
LATEST_OBSERVED = f"""
SELECT MAX(snapshot_date) AS as_of_date FROM {OCCUPANCY_TABLE} WHERE is_projection = 0
"""

#: Rows breaking end = start + delta, delta = ins - outs, rate = end / total (compared as
#: |rate * total - end| <= tolerance * total: no division, so MySQL's decimal division scale
#: cannot round the right-hand side), or carrying a NULL metric. total = total_physical_rooms of
#: the kpi_month_end_metrics row of the projection basis date (NULL when that row is missing: a
#: failure). applications may be NULL only on the first snapshot date: the first date of this
#: table, or of silver (after archiving, a rebuild starts at silver's first date).
ARITHMETIC_VIOLATIONS = f"""
SELECT *
FROM (
    SELECT
        o.snapshot_date,
        o.is_projection,
        o.projection_basis_date,
        o.applications,
        o.new_moveins,
        o.new_moveouts,
        o.occupancy_delta,
        o.period_start_rooms,
        o.period_end_rooms,
        o.occupancy_rate,
        k.total_physical_rooms,
        CASE WHEN o.period_end_rooms = o.period_start_rooms + o.occupancy_delta THEN 0 ELSE 1 END AS bad_end,
        CASE WHEN o.occupancy_delta = o.new_moveins - o.new_moveouts THEN 0 ELSE 1 END AS bad_delta,
        CASE WHEN k.total_physical_rooms > 0
                  AND ABS(o.occupancy_rate * k.total_physical_rooms - o.period_end_rooms)
                      <= :rate_tolerance * k.total_physical_rooms
             THEN 0 ELSE 1 END AS bad_rate,
        CASE WHEN o.new_moveins IS NULL OR o.new_moveouts IS NULL OR o.occupancy_delta IS NULL
                  OR o.period_start_rooms IS NULL OR o.period_end_rooms IS NULL
                  OR o.occupancy_rate IS NULL OR o.is_projection IS NULL OR o.projection_basis_date IS NULL
                  OR (o.applications IS NULL
                      AND o.snapshot_date <> firsts.first_occupancy_date
                      AND (firsts.first_silver_date IS NULL OR o.snapshot_date <> firsts.first_silver_date))
             THEN 1 ELSE 0 END AS null_metric
    FROM {OCCUPANCY_TABLE} AS o
    CROSS JOIN (
        SELECT
            (SELECT MIN(snapshot_date) FROM {OCCUPANCY_TABLE}) AS first_occupancy_date,
            (SELECT MIN(snapshot_date) FROM {{silver}}.tenant_room_snapshot_daily) AS first_silver_date
    ) AS firsts
    LEFT JOIN {MONTH_END_TABLE} AS k
        ON k.as_of_date = o.projection_basis_date
) AS checked
WHERE bad_end + bad_delta + bad_rate + null_metric > 0
ORDER BY snapshot_date
"""

#: Projected rows with the row before them (by date): the chain rule is judged in pandas.
PROJECTED_WITH_PREVIOUS = f"""
SELECT *
FROM (
    SELECT
        snapshot_date,
        is_projection,
        projection_basis_date,
        period_start_rooms,
        LAG(snapshot_date) OVER (ORDER BY snapshot_date) AS previous_date,
        LAG(period_end_rooms) OVER (ORDER BY snapshot_date) AS previous_end_rooms,
        LAG(projection_basis_date) OVER (ORDER BY snapshot_date) AS previous_basis_date
    FROM {OCCUPANCY_TABLE}
) AS chained
WHERE is_projection = 1
ORDER BY snapshot_date
"""

#: Every row's date and kind (coverage is judged in pandas against the silver dates).
OCCUPANCY_DATES = f"""
SELECT snapshot_date, is_projection, projection_basis_date FROM {OCCUPANCY_TABLE} ORDER BY snapshot_date
"""

#: Dates that have a silver snapshot (the others are gaps and get no row).
SILVER_DATES = """
SELECT DISTINCT snapshot_date FROM {silver}.tenant_room_snapshot_daily ORDER BY snapshot_date
"""

#: The projection days computed from the as_of snapshot.
PROJECTED_FROM_BASIS = f"""
SELECT snapshot_date, new_moveins, new_moveouts
FROM {OCCUPANCY_TABLE}
WHERE is_projection = 1 AND projection_basis_date = :as_of_date
ORDER BY snapshot_date
"""

#: period_end_rooms against the observed end-of-day room count, on every date that has one.
DRIFT = f"""
SELECT
    o.snapshot_date,
    o.is_projection,
    o.period_end_rooms,
    k.occupancy_room_count_eod AS observed_eod_rooms,
    k.total_physical_rooms
FROM {OCCUPANCY_TABLE} AS o
INNER JOIN {MONTH_END_TABLE} AS k
    ON k.as_of_date = o.snapshot_date
ORDER BY o.snapshot_date
"""

# -- reference guardrails (kpi_month_end_metrics vs the kpi_references seed) -----------------

REFERENCES = """
SELECT * FROM {gold}.kpi_references ORDER BY reference_date, metric
"""

HISTORY_BOUNDS = f"""
SELECT
    MIN(as_of_date) AS first_date,
    MAX(as_of_date) AS last_date,
    (SELECT MAX(total_physical_rooms) FROM {MONTH_END_TABLE}
     WHERE as_of_date = (SELECT MAX(as_of_date) FROM {MONTH_END_TABLE})) AS latest_total_physical_rooms
FROM {MONTH_END_TABLE}
"""

#: The metrics rows on the reference dates (unpivoted in pandas).
ROWS_ON_REFERENCE_DATES = f"""
SELECT *
FROM {MONTH_END_TABLE}
WHERE as_of_date IN (SELECT reference_date FROM {{gold}}.kpi_references)
"""

# -- day-over-day plausibility (defs/occupancy/plausibility.py) -----------------------------

#: The published KPIs of every date (one row per date: a whole-table read, like the checks above).
PUBLISHED_KPIS = f"""
SELECT as_of_date, is_month_end, occupancy_rate, occupancy_room_count_eod, rent_jpy, revpar_jpy,
       total_physical_rooms
FROM {MONTH_END_TABLE}
ORDER BY as_of_date
"""

#: The operator's accepted real events for one check (seeds/accepted_kpi_changes.csv).
ACCEPTED_CHANGES = """
SELECT as_of_date, apartment_id, reason
FROM {gold}.accepted_kpi_changes
WHERE check_name = :check_name
"""
