"""The old system's runbook (shared/seed_operational_sql.sql: sign-off, monitoring, invariants,
troubleshooting) runs verbatim on our MySQL warehouse with unprefixed schemas, and each block gives
the answer the runbook expects on a freshly built warehouse.

The file is read from ../shared beside the repo when it is there (and must then equal the copy
kept here), else from the copy, so the test also runs from a lone clone.
"""

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from occupancy_assets.cli.launch import run_daily_job
from occupancy_assets.definitions import build_definitions
from occupancy_assets.demo.portfolio import generate_portfolio
from occupancy_assets.lib.settings import REPO_ROOT, today_jst
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import load_staging, make_settings

VENDORED = Path(__file__).with_name("seed_operational_sql.sql")
SHARED = REPO_ROOT.parent / "shared" / "seed_operational_sql.sql"


def runbook() -> dict[str, str]:
    """name -> SQL of each `-- name: <name>` block, exactly as written."""
    text = VENDORED.read_text()
    if SHARED.exists():
        assert SHARED.read_text() == text, "the runbook changed in shared/: copy it to occupancy_assets_tests/"
    blocks = re.split(r"^-- name: ", text, flags=re.M)[1:]
    return {block.split()[0]: block.split("\n", 1)[1].strip().rstrip(";") for block in blocks}


def test_the_runbook_has_the_blocks_we_answer_for():
    assert list(runbook()) == ["version_alignment", "date_range", "recent_updates", "future_projections", "arithmetic",
                               "scheduled_moveins", "scheduled_moveouts", "duplicates"]


@pytest.mark.mysql
def test_the_runbook_runs_verbatim_on_a_fresh_mysql_warehouse(mysql_url):
    wh = Warehouse(mysql_url, "")  # unprefixed: staging / silver / gold, as the runbook names them
    wh.drop_schemas()
    today = today_jst()
    start = today - dt.timedelta(days=45)
    try:
        load_staging(wh, generate_portfolio(rooms=300, history_start=start, today=today))
        settings = make_settings(mysql_url, "", history_start=start, forward_days=90)
        outcome = run_daily_job(build_definitions(settings), DagsterInstance.ephemeral(), wh, start, today, say=lambda _: None)
        assert outcome.success, outcome.describe()
        answers = {}
        with wh.engine.connect() as conn:
            for name, sql in runbook().items():
                result = conn.execute(sa.text(sql))
                answers[name] = [tuple(row) for row in result.fetchall()]
    finally:
        wh.drop_schemas()
    assert answers["version_alignment"] == [("occupancy-kpi/2026.02-v1", "occupancy-kpi/2026.02-v1", "aligned")]
    earliest, latest, total_days, future_days = answers["date_range"][0]
    assert (earliest, total_days) == (start, 46 + 90) and latest == today + dt.timedelta(days=90)
    assert future_days >= 90  # CURDATE() is the server's (UTC) date: today or the day before in Tokyo
    assert answers["recent_updates"][0][0] == latest and answers["recent_updates"][0][1] is not None
    assert len(answers["future_projections"]) == 30
    # applications cannot be projected (CURDATE() may be yesterday in Tokyo: today is observed)
    assert {row[1] for row in answers["future_projections"] if row[0] > today} == {0}
    assert answers["arithmetic"] == []
    assert answers["scheduled_moveins"] and answers["scheduled_moveouts"]
    assert all(count > 0 for _, count in answers["scheduled_moveins"] + answers["scheduled_moveouts"])
    assert answers["duplicates"] == []
