"""Monthly archive of silver.tenant_room_snapshot_daily to Parquet, and its restore (SPEC 10).

Pure-ish building blocks; the Dagster wiring is in archive_assets.py. One month M (Asia/Tokyo
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
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .warehouse import Warehouse

log = logging.getLogger(__name__)

SILVER_TABLE = "tenant_room_snapshot_daily"
KEY_COLUMNS = ("snapshot_date", "tenant_id", "apartment_id", "room_id")
MANIFEST_TABLE = "archived_months"
#: dbt model silver.first_application_dates: what the KPIs keep from the archived past
FIRST_APPLICATION_TABLE = "first_application_dates"
PARQUET_NAME = "part-0.parquet"
MONTH_FORMAT = "%Y-%m"
#: manifest states
ARCHIVED, RESTORED = "archived", "restored"

manifest_table = sa.Table(
    MANIFEST_TABLE,
    sa.MetaData(),
    sa.Column("month", sa.String(7), primary_key=True),  # YYYY-MM (Asia/Tokyo)
    sa.Column("state", sa.String(16), nullable=False),  # archived | restored
    sa.Column("first_date", sa.Date, nullable=True),  # first / last snapshot date in the archive
    sa.Column("last_date", sa.Date, nullable=True),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("deleted_rows", sa.BigInteger, nullable=False),
    sa.Column("content_checksum", sa.String(80), nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),  # JSON
    sa.Column("object_uri", sa.String(1024), nullable=False),
    sa.Column("object_bytes", sa.BigInteger, nullable=False),
    sa.Column("archived_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("restored_at", sa.DateTime, nullable=True),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)


class ArchiveError(RuntimeError):
    """The archive or restore of a month cannot proceed; the message says why and what to do."""


class RetentionError(ArchiveError):
    """The month is inside the retention window."""


class ArchiveVerificationError(ArchiveError):
    """The stored object does not hold exactly the rows it should: nothing was deleted."""


# -- months --------------------------------------------------------------------------------------


def parse_month(month: str) -> dt.date:
    """First day of a "YYYY-MM" month."""
    try:
        return dt.datetime.strptime(month, MONTH_FORMAT).date()
    except (TypeError, ValueError):
        raise ArchiveError(f"not a month (YYYY-MM): {month!r}") from None


def month_key(day: dt.date) -> str:
    return day.strftime(MONTH_FORMAT)


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = parse_month(month)
    return first, add_months(first, 1) - dt.timedelta(days=1)


def retention_start(today: dt.date, retention_months: int) -> dt.date:
    """First day of the oldest retained month: the current month and the `retention_months` before
    it stay in silver. A month is archivable when its last day is more than `retention_months`
    months before today (today 2026-11-27, 12 months: 2025-10 and older; 2025-11 stays)."""
    if retention_months < 0:
        raise ValueError(f"OCCUPANCY_RETENTION_MONTHS must be >= 0, got {retention_months}")
    return add_months(today, -retention_months)


def check_archivable(month: str, today: dt.date, retention_months: int) -> None:
    first, _ = month_bounds(month)
    keep_from = retention_start(today, retention_months)
    if first >= keep_from:
        raise RetentionError(
            f"{month} is inside the retention of {retention_months} months (OCCUPANCY_RETENTION_MONTHS): "
            f"on {today} silver keeps every row from {keep_from} on, so the newest month that can be "
            f"archived is {month_key(add_months(keep_from, -1))}. Nothing was written or deleted."
        )


# -- where archives live ---------------------------------------------------------------------------


def object_key(schema_prefix: str, month: str) -> str:
    """Path of a month's object under the archive root (Hive-style month=YYYY-MM folder)."""
    parse_month(month)
    return f"{schema_prefix}silver/{SILVER_TABLE}/month={month}/{PARQUET_NAME}"


class ArchiveStore(ABC):
    """Where Parquet objects go: a local folder or an S3 prefix."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def put(self, local_path: Path, key: str) -> int:
        """Store a local file under `key` (replacing it whole); returns the stored object's size."""

    @abstractmethod
    def fetch(self, key: str, workdir: Path) -> Path:
        """A local path holding the stored object's bytes (as stored, not a cached copy)."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size of the stored object, None if there is none."""


