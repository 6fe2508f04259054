"""Dagster resources: the warehouse (DuckDB or MySQL/Aurora) and dbt.

Secrets never reach the UI: a warehouse URL taken from OCCUPANCY_WAREHOUSE_URL is passed as
`EnvVar`, so the resource view shows the variable's name, not the URL (which may hold a password);
Aurora credentials are fetched from Secrets Manager at run time by a nested dagster-aws resource
and only ever held in memory.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from dagster import ConfigurableResource, EnvVar
from dagster_aws.secretsmanager import SecretsManagerResource
from dagster_dbt import DbtCliResource
from pydantic import PrivateAttr
from sqlalchemy.engine import URL

from occupancy_assets.lib.dbt_project import dbt_project
from occupancy_assets.lib.settings import Settings
from occupancy_assets.lib.warehouse import CONNECT_TIMEOUT_SECONDS, Warehouse, WarehouseConfigError, check_connection

WAREHOUSE_URL_ENV = "OCCUPANCY_WAREHOUSE_URL"


class WarehouseResource(ConfigurableResource):
    """Where the three layers live.

    Either `url` (any SQLAlchemy URL, SPEC section 2) or, in production, an Aurora endpoint whose
    credentials (JSON keys `username`, `password`) come from AWS Secrets Manager through the nested
    `secrets_manager` resource (tests pass one that talks to a local AWS API server).
    """

    url: str | None = None
    schema_prefix: str = ""
    aurora_endpoint: str | None = None
    aurora_port: int = 3306
    aurora_secret_arn: str | None = None
    secrets_manager: SecretsManagerResource | None = None

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self._resolve_url(), self.schema_prefix)
        return self._warehouse

    def _resolve_url(self) -> str | URL:
        if self.aurora_secret_arn:
            if not self.aurora_endpoint:
                raise ValueError("AURORA_SECRET_ARN is set but AURORA_ENDPOINT is not")
            secrets = self.secrets_manager or SecretsManagerResource()
            secret = fetch_aurora_secret(secrets, self.aurora_secret_arn)
            return aurora_url(self.aurora_endpoint, self.aurora_port, secret, f"AURORA_SECRET_ARN {self.aurora_secret_arn}: the secret")
        if not self.url:
            raise ValueError(f"set {WAREHOUSE_URL_ENV} (or the AURORA_* variables)")
        return self.url


def fetch_aurora_secret(secrets: SecretsManagerResource, arn: str) -> dict:
    """The secret's JSON; what went wrong as one line naming the ARN (never the secret's value)."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"AURORA_SECRET_ARN {arn}"
    try:
        client = secrets.get_client()
        response = client.get_secret_value(SecretId=arn)
    except ClientError as err:
        error = err.response.get("Error", {})
        region = getattr(getattr(client, "meta", None), "region_name", None) or secrets.region_name
        if error.get("Code") == "ResourceNotFoundException":
            raise WarehouseConfigError(f"{where}: no such secret in Secrets Manager (region {region})") from None
        raise WarehouseConfigError(
            f"{where}: Secrets Manager refused it (region {region}): {error.get('Code')}: {error.get('Message')}"
        ) from None
    except BotoCoreError as err:  # no region, no credentials, endpoint unreachable
        raise WarehouseConfigError(f"{where}: cannot read it from Secrets Manager: {err}") from None
    try:
        secret = json.loads(response["SecretString"])
    except (KeyError, TypeError, ValueError):
        secret = None
    if not isinstance(secret, dict):
        raise WarehouseConfigError(f"{where}: the secret is not a JSON object with 'username' and 'password'")
    return secret


def aurora_url(endpoint: str, port: int, secret: dict, source: str = "the Aurora secret") -> URL:
    try:
        return URL.create(
            "mysql+pymysql",
            username=secret["username"],
            password=secret["password"],
            host=endpoint,
            port=port,
            # an unreachable endpoint fails in seconds, not after the driver's default wait
            query={"connect_timeout": str(CONNECT_TIMEOUT_SECONDS)},
        )
    except KeyError as missing:
        raise WarehouseConfigError(f"{source} has no {missing} key (expected 'username' and 'password')") from None


def warehouse_resource(settings: Settings | None = None, *, for_ui: bool = True) -> WarehouseResource:
    """The resource for `Definitions`; with `for_ui`, a URL that came from the environment stays an
    `EnvVar` (the UI shows the variable's name, never the URL)."""
    settings = settings or Settings.from_env()
    if settings.aurora_secret_arn:
        return WarehouseResource(
            schema_prefix=settings.schema_prefix,
            aurora_endpoint=settings.aurora_endpoint,
            aurora_port=settings.aurora_port,
            aurora_secret_arn=settings.aurora_secret_arn,
            secrets_manager=SecretsManagerResource(region_name=settings.aws_region),
        )
    from_env = for_ui and os.environ.get(WAREHOUSE_URL_ENV) == settings.warehouse_url
    url = EnvVar(WAREHOUSE_URL_ENV) if from_env else settings.warehouse_url
    return WarehouseResource(url=url, schema_prefix=settings.schema_prefix)


def open_warehouse(settings: Settings | None = None) -> Warehouse:
    """The warehouse outside a run (CLI, status): the same resource, with its values resolved.
    A MySQL server that does not answer (or refuses the credentials) is one line, not a traceback."""
    wh = warehouse_resource(settings, for_ui=False).warehouse()
    if wh.dialect == "mysql":
        check_connection(wh)
    return wh


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
