"""End to end through the Dagster UI, as a user meets it: `dagster dev` (webserver + daemon) on a
small demo warehouse, runs launched through GraphQL as the UI's buttons launch them, then the pages
opened in headless Chromium.

Needs Debian's `chromium` and the `playwright` package (dev extras; its own browser downloads are
never used). Without them the module skips locally and fails with CI=true (.ci/run installs
chromium). About 4-6 minutes on a loaded 2-core machine; `pytest -s` prints the launch-to-success
times. With OCCUPANCY_UI_SCREENSHOTS=<dir> it also saves the screenshots of docs/ui/ there
(OCCUPANCY_UI_ROOMS / OCCUPANCY_UI_DAYS make the demo bigger for them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from occupancy_assets.lib.settings import INSTANCE_CONFIG, REPO_ROOT, today_jst
from occupancy_assets_tests.conftest import IN_CI

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
VENV_BIN = Path(sys.executable).parent
LOCATION = "occupancy_kpi"
REPOSITORY = "__repository__"
ROOMS = int(os.environ.get("OCCUPANCY_UI_ROOMS", "60"))
DAYS = int(os.environ.get("OCCUPANCY_UI_DAYS", "20"))
SCREENSHOTS = os.environ.get("OCCUPANCY_UI_SCREENSHOTS")
#: asset pages a user opens first
OCCUPANCY = "gold/occupancy_daily_metrics"
SILVER = "silver/tenant_room_snapshot_daily"


def _missing_browser() -> str | None:
    if CHROMIUM is None:
        return "no chromium binary on PATH (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -c constraints.txt -e '.[dev]')"
    return None


@pytest.fixture(scope="module", autouse=True)
def _browser_available():
    reason = _missing_browser()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires the UI test, but {reason}")
        pytest.skip(reason)


# -- dagster dev --------------------------------------------------------------------------------------


class DagsterDev:
    """`dagster dev` in its own process group on a free port, and GraphQL calls to it."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "dagster-dev.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def gql(self, query: str, **variables) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def wait_loaded(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"dagster dev exited:\n{self.log_tail()}"
            try:
                entries = self.gql(
                    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
                    " locationOrLoadError { __typename ... on PythonError { message } } } } } }"
                )["workspaceOrError"]["locationEntries"]
            except OSError:
                entries = []
            for entry in entries:
                if entry["loadStatus"] == "LOADED":
                    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
                    return
            time.sleep(1)
        raise AssertionError(f"the code location did not load in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Ctrl-C, as in a terminal; what is still running after 20 s is killed (process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the webserver, daemon and code servers
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self._log.close()

    # -- runs and backfills -------------------------------------------------------------------------

    def launch_run(self, partition: str, asset: str | None = None) -> str:
        """The job page's "Materialize" of one partition (or one asset's, as its page does)."""
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": "daily"}
        if asset:
            selector["assetSelection"] = [{"path": asset.split("/")}]
        result = self.gql(
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
                 ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
            p={"selector": selector, "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]}},
        )["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def wait_run(self, run_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.gql(
                "query($id: ID!) { runOrError(runId: $id) { ... on Run { status creationTime startTime endTime } } }",
                id=run_id,
            )["runOrError"]
            if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                return run
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} not finished after {timeout:.0f} s:\n{self.log_tail()}")

    def launch_backfill(self, params: dict) -> str:
        result = self.gql(
            """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename
                 ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
                 ... on InvalidSubsetError { message } } }""",
            p=params,
        )["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def wait_backfill(self, backfill_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            backfill = self.gql(
                """query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill {
                     status numPartitions runs(limit: 100) { runId status } } } }""",
                id=backfill_id,
            )["partitionBackfillOrError"]
            if backfill["status"] not in ("REQUESTED", "CANCELING"):
                return backfill
            time.sleep(1)
        raise AssertionError(f"backfill {backfill_id} not finished after {timeout:.0f} s:\n{self.log_tail()}")

    def wait_idle(self, timeout: float) -> None:
        """Until no run is queued or in progress (the sensor's first run, say)."""
        busy = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.gql(
                "query($s: [RunStatus!]) { runsOrError(filter: {statuses: $s}) { ... on Runs { results { runId } } } }",
                s=busy,
            )["runsOrError"]["results"]
            if not runs:
                return
            time.sleep(1)
        raise AssertionError(f"runs still busy after {timeout:.0f} s")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A demo warehouse of ROOMS rooms over DAYS days up to today (JST), and `dagster dev` on it, the
    instance configured by the repo's deploy/dagster.local.yaml. The venv's bin is left off PATH: the code
    location must find dbt by itself."""
    workdir = tmp_path_factory.mktemp("ui")
    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    today = today_jst()
    start = today - dt.timedelta(days=DAYS)
    path_without_venv = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    env = {
        **os.environ,
        "OCCUPANCY_WAREHOUSE_URL": f"duckdb:///{workdir / 'warehouse.duckdb'}",
        "OCCUPANCY_HISTORY_START": start.isoformat(),
        "DAGSTER_HOME": str(home),
        "PATH": path_without_venv,
    }
    subprocess.run(
        [sys.executable, "-m", "occupancy_assets.cli.main", "demo-data", "--rooms", str(ROOMS),
         "--history-start", start.isoformat(), "--today", today.isoformat()],
        cwd=REPO_ROOT, env=env, check=True, capture_output=True,
    )
    dev = DagsterDev(workdir, env)
    try:
        dev.wait_loaded()
        dev.start, dev.today, dev.warehouse = start, today, workdir / "warehouse.duckdb"
        yield dev
    finally:
        dev.stop()


# -- the runs ------------------------------------------------------------------------------------------


def _dates(start: dt.date, end: dt.date) -> list[str]:
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


CHECK_EVENTS = """query($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection { events { __typename
  ... on AssetCheckEvaluationEvent { evaluation { checkName success severity assetKey { path } } } } } } }"""


def test_backfills_and_runs_launched_through_graphql_all_succeed_with_every_check_passed(ui):
    timings = {}
    # Jobs -> daily -> Materialize all -> the whole range -> Launch backfill: one run (single-run policy)
    started = time.monotonic()
    job_backfill = ui.launch_backfill({
        "selector": {"partitionSetName": "daily_partition_set",
                     "repositorySelector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}},
        "partitionNames": _dates(ui.start, ui.today),
        "fromFailure": False,
    })
    backfill = ui.wait_backfill(job_backfill, timeout=240)
    timings["daily job backfill, all partitions (backfill to COMPLETED_SUCCESS)"] = time.monotonic() - started
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert len(backfill["runs"]) == 1 and backfill["runs"][0]["status"] == "SUCCESS", backfill

    # the daily run of today, and one asset of it again, each on an idle queue
    ui.wait_idle(timeout=120)
    for label, asset in [("daily run, one partition", None), (f"one-asset re-run ({OCCUPANCY})", OCCUPANCY)]:
        started = time.monotonic()
        run = ui.wait_run(ui.launch_run(ui.today.isoformat(), asset), timeout=180)
        timings[label] = time.monotonic() - started
        assert run["status"] == "SUCCESS", (label, run, ui.log_tail())
        timings[f"{label}, of which queued (created -> started)"] = run["startTime"] - run["creationTime"]

    # Lineage -> Materialize all (every asset of the pipeline, all partitions): an asset backfill
    assets = [
        node["assetKey"]["path"]
        for node in ui.gql("{ assetNodes { assetKey { path } isMaterializable jobNames } }")["assetNodes"]
        if node["isMaterializable"] and "daily" in node["jobNames"]
    ]
    started = time.monotonic()
    asset_backfill = ui.launch_backfill({"assetSelection": [{"path": p} for p in assets], "allPartitions": True})
    backfill = ui.wait_backfill(asset_backfill, timeout=300)
    timings["asset backfill, every asset and partition (to COMPLETED_SUCCESS)"] = time.monotonic() - started
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert backfill["runs"] and all(r["status"] == "SUCCESS" for r in backfill["runs"]), backfill

    print(f"\nlaunch-to-success through GraphQL ({ROOMS} rooms, {DAYS + 1} partitions, DuckDB, dagster dev + daemon):")
    for label, seconds in timings.items():
        print(f"  {label}: {seconds:.1f} s")

    # every run of the instance (the sensor's too) succeeded, and no check failed with severity ERROR
    runs = ui.gql("{ runsOrError { ... on Runs { results { runId status jobName } } } }")["runsOrError"]["results"]
    assert runs and all(r["status"] == "SUCCESS" for r in runs), runs
    evaluations = []
    for run in runs:
        events = ui.gql(CHECK_EVENTS, id=run["runId"])["logsForRun"]["events"]
        evaluations += [e["evaluation"] for e in events if e["__typename"] == "AssetCheckEvaluationEvent"]
    failed = [e for e in evaluations if not e["success"]]
    assert not [e for e in failed if e["severity"] == "ERROR"], failed
    assert {e["checkName"] for e in evaluations} >= {"arithmetic", "chain", "coverage", "version_alignment"}
    if failed:
        print("  warnings (WARN checks that did not pass):", sorted({e["checkName"] for e in failed}))

    # every partition of every partitioned asset is materialized: the partitions bars are all green
    stats = ui.gql("""{ assetNodes { assetKey { path } jobNames partitionStats {
        numMaterialized numPartitions numFailed numMaterializing } } }""")["assetNodes"]
    partitioned = [n for n in stats if n["partitionStats"] and "daily" in n["jobNames"]]
    assert len(partitioned) >= 5
    for node in partitioned:
        assert node["partitionStats"] == {
            "numMaterialized": DAYS + 1, "numPartitions": DAYS + 1, "numFailed": 0, "numMaterializing": 0
        }, node

    # each partition's materialization carries its own date's KPIs: the plots are not flat lines
    for asset, key in [(OCCUPANCY, "period_end_rooms"), (OCCUPANCY, "occupancy_rate")]:
        values = _latest_by_partition(ui, asset, key)
        assert len(values) == DAYS + 1, (asset, key, values)
        assert len(set(values.values())) > 1, (asset, key, values)
    # and silver's partitions carry each date's own row count (a small demo's dumps may all have the
    # same number of tenants, so the count is compared with the table, not asked to vary)
    with duckdb.connect(str(ui.warehouse), read_only=True) as con:
        counts = dict(con.sql(
            "SELECT strftime(snapshot_date, '%Y-%m-%d'), COUNT(*) FROM silver.tenant_room_snapshot_daily GROUP BY 1"
        ).fetchall())
    assert _latest_by_partition(ui, SILVER, "row_count") == counts


def _latest_by_partition(ui: DagsterDev, asset: str, key: str) -> dict[str, float]:
    events = ui.gql(
        """query($k: AssetKeyInput!) { assetOrError(assetKey: $k) { ... on Asset { assetMaterializations(limit: 1000) {
             partition timestamp metadataEntries { label ... on FloatMetadataEntry { floatValue }
             ... on IntMetadataEntry { intValue } } } } } }""",
        k={"path": asset.split("/")},
    )["assetOrError"]["assetMaterializations"]
    latest: dict[str, tuple[float, float]] = {}
    for event in events:
        for entry in event["metadataEntries"]:
            if entry["label"] == key:
                value = entry.get("floatValue", entry.get("intValue"))
                if event["partition"] not in latest or float(event["timestamp"]) > latest[event["partition"]][0]:
                    latest[event["partition"]] = (float(event["timestamp"]), value)
    return {partition: value for partition, (_, value) in latest.items()}


# -- the pages ---------------------------------------------------------------------------------------------


def test_the_pages_show_green_partitions_passed_checks_plots_and_dbt_docs(ui):
    """Runs after the test above (same module): the pages of a fully built pipeline."""
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SCREENSHOTS) if SCREENSHOTS else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(60_000)

            def open_page(path: str) -> None:
                page.goto(ui.url + path, wait_until="networkidle")
                skip = page.get_by_role("button", name="Skip")  # the first visit's newsletter dialog
                if skip.count():
                    skip.first.click()

            def shot(name: str) -> None:
                if shots:
                    page.wait_for_timeout(1500)
                    page.screenshot(path=str(shots / f"{name}.png"))

            # the asset graph: every layer's group
            open_page("/asset-groups")
            expect(page.get_by_text("Global asset lineage")).to_be_visible()
            for group in ("staging", "silver", "gold"):
                expect(page.get_by_text(group, exact=True).first).to_be_visible()
            shot("asset-graph")

            # the daily job's partitions: all of them, none missing, the backfill succeeded
            open_page(f"/locations/{LOCATION}/jobs/daily/partitions")
            expect(page.get_by_text("Total partitions")).to_be_visible()
            expect(page.get_by_text("Missing partitions")).to_be_visible()
            body = page.inner_text("body")
            assert f"{DAYS + 1}\nTotal partitions" in body and "0\nMissing partitions" in body, body[:2000]
            expect(page.get_by_text("Succeeded").first).to_be_visible()
            shot("daily-job-partitions")

            # occupancy_daily_metrics' partitions bar: every partition materialized
            open_page(f"/assets/{OCCUPANCY}?view=partitions")
            expect(page.get_by_text(f"Materialized ({DAYS + 1})")).to_be_visible()
            for state in ("Missing (0)", "Failed (0)", "Materializing (0)"):
                expect(page.get_by_text(state)).to_be_visible()

            # its plots by partition: the KPI over the dates
            open_page(f"/assets/{OCCUPANCY}")
            page.get_by_text("Plots", exact=True).first.click()
            expect(page.get_by_text("When graphing values by partition")).to_be_visible()
            page.get_by_text("occupancy_rate", exact=True).first.scroll_into_view_if_needed()
            assert page.locator("canvas").count() >= 5
            shot("occupancy-plots-by-partition")

            # its checks: all five passed
            open_page(f"/assets/{OCCUPANCY}?view=checks")
            expect(page.get_by_text("Checks (5)")).to_be_visible()
            for check in ("arithmetic", "chain", "coverage", "drift", "projections_flat"):
                expect(page.get_by_text(check, exact=True).first).to_be_visible()
            assert page.get_by_text("Succeeded", exact=True).count() == 5
            assert page.get_by_text("Execution failed").count() == 0
            shot("occupancy-checks")

            # silver: dbt's description and column schema
            open_page(f"/assets/{SILVER}")
            expect(page.get_by_text("Which rows exist.").first).to_be_visible()
            expect(page.get_by_text("The effective move-out").first).to_be_visible()
            shot("silver-docs")
        finally:
            browser.close()