class LocalArchiveStore(ArchiveStore):
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalArchiveStore({str(self.root)!r})"

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def put(self, local_path: Path, key: str) -> int:
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        shutil.copyfile(local_path, partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, dest)  # atomic: readers see the old or the new object, never half of one
        return dest.stat().st_size

    def fetch(self, key: str, workdir: Path) -> Path:
        path = self.root / key
        if not path.exists():
            raise ArchiveError(f"archive object {path} does not exist")
        return path

    def size(self, key: str) -> int | None:
        path = self.root / key
        return path.stat().st_size if path.exists() else None


class S3ArchiveStore(ArchiveStore):
    """An S3 bucket + prefix, through a boto3 client (dagster-aws S3Resource.get_client())."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def __repr__(self) -> str:
        return f"S3ArchiveStore('s3://{self.bucket}/{self.prefix}')"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put(self, local_path: Path, key: str) -> int:
        self.client.upload_file(str(local_path), self.bucket, self._key(key))
        size = self.size(key)
        if size is None:
            raise ArchiveError(f"{self.uri(key)} is missing right after its upload")
        return size

    def fetch(self, key: str, workdir: Path) -> Path:
        local = workdir / f"fetched-{PARQUET_NAME}"
        try:
            self.client.download_file(self.bucket, self._key(key), str(local))
        except Exception as err:  # noqa: BLE001 - botocore's ClientError and friends
            raise ArchiveError(f"cannot read {self.uri(key)}: {err}") from err
        return local

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except Exception as err:  # noqa: BLE001
            code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise


# -- rows, schema, checksums ---------------------------------------------------------------------


def _arrow_type(data_type: str, precision, scale) -> pa.DataType:
    """One canonical Arrow type per warehouse column type, the same on DuckDB and MySQL, so an
    archive's bytes and checksum do not depend on the warehouse it came from."""
    name = data_type.lower()
    if name.startswith(("decimal", "numeric")):
        return pa.decimal128(int(precision or 38), int(scale or 0))
    if "int" in name:
        return pa.int64()
    if name.startswith(("double", "float", "real")):
        return pa.float64()
    if name == "date":
        return pa.date32()
    if name.startswith(("timestamp", "datetime")):
        return pa.timestamp("us")
    if name.startswith(("varchar", "char", "text", "string", "tinytext", "mediumtext", "longtext")):
        return pa.string()
    if name.startswith("bool"):
        return pa.bool_()
    raise ArchiveError(f"the archive has no Parquet mapping for column type {data_type!r}")


def silver_schema(wh: Warehouse, conn: Connection | None = None) -> pa.Schema:
    rows = wh.read_sql(
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_schema = :schema AND table_name = :name ORDER BY ordinal_position",
        {"schema": wh.schema("silver"), "name": SILVER_TABLE},
        conn=conn,
    )
    if rows.empty:
        raise ArchiveError(f"{wh.schema('silver')}.{SILVER_TABLE} does not exist: nothing to archive or restore into")
    rows.columns = [c.lower() for c in rows.columns]
    return pa.schema(
        [
            pa.field(r.column_name, _arrow_type(r.data_type, r.numeric_precision, r.numeric_scale))
            for r in rows.itertuples()
        ]
    )


def sort_rows(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in KEY_COLUMNS])


def _quoted_columns(wh: Warehouse, schema: pa.Schema) -> str:
    return ", ".join(wh._quote(name) for name in schema.names)


def fetch_month(wh: Warehouse, conn: Connection, first: dt.date, last: dt.date, schema: pa.Schema) -> pa.Table:
    """silver's rows of [first, last] as an Arrow table of `schema`, sorted by the key."""
    sql = (
        f"SELECT {_quoted_columns(wh, schema)} FROM {{silver}}.{SILVER_TABLE} "
        "WHERE snapshot_date BETWEEN :first AND :last"
    )
    if wh.dialect == "duckdb":  # native Arrow scan
        raw = conn.connection.driver_connection
        text = wh.render(sql.replace(":first", "$first").replace(":last", "$last")).text
        with warnings.catch_warnings():  # "extra copy" notice: .sql() would not see this transaction's state
            warnings.simplefilter("ignore", UserWarning)
            table = raw.execute(text, {"first": first, "last": last}).to_arrow_table().cast(schema)
    else:
        result = conn.execute(wh.render(sql), {"first": first, "last": last})
        rows = result.fetchall()
        arrays = [pa.array([row[i] for row in rows], type=f.type) for i, f in enumerate(schema)]
        table = pa.Table.from_arrays(arrays, schema=schema)
    return sort_rows(table)


