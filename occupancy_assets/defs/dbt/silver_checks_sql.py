"""SQL of the silver checks (defs/dbt/silver_checks.py). Templates for `Warehouse.read_sql`: schemas as
`{staging}` / `{silver}`, values as bound parameters; the same on DuckDB and MySQL/MariaDB.
The blocking silver checks are dbt tests (dbt_project/tests/assert_silver_*.sql).
"""

SILVER_TABLE = "{silver}.tenant_room_snapshot_daily"
DUMP_TABLE = "{staging}.tenant_daily_snapshots"

#: Every date that has a dump, from :from_date through :to_date (today: a row dated in the future
#: is not a dump yet, and must not turn the calendar up to it into gaps). Cheap: the snapshot_date
#: index, one row a day.
DUMP_DATES = f"""
SELECT DISTINCT snapshot_date
FROM {DUMP_TABLE}
WHERE snapshot_date >= :from_date AND snapshot_date <= :to_date
ORDER BY snapshot_date
"""

#: The newest silver snapshot date (index look-up).
LATEST_SILVER_SNAPSHOT = f"""
SELECT MAX(snapshot_date) AS latest_snapshot_date
FROM {SILVER_TABLE}
"""
