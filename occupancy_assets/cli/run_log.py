"""The demo's terminal shows stages, not logs (issue 19): while a stage runs, everything the
process and its children print (Dagster's event lines, dbt's output and banners) goes to one log
file, and the terminal gets the stage's name, a progress line while it runs, and its duration.
`occupancy-kpi demo --verbose` streams everything instead.

The redirect is at the file-descriptor level, so it also catches output that never passes
through Python's `sys.stdout` (the dbt processes dagster-dbt starts write to the inherited fds).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: seconds between two progress lines when the terminal is not a TTY (CI, `| tee`)
PLAIN_PROGRESS_SECONDS = 30.0
TTY_PROGRESS_SECONDS = 1.0


def log_path(home: str) -> Path:
    """A new log file under the instance's folder ($DAGSTER_HOME/logs)."""
    root = Path(home) / "logs"
    root.mkdir(parents=True, exist_ok=True)
    return root / f"demo-{dt.datetime.now():%Y%m%d-%H%M%S}.log"


class Terminal:
    """Writes to the terminal the process started with, whatever fds 1 and 2 point to meanwhile."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
        self.is_tty = self._stream.isatty()
        self._lock = threading.Lock()
        self._partial = False

    def line(self, text: str) -> None:
        with self._lock:
            if self._partial:
                self._stream.write("\r\033[K")
                self._partial = False
            self._stream.write(text + "\n")

    def progress(self, text: str) -> None:
        with self._lock:
            if self.is_tty:
                self._stream.write("\r\033[K" + text)
                self._partial = True
            else:
                self._stream.write(text + "\n")
            self._stream.flush()

    def close(self) -> None:
        self._stream.close()


@contextlib.contextmanager
def stage(terminal: Terminal, log: Path | None, name: str, status: Callable[[], str] = lambda: "") -> Iterator[None]:
    """Run a stage with fds 1/2 sent to `log` (None: left alone, for --verbose), a progress line
    every few seconds while it runs (elapsed time and `status()`), and its duration at the end."""
    started = time.perf_counter()
    terminal.line(f"{name} ...")
    done = threading.Event()

    def tick() -> None:
        every = TTY_PROGRESS_SECONDS if terminal.is_tty else PLAIN_PROGRESS_SECONDS
        while not done.wait(every):
            detail = status()
            terminal.progress(f"  ... {time.perf_counter() - started:.0f} s" + (f": {detail}" if detail else ""))

    ticker = threading.Thread(target=tick, daemon=True)
    with _redirected(log):
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
    terminal.line(f"  {name}: {time.perf_counter() - started:.1f} s")


@contextlib.contextmanager
def _redirected(log: Path | None) -> Iterator[None]:
    if log is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "a") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def latest_step(instance, since: float) -> Callable[[], str]:
    """status() for `stage`: the step the newest run has started last, and how many it finished."""
    from dagster import DagsterEventType, EventRecordsFilter

    def status() -> str:
        try:
            started = instance.get_event_records(EventRecordsFilter(event_type=DagsterEventType.STEP_START), limit=1, ascending=False)
            if not started or started[0].timestamp < since:
                return "starting the run"
            run_id = started[0].run_id
            finished = instance.get_event_records(EventRecordsFilter(event_type=DagsterEventType.STEP_SUCCESS), limit=100, ascending=False)
            done = sum(1 for r in finished if r.run_id == run_id)
            return f"step {started[0].event_log_entry.step_key} ({done} steps done)"
        except Exception:  # noqa: BLE001 - progress is best effort; the run's own errors are reported
            return ""

    return status
