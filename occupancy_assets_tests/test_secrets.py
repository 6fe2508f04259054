"""A warehouse password never leaves memory: not in the CLI's output, not in what the Dagster UI
shows of the resources (queried through GraphQL, as the UI does), not in the event log or anything
else under $DAGSTER_HOME, not in dbt's target/ or logs. Run for real against MariaDB with a user
that has a password.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from occupancy_assets.lib.settings import REPO_ROOT, today_jst
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.helpers import resource_view

PASSWORD = "Pw9f3kqSecretX71"
USER = "occ_secret_test"
VENV_BIN = Path(sys.executable).parent



def files_mentioning(root: Path, needle: bytes, since: float) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_mtime >= since - 1 and needle in path.read_bytes():
            hits.append(str(path))
    return hits


@pytest.mark.mysql
def test_the_password_appears_nowhere(mysql_url, tmp_path, monkeypatch):
    admin = sa.create_engine(mysql_url, poolclass=sa.pool.NullPool)
    prefix = f"tsec{uuid.uuid4().hex[:6]}_"
    with admin.begin() as conn:
        for host in ("%", "localhost", "127.0.0.1"):
            conn.execute(sa.text(f"CREATE USER IF NOT EXISTS '{USER}'@'{host}' IDENTIFIED BY '{PASSWORD}'"))
            conn.execute(sa.text(f"GRANT ALL PRIVILEGES ON `tsec%`.* TO '{USER}'@'{host}'"))
    url = sa.engine.make_url(mysql_url).set(username=USER, password=PASSWORD).render_as_string(hide_password=False)
    home = tmp_path / "dagster_home"
    env = {
        **os.environ,
        "OCCUPANCY_WAREHOUSE_URL": url,
        "OCCUPANCY_SCHEMA_PREFIX": prefix,
        "OCCUPANCY_HISTORY_START": str(today_jst().replace(day=1) if today_jst().day > 3 else today_jst()),
        "DAGSTER_HOME": str(home),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    started = time.time()
    try:
        outputs = []
        for args in (["demo-data", "--rooms", "40"], ["daily"], ["status"], ["verify"]):
            done = subprocess.run([str(VENV_BIN / "occupancy-kpi"), *args], env=env, cwd=REPO_ROOT,
                                  capture_output=True, text=True, timeout=600)
            outputs.append(done.stdout + done.stderr)
        assert "daily " in outputs[1] and ": ok" in outputs[1], outputs[1]

        for key in ("OCCUPANCY_WAREHOUSE_URL", "OCCUPANCY_SCHEMA_PREFIX", "OCCUPANCY_HISTORY_START", "DAGSTER_HOME"):
            monkeypatch.setenv(key, env[key])
        data = resource_view(tmp_path, home)
        shown = json.dumps(data)
        warehouse = {r["name"]: r for r in data["allTopLevelResourceDetailsOrError"]["results"]}["warehouse"]
        url_value = {v["key"]: v for v in warehouse["configuredValues"]}["url"]
        assert (url_value["type"], url_value["value"]) == ("ENV_VAR", "OCCUPANCY_WAREHOUSE_URL")  # the name, not the URL
    finally:
        Warehouse(mysql_url, prefix).drop_schemas()
        with admin.begin() as conn:
            for host in ("%", "localhost", "127.0.0.1"):
                conn.execute(sa.text(f"DROP USER IF EXISTS '{USER}'@'{host}'"))

    needle = PASSWORD.encode()
    assert not [i for i, out in enumerate(outputs) if PASSWORD in out]
    assert PASSWORD not in shown
    assert files_mentioning(home, needle, started) == []
    for folder in ("target", "logs"):
        if (REPO_ROOT / "dbt_project" / folder).exists():
            assert files_mentioning(REPO_ROOT / "dbt_project" / folder, needle, started) == []
