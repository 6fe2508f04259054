"""The tree's rules, enforced: imports point down the layers (pyproject.toml's import-linter
contract), Dagster's private modules are imported in one place, and the code is lint-clean."""

import re
import subprocess
import sys
from pathlib import Path

from occupancy_assets.lib.settings import REPO_ROOT

BIN = Path(sys.executable).parent
PACKAGE = REPO_ROOT / "occupancy_assets"


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_imports_point_down_the_layers():
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_dagster_internals_are_imported_in_one_module():
    importers = [
        p.relative_to(REPO_ROOT).as_posix()
        for p in PACKAGE.rglob("*.py")
        if re.search(r"^\s*(from|import) dagster(_dbt)?\._", p.read_text(), re.MULTILINE)
    ]
    assert importers == ["occupancy_assets/lib/dagster_internals.py"]


def test_no_private_name_is_imported_from_another_module():
    offenders = [
        f"{p.relative_to(REPO_ROOT)}: {line.strip()}"
        for root in (PACKAGE, REPO_ROOT / "occupancy_assets_tests", REPO_ROOT / "scripts")
        for p in root.rglob("*.py")
        for line in p.read_text().splitlines()
        if re.match(r"\s*from occupancy_assets\S* import .*\b_[a-z]\w*", line)
    ]
    assert not offenders, offenders


def test_ruff_finds_nothing():
    result = _run(str(BIN / "ruff"), "check", "occupancy_assets", "occupancy_assets_tests", "scripts")
    assert result.returncode == 0, result.stdout[-3000:]