def content_checksum(table: pa.Table) -> str:
    """SHA-256 over the column names and types and every row (sorted by the key; each value in
    Arrow's canonical text form, NULL distinct from ''): equal checksums mean equal rows."""
    table = sort_rows(table)
    digest = hashlib.sha256()
    digest.update(json.dumps([[f.name, str(f.type)] for f in table.schema]).encode())
    if table.num_rows:
        parts = [pc.cast(table[name], pa.string()) for name in table.column_names]
        joined = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="\x00")
        for chunk in joined.chunks:
            digest.update(("\n".join(chunk.to_pylist()) + "\n").encode())
    return "sha256:" + digest.hexdigest()


def _fingerprint_exprs(schema: pa.Schema, dialect: str, quote) -> list[tuple[str, str]]:
    """(name, SQL expression) of the per-column fingerprint, in DuckDB or MySQL dialect."""
    exprs = [("rows", "COUNT(*)")]
    for f in schema:
        col = quote(f.name)
        exprs.append((f"{f.name}.non_null", f"COUNT({col})"))
        t = f.type
        if pa.types.is_integer(t) or pa.types.is_decimal(t):
            value = col
        elif pa.types.is_date(t):
            value = (
                f"date_diff('day', DATE '1970-01-01', {col})"
                if dialect == "duckdb"
                else f"DATEDIFF({col}, '1970-01-01')"
            )
        elif pa.types.is_timestamp(t):
            value = (
                f"date_diff('second', TIMESTAMP '1970-01-01 00:00:00', {col})"
                if dialect == "duckdb"
                else f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {col})"
            )
        elif pa.types.is_string(t):
            value = f"strlen({col})" if dialect == "duckdb" else f"LENGTH({col})"  # UTF-8 bytes on both
        elif pa.types.is_boolean(t):
            value = f"CASE WHEN {col} THEN 1 ELSE 0 END"
        else:
            continue  # floats: count only (sums are not exact across engines)
        exprs.append((f"{f.name}.sum", f"SUM({value})"))
    return exprs


def _normalize(value) -> int | str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else str(number.normalize())


def silver_fingerprint(wh: Warehouse, conn: Connection, first: dt.date, last: dt.date, schema: pa.Schema) -> dict:
    """The fingerprint of silver's rows of [first, last], computed by the warehouse itself."""
    exprs = _fingerprint_exprs(schema, wh.dialect, wh._quote)
    sql = (
        "SELECT " + ", ".join(f"{expr} AS f{i}" for i, (_, expr) in enumerate(exprs))
        + f" FROM {{silver}}.{SILVER_TABLE} WHERE snapshot_date BETWEEN :first AND :last"
    )
    row = conn.execute(wh.render(sql), {"first": first, "last": last}).one()
    return {name: _normalize(value) for (name, _), value in zip(exprs, row)}


def table_fingerprint(table: pa.Table) -> dict:
    """The same fingerprint over an Arrow table (e.g. a Parquet object read back), by DuckDB."""
    exprs = _fingerprint_exprs(table.schema, "duckdb", lambda name: '"' + name.replace('"', '""') + '"')
    con = duckdb.connect()
    try:
        con.register("archived_rows", table)
        sql = "SELECT " + ", ".join(f"{expr} AS f{i}" for i, (_, expr) in enumerate(exprs)) + " FROM archived_rows"
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    return {name: _normalize(value) for (name, _), value in zip(exprs, row)}


def write_parquet(table: pa.Table, path: Path, metadata: dict[str, str]) -> None:
    """One Parquet file (zstd), the month's facts in its key-value metadata."""
    schema = table.schema.with_metadata({f"occupancy_kpi.{k}": str(v) for k, v in metadata.items()})
    pq.write_table(table.replace_schema_metadata(schema.metadata), path, compression="zstd")


