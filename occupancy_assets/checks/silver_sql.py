"""SQL of the silver checks (checks/silver.py). Templates for `Warehouse.read_sql`: schemas as
`{staging}` / `{silver}`, values as bound parameters. Each statement is set-based over a date
window (or, for the gaps check, over the distinct dump dates), so it runs the same on DuckDB and
MySQL/MariaDB and its cost grows with the window, never with a per-date loop.
"""

SILVER_TABLE = "{silver}.tenant_room_snapshot_daily"
DUMP_TABLE = "{staging}.tenant_daily_snapshots"

#: Duplicate keys per date in [start_date, end_date]: how many keys, how many surplus rows.
DUPLICATE_KEYS_BY_DATE = f"""
SELECT snapshot_date, COUNT(*) AS duplicate_keys, SUM(row_count - 1) AS surplus_rows
FROM (
    SELECT snapshot_date, COUNT(*) AS row_count
    FROM {SILVER_TABLE}
    WHERE snapshot_date BETWEEN :start_date AND :end_date
    GROUP BY snapshot_date, tenant_id, apartment_id, room_id
    HAVING COUNT(*) > 1
) AS duplicates
GROUP BY snapshot_date
ORDER BY snapshot_date
"""

#: A few duplicated keys with their row counts, worst first (`:example_limit` rows).
DUPLICATE_KEY_EXAMPLES = f"""
SELECT snapshot_date, tenant_id, apartment_id, room_id, COUNT(*) AS row_count
FROM {SILVER_TABLE}
WHERE snapshot_date BETWEEN :start_date AND :end_date
GROUP BY snapshot_date, tenant_id, apartment_id, room_id
HAVING COUNT(*) > 1
ORDER BY row_count DESC, snapshot_date, tenant_id, apartment_id, room_id
LIMIT :example_limit
"""

#: The latest date before the window with a dump or silver rows: the first date's "previous
#: snapshot" (both columns are indexed, so this is two index look-ups, not a scan).
PREVIOUS_SNAPSHOT_DATE = f"""
SELECT MAX(snapshot_date) AS previous_date
FROM (
    SELECT MAX(snapshot_date) AS snapshot_date FROM {DUMP_TABLE} WHERE snapshot_date < :start_date
    UNION ALL
    SELECT MAX(snapshot_date) AS snapshot_date FROM {SILVER_TABLE} WHERE snapshot_date < :start_date
) AS candidates
"""

#: One row per snapshot date in [start_date, end_date] (a date with a dump or with silver rows),
#: with its previous snapshot date (looked up from :from_date = PREVIOUS_SNAPSHOT_DATE on) and
#: both days' silver and dump row counts. `repeated_rows` counts D's dump rows whose tenant has
#: the identical status and contract on the previous date; it is only computed for dumps of at
#: least :min_tenants rows (the staging primary key is (snapshot_date, tenant_id), so dump rows
#: are tenants). moving_id may be NULL in old dumps: NULL on both days counts as unchanged.
SNAPSHOT_HEALTH = f"""
WITH silver_days AS (
    SELECT snapshot_date, COUNT(*) AS silver_rows
    FROM {SILVER_TABLE}
    WHERE snapshot_date BETWEEN :from_date AND :end_date
    GROUP BY snapshot_date
),
dump_days AS (
    SELECT snapshot_date, COUNT(*) AS dump_rows
    FROM {DUMP_TABLE}
    WHERE snapshot_date BETWEEN :from_date AND :end_date
    GROUP BY snapshot_date
),
snapshot_days AS (
    SELECT snapshot_date FROM silver_days
    UNION
    SELECT snapshot_date FROM dump_days
),
sequenced AS (
    SELECT
        d.snapshot_date,
        LAG(d.snapshot_date) OVER (ORDER BY d.snapshot_date) AS previous_date,
        COALESCE(s.silver_rows, 0) AS silver_rows,
        COALESCE(u.dump_rows, 0) AS dump_rows
    FROM snapshot_days AS d
    LEFT JOIN silver_days AS s ON s.snapshot_date = d.snapshot_date
    LEFT JOIN dump_days AS u ON u.snapshot_date = d.snapshot_date
),
repeated AS (
    SELECT q.snapshot_date, COUNT(*) AS repeated_rows
    FROM sequenced AS q
    INNER JOIN {DUMP_TABLE} AS cur
        ON cur.snapshot_date = q.snapshot_date
    INNER JOIN {DUMP_TABLE} AS prev
        ON prev.snapshot_date = q.previous_date
        AND prev.tenant_id = cur.tenant_id
    WHERE q.snapshot_date >= :start_date
        AND q.dump_rows >= :min_tenants
        AND prev.status = cur.status
        AND COALESCE(prev.moving_id, -1) = COALESCE(cur.moving_id, -1)
    GROUP BY q.snapshot_date
)
SELECT
    q.snapshot_date,
    q.previous_date,
    q.silver_rows,
    p.silver_rows AS previous_silver_rows,
    q.dump_rows,
    p.dump_rows AS previous_dump_rows,
    COALESCE(r.repeated_rows, 0) AS repeated_rows
FROM sequenced AS q
LEFT JOIN sequenced AS p ON p.snapshot_date = q.previous_date
LEFT JOIN repeated AS r ON r.snapshot_date = q.snapshot_date
WHERE q.snapshot_date >= :start_date
ORDER BY q.snapshot_date
"""

#: Every date that has a dump, from :from_date on (cheap: the primary key (snapshot_date, tenant_id), one row a day).
DUMP_DATES = f"""
SELECT DISTINCT snapshot_date
FROM {DUMP_TABLE}
WHERE snapshot_date >= :from_date
ORDER BY snapshot_date
"""

#: The newest silver snapshot date (index look-up).
LATEST_SILVER_SNAPSHOT = f"""
SELECT MAX(snapshot_date) AS latest_snapshot_date
FROM {SILVER_TABLE}
"""

#: The latest `:limit` snapshot dates on or before :end_date: the default window of a check run
#: that carries no partition range.
RECENT_SILVER_DATES = f"""
SELECT MIN(snapshot_date) AS start_date, MAX(snapshot_date) AS end_date
FROM (
    SELECT DISTINCT snapshot_date
    FROM {SILVER_TABLE}
    WHERE snapshot_date <= :end_date
    ORDER BY snapshot_date DESC
    LIMIT :limit
) AS recent
"""
