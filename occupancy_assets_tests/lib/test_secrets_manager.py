"""The Aurora credential path end to end, against a real AWS API on 127.0.0.1 (moto in server mode)
and the MariaDB server: a secret holds the credentials of a MariaDB user with a password; the CLI
(`demo-data`, `daily`, `status`), as subprocesses with only the AURORA_* variables, fetches them
through the nested dagster-aws SecretsManagerResource, Python and dbt connect with them, and the
password appears nowhere (CLI output, $DAGSTER_HOME, dbt's target/ and logs, the UI's resource view).
A wrong ARN, a secret without a password, a wrong password and an unreachable endpoint each end the
CLI with exit code 2 and one line naming the problem.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from occupancy_assets.lib.settings import REPO_ROOT, today_jst
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.helpers import resource_view
from occupancy_assets_tests.test_secrets import files_mentioning

REGION = "ap-northeast-1"
AWS_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: variables of the developer's shell that would point the subprocesses elsewhere
_SCRUBBED = ("OCCUPANCY_WAREHOUSE_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL_SECRETS_MANAGER")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def aws_endpoint():
    """Secrets Manager's API on a free 127.0.0.1 port (moto server)."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def secrets_client(aws_endpoint):
    import boto3

    return boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name=REGION, **{
        "aws_access_key_id": AWS_FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    })


