"""Alerts, for real: the alerts sensor reads the instance after runs of the CLI's launcher
(`run_daily_job`, in-process runs without a code-location origin), and sends to a local webhook
receiver and a local SMTP server with a login. The documented counts: one message per failed run,
one per failing check per day, one recovery each when the job and the check pass again.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
import uuid

import pytest
from dagster import DagsterInstance, build_sensor_context
from dagster._core.instance.ref import InstanceRef

from occupancy_assets.cli.launch import run_daily_job
from occupancy_assets.definitions import build_definitions
from occupancy_assets.defs.alerts.sensors import SENSOR_NAME, send_test
from occupancy_assets.lib.names import DAILY_JOB
from occupancy_assets.lib.settings import Settings
from occupancy_assets.lib.warehouse import Warehouse
from occupancy_assets_tests.conftest import copy_warehouse, make_settings
from occupancy_assets_tests.defs.alerts.servers import SMTP_PASSWORD, SmtpReceiver, WebhookReceiver
from occupancy_assets_tests.helpers import VENV_BIN, add_snapshot, daemon_setup, instance_at
from occupancy_assets_tests.worked_example import AS_OF

NEXT_DAY = AS_OF + dt.timedelta(days=1)
UI = "http://kpi.example:3000"
GATE = "silver/staging_dump_health:assert_staging_dump_accepted"


@pytest.fixture
def receivers():
    webhook, smtp = WebhookReceiver(), SmtpReceiver()
    yield webhook, smtp
    webhook.stop()
    smtp.stop()


@pytest.fixture
def example(built_example, tmp_path):
    """A fresh copy of the built worked example and its instance."""
    source, home = built_example
    wh = copy_warehouse(source, f"t{uuid.uuid4().hex[:8]}_" if source.dialect == "mysql" else "", tmp_path)
    shutil.copytree(home, tmp_path / "instance")
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "instance"))) as instance:
        yield wh, instance
    if wh.schema_prefix:
        wh.drop_schemas()


def alert_settings(wh, webhook, smtp) -> Settings:
    return settings_for(wh.url.render_as_string(hide_password=False), wh.schema_prefix, webhook, smtp)


def settings_for(url: str, prefix: str, webhook, smtp) -> Settings:
    return make_settings(
        url, prefix,
        alert_webhook_url=webhook.url, alert_smtp_url=smtp.url, alert_email_to=("ops@example.com",),
        alert_email_from="kpi@example.com", ui_base_url=UI,
    )


class Sensor:
    """Ticks of the alerts sensor, carrying its cursor from one tick to the next as the daemon does."""

    def __init__(self, settings: Settings, instance):
        self.defs, self.instance, self.cursor = build_definitions(settings), instance, None

    def tick(self):
        sensor = self.defs.resolve_sensor_def(SENSOR_NAME)
        with build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=self.defs) as context:
            result = sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result


def run(settings, instance, wh, day):
    return run_daily_job(build_definitions(settings), instance, wh, day, day, say=lambda _: None)


@pytest.mark.parametrize("built_example", ["duckdb", pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True)
def test_failed_runs_checks_and_recoveries_reach_both_channels(example, receivers, tmp_path):
    wh, instance = example
    webhook, smtp = receivers
    settings = alert_settings(wh, webhook, smtp)
    sensor = Sensor(settings, instance)
    assert "from now on" in sensor.tick().skip_message  # the fixture's build is history, not alerted

    add_snapshot(wh, NEXT_DAY, tenants=[1, 2, 7])  # a truncated dump: the gate (ERROR, blocking) fails
    assert not run(settings, instance, wh, NEXT_DAY).success
    sensor.tick()
    assert len(webhook.posts) == len(smtp.mails) == 2, webhook.texts()
    for texts in (webhook.texts(), smtp.texts()):
        failure, check = texts
        assert f"run FAILURE: daily {NEXT_DAY}" in failure and "job: daily" in failure
        assert f"partition: {NEXT_DAY}" in failure and "launched by: occupancy-kpi CLI" in failure
        assert f"failed check: {GATE}" in failure and f"{UI}/runs/" in failure
        assert f"check ERROR: {GATE}" in check and "row_count_jump" in check
        assert f"partition: {NEXT_DAY}" in check and f"{UI}/runs/" in check
    assert smtp.mails[0]["To"] == "ops@example.com" and smtp.mails[0]["From"] == "kpi@example.com"
    assert all(SMTP_PASSWORD not in text and "SECRET-TOKEN" not in text for text in webhook.texts() + smtp.texts())

    # the same cause again, the same day: one more run message, the check is not repeated
    assert not run(settings, instance, wh, NEXT_DAY).success
    sensor.tick()
    assert len(webhook.posts) == len(smtp.mails) == 3
    assert "run FAILURE" in webhook.texts()[2]

    # a good day: the job and the gate pass again, one recovery each
    following = NEXT_DAY + dt.timedelta(days=1)
    add_snapshot(wh, following)
    assert run(settings, instance, wh, following).success
    sensor.tick()
    (tmp_path / "received.txt").write_text("\n\n".join(webhook.texts()))  # what the closing note quotes
    after = webhook.texts()[3:]
    recoveries = [text for text in after if "RECOVERED" in text]
    assert sorted(text.split("\n")[0] for text in recoveries) == [
        f"*[occupancy-kpi] RECOVERED check: {GATE}*", f"*[occupancy-kpi] RECOVERED job: daily {following}*",
    ]
    # the worked example's next day also warns (WARN checks): one quieter message per warning check
    warnings = [text for text in after if text not in recoveries]
    assert all(text.startswith("*[occupancy-kpi] check WARN: ") for text in warnings), warnings
    assert all(f"partition: {following}" in t and f"{UI}/runs/" in t for t in after)
    assert len(smtp.mails) == len(webhook.posts) == 3 + len(after)
    sensor.tick()
    assert len(webhook.posts) == len(smtp.mails) == 3 + len(after)  # nothing new: nothing sent


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_a_warning_is_sent_once_and_a_channel_that_is_down_is_retried(example, receivers):
    wh, instance = example
    webhook, smtp = receivers
    settings = alert_settings(wh, webhook, smtp)
    sensor = Sensor(settings, instance)
    sensor.tick()
    webhook.refuse, smtp.refuse = 5, 5  # both down for this tick
    late = NEXT_DAY  # no dump for it: the run goes on from the day before and freshness warns
    assert run(settings, instance, wh, late).success
    result = sensor.tick()
    assert webhook.posts == [] and smtp.mails == [] and "0 delivered" in result.skip_message
    webhook.refuse = smtp.refuse = 0
    sensor.tick()
    assert len(webhook.posts) == len(smtp.mails) >= 1
    (warn,) = [t for t in webhook.texts() if "check WARN" in t]
    assert f"partition: {late}" in warn and f"{UI}/runs/" in warn
    assert run(settings, instance, wh, late).success  # still late, the same day: no second warning
    sensor.tick()
    assert len([t for t in webhook.texts() if "check WARN" in t]) == 1


def test_alert_test_sends_one_message_per_channel(receivers, tmp_path):
    webhook, smtp = receivers
    settings = settings_for(f"duckdb:///{tmp_path}/w.duckdb", "", webhook, smtp)
    lines = send_test(settings)
    assert [line.split(":")[0] for line in lines] == ["webhook", "email"] and all(": sent" in line for line in lines)
    assert "test alert" in webhook.texts()[0] and "test alert" in smtp.texts()[0]
    assert all("SECRET-TOKEN" not in line and SMTP_PASSWORD not in line for line in lines)
    smtp.stop()
    lines = send_test(settings)
    assert lines[1].startswith("email: FAILED: email via smtp://alerts:***@127.0.0.1"), lines


# -- with the real daemon ----------------------------------------------------------------------


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _alerts_sensor_started(instance) -> bool:
    return any(state.name == SENSOR_NAME and state.instigator_data is not None and state.instigator_data.cursor
               for state in instance.all_instigator_state())


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_the_daemon_alerts_on_a_cli_run_and_a_queued_launch(example_warehouse, tmp_path, receivers):
    """dagster-daemon with the code location: a failing run from `occupancy-kpi daily` (in-process, no
    code-location origin) and one launched through the daemon's queue (`dagster job launch`, as a
    schedule's run) each give one run message per channel; the gate's ERROR is sent once."""
    webhook, smtp = receivers
    path, home, env, workspace = daemon_setup(example_warehouse, tmp_path)
    env = {**env, "OCCUPANCY_ALERT_WEBHOOK_URL": webhook.url, "OCCUPANCY_ALERT_SMTP_URL": smtp.url,
           "OCCUPANCY_ALERT_EMAIL_TO": "ops@example.com", "OCCUPANCY_UI_BASE_URL": UI,
           "OCCUPANCY_ALERT_INTERVAL_SECONDS": "2"}
    daemon = subprocess.Popen([str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    instance = instance_at(home)
    try:
        _wait(lambda: _alerts_sensor_started(instance), 120, "the alerts sensor's first tick")
        add_snapshot(Warehouse(f"duckdb:///{path}", ""), NEXT_DAY, tenants=[1, 2, 7])  # a truncated dump
        cli = subprocess.run([str(VENV_BIN / "occupancy-kpi"), "daily", "--target-date", NEXT_DAY.isoformat()],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert cli.returncode == 1, cli.stdout + cli.stderr
        tags = json.dumps({"dagster/partition": NEXT_DAY.isoformat()})
        subprocess.run([str(VENV_BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", DAILY_JOB, "--tags", tags],
                       env=env, cwd=tmp_path, check=True, capture_output=True)

        def failures(texts):
            return [t for t in texts if f"run FAILURE: daily {NEXT_DAY}" in t]

        _wait(lambda: len(failures(webhook.texts())) == 2 and len(failures(smtp.texts())) == 2, 600, "2 run alerts")
        time.sleep(5)  # a tick more: nothing else about them arrives
        for texts in (webhook.texts(), smtp.texts()):
            cli_run, queued = failures(texts)
            assert "launched by: occupancy-kpi CLI" in cli_run and "launched by: UI or dagster job launch" in queued
            for text in (cli_run, queued):
                assert f"partition: {NEXT_DAY}" in text and f"failed check: {GATE}" in text and f"{UI}/runs/" in text
            assert len(failures(texts)) == 2 and len([t for t in texts if f"check ERROR: {GATE}" in t]) == 1
    finally:
        instance.dispose()
        daemon.terminate()
        daemon.wait(timeout=60)
