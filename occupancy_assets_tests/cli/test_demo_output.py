"""What a newcomer's `make demo` prints (issue 19): its stages with their durations, the KPI card
and the status report, at most 60 lines; Dagster's and dbt's output (thousands of DEBUG lines,
dbt's banners) in the log file whose path it prints. `--verbose` streams them instead."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

from occupancy_assets.lib.settings import REPO_ROOT, today_jst
from occupancy_assets_tests.helpers import VENV_BIN

MAX_LINES = 60


STAGE_SCRIPT = """
import subprocess, sys
from pathlib import Path
from occupancy_assets.cli.run_log import Terminal, stage
terminal = Terminal()
with stage(terminal, Path(sys.argv[1]), "a stage"):
    print("a line from python")
    print("a line on stderr", file=sys.stderr)
    subprocess.run(["sh", "-c", "echo a line from a child process"], check=True)
terminal.close()
print("after the stage")
"""


def test_a_stage_sends_its_output_and_its_childrens_to_the_log(tmp_path):
    log = tmp_path / "stage.log"
    result = subprocess.run([sys.executable, "-c", STAGE_SCRIPT, str(log)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    shown = result.stdout.splitlines()
    assert shown[0] == "a stage ..." and shown[-1] == "after the stage", shown
    assert re.fullmatch(r"  a stage: \d+\.\d s", shown[-2]), shown
    assert "a line" not in result.stdout + result.stderr
    assert log.read_text().splitlines() == ["a line from python", "a line on stderr", "a line from a child process"]


def test_the_demo_prints_stages_the_card_and_the_status_and_logs_the_rest(tmp_path):
    home = tmp_path / "dagster_home"
    env = {
        **os.environ,
        "OCCUPANCY_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "OCCUPANCY_HISTORY_START": (today_jst() - dt.timedelta(days=20)).isoformat(),
        "DAGSTER_HOME": str(home),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "occupancy_assets.cli.main", "demo", "--rooms", "60"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    lines = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 0, "\n".join(lines)
    assert len(lines) <= MAX_LINES, "\n".join(lines)
    text = "\n".join(lines)
    assert "DEBUG" not in text and "Running with dbt" not in text, text
    assert re.search(r"^  pipeline: .*: \d+\.\d s$", text, re.MULTILINE), text
    assert re.search(r"^  daily .*: ok \[run [0-9a-f]{8}\]", text, re.MULTILINE), text
    logs = list((home / "logs").glob("demo-*.log"))
    assert len(logs) == 1 and str(logs[0]) in text, text
    logged = logs[0].read_text()
    assert "RUN_SUCCESS" in logged or "Finished execution of run" in logged, logged[-2000:]
    assert "Running with dbt" in logged, logged[-2000:]