def read_parquet(path: Path, schema: pa.Schema) -> pa.Table:
    table = pq.read_table(path)
    if table.schema.remove_metadata() != schema.remove_metadata():
        raise ArchiveVerificationError(
            f"the archived object's columns differ from silver's: object {table.schema.remove_metadata()} "
            f"vs silver {schema.remove_metadata()}"
        )
    return sort_rows(table.replace_schema_metadata(None))


@dataclass(frozen=True)
class ArchiveContent:
    """What an object must hold: row count, checksum, fingerprint (of the part that came from silver)."""

    rows: int
    checksum: str
    silver_fingerprint: dict


def verify_archive(store: ArchiveStore, key: str, schema: pa.Schema, expected: ArchiveContent,
                   silver_dates: set[dt.date], workdir: Path) -> pa.Table:
    """Read the stored object back and compare it with what it must hold; raises
    ArchiveVerificationError on any difference (the caller then deletes nothing)."""
    stored = read_parquet(store.fetch(key, workdir), schema)
    problems = []
    if stored.num_rows != expected.rows:
        problems.append(f"{stored.num_rows} rows instead of {expected.rows}")
    checksum = content_checksum(stored)
    if checksum != expected.checksum:
        problems.append(f"checksum {checksum} instead of {expected.checksum}")
    from_silver = stored.filter(pc.is_in(stored["snapshot_date"], pa.array(sorted(silver_dates), pa.date32())))
    fingerprint = table_fingerprint(from_silver)
    if fingerprint != expected.silver_fingerprint:
        differing = sorted(k for k, v in expected.silver_fingerprint.items() if fingerprint.get(k) != v)
        problems.append(f"fingerprint differs from silver's on {', '.join(differing)}")
    if problems:
        raise ArchiveVerificationError(
            f"verification of {store.uri(key)} failed ({'; '.join(problems)}): nothing was deleted from silver"
        )
    return stored


# -- manifest ------------------------------------------------------------------------------------


def _manifest(wh: Warehouse) -> sa.Table:
    return manifest_table.to_metadata(sa.MetaData(), schema=wh.schema("silver"))


def _manifest_exists(wh: Warehouse, conn: Connection) -> bool:
    found = conn.execute(
        sa.text("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = :s AND table_name = :n"),
        {"s": wh.schema("silver"), "n": MANIFEST_TABLE},
    ).scalar()
    return bool(found)


def manifest_entry(wh: Warehouse, conn: Connection, month: str) -> dict | None:
    if not _manifest_exists(wh, conn):
        return None
    table = _manifest(wh)
    row = conn.execute(sa.select(table).where(table.c.month == month)).mappings().first()
    return dict(row) if row else None


def archived_months(wh: Warehouse) -> pd.DataFrame:
    """The manifest, oldest month first (empty frame when nothing was ever archived)."""
    columns = [c.name for c in manifest_table.columns]
    with wh.engine.connect() as conn:
        if not _manifest_exists(wh, conn):
            return pd.DataFrame(columns=columns)
        return wh.read_sql(f"SELECT * FROM {{silver}}.{MANIFEST_TABLE} ORDER BY month", conn=conn)


def first_archived_date(wh: Warehouse, conn: Connection) -> dt.date | None:
    """First snapshot date held by the archive (None: nothing archived). The history starts there
    even after its rows left silver (SPEC 7: `applications` is NULL on the history's first date)."""
    if not _manifest_exists(wh, conn):
        return None
    value = conn.execute(wh.render(f"SELECT MIN(first_date) FROM {{silver}}.{MANIFEST_TABLE}")).scalar()
    return None if value is None else pd.Timestamp(value).date()


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
        table = _manifest(wh)
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
                table = f"{wh._quote(wh.schema('silver'))}.{wh._quote(SILVER_TABLE)}"
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
        table = _manifest(wh)
        conn.execute(table.update().where(table.c.month == month).values(state=RESTORED, restored_at=now))
    return RestoreOutcome(
        month, "restored",
        f"{month}: {rows.num_rows} rows restored into silver from {uri} ({checksum})"
        + (f"; they replaced {replaced} rows silver held for {month}" if replaced else ""),
        uri, rows.num_rows, checksum, replaced,
    )


def _insert_rows(wh: Warehouse, conn: Connection, rows: pa.Table) -> None:
    target = f"{wh.render('{silver}').text}.{wh._quote(SILVER_TABLE)}"
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