@pytest.fixture(scope="module")
def db_user(mysql_url):
    """A MariaDB user with a password, allowed only the databases of a unique prefix; dropped at the end."""
    tag = uuid.uuid4().hex[:6]
    user, password, prefix = f"occ_sm_{tag}", f"Sm{secrets.token_hex(12)}", f"tsm{tag}_"
    admin = sa.create_engine(mysql_url, poolclass=sa.pool.NullPool)
    hosts = ("%", "localhost", "127.0.0.1")
    with admin.begin() as conn:
        for host in hosts:
            conn.execute(sa.text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"))
            conn.execute(sa.text(f"GRANT ALL PRIVILEGES ON `tsm{tag}%`.* TO '{user}'@'{host}'"))
    try:
        yield user, password, prefix
    finally:
        Warehouse(mysql_url, prefix).drop_schemas()
        with admin.begin() as conn:
            for host in hosts:
                conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        admin.dispose()


def _secret(client, name: str, value: dict) -> str:
    return client.create_secret(Name=f"{name}-{uuid.uuid4().hex[:6]}", SecretString=json.dumps(value))["ARN"]


def _env(aws_endpoint: str, arn: str, prefix: str, home, port: int = 3306) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    env.update(
        AURORA_SECRET_ARN=arn,
        AURORA_ENDPOINT="127.0.0.1",
        AURORA_PORT=str(port),
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=aws_endpoint,  # botocore sends every AWS call there
        **AWS_FAKE_CREDENTIALS,
        OCCUPANCY_SCHEMA_PREFIX=prefix,
        OCCUPANCY_HISTORY_START=str(today_jst() - dt.timedelta(days=6)),
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "occupancy_assets.cli.main", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.mysql
def test_the_pipeline_runs_on_credentials_from_secrets_manager(
    aws_endpoint, secrets_client, db_user, mysql_url, tmp_path, monkeypatch
):
    user, password, prefix = db_user
    arn = _secret(secrets_client, "occupancy-kpi/aurora",
                  {"engine": "mysql", "host": "ignored", "username": user, "password": password})
    home = tmp_path / "dagster_home"
    env = _env(aws_endpoint, arn, prefix, home)
    started = time.time()

    outputs = {}
    for args in (("demo-data", "--rooms", "40"), ("daily",), ("status",)):
        done = _cli(env, *args)
        outputs[args[0]] = done.stdout + done.stderr
        if args[0] != "status":  # status exits 1 when something needs attention (a young history does)
            assert done.returncode == 0, outputs[args[0]]
    assert "daily " in outputs["daily"] and ": ok" in outputs["daily"], outputs["daily"]
    assert "Traceback" not in outputs["status"], outputs["status"]

    # Python and dbt wrote through the secret's user: the only credentials the processes had
    wh = Warehouse(mysql_url, prefix)
    counts = wh.read_sql(
        "SELECT (SELECT count(*) FROM {staging}.tenant_daily_snapshots) AS staging_rows,"
        " (SELECT count(*) FROM {silver}.tenant_room_snapshot_daily) AS silver_rows,"  # dbt
        " (SELECT count(*) FROM {gold}.kpi_month_end_metrics) AS month_end_rows,"  # dbt
        " (SELECT count(*) FROM {gold}.occupancy_daily_metrics) AS occupancy_rows"  # Python
    ).iloc[0]
    assert all(counts > 0), counts.to_dict()

    # The UI's resource view (GraphQL, as the UI asks it) on the Aurora path: the ARN, never a password
    for key in ("AURORA_SECRET_ARN", "AURORA_ENDPOINT", "AURORA_PORT", "AWS_REGION", "AWS_ENDPOINT_URL",
                *AWS_FAKE_CREDENTIALS, "OCCUPANCY_SCHEMA_PREFIX", "OCCUPANCY_HISTORY_START", "DAGSTER_HOME"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("OCCUPANCY_WAREHOUSE_URL", raising=False)
    shown = resource_view(tmp_path, home)
    warehouse = {r["name"]: r for r in shown["allTopLevelResourceDetailsOrError"]["results"]}["warehouse"]
    values = {v["key"]: v["value"] for v in warehouse["configuredValues"]}
    assert json.loads(values["aurora_secret_arn"]) == arn and json.loads(values["aurora_endpoint"]) == "127.0.0.1"
    assert [nested["name"] for nested in warehouse["nestedResources"]] == ["secrets_manager"]

    assert [name for name, out in outputs.items() if password in out] == []
    assert password not in json.dumps(shown)
    assert files_mentioning(home, password.encode(), started) == []
    for folder in ("target", "logs"):
        if (REPO_ROOT / "dbt_project" / folder).exists():
            assert files_mentioning(REPO_ROOT / "dbt_project" / folder, password.encode(), started) == []


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("occupancy-kpi: error: ")
    return lines[0]


@pytest.mark.mysql
def test_each_misconfiguration_is_one_line(aws_endpoint, secrets_client, db_user, tmp_path):
    user, password, prefix = db_user
    home = tmp_path / "dagster_home"
    good = _secret(secrets_client, "occupancy-kpi/aurora", {"username": user, "password": password})

    missing = good.rsplit(":", 1)[0] + ":no-such-secret-AbCdEf"
    line = _one_error_line(_cli(_env(aws_endpoint, missing, prefix, home), "daily"))
    assert f"AURORA_SECRET_ARN {missing}: no such secret in Secrets Manager (region {REGION})" in line

    no_password = _secret(secrets_client, "occupancy-kpi/no-password", {"username": user})
    line = _one_error_line(_cli(_env(aws_endpoint, no_password, prefix, home), "daily"))
    assert f"AURORA_SECRET_ARN {no_password}: the secret has no 'password' key" in line

    closed = _free_port()  # nothing listens there
    started = time.monotonic()
    line = _one_error_line(_cli(_env(aws_endpoint, good, prefix, home, port=closed), "daily"))
    assert f"cannot connect to the warehouse at 127.0.0.1:{closed}: Can't connect" in line
    assert time.monotonic() - started < 60

    rotated = _secret(secrets_client, "occupancy-kpi/rotated", {"username": user, "password": password + "x"})
    done = _cli(_env(aws_endpoint, rotated, prefix, home), "daily")
    line = _one_error_line(done)
    assert "cannot connect to the warehouse at 127.0.0.1:3306: Access denied for user" in line
    assert password not in done.stdout + done.stderr
