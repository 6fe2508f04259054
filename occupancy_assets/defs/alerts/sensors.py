"""The alerts sensor: failed/canceled runs, failing checks (ERROR, WARN) and their recoveries, sent
to every configured channel (channels.py).

One plain sensor over the instance's event log, not dagster's `run_failure_sensor`: that one moves
its cursor past a run even when the alert could not be sent (no retry when the mail server is down),
and it skips runs without a code-location origin (the CLI's in-process runs) unless told to monitor
all locations. Here the cursor (JSON) holds, per run event type and per check, the last id read; the checks
and jobs currently failing (for recoveries and the once-per-check-per-day rule); and each channel's
outbox: a message leaves it only once delivered, so a channel that is down is retried next tick.

How many messages: one per failed or canceled run; one per failing check per day (JST) however many
dates a backfill fails it on; one recovery when a failing check or job passes again.
"""

from __future__ import annotations

import json

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    RunStatusChangeRecordsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from occupancy_assets.defs.alerts import messages
from occupancy_assets.defs.alerts.channels import ChannelError, Message, configured_channels
from occupancy_assets.lib.settings import Settings, today_jst

SENSOR_NAME = "occupancy_alerts"
RUN_EVENTS = (DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED, DagsterEventType.RUN_SUCCESS)
CHECK_EVENT = DagsterEventType.ASSET_CHECK_EVALUATION
#: events read per type and tick (a long backfill's checks are read over a few ticks)
FETCH_LIMIT = 500
#: undelivered messages kept per channel; older ones are dropped (and that is logged)
OUTBOX_LIMIT = 50


def _latest_id(instance, event_type: DagsterEventType) -> int:
    records = instance.fetch_run_status_changes(event_type, limit=1).records
    return records[0].storage_id if records else 0


def _new_records(instance, event_type: DagsterEventType, after: int) -> list:
    """Run status events after storage id `after`, oldest first (the index shard's ids: global)."""
    result = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after), limit=FETCH_LIMIT, ascending=True
    )
    return list(result.records)


def _new_evaluations(instance, check_key, after: int) -> list:
    """(record id, run id, evaluation) of the check's evaluations after id `after`, oldest first."""
    history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=FETCH_LIMIT)
    found = []
    for record in history:
        event = record.event.dagster_event if record.event else None
        if record.id > after and event is not None and event.event_type == CHECK_EVENT:
            found.append((record.id, record.run_id, event.event_specific_data))
    return sorted(found, key=lambda item: item[0])


def run_messages(instance, state: dict, base_url: str) -> list[Message]:
    """Failed/canceled runs, and the first success of a job after a failure, in event order."""
    found = []
    for event_type in RUN_EVENTS:
        for record in _new_records(instance, event_type, state["after"][event_type.value]):
            state["after"][event_type.value] = record.storage_id
            run = instance.get_run_by_id(record.event_log_entry.run_id)
            if run is not None:
                found.append((record.storage_id, event_type, run))
    out = []
    for _, event_type, run in sorted(found, key=lambda item: item[0]):
        if event_type == DagsterEventType.RUN_SUCCESS:
            if run.job_name in state["failing_jobs"]:
                state["failing_jobs"].remove(run.job_name)
                out.append(messages.run_recovery(run, base_url))
        else:
            if run.job_name not in state["failing_jobs"]:
                state["failing_jobs"].append(run.job_name)
            out.append(messages.run_failure(instance, run, base_url))
    return out


