"""Configuration read from the environment (SPEC section 2), in one place.

Every other module asks `Settings.from_env()` instead of reading `os.environ`, so the
defaults and their documentation live here only.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

#: the operator's time zone: partitions, schedules, "today" and archive months are all in it
TIMEZONE = "Asia/Tokyo"
TOKYO = ZoneInfo(TIMEZONE)
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DUCKDB_PATH = REPO_ROOT / "data" / "warehouse.duckdb"
DEFAULT_ARCHIVE_DIR = REPO_ROOT / "data" / "archive"
#: The instance config `make` and the CLI copy into $DAGSTER_HOME (pool, run monitoring).
INSTANCE_CONFIG = REPO_ROOT / "deploy" / "dagster.local.yaml"
#: dbt_project.yml's vars: the dump-health thresholds are defined there once, for dbt run alone
#: and as the defaults of their settings here (Dagster passes the settings to every dbt run)
DBT_VARS = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]

#: The three warehouse layers; in MySQL each is a database, in DuckDB a schema.
LAYERS = ("staging", "silver", "gold")

DEFAULT_HISTORY_START = dt.date(2025, 10, 1)
#: OCCUPANCY_WAREHOUSE_URL schemes (SQLAlchemy dialect+driver) that warehouse.py and the dbt
#: profile both support; `mysql://` alone would pick the MySQLdb driver, which is not installed.
SUPPORTED_SCHEMES = ("duckdb", "mysql+pymysql", "mariadb+pymysql")
WAREHOUSE_URL_EXAMPLES = "duckdb:///path/file.duckdb or mysql+pymysql://user:pw@host:3306/"
#: Schema (MySQL: database) names are <prefix><layer> and <prefix>dbt_test__audit, at most 64 characters.
_PREFIX = re.compile(r"[A-Za-z0-9_]{0,48}")


class SettingsError(ValueError):
    """One or more environment variables are invalid; one line per variable (name, value, what is
    allowed). A ValueError, so the CLI prints it as `occupancy-kpi: error: ...` and exits 2."""


def _hide_password(url: str) -> str:
    """A URL as text for a message, its password (if any) replaced by ***; works on unparsable text."""
    return re.sub(r"(//[^:/@]*:).*@", r"\1***@", url)


class _Reader:
    """Reads variables and collects what is wrong with them (instead of stopping at the first)."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []

    def _bad(self, name: str, value: str, allowed: str) -> None:
        self.problems.append(f"{name}={value!r}: {allowed}")

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        return self._bounded(name, default, int, "an integer", minimum, maximum)

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        return self._bounded(name, default, float, "a number", minimum, maximum)

    def _bounded(self, name: str, default, parse, kind: str, minimum, maximum):
        """The variable parsed by `parse` within [minimum, maximum]; the default when unset or bad
        (a bad one is recorded as a problem)."""
        raw = self.env.get(name) or ""
        if not raw:
            return default
        allowed = f"not {kind}" + (
            f" between {minimum:g} and {maximum:g}" if minimum is not None and maximum is not None
            else f" >= {minimum:g}" if minimum is not None else ""
        )
        try:
            value = parse(raw.strip())
        except ValueError:
            self._bad(name, raw, allowed)
            return default
        if not math.isfinite(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self._bad(name, raw, allowed)
            return default
        return value

    def past_date(self, name: str, default: dt.date) -> dt.date:
        """An ISO date no later than today in Asia/Tokyo (a partition must exist for it)."""
        raw = self.env.get(name) or ""
        if not raw:
            return default
        today = today_jst()
        try:
            value = dt.date.fromisoformat(raw.strip())
        except ValueError:
            self._bad(name, raw, f"not a date YYYY-MM-DD on or before today ({today}, Asia/Tokyo)")
            return default
        if value > today:
            self._bad(name, raw, f"after today ({today}, Asia/Tokyo): the history must start on or before today")
            return default
        return value

    def schema_prefix(self, name: str) -> str:
        raw = self.env.get(name, "")
        if not _PREFIX.fullmatch(raw):
            self._bad(name, raw, "only letters, digits and _ are allowed, at most 48 characters")
            return ""
        return raw

    def warehouse_url(self, name: str, *, may_create: bool) -> str:
        raw = self.env.get(name) or ""
        if not raw:
            return f"duckdb:///{DEFAULT_DUCKDB_PATH}"  # created as needed: a fresh clone has no data/
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        shown = _hide_password(raw)
        try:
            url = make_url(raw)
        except (ArgumentError, ValueError):
            self.problems.append(f"{name}={shown!r}: not a URL; expected {WAREHOUSE_URL_EXAMPLES}")
            return raw
        shown = raw if url.drivername == "duckdb" else url.render_as_string(hide_password=True)
        if url.drivername not in SUPPORTED_SCHEMES:
            self.problems.append(
                f"{name}={shown!r}: unsupported scheme {url.drivername!r}; use one of "
                f"{', '.join(SUPPORTED_SCHEMES)} ({WAREHOUSE_URL_EXAMPLES})"
            )
        elif url.drivername == "duckdb":
            if not url.database or url.database == ":memory:":
                self.problems.append(f"{name}={shown!r}: a DuckDB warehouse needs a file path (duckdb:///path/file.duckdb)")
            else:
                path = Path(url.database).resolve()
                if path.is_dir():
                    self.problems.append(f"{name}={shown!r}: {path} is a folder; name the .duckdb file in it")
                elif not may_create and not path.parent.is_dir():
                    self.problems.append(
                        f"{name}={shown!r}: the folder {path.parent} does not exist; fix the path, or create "
                        "the folder (only `occupancy-kpi demo` / `demo-data` create it)"
                    )
        return raw


    def alert_url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        """An alert channel's URL (unset: the channel is off); shown without its secrets."""
        raw = (self.env.get(name) or "").strip()
        if not raw:
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 -- raises on a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in schemes or not parts.hostname:
            self.problems.append(f"{name}={redact_url(raw)!r}: expected a URL {' or '.join(s + '://host...' for s in schemes)}")
            return None
        return raw

    def addresses(self, name: str) -> tuple[str, ...]:
        """Comma-separated e-mail addresses, each with an @."""
        raw = self.env.get(name) or ""
        found = tuple(part.strip() for part in raw.split(",") if part.strip())
        if any(not re.fullmatch(r"[^@\s,]+@[^@\s,]+", address) for address in found):
            self._bad(name, raw, "comma-separated e-mail addresses (name@host)")
            return ()
        return found


def redact_url(url: str) -> str:
    """An alert URL as text for the UI, logs and messages: the password, and the path and query
    (Slack's secret is in a webhook's path), replaced by *** (also in text that is not a URL)."""
    url = _hide_password(url)
    host = r"^([A-Za-z][\w+.-]*://[^/?#]+)" if "://" in url else r"^([^/?#]+)"
    return re.sub(host + r"[/?#].+$", r"\1/***", url)


def today_jst() -> dt.date:
    """'Today' is the Asia/Tokyo calendar date everywhere in this project."""
    return dt.datetime.now(TOKYO).date()


def retention_months_needed(learn_days: int, forward_days: int) -> int:
    """Months of silver the archive must keep so the forecast never learns from archived rows (its
    figures would move after archiving). Silver keeps the `retention_months` whole months before
    today's month, at least 28 days each; the daily forecast reads `learn_days + forward_days`
    snapshot days back from today."""
    return -(-(learn_days + forward_days) // 28)


@dataclass(frozen=True)
class Settings:
    warehouse_url: str = field(repr=False)  # may hold a password
    history_start: dt.date = DEFAULT_HISTORY_START
    #: projection horizon: days after the as-of date
    forward_days: int = 90
    #: observed days recomputed behind the as-of date T
    lookback_days: int = 3
    schema_prefix: str = ""
    aurora_endpoint: str | None = None
    aurora_port: int = 3306
    aurora_secret_arn: str | None = None
    aws_region: str | None = None
    #: snapshot health (silver check): largest tolerated row-count move vs the previous snapshot
    health_max_row_change: float = DBT_VARS["health_max_row_change"]
    #: snapshot health: "dump repeats the previous day's" is judged from this many tenants up
    health_min_tenants_for_repeat: int = DBT_VARS["health_min_tenants"]
    #: drift check (gold): warn when |period_end_rooms - observed EOD rooms| / total rooms exceeds this
    drift_warn_share: float = 0.005
    #: pickup forecast: target days the model learns from (and the backtest scores), bounded run cost
    forecast_learn_days: int = 180
    #: monthly archive (defs/archive/): months whose every day is older than this many months leave silver
    retention_months: int = 12
    #: archive location: a local folder, unless an S3 bucket is set (production)
    archive_dir: str = str(DEFAULT_ARCHIVE_DIR)
    archive_s3_bucket: str | None = None
    archive_s3_prefix: str = "occupancy-kpi/archive"
    #: S3-compatible endpoint (tests: a local moto server); unset = AWS
    archive_s3_endpoint_url: str | None = None
    #: alerts (defs/alerts): each channel is off unless its URL is set; both hold secrets
    alert_webhook_url: str | None = field(default=None, repr=False)
    alert_smtp_url: str | None = field(default=None, repr=False)
    alert_email_to: tuple[str, ...] = ()
    alert_email_from: str = "occupancy-kpi@localhost"
    #: the Dagster UI that alert messages link to
    ui_base_url: str = "http://127.0.0.1:3000"
    #: how often the alerts sensor looks at new events
    alert_interval_seconds: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, may_create_warehouse: bool = False) -> "Settings":
        """The settings, validated: every bad variable is one line of the one `SettingsError`
        (`OCCUPANCY_FORWARD_DAYS='abc': not an integer >= 0`), said before anything runs.

        `may_create_warehouse`: a DuckDB file's folder may be missing (it is created); only the
        commands that write a warehouse from nothing (`demo`, `demo-data`) pass it. The default
        location (data/ in the repo) is always created as needed, so a fresh clone works.
        """
        env = os.environ if env is None else env
        read = _Reader(env)
        default = cls(warehouse_url="")  # the field defaults below are the only copy of each default
        url = read.warehouse_url("OCCUPANCY_WAREHOUSE_URL", may_create=may_create_warehouse)
        settings = cls(
            warehouse_url=url,
            history_start=read.past_date("OCCUPANCY_HISTORY_START", default.history_start),
            forward_days=read.integer("OCCUPANCY_FORWARD_DAYS", default.forward_days, minimum=0),
            lookback_days=read.integer("OCCUPANCY_LOOKBACK_DAYS", default.lookback_days, minimum=0),
            schema_prefix=read.schema_prefix("OCCUPANCY_SCHEMA_PREFIX"),
            aurora_endpoint=env.get("AURORA_ENDPOINT") or None,
            aurora_port=read.integer("AURORA_PORT", default.aurora_port, minimum=1, maximum=65535),
            aurora_secret_arn=env.get("AURORA_SECRET_ARN") or None,
            aws_region=env.get("AWS_REGION") or None,
            health_max_row_change=read.number("OCCUPANCY_HEALTH_MAX_ROW_CHANGE", default.health_max_row_change, minimum=0.0),
            health_min_tenants_for_repeat=read.integer("OCCUPANCY_HEALTH_MIN_TENANTS", default.health_min_tenants_for_repeat, minimum=0),
            drift_warn_share=read.number("OCCUPANCY_DRIFT_WARN_SHARE", default.drift_warn_share, minimum=0.0, maximum=1.0),
            forecast_learn_days=read.integer("OCCUPANCY_FORECAST_LEARN_DAYS", default.forecast_learn_days, minimum=1),
            retention_months=read.integer("OCCUPANCY_RETENTION_MONTHS", default.retention_months, minimum=0),
            archive_dir=env.get("OCCUPANCY_ARCHIVE_DIR") or default.archive_dir,
            archive_s3_bucket=env.get("OCCUPANCY_ARCHIVE_S3_BUCKET") or None,
            archive_s3_prefix=env.get("OCCUPANCY_ARCHIVE_S3_PREFIX") or default.archive_s3_prefix,
            archive_s3_endpoint_url=env.get("OCCUPANCY_ARCHIVE_S3_ENDPOINT_URL") or None,
            alert_webhook_url=read.alert_url("OCCUPANCY_ALERT_WEBHOOK_URL", ("http", "https")),
            alert_smtp_url=read.alert_url("OCCUPANCY_ALERT_SMTP_URL", ("smtp", "smtps")),
            alert_email_to=read.addresses("OCCUPANCY_ALERT_EMAIL_TO"),
            alert_email_from=(read.addresses("OCCUPANCY_ALERT_EMAIL_FROM") or ("occupancy-kpi@localhost",))[0],
            ui_base_url=(read.alert_url("OCCUPANCY_UI_BASE_URL", ("http", "https")) or "http://127.0.0.1:3000").rstrip("/"),
            alert_interval_seconds=read.integer("OCCUPANCY_ALERT_INTERVAL_SECONDS", 30, minimum=1),
        )
        needed = retention_months_needed(settings.forecast_learn_days, settings.forward_days)
        if settings.retention_months < needed and "OCCUPANCY_RETENTION_MONTHS" not in " ".join(read.problems):
            read.problems.append(
                f"OCCUPANCY_RETENTION_MONTHS={settings.retention_months}: the forecast reads the last "
                f"{settings.forecast_learn_days + settings.forward_days} days of silver (OCCUPANCY_FORECAST_LEARN_DAYS "
                f"+ OCCUPANCY_FORWARD_DAYS), which the archive must leave in place: use at least {needed}"
            )
        if settings.aurora_secret_arn and not settings.aurora_endpoint:
            read.problems.append("AURORA_SECRET_ARN is set but AURORA_ENDPOINT is not: set both (or neither)")
        if settings.alert_smtp_url and not settings.alert_email_to:
            read.problems.append("OCCUPANCY_ALERT_SMTP_URL is set but OCCUPANCY_ALERT_EMAIL_TO is not: name the recipients")
        if read.problems:
            raise SettingsError("\n".join(read.problems))
        return settings

    def schema(self, layer: str) -> str:
        """Physical schema (DuckDB) / database (MySQL) name of a layer."""
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        return f"{self.schema_prefix}{layer}"
