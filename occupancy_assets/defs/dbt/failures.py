"""What a dbt invocation says when it fails, made readable in Dagster.

- A failed dbt test's check result gets its failing rows as metadata (SPEC 9: which dates, which
  keys). The tests store their failures (`+store_failures` in dbt_project.yml), so the rows are read
  from the audit table dbt wrote, named in `run_results.json`; the test's query is never re-run.
- A failed invocation raises one `Failure` whose description names each failed node and dbt's own
  message ("model silver.tenant_room_snapshot_daily: Binder Error ...", "test
  assert_silver_unique_key: 2 failing rows"), instead of dagster-dbt's generic "The dbt CLI process
  with command ... failed".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from dagster import AssetCheckResult, Failure, MetadataValue

from occupancy_assets.lib.warehouse import Warehouse

#: Failing rows shown per failed test (the count comes from dbt and covers all of them).
FAILING_ROWS_LIMIT = 20
FAILED_STATUSES = ("error", "fail", "runtime error")
#: Metadata of a dbt test's check that is dagster-dbt's bookkeeping, not something to act on (left
#: out of the CLI's and `status`'s summaries; the UI shows it all).
BOOKKEEPING_KEYS = frozenset({"unique_id", "invocation_id", "status", "Execution Duration", "failing_rows_shown"})
#: Failing rows quoted in the one-line summary (the CLI, `status`, the run's error)
FIRST_ROWS = 3

logger = logging.getLogger(__name__)


def run_results(invocation) -> dict[str, Mapping[str, Any]]:
    """run_results.json of the invocation by unique_id ({} when dbt wrote none)."""
    path = invocation.target_path / "run_results.json"
    if not path.exists():
        return {}
    return {result["unique_id"]: result for result in json.loads(path.read_text()).get("results", [])}


def stored_failures(wh: Warehouse, relation_name: str, limit: int = FAILING_ROWS_LIMIT) -> pd.DataFrame:
    """The first rows of a test's audit table (relation name as dbt rendered it: no parameters)."""
    with wh.engine.connect() as conn:
        result = conn.exec_driver_sql(f"select * from {relation_name} limit {int(limit)}")
        return pd.DataFrame(result.fetchmany(limit), columns=list(result.keys()))


def with_failing_rows(event: AssetCheckResult, results: Mapping[str, Mapping[str, Any]], wh: Warehouse) -> AssetCheckResult:
    unique_id = event.metadata.get("unique_id")
    unique_id = getattr(unique_id, "value", unique_id)
    relation = (results.get(unique_id) or {}).get("relation_name")
    if not relation:
        return event
    try:
        rows = stored_failures(wh, relation)
    except Exception as err:  # noqa: BLE001 - never hide the test result behind a reporting error
        logger.warning("could not read the stored failures of %s: %s", unique_id, err)
        return event
    rows = shown_cells(rows)
    metadata = dict(event.metadata)
    metadata["failing_rows"] = MetadataValue.md(rows.astype(str).to_markdown(index=False) if len(rows) else "(none)")
    metadata["failing_rows_shown"] = len(rows)
    metadata["failures_table"] = relation
    metadata.update(row_summary(rows))
    return AssetCheckResult(
        passed=event.passed,
        asset_key=event.asset_key,
        check_name=event.check_name,
        metadata=metadata,
        severity=event.severity,
        description=event.description,
    )


#: a text cell of a failing row is shown up to this many characters
CELL_CHARACTERS = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def shown_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """Failing rows as a person is shown them (UI, CLI, status, alerts): a text cell on one line
    and at most CELL_CHARACTERS long. A 200,000-character property name with a newline printed
    600 KB and a forged line in `status` (issue 18)."""
    rows = rows.copy()
    for column in rows.columns:
        if not pd.api.types.is_numeric_dtype(rows[column]):
            rows[column] = rows[column].map(_one_short_line)
    return rows


def _one_short_line(value):
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub(" ", value)
    return value if len(value) <= CELL_CHARACTERS else value[: CELL_CHARACTERS - 1] + "…"


#: The date columns a failing row can name its day by (silver, the gate, month-end).
DATE_COLUMNS = ("snapshot_date", "as_of_date", "reference_date")


def row_summary(rows: pd.DataFrame) -> dict[str, str]:
    """The days the shown failing rows name and the first rows as one line: what an operator reads
    first (the CLI, `status`), without opening the table."""
    if not len(rows):
        return {}
    first = [", ".join(f"{k}={v}" for k, v in row.items() if pd.notna(v)) for _, row in rows.head(FIRST_ROWS).iterrows()]
    summary = {"first_failing_rows": " | ".join(first)}
    column = next((c for c in DATE_COLUMNS if c in rows.columns), None)
    if column is not None:
        days = sorted({str(pd.Timestamp(v).date()) for v in rows[column] if pd.notna(v)})
        if days:
            summary["failing_dates"] = ", ".join(days[:5]) + (f" (+{len(days) - 5} more)" if len(days) > 5 else "")
    return summary


def describe_failures(results: Mapping[str, Mapping[str, Any]], first_rows: Mapping[str, str] | None = None) -> list[str]:
    """One line per failed node: its kind and name, and dbt's message (a test: its count of failing
    rows and the first ones, when read)."""
    lines = []
    for unique_id, result in results.items():
        if result.get("status") not in FAILED_STATUSES:
            continue
        kind, _, name = unique_id.split(".", 2)
        name = name.split(".", 1)[-1]
        message = " ".join(str(result.get("message") or result.get("status")).split())
        if kind == "test" and result.get("failures"):
            message = f"{result['failures']} failing row(s)"
            if (first_rows or {}).get(unique_id):
                message += f": {first_rows[unique_id]}"
        lines.append(f"{kind} {name}: {message}")
    return lines


def dbt_failure(results: Mapping[str, Mapping[str, Any]], invocation, failed_checks=()) -> Failure:
    """One Failure naming each failed node and dbt's message; `failed_checks` (with_failing_rows'
    results) add each failed test's first failing rows."""
    first_rows = {}
    for check in failed_checks:
        unique_id, row = (getattr(check.metadata.get(k), "value", check.metadata.get(k)) for k in ("unique_id", "first_failing_rows"))
        if unique_id and row:
            first_rows[unique_id] = row
    lines = describe_failures(results, first_rows)
    if not lines:  # dbt stopped before running a node (connection, compilation, profile)
        error = invocation.get_error()
        lines = [str(error).strip().splitlines()[0] if error else "dbt failed without a result"]
    return Failure(
        description="dbt failed: " + "; ".join(lines),
        metadata={"dbt_errors": MetadataValue.md("\n".join(f"- {line}" for line in lines))},
    )
