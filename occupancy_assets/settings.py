"""Configuration read from the environment (SPEC section 2), in one place.

Every other module asks `Settings.from_env()` instead of reading `os.environ`, so the
defaults and their documentation live here only.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DUCKDB_PATH = REPO_ROOT / "data" / "warehouse.duckdb"
DEFAULT_ARCHIVE_DIR = REPO_ROOT / "data" / "archive"
#: The instance config `make` and the CLI copy into $DAGSTER_HOME (pool, run monitoring).
INSTANCE_CONFIG = REPO_ROOT / "deploy" / "dagster.local.yaml"

#: The three warehouse layers; in MySQL each is a database, in DuckDB a schema.
LAYERS = ("staging", "silver", "gold")


def today_jst() -> dt.date:
    """'Today' is the Asia/Tokyo calendar date everywhere in this project."""
    return dt.datetime.now(TOKYO).date()


@dataclass(frozen=True)
class Settings:
    warehouse_url: str
    history_start: dt.date
    forward_days: int
    lookback_days: int
    schema_prefix: str
    aurora_endpoint: str | None = None
    aurora_port: int = 3306
    aurora_secret_arn: str | None = None
    aws_region: str | None = None
    #: snapshot health (silver check): largest tolerated row-count move vs the previous snapshot
    health_max_row_change: float = 0.20
    #: snapshot health: "dump repeats the previous day's" is judged from this many tenants up
    health_min_tenants_for_repeat: int = 1000
    #: drift check (gold): warn when |period_end_rooms - observed EOD rooms| / total rooms exceeds this
    drift_warn_share: float = 0.005
    #: pickup forecast: target days the model learns from (and the backtest scores), bounded run cost
    forecast_learn_days: int = 180
    #: monthly archive (archive.py): months whose every day is older than this many months leave silver
    retention_months: int = 12
    #: archive location: a local folder, unless an S3 bucket is set (production)
    archive_dir: str = str(DEFAULT_ARCHIVE_DIR)
    archive_s3_bucket: str | None = None
    archive_s3_prefix: str = "occupancy-kpi/archive"
    #: S3-compatible endpoint (tests: a local moto server); unset = AWS
    archive_s3_endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            warehouse_url=env.get("OCCUPANCY_WAREHOUSE_URL") or f"duckdb:///{DEFAULT_DUCKDB_PATH}",
            history_start=dt.date.fromisoformat(env.get("OCCUPANCY_HISTORY_START") or "2025-10-01"),
            forward_days=int(env.get("OCCUPANCY_FORWARD_DAYS") or 90),
            lookback_days=int(env.get("OCCUPANCY_LOOKBACK_DAYS") or 3),
            schema_prefix=env.get("OCCUPANCY_SCHEMA_PREFIX", ""),
            aurora_endpoint=env.get("AURORA_ENDPOINT") or None,
            aurora_port=int(env.get("AURORA_PORT") or 3306),
            aurora_secret_arn=env.get("AURORA_SECRET_ARN") or None,
            aws_region=env.get("AWS_REGION") or None,
            health_max_row_change=float(env.get("OCCUPANCY_HEALTH_MAX_ROW_CHANGE") or 0.20),
            health_min_tenants_for_repeat=int(env.get("OCCUPANCY_HEALTH_MIN_TENANTS") or 1000),
            drift_warn_share=float(env.get("OCCUPANCY_DRIFT_WARN_SHARE") or 0.005),
            forecast_learn_days=int(env.get("OCCUPANCY_FORECAST_LEARN_DAYS") or 180),
            retention_months=int(env.get("OCCUPANCY_RETENTION_MONTHS") or 12),
            archive_dir=env.get("OCCUPANCY_ARCHIVE_DIR") or str(DEFAULT_ARCHIVE_DIR),
            archive_s3_bucket=env.get("OCCUPANCY_ARCHIVE_S3_BUCKET") or None,
            archive_s3_prefix=env.get("OCCUPANCY_ARCHIVE_S3_PREFIX") or "occupancy-kpi/archive",
            archive_s3_endpoint_url=env.get("OCCUPANCY_ARCHIVE_S3_ENDPOINT_URL") or None,
        )

    def schema(self, layer: str) -> str:
        """Physical schema (DuckDB) / database (MySQL) name of a layer."""
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        return f"{self.schema_prefix}{layer}"