def check_messages(instance, check_keys, state: dict, base_url: str, today: str) -> list[Message]:
    """Per check: an alert when it fails (at most once a day), a recovery when all its evaluations
    since the last tick pass after it failed."""
    out = []
    for check_key in check_keys:
        name = check_key.to_user_string()
        evaluations = _new_evaluations(instance, check_key, state["checks_after"].get(name, 0))
        if not evaluations:
            continue
        state["checks_after"][name] = evaluations[-1][0]
        failed = [(run_id, ev) for _, run_id, ev in evaluations if not ev.passed]
        known = state["failing_checks"].get(name)
        if failed:
            if known != today:
                run_id, evaluation = failed[0]
                run = instance.get_run_by_id(run_id)
                out.append(messages.check_failure(evaluation, run, run_id, base_url, len(failed)))
                state["failing_checks"][name] = today
        elif known is not None:
            del state["failing_checks"][name]
            run_id = evaluations[-1][1]
            out.append(messages.check_recovery(name, instance.get_run_by_id(run_id), run_id, base_url))
    return out


def deliver(channels, outbox: dict, log) -> int:
    """Send each channel's queued messages in order; a channel that fails logs one line and keeps the
    rest for the next tick. Returns the number delivered."""
    sent = 0
    for channel in channels:
        queue = outbox.setdefault(channel.name, [])
        while queue:
            try:
                channel.send(Message(**queue[0]))
            except ChannelError as err:
                log.warning(f"alert not sent, retrying next tick ({len(queue)} queued): {err}")
                break
            queue.pop(0)
            sent += 1
    return sent


def _initial_state(instance, check_keys) -> dict:
    """Start from now: alerts are for what happens after the sensor is switched on."""
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    return {
        "after": {t.value: _latest_id(instance, t) for t in RUN_EVENTS},
        "checks_after": {key.to_user_string(): record.id for key, record in checks.items()},
        "failing_jobs": [], "failing_checks": {}, "outbox": {},
    }


def build_sensors(settings: Settings) -> list:
    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.alert_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Alerts by webhook and e-mail (each off unless configured): a failed or canceled run of any job "
            "and launcher (incl. the CLI), a failing ERROR/WARN check (once per check per day), and recoveries. "
            "A channel that is down is retried next tick; never fails a run."
        ),
    )
    def occupancy_alerts(context: SensorEvaluationContext):
        channels = configured_channels(settings)
        check_keys = sorted(context.repository_def.asset_graph.asset_check_keys, key=lambda key: key.to_user_string())
        if not context.cursor:
            return SensorResult(skip_reason=SkipReason("started: alerting on events from now on"),
                                cursor=json.dumps(_initial_state(context.instance, check_keys)))
        state = json.loads(context.cursor)
        new = run_messages(context.instance, state, settings.ui_base_url)
        new += check_messages(context.instance, check_keys, state, settings.ui_base_url, today_jst().isoformat())
        for channel in channels:
            queue = state["outbox"].setdefault(channel.name, []) + [m.to_json() for m in new]
            if len(queue) > OUTBOX_LIMIT:
                context.log.warning(f"{channel.name}: {len(queue) - OUTBOX_LIMIT} old undelivered alerts dropped")
            state["outbox"][channel.name] = queue[-OUTBOX_LIMIT:]
        sent = deliver(channels, state["outbox"], context.log)
        pending = sum(len(queue) for queue in state["outbox"].values())
        reason = (f"{len(new)} new alert(s), {sent} delivered, {pending} queued" if channels
                  else f"{len(new)} new alert(s); no channel configured (OCCUPANCY_ALERT_WEBHOOK_URL, OCCUPANCY_ALERT_SMTP_URL)")
        return SensorResult(skip_reason=SkipReason(reason), cursor=json.dumps(state))

    return [occupancy_alerts]


def send_test(settings: Settings) -> list[str]:
    """`occupancy-kpi alert-test`: one test message on each configured channel; a line per channel."""
    channels = configured_channels(settings)
    if not channels:
        return ["no alert channel configured: set OCCUPANCY_ALERT_WEBHOOK_URL and/or OCCUPANCY_ALERT_SMTP_URL"]
    lines = []
    for channel in channels:
        try:
            channel.send(messages.test_message(settings.ui_base_url))
            lines.append(f"{channel.name}: sent ({channel!r})")
        except ChannelError as err:
            lines.append(f"{channel.name}: FAILED: {err}")
    return lines
