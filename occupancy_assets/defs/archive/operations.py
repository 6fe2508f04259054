"""Monthly archive of silver.tenant_room_snapshot_daily to Parquet, and its restore (SPEC 10).

The two operations; the Dagster wiring is in assets.py. One month M (Asia/Tokyo
calendar month, key "YYYY-MM") at a time:

archive M (`archive_month`)
  1. refuse M unless every day of it is older than the retention (`check_archivable`);
  2. read silver's rows of M into Arrow (column types from information_schema, one canonical
     Arrow schema on both warehouses) and write them as one Parquet object
     `<prefix>silver/tenant_room_snapshot_daily/month=YYYY-MM/part-0.parquet` (local folder or S3);
  3. read the *stored* object back and verify it: same schema, same row count, same content
     checksum (SHA-256 over the key-sorted rows, every column), and the same per-column fingerprint
     (row count, non-NULL counts, sums of numbers, of dates as day numbers, of string byte lengths)
     as the warehouse itself computes over silver's rows of M;
  4. only then, in ONE transaction: recompute silver's fingerprint of M (it must still equal the
     verified one), delete M's rows (the deleted count must equal the archived count, else roll
     back), and record M in `silver.archived_months` (the manifest);
  5. `OPTIMIZE TABLE` + `ANALYZE TABLE` (MySQL) / `CHECKPOINT` (DuckDB).

A failure anywhere before step 4 commits leaves silver untouched. Re-running a month whose rows
are already archived and deleted does nothing and says so. If silver holds rows of an archived
month again (a restore, or a rebuild from staging), the month's archive is rewritten as the
archived rows of the days silver does not hold plus silver's rows of the days it does (silver's
day replaces the archived day, as a window rebuild does in silver), verified, then deleted: no row
is lost or duplicated.

restore M (`restore_month`)
  read the object, check its checksum against the manifest, then in one transaction replace
  silver's rows of M with the archived rows and check, before committing, that silver's rows of M
  now hash to the archived checksum (row-for-row equal). The manifest marks M `restored`; the next
  monthly run archives it again (the retention still applies).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from occupancy_assets.defs.archive.content import (
    ArchiveContent,
    _quoted_columns,
    content_checksum,
    fetch_month,
    read_parquet,
    silver_fingerprint,
    silver_schema,
    sort_rows,
    table_fingerprint,
    verify_archive,
    write_parquet,
)
from occupancy_assets.defs.archive.months import (
    FIRST_APPLICATION_TABLE,
    PARQUET_NAME,
    SILVER_TABLE,
    ArchiveError,
    ArchiveVerificationError,
    check_archivable,
    log,
    month_bounds,
    month_key,
)
from occupancy_assets.defs.archive.storage import ArchiveStore, object_key
from occupancy_assets.lib.archive_manifest import ARCHIVED, RESTORED, archived_months, manifest_entry, manifest_sa_table
from occupancy_assets.lib.warehouse import Warehouse

# -- archive -------------------------------------------------------------------------------------


@dataclass
class ArchiveOutcome:
    month: str
    action: str  # archived | already_archived | nothing_to_archive
    message: str
    object_uri: str | None = None
    rows_archived: int = 0
    deleted_rows: int = 0
    object_bytes: int = 0
    checksum: str | None = None
    fingerprint: dict = field(default_factory=dict)
    silver_rows_before: int | None = None
    silver_rows_after: int | None = None
    seconds: dict = field(default_factory=dict)
    maintenance: str | None = None

    def metadata(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if v is not None and k not in ("fingerprint", "seconds")}
        out["seconds"] = json.dumps(self.seconds)
        if self.fingerprint:
            out["fingerprint"] = json.dumps(self.fingerprint, sort_keys=True)
        return out


def _count_silver(wh: Warehouse, conn: Connection) -> int:
    return int(conn.execute(wh.render(f"SELECT COUNT(*) FROM {{silver}}.{SILVER_TABLE}")).scalar())


def months_with_rows_before(wh: Warehouse, before: dt.date) -> list[str]:
    """Months that still have silver rows dated before `before` (set-based: one grouped query)."""
    if not wh.table_exists("silver", SILVER_TABLE):
        return []
    days = wh.read_sql(
        f"SELECT DISTINCT snapshot_date FROM {{silver}}.{SILVER_TABLE} WHERE snapshot_date < :before",
        {"before": before},
    )
    return sorted({month_key(pd.Timestamp(d).date()) for d in days["snapshot_date"]})


def archive_month(
    wh: Warehouse,
    store: ArchiveStore,
    month: str,
    *,
    today: dt.date,
    retention_months: int,
    now: dt.datetime | None = None,
) -> ArchiveOutcome:
    """Archive month M of silver (module docstring); raises ArchiveError without deleting anything."""
    check_archivable(month, today, retention_months)
    first, last = month_bounds(month)
    key = object_key(wh.schema_prefix, month)
    uri = store.uri(key)
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    if not wh.table_exists("silver", FIRST_APPLICATION_TABLE):
        raise ArchiveError(
            f"{wh.schema('silver')}.{FIRST_APPLICATION_TABLE} does not exist yet: run the pipeline once (the silver "
            "step builds it from silver's whole history) before archiving, or tenant-room pairs whose first "
            "application is in an archived month would be counted as new applications. Nothing was archived."
        )
    with wh.engine.connect() as conn:
        schema = silver_schema(wh, conn)
        entry = manifest_entry(wh, conn, month)
        silver_rows = fetch_month(wh, conn, first, last, schema)
        fingerprint = silver_fingerprint(wh, conn, first, last, schema)
        silver_before = _count_silver(wh, conn)
    seconds["read_silver"] = round(time.perf_counter() - started, 3)

    if silver_rows.num_rows == 0:
        return _nothing_left(store, month, key, uri, entry, silver_before)

    content, expected, object_bytes = _write_and_verify(wh, store, month, key, uri, schema, entry, silver_rows,
                                                        fingerprint, seconds)

    started = time.perf_counter()
    deleted = _delete_verified_month(wh, month, first, last, schema, expected, silver_rows.num_rows,
                                     uri, object_bytes, content, now)
    seconds["delete"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    maintenance = optimize_silver(wh)
    seconds["optimize"] = round(time.perf_counter() - started, 3)
    with wh.engine.connect() as conn:
        silver_after = _count_silver(wh, conn)
    return ArchiveOutcome(
        month, "archived",
        f"{month}: {content.num_rows} rows archived to {uri} ({object_bytes:,} bytes, {expected.checksum}); "
        f"{deleted} rows deleted from silver",
        object_uri=uri, rows_archived=content.num_rows, deleted_rows=deleted, object_bytes=object_bytes,
        checksum=expected.checksum, fingerprint=fingerprint, silver_rows_before=silver_before,
        silver_rows_after=silver_after, seconds=seconds, maintenance=maintenance,
    )


def _nothing_left(store: ArchiveStore, month: str, key: str, uri: str, entry: dict | None,
                  silver_before: int) -> ArchiveOutcome:
    """Silver holds no row of the month: never there, or archived already (its object must exist)."""
    if entry is None:
        return ArchiveOutcome(month, "nothing_to_archive", f"silver holds no rows of {month}: nothing to archive",
                              silver_rows_before=silver_before, silver_rows_after=silver_before)
    size = store.size(key)
    if size is None:
        raise ArchiveError(
            f"{month} is recorded as archived ({entry['row_count']} rows, {entry['content_checksum']}) but "
            f"{uri} is missing; silver holds none of its rows. Restore the object from a backup of the "
            "archive location."
        )
    return ArchiveOutcome(
        month, "already_archived",
        f"{month} is already archived: {entry['row_count']} rows in {uri} ({entry['content_checksum']}), "
        f"archived {entry['archived_at']}; silver holds none of its rows, nothing to do",
        object_uri=uri, rows_archived=0, deleted_rows=0, object_bytes=size, checksum=entry["content_checksum"],
        silver_rows_before=silver_before, silver_rows_after=silver_before,
    )


def _write_and_verify(wh: Warehouse, store: ArchiveStore, month: str, key: str, uri: str, schema, entry: dict | None,
                      silver_rows: pa.Table, fingerprint, seconds: dict) -> tuple[pa.Table, ArchiveContent, int]:
    """Write the month's object (silver's rows, merged into an earlier archive of the month if any)
    and read it back to verify it: (content, what was verified, object bytes)."""
    silver_dates = set(silver_rows["snapshot_date"].unique().to_pylist())
    with tempfile.TemporaryDirectory(prefix="occupancy-archive-") as tmp:
        workdir = Path(tmp)
        content = silver_rows
        if entry is not None:
            # rows of an archived month are back in silver: silver's days replace the archived days
            archived = read_parquet(store.fetch(key, workdir), schema)
            if content_checksum(archived) != entry["content_checksum"]:
                raise ArchiveVerificationError(
                    f"{uri} does not match its manifest entry ({entry['content_checksum']}): an archive run "
                    f"was interrupted after writing, or the object was changed. Nothing was deleted."
                )
            in_silver = pc.is_in(archived["snapshot_date"], pa.array(sorted(silver_dates), pa.date32()))
            kept = archived.filter(pc.invert(in_silver))
            content = sort_rows(pa.concat_tables([kept, silver_rows]))
        expected = ArchiveContent(content.num_rows, content_checksum(content), fingerprint)

        started = time.perf_counter()
        if entry is not None and expected.checksum == entry["content_checksum"]:
            object_bytes = store.size(key) or 0  # the object already holds exactly these rows
        else:
            local = workdir / PARQUET_NAME
            write_parquet(content, local, {"month": month, "rows": content.num_rows, "checksum": expected.checksum,
                                           "source": f"{wh.schema('silver')}.{SILVER_TABLE}"})
            object_bytes = store.put(local, key)
        seconds["write"] = round(time.perf_counter() - started, 3)

        started = time.perf_counter()
        verify_archive(store, key, schema, expected, silver_dates, workdir)
        seconds["verify"] = round(time.perf_counter() - started, 3)
    return content, expected, object_bytes


def _delete_verified_month(wh, month, first, last, schema, expected: ArchiveContent, silver_count: int,
                           uri: str, object_bytes: int, content: pa.Table, now: dt.datetime) -> int:
    """Delete silver's rows of the month and record it, in one transaction, only if silver still
    holds exactly the rows that were verified in the archive."""
    with wh.begin() as conn:
        current = silver_fingerprint(wh, conn, first, last, schema)
        if current != expected.silver_fingerprint:
            raise ArchiveError(
                f"silver's rows of {month} changed while they were being archived (a window rebuild ran?): "
                "nothing was deleted; run the archive again"
            )
        deleted = conn.execute(
            wh.render(f"DELETE FROM {{silver}}.{SILVER_TABLE} WHERE snapshot_date BETWEEN :first AND :last"),
            {"first": first, "last": last},
        ).rowcount
        if deleted != silver_count:
            raise ArchiveError(f"deleting {month} removed {deleted} rows, not the {silver_count} verified: rolled back")
        table = manifest_sa_table(wh)
        table.create(conn, checkfirst=True)
        conn.execute(table.delete().where(table.c.month == month))
        dates = pc.min_max(content["snapshot_date"])
        conn.execute(
            table.insert(),
            {
                "month": month, "state": ARCHIVED,
                "first_date": dates["min"].as_py(), "last_date": dates["max"].as_py(),
                "row_count": content.num_rows, "deleted_rows": deleted,
                "content_checksum": expected.checksum,
                "fingerprint": json.dumps(table_fingerprint(content), sort_keys=True),
                "object_uri": uri, "object_bytes": object_bytes, "archived_at": now, "restored_at": None,
            },
        )
    return deleted


def optimize_silver(wh: Warehouse) -> str:
    """Give the deleted rows' space back and refresh statistics; failure here is reported, not
    raised (the rows are archived and deleted already)."""
    try:
        with wh.engine.connect() as conn:
            if wh.dialect == "mysql":
                table = f"{wh.quote(wh.schema('silver'))}.{wh.quote(SILVER_TABLE)}"
                conn.exec_driver_sql(f"OPTIMIZE TABLE {table}").fetchall()
                conn.exec_driver_sql(f"ANALYZE TABLE {table}").fetchall()
                return "OPTIMIZE TABLE, ANALYZE TABLE"
            conn.connection.driver_connection.execute("CHECKPOINT")
            return "CHECKPOINT"
    except Exception as err:  # noqa: BLE001
        log.warning("silver maintenance after the archive failed: %s", err)
        return f"skipped: {err}"


# -- restore -------------------------------------------------------------------------------------


@dataclass
class RestoreOutcome:
    month: str
    action: str  # restored | already_restored
    message: str
    object_uri: str
    rows_restored: int
    checksum: str
    replaced_rows: int = 0

    def metadata(self) -> dict:
        return asdict(self)


def restore_month(wh: Warehouse, store: ArchiveStore, month: str, *, now: dt.datetime | None = None) -> RestoreOutcome:
    """Put month M's archived rows back into silver, exactly (module docstring)."""
    first, last = month_bounds(month)
    key = object_key(wh.schema_prefix, month)
    uri = store.uri(key)
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    with wh.engine.connect() as conn:
        entry = manifest_entry(wh, conn, month)
        schema = silver_schema(wh, conn)
        current = fetch_month(wh, conn, first, last, schema)
    if entry is None:
        listed = ", ".join(archived_months(wh)["month"]) or "none"
        raise ArchiveError(f"{month} was never archived (archived months: {listed}): nothing to restore")
    with tempfile.TemporaryDirectory(prefix="occupancy-restore-") as tmp:
        rows = read_parquet(store.fetch(key, Path(tmp)), schema)
    checksum = content_checksum(rows)
    if checksum != entry["content_checksum"]:
        raise ArchiveVerificationError(
            f"{uri} holds {rows.num_rows} rows with checksum {checksum}, but the manifest recorded "
            f"{entry['row_count']} rows with {entry['content_checksum']}: not restored. If an archive run of "
            f"{month} was interrupted, run `occupancy-kpi archive --month {month}` again first."
        )
    if current.num_rows and content_checksum(current) == checksum:
        return RestoreOutcome(
            month, "already_restored",
            f"silver already holds exactly the {rows.num_rows} archived rows of {month}: nothing to do",
            uri, 0, checksum,
        )

    with wh.begin() as conn:
        replaced = conn.execute(
            wh.render(f"DELETE FROM {{silver}}.{SILVER_TABLE} WHERE snapshot_date BETWEEN :first AND :last"),
            {"first": first, "last": last},
        ).rowcount
        _insert_rows(wh, conn, rows)
        restored = fetch_month(wh, conn, first, last, schema)
        if content_checksum(restored) != checksum:
            raise ArchiveVerificationError(
                f"after loading {uri}, silver's rows of {month} do not hash to {checksum}: rolled back"
            )
        table = manifest_sa_table(wh)
        conn.execute(table.update().where(table.c.month == month).values(state=RESTORED, restored_at=now))
    return RestoreOutcome(
        month, "restored",
        f"{month}: {rows.num_rows} rows restored into silver from {uri} ({checksum})"
        + (f"; they replaced {replaced} rows silver held for {month}" if replaced else ""),
        uri, rows.num_rows, checksum, replaced,
    )


def _insert_rows(wh: Warehouse, conn: Connection, rows: pa.Table) -> None:
    target = f"{wh.render('{silver}').text}.{wh.quote(SILVER_TABLE)}"
    columns = _quoted_columns(wh, rows.schema)
    if wh.dialect == "duckdb":
        raw = conn.connection.driver_connection
        raw.register("_restored_rows", rows)
        try:
            raw.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM _restored_rows")
        finally:
            raw.unregister("_restored_rows")
        return
    table = sa.Table(SILVER_TABLE, sa.MetaData(), *[sa.Column(name) for name in rows.schema.names],
                     schema=wh.schema("silver"))
    for batch in rows.to_batches(max_chunksize=20_000):
        conn.execute(table.insert(), batch.to_pylist())
