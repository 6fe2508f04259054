"""The rows of a month as Arrow: one canonical schema on both warehouses, the content checksum and
the per-column fingerprint that prove an archived object holds exactly silver's rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.engine import Connection

from occupancy_assets.defs.archive.months import KEY_COLUMNS, SILVER_TABLE, ArchiveError, ArchiveVerificationError
from occupancy_assets.defs.archive.storage import ArchiveStore
from occupancy_assets.lib.warehouse import Warehouse

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
    return ", ".join(wh.quote(name) for name in schema.names)


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
    exprs = _fingerprint_exprs(schema, wh.dialect, wh.quote)
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
