"""The one adapter layer between this project and its two warehouses (DuckDB, MySQL).

Everything dialect-specific on the Python side lives here: connecting, creating schemas,
bulk loading, and the environment the dbt profile reads. SQL that *computes* something lives
in dbt models or in `defs/occupancy/sql.py`, never here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from occupancy_assets.lib.settings import LAYERS

#: Where dbt stores the failing rows of its tests (dbt_project.yml `+store_failures`), after the prefix.
AUDIT_SCHEMA = "dbt_test__audit"

#: Environment variables the dbt profile (dbt_project/profiles.yml) reads.
DBT_PASSWORD_ENV = "DBT_ENV_SECRET_OCCUPANCY_MYSQL_PASSWORD"  # DBT_ENV_SECRET_* is scrubbed from dbt logs

#: How long a connection waits for another process's hold on the warehouse (DuckDB file lock,
#: MySQL writer lock) before failing with WarehouseLockedError. The run queue (dagster.yaml)
#: keeps daemon runs apart; this covers CLI runs, the sensor's reads and `status` beside them.
LOCK_WAIT_SECONDS = 300.0
_LOCK_RETRY_FIRST_DELAY = 0.5
_LOCK_RETRY_MAX_DELAY = 10.0
_DUCKDB_LOCK_ERROR = re.compile(r"Could not set lock on file")
_DUCKDB_LOCK_PID = re.compile(r"\(PID (\d+)\)")

#: How long opening a MySQL connection may take (PyMySQL's `connect_timeout`; its default is 10 s):
#: an unreachable host fails in seconds. A URL can set its own: `mysql+pymysql://...:3306/?connect_timeout=15`.
CONNECT_TIMEOUT_SECONDS = 5

log = logging.getLogger(__name__)

#: Rows per chunk of a MySQL bulk load (file writing / INSERT batches); bounds the memory used.
_LOAD_CHUNK_ROWS = 500_000


class WarehouseLockedError(RuntimeError):
    """Another process kept the warehouse locked for longer than this one waits."""


class WarehouseConfigError(ValueError):
    """The warehouse cannot be reached as configured; the message is one line for the operator."""


class Warehouse:
    """A warehouse URL plus the schema prefix, with the few operations that differ by dialect."""

    def __init__(self, url: str | URL, schema_prefix: str = "", lock_wait_seconds: float | None = None):
        self.url = make_url(url)
        self.schema_prefix = schema_prefix
        self.lock_wait_seconds = LOCK_WAIT_SECONDS if lock_wait_seconds is None else lock_wait_seconds
        backend = self.url.get_backend_name()
        if backend == "duckdb":
            self.dialect = "duckdb"
        elif backend in ("mysql", "mariadb"):
            self.dialect = "mysql"
        else:
            raise ValueError(
                f"unsupported warehouse {backend!r}: use duckdb:///path/file.duckdb "
                "or mysql+pymysql://user:pw@host:3306/"
            )

    def __repr__(self) -> str:  # never shows the password
        return f"Warehouse({self.url.render_as_string(hide_password=True)!r}, prefix={self.schema_prefix!r})"

    # -- naming ---------------------------------------------------------------------------
    def schema(self, layer: str) -> str:
        """A layer's schema; "audit" is dbt's stored test failures (and gold_window.py's copies)."""
        if layer == "audit":
            return f"{self.schema_prefix}{AUDIT_SCHEMA}"
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}")
        return f"{self.schema_prefix}{layer}"

    def render(self, sql: str) -> sa.TextClause:
        """Resolve `{staging}` / `{silver}` / `{gold}` / `{audit}` in a SQL template to the quoted schema names.

        Only schema identifiers are substituted; values are always bound parameters.
        """
        return sa.text(sql.format(**{layer: self.quote(self.schema(layer)) for layer in (*LAYERS, "audit")}))

    @property
    def duckdb_path(self) -> Path:
        assert self.dialect == "duckdb"
        return Path(self.url.database or ":memory:").resolve()

    # -- connections ----------------------------------------------------------------------
    @cached_property
    def engine(self) -> Engine:
        if self.dialect == "duckdb":
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            # NullPool: DuckDB allows one writing process per file, and dbt runs in another
            # process, so never keep a connection open between uses.
            engine = sa.create_engine(self.url, poolclass=NullPool)
            sa.event.listen(engine, "do_connect", self._connect_waiting_for_lock)
            return engine
        url = self.url.set(database=None) if self.url.database else self.url
        # local_infile: the client may send a file the server asks for, which only
        # `_mysql_load_data` ever does (a temporary file this process just wrote)
        connect_args = {"charset": "utf8mb4", "local_infile": True}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)

    def ping(self) -> None:
        """Open and close one connection, the whole of it (MySQL: TCP connect, the server's greeting,
        the login) bounded by the connect timeout: PyMySQL's `connect_timeout` covers the TCP connect
        only, and a host that accepts it but never greets (a proxy, a firewall) would otherwise hold
        the caller until the network gives up. Raises what the driver raises (SQLAlchemy DBAPIError)."""
        if self.dialect != "mysql":
            with self.engine.connect():
                return
        timeout = int(self.url.query.get("connect_timeout") or CONNECT_TIMEOUT_SECONDS)
        probe = sa.create_engine(
            self.engine.url,
            poolclass=NullPool,
            connect_args={"charset": "utf8mb4", "connect_timeout": timeout, "read_timeout": timeout, "write_timeout": timeout},
        )
        try:
            with probe.connect():
                pass
        finally:
            probe.dispose()

    def begin(self) -> contextlib.AbstractContextManager[Connection]:
        """A write transaction. On MySQL it also holds the writer lock (`writer_lock_name`), so
        two runs replacing the same window never interleave; on DuckDB the file lock does that."""
        if self.dialect == "mysql":
            return self._mysql_locked_transaction()
        return self.engine.begin()

    @property
    def writer_lock_name(self) -> str:
        """MySQL named lock (GET_LOCK) guarding Python writes to this prefix's tables (<= 64 chars)."""
        return f"occupancy_kpi:{self.schema_prefix}warehouse"[:64]

    @contextlib.contextmanager
    def _mysql_locked_transaction(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            name = {"name": self.writer_lock_name}
            timeout = max(int(self.lock_wait_seconds), 0)
            got = conn.execute(sa.text("SELECT GET_LOCK(:name, :timeout)"), {**name, "timeout": timeout}).scalar()
            if got != 1:
                holder = conn.execute(sa.text("SELECT IS_USED_LOCK(:name)"), name).scalar()
                raise WarehouseLockedError(
                    f"warehouse {self!r} is being written by another session (MySQL connection id "
                    f"{holder or 'unknown'} holds lock {self.writer_lock_name!r}); waited {timeout} s. "
                    "A run is already writing this window: retry when it has finished "
                    "(runs launched by the Dagster daemon queue behind each other)."
                )
            conn.commit()  # end the implicit transaction of GET_LOCK; the lock is per session
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), name)

    def _connect_waiting_for_lock(self, dialect, conn_rec, cargs, cparams):
        """SQLAlchemy `do_connect` hook (DuckDB): another process holding the file is waited for,
        with bounded exponential back-off, then reported as WarehouseLockedError, not a stack trace."""
        started = time.monotonic()
        delay = _LOCK_RETRY_FIRST_DELAY
        while True:
            try:
                return dialect.connect(*cargs, **dict(cparams))  # connect() pops from its kwargs
            except Exception as err:  # noqa: BLE001 - only the lock conflict is retried
                if not _DUCKDB_LOCK_ERROR.search(str(err)):
                    raise
                pid = _DUCKDB_LOCK_PID.search(str(err))
                waited = time.monotonic() - started
                if waited + delay > self.lock_wait_seconds:
                    raise WarehouseLockedError(
                        f"warehouse {self.duckdb_path} is locked by another process "
                        f"(PID {pid.group(1) if pid else 'unknown'}): a run is already writing it; "
                        f"waited {waited:.0f} s. Retry when it has finished (runs launched by the "
                        "Dagster daemon queue behind each other, see docs/operating.md)."
                    ) from None
                log.info("warehouse %s is locked by another process; retrying in %.1f s", self.duckdb_path, delay)
                time.sleep(delay)
                delay = min(delay * 2, _LOCK_RETRY_MAX_DELAY)

    def read_sql(self, sql: str, params: Mapping | None = None, conn: Connection | None = None) -> pd.DataFrame:
        """Run a SQL template (see `render`) and return the result as a DataFrame."""
        if conn is None:
            with self.engine.connect() as own:
                return self.read_sql(sql, params, own)
        result = conn.execute(self.render(sql), dict(params or {}))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    # -- DDL and loading -------------------------------------------------------------------
    def ensure_schemas(self) -> None:
        with self.engine.begin() as conn:
            for layer in (*LAYERS, "audit"):
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {self.quote(self.schema(layer))}"))

    def drop_schemas(self) -> None:
        """Drop all three layers and dbt's stored test failures (tests only)."""
        with self.engine.begin() as conn:
            for schema in [*(self.schema(layer) for layer in LAYERS), self.schema_prefix + AUDIT_SCHEMA]:
                cascade = " CASCADE" if self.dialect == "duckdb" else ""
                conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.quote(schema)}{cascade}"))

    def table_exists(self, layer: str, name: str) -> bool:
        return bool(self.columns(layer, name))

    def columns(self, layer: str, name: str) -> list[str]:
        """Column names in table order ([] if the table does not exist), from information_schema
        (SQLAlchemy's inspector does not work on every DuckDB version)."""
        rows = self.read_sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = :schema AND table_name = :name ORDER BY ordinal_position",
            {"schema": self.schema(layer), "name": name},
        )
        return list(rows.iloc[:, 0]) if len(rows) else []

    def replace_tables(self, layer: str, tables: Mapping[str, sa.Table], frames: Mapping[str, pd.DataFrame]) -> None:
        """Drop, recreate (with the given DDL) and bulk-load tables, all in one transaction."""
        self.ensure_schemas()
        with self.begin() as conn:
            conn = conn.execution_options(schema_translate_map={None: self.schema(layer)})
            for name in reversed(list(tables)):
                tables[name].drop(conn, checkfirst=True)
            for name, table in tables.items():
                table.create(conn)
                self.bulk_insert(conn, layer, table, frames[name])

    def bulk_insert(self, conn: Connection, layer: str, table: sa.Table, frame: pd.DataFrame) -> None:
        columns = [c.name for c in table.columns]
        frame = frame[columns]
        if self.dialect == "duckdb":
            raw = conn.connection.driver_connection  # the duckdb connection: scan the frame natively
            raw.register("_bulk_frame", frame)
            try:
                raw.execute(
                    f"INSERT INTO {self.quote(self.schema(layer))}.{self.quote(table.name)} "
                    f"SELECT * FROM _bulk_frame"
                )
            finally:
                raw.unregister("_bulk_frame")
            return
        self._mysql_bulk_load(conn, layer, table, frame)

    # -- MySQL bulk loading ----------------------------------------------------------------
    # Row-batched INSERTs through SQLAlchemy took ~29 minutes for the 5.2 M snapshot rows of the
    # full demo portfolio. The fast path (docs/benchmarks.md, "Full scale on MariaDB"):
    # - rows sorted by the primary key, so InnoDB appends to its clustered index instead of
    #   splitting pages all over a table larger than the buffer pool;
    # - secondary indexes dropped before and built after the load (one sorted index build);
    # - unique_checks = foreign_key_checks = 0 in the session: on an empty table MariaDB >= 10.6
    #   then bulk-loads without undo logging;
    # - `LOAD DATA LOCAL INFILE` from a temporary tab-separated file when the server allows it
    #   (`local_infile`), else multi-row INSERTs of ~1 MB built by the driver.
    # The server turns LOCAL load errors into warnings (as with IGNORE), so the loaded row count and
    # the warnings are checked: a load that is not exact fails instead of silently dropping rows.

    def _mysql_bulk_load(self, conn: Connection, layer: str, table: sa.Table, frame: pd.DataFrame) -> None:
        pk = [c.name for c in table.primary_key.columns]
        if pk and len(frame) > 1:
            frame = frame.sort_values(pk, kind="stable", ignore_index=True)
        target = f"{self.quote(self.schema(layer))}.{self.quote(table.name)}"
        conn.exec_driver_sql("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        indexes = list(table.indexes)
        try:
            for index in indexes:
                conn.exec_driver_sql(f"ALTER TABLE {target} DROP INDEX {self.quote(index.name)}")
            if len(frame):
                if self._mysql_local_infile_allowed(conn):
                    self._mysql_load_data(conn, target, frame)
                else:
                    self._mysql_multirow_insert(conn, target, frame)
            for index in indexes:
                cols = ", ".join(self.quote(c.name) for c in index.columns)
                unique = "UNIQUE " if index.unique else ""
                conn.exec_driver_sql(f"ALTER TABLE {target} ADD {unique}INDEX {self.quote(index.name)} ({cols})")
        finally:
            conn.exec_driver_sql("SET SESSION unique_checks = 1, foreign_key_checks = 1")

    def _mysql_local_infile_allowed(self, conn: Connection) -> bool:
        if os.environ.get("OCCUPANCY_MYSQL_LOAD_DATA", "").lower() in ("0", "false", "no"):
            return False
        client_allows = bool(getattr(conn.connection.driver_connection, "_local_infile", False))
        return client_allows and bool(conn.exec_driver_sql("SELECT @@GLOBAL.local_infile").scalar())

    def _mysql_load_data(self, conn: Connection, target: str, frame: pd.DataFrame) -> None:
        cursor = conn.connection.driver_connection.cursor()
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".tsv", delete=False) as tmp:
            path = tmp.name
            try:
                for start in range(0, len(frame), _LOAD_CHUNK_ROWS):
                    tmp.write(mysql_load_data_lines(frame.iloc[start : start + _LOAD_CHUNK_ROWS]))
                tmp.close()
                columns = ", ".join(self.quote(c) for c in frame.columns)
                path_literal = path.replace("\\", "\\\\").replace("'", "\\'")
                loaded = cursor.execute(
                    f"LOAD DATA LOCAL INFILE '{path_literal}' INTO TABLE {target} CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                    f"({columns})"
                )
                cursor.execute("SHOW COUNT(*) WARNINGS")
                warnings = cursor.fetchone()[0]
                if loaded != len(frame) or warnings:
                    cursor.execute("SHOW WARNINGS LIMIT 5")
                    shown = "; ".join(f"{level} {code}: {message}" for level, code, message in cursor.fetchall())
                    raise ValueError(
                        f"bulk load into {target} was not exact: {loaded} of {len(frame)} rows loaded, "
                        f"{warnings} warnings ({shown})"
                    )
            finally:
                cursor.close()
                os.unlink(path)

    def _mysql_multirow_insert(self, conn: Connection, target: str, frame: pd.DataFrame) -> None:
        columns = ", ".join(self.quote(c) for c in frame.columns)
        placeholders = ", ".join(["%s"] * len(frame.columns))
        statement = f"INSERT INTO {target} ({columns}) VALUES ({placeholders})"
        cursor = conn.connection.driver_connection.cursor()
        try:
            for start in range(0, len(frame), _LOAD_CHUNK_ROWS):
                part = frame.iloc[start : start + _LOAD_CHUNK_ROWS]
                records = part.astype(object).where(part.notna(), None).itertuples(index=False, name=None)
                # PyMySQL rewrites INSERT ... VALUES executemany into multi-row statements of <= 1 MB
                cursor.executemany(statement, list(records))
        finally:
            cursor.close()

    def quote(self, identifier: str) -> str:
        return self.engine.dialect.identifier_preparer.quote_identifier(identifier)

    # -- dbt -------------------------------------------------------------------------------
    def dbt_env(self) -> dict[str, str]:
        """Variables for dbt_project/profiles.yml: same settings, both targets."""
        env = {"OCCUPANCY_SCHEMA_PREFIX": self.schema_prefix}
        if self.dialect == "duckdb":
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            env.update(OCCUPANCY_DBT_TARGET="duckdb", OCCUPANCY_DUCKDB_PATH=str(self.duckdb_path))
        else:
            env.update(
                OCCUPANCY_DBT_TARGET="mysql",
                OCCUPANCY_MYSQL_HOST=self.url.host or "127.0.0.1",
                OCCUPANCY_MYSQL_PORT=str(self.url.port or 3306),
                OCCUPANCY_MYSQL_USER=self.url.username or "root",
            )
            env[DBT_PASSWORD_ENV] = self.url.password or ""
        return env


