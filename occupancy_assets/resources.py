"""Dagster resources: the warehouse (DuckDB or MySQL/Aurora) and dbt."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dagster import ConfigurableResource, EnvVar
from dagster_aws.secretsmanager import SecretsManagerResource
from dagster_dbt import DbtCliResource
from pydantic import PrivateAttr
from sqlalchemy.engine import URL

from .dbt_project import dbt_project
from .settings import Settings
from .warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """Where the three layers live.

    Either `url` (any SQLAlchemy URL, SPEC section 2) or, in production, an Aurora endpoint
    whose credentials come from AWS Secrets Manager (JSON keys `username`, `password`); the
    password is only ever held in memory and never logged.
    """

    url: str | None = None
    schema_prefix: str = ""
    aurora_endpoint: str | None = None
    aurora_port: int = 3306
    aurora_secret_arn: str | None = None
    aws_region: str | None = None

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self._resolve_url(), self.schema_prefix)
        return self._warehouse

    def _resolve_url(self) -> str | URL:
        if self.aurora_secret_arn:
            if not self.aurora_endpoint:
                raise ValueError("AURORA_SECRET_ARN is set but AURORA_ENDPOINT is not")
            secrets = SecretsManagerResource(region_name=self.aws_region)
            secret = json.loads(
                secrets.get_client().get_secret_value(SecretId=self.aurora_secret_arn)["SecretString"]
            )
            return aurora_url(self.aurora_endpoint, self.aurora_port, secret)
        if not self.url:
            raise ValueError("set OCCUPANCY_WAREHOUSE_URL (or the AURORA_* variables)")
        return self.url


def aurora_url(endpoint: str, port: int, secret: dict) -> URL:
    try:
        return URL.create(
            "mysql+pymysql", username=secret["username"], password=secret["password"], host=endpoint, port=port
        )
    except KeyError as missing:
        raise ValueError(f"the Aurora secret has no {missing} key (expected 'username' and 'password')") from None


def warehouse_resource(settings: Settings | None = None) -> WarehouseResource:
    settings = settings or Settings.from_env()
    if settings.aurora_secret_arn:
        return WarehouseResource(
            schema_prefix=settings.schema_prefix,
            aurora_endpoint=settings.aurora_endpoint,
            aurora_port=settings.aurora_port,
            aurora_secret_arn=settings.aurora_secret_arn,
            aws_region=settings.aws_region,
        )
    return WarehouseResource(url=settings.warehouse_url, schema_prefix=settings.schema_prefix)


def dbt_resource() -> DbtCliResource:
    # The dbt installed beside this interpreter (the project venv), even when the venv is not activated.
    venv_dbt = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(dbt_project.project_dir),
        dbt_executable=str(venv_dbt) if venv_dbt.exists() else "dbt",
    )


def build_resources(settings: Settings | None = None) -> dict:
    return {"warehouse": warehouse_resource(settings), "dbt": dbt_resource()}
