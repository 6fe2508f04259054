"""The docs are checked against the repository and the definitions, so that they cannot go stale:
every link resolves inside the repository, every file a doc names exists, and the README names
every asset, job, schedule, sensor and check of the code location (and nothing that is not one)."""

import re
from pathlib import Path

import pytest

from occupancy_assets.definitions import build_definitions
from occupancy_assets.lib.settings import REPO_ROOT, Settings

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
README = (REPO_ROOT / "README.md").read_text()

LINK = re.compile(r"\]\(([^)\s]+)\)")
FILE_NAME = re.compile(r"`([\w./-]+\.(?:py|sql|yml|yaml|md|csv|json|toml|png))`")
# files that exist only once something ran: dbt's artifacts, the instance config in $DAGSTER_HOME
GENERATED = {"manifest.json", "run_results.json", "dagster.yaml", "dbt_project/target/manifest.json"}
REPO_FILES = [
    p.relative_to(REPO_ROOT).as_posix()
    for p in REPO_ROOT.rglob("*")
    if p.is_file() and not {".git", ".venv", "target", "data", ".dagster"} & set(p.relative_to(REPO_ROOT).parts)
]


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_link_resolves_inside_the_repository(doc):
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.is_relative_to(REPO_ROOT) or not path.exists():
            broken.append(target)
    assert not broken, f"{_relative(doc)} links outside the repository or to nothing: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_file_a_doc_names_exists(doc):
    """A name with a folder must be the end of a real path, a bare name some file's name."""
    missing = []
    for name in set(FILE_NAME.findall(doc.read_text())) - GENERATED:
        if not any(f == name or f.endswith("/" + name) for f in REPO_FILES):
            missing.append(name)
    assert not missing, f"{_relative(doc)} names files that do not exist (moved or renamed?): {sorted(missing)}"


CODE = [
    p for folder in ("occupancy_assets", "occupancy_assets_tests", "scripts", "dbt_project")
    for p in sorted((REPO_ROOT / folder).rglob("*"))
    if p.suffix in {".py", ".sql", ".yml"} and "target" not in p.parts
]


def test_every_module_a_docstring_or_comment_names_exists():
    """Docstrings and comments name modules too (`see gold_window.py`): after a move they must follow."""
    missing = []
    for path in CODE:
        for name in set(re.findall(r"(?<![\w/.-])([\w/-]+\.py)\b", path.read_text())):
            if not any(f == name or f.endswith("/" + name) for f in REPO_FILES):
                missing.append(f"{_relative(path)}: {name}")
    assert not missing, missing


@pytest.fixture(scope="module")
def definitions():
    return build_definitions(Settings.from_env({}))


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def _first_column(section: str) -> set[str]:
    """The backticked names in the first column of a section's table rows."""
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return {name for cell in rows for name in re.findall(r"`(\w+)`", cell)}


def test_the_readme_graph_names_every_asset_and_only_those(definitions):
    graph = _section("The asset graph")
    block = graph[graph.index("```") : graph.index("```", graph.index("```") + 3)]
    drawn = set(re.findall(r"\b(staging|silver|gold|archive)\.(\w+)", block))
    assets = {tuple(key.path) for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert drawn == assets, f"missing from the README's graph: {assets - drawn}; not assets: {drawn - assets}"


def test_the_readme_lists_every_job_and_only_those(definitions):
    jobs = {job.name for job in definitions.resolve_all_job_defs() if not job.name.startswith("__")}
    assert _first_column(_section("The asset graph")) == jobs


def test_the_readme_checks_table_lists_every_check_and_only_those(definitions):
    checks = {key.name for key in definitions.resolve_asset_graph().asset_check_keys}
    listed = _first_column(_section("Checks"))
    assert listed == checks, f"missing from the README's checks table: {checks - listed}; not checks: {listed - checks}"


def test_the_readme_names_every_schedule_and_sensor(definitions):
    names = {s.name for s in definitions.schedules or []} | {s.name for s in definitions.sensors or []}
    missing = {name for name in names if f"`{name}`" not in README}
    assert not missing, f"the README does not name: {missing}"