def check_connection(wh: Warehouse) -> None:
    """One line naming host:port and the server's (or the network's) own message, never the
    password; within the connect timeout (warehouse.CONNECT_TIMEOUT_SECONDS) for a host that does
    not answer."""
    try:
        wh.ping()
    except sa.exc.DBAPIError as err:
        args = getattr(err.orig, "args", ())
        message = str(args[1] if len(args) > 1 else err.orig)
        if "timed out" in message:
            timeout = wh.url.query.get("connect_timeout") or CONNECT_TIMEOUT_SECONDS
            message += f"; no answer within the connect timeout of {timeout} s: is the host reachable from here?"
        if wh.url.password:
            message = message.replace(str(wh.url.password), "***")
        raise WarehouseConfigError(
            f"cannot connect to the warehouse at {wh.url.host}:{wh.url.port or 3306}: {message}"
        ) from None


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Temporarily set environment variables (dagster-dbt passes os.environ to dbt)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# -- LOAD DATA file format ------------------------------------------------------------------------
# Tab-separated, `\\` escapes, `\\N` for NULL: the defaults of `LOAD DATA`. Every value is
# formatted here, column by column (vectorized), so NULLs, dates and any text round-trip exactly.
_MYSQL_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0"))
_NULL = "\\N"


def _load_data_column(values: pd.Series) -> pd.Series:
    """One column as LOAD DATA text: dates `YYYY-MM-DD`, timestamps with microseconds only when a
    value has a time of day, integers in full, text escaped, NULL (None / NaN / NaT / pd.NA) as `\\N`."""
    missing = values.isna().to_numpy()
    present = values[~missing]
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or (
        values.dtype == object and len(present) and all(isinstance(v, dt.date) for v in present)
    ):
        stamps = pd.to_datetime(values)
        has_time = bool((stamps.dropna() != stamps.dropna().dt.normalize()).any())
        text = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f" if has_time else "%Y-%m-%d")
    elif pd.api.types.is_bool_dtype(values.dtype):
        text = values.map({True: "1", False: "0"})
    elif pd.api.types.is_integer_dtype(values.dtype):
        text = values.astype(str)
    elif pd.api.types.is_float_dtype(values.dtype):
        text = values.map(lambda v: repr(float(v)))
    else:
        text = values.map(lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v))
        for raw, escaped in _MYSQL_ESCAPES:
            text = text.str.replace(raw, escaped, regex=False)
    text = text.astype(object)
    text[missing] = _NULL
    return text


def mysql_load_data_lines(frame: pd.DataFrame) -> str:
    """`frame` as the lines of a `LOAD DATA ... FIELDS TERMINATED BY '\\t'` file (one per row)."""
    if not len(frame):
        return ""
    columns = [_load_data_column(frame[c]) for c in frame.columns]
    joined = columns[0].str.cat(columns[1:], sep="\t") if len(columns) > 1 else columns[0]
    return "\n".join(joined.tolist()) + "\n"
