"""The failing rows of a failed dbt test, attached to its Dagster check result.

dagster-dbt reports a failed dbt test with its failing row count only; SPEC 9 wants metadata a
person can act on (which dates, which metric). The tests of this project select their offending
rows, so once the dbt process has exited (DuckDB admits one writing process per file) the compiled
SQL of each failed test is run again and its first rows are attached as a markdown table.
Results of passing tests go through untouched and in order; failed ones follow the stream's end.
"""

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import AssetCheckResult, MetadataValue

from ..warehouse import Warehouse

#: Failing rows shown per failed test (the count comes from dbt and covers all of them).
FAILING_ROWS_LIMIT = 20

logger = logging.getLogger(__name__)


def compiled_sql_path(target_path: Path, node: Mapping[str, Any]) -> Path:
    """Where dbt writes a node's compiled SQL (dbt's own rule: generic tests live under their yml)."""
    if os.path.basename(node["path"]) == os.path.basename(node["original_file_path"]):
        relative = node["original_file_path"]
    else:
        relative = os.path.join(node["original_file_path"], node["path"])
    return Path(target_path) / "compiled" / node["package_name"] / relative


def failing_rows(wh: Warehouse, sql: str, limit: int = FAILING_ROWS_LIMIT) -> pd.DataFrame:
    """The first `limit` rows of a compiled test query (already rendered by dbt: no parameters)."""
    with wh.engine.connect() as conn:
        result = conn.exec_driver_sql(sql)
        return pd.DataFrame(result.fetchmany(limit), columns=list(result.keys()))


def _with_rows(event: AssetCheckResult, target_path: Path, manifest: Mapping[str, Any], wh: Warehouse) -> AssetCheckResult:
    unique_id = event.metadata.get("unique_id")
    unique_id = getattr(unique_id, "value", unique_id)
    node = manifest.get("nodes", {}).get(unique_id) if unique_id else None
    if node is None:
        return event
    try:
        sql = compiled_sql_path(target_path, node).read_text()
        rows = failing_rows(wh, sql)
    except Exception as err:  # noqa: BLE001 - never hide the test result behind a reporting error
        logger.warning("could not fetch the failing rows of %s: %s", unique_id, err)
        return event
    metadata = dict(event.metadata)
    metadata["failing_rows"] = MetadataValue.md(rows.astype(str).to_markdown(index=False) if len(rows) else "(none)")
    metadata["failing_rows_shown"] = len(rows)
    return AssetCheckResult(
        passed=event.passed,
        asset_key=event.asset_key,
        check_name=event.check_name,
        metadata=metadata,
        severity=event.severity,
        description=event.description,
    )


def with_failing_rows(events: Iterable, target_path: Path, manifest: Mapping[str, Any], wh: Warehouse) -> Iterator:
    """Pass dagster-dbt events through; failed check results get their failing rows.

    If the dbt command fails (it does when a test with severity error fails), the held results
    are still reported before the error is raised again.
    """
    held: list[AssetCheckResult] = []
    error: Exception | None = None
    try:
        for event in events:
            if isinstance(event, AssetCheckResult) and not event.passed:
                held.append(event)
            else:
                yield event
    except Exception as err:  # noqa: BLE001 - re-raised below, after the held results
        error = err
    for event in held:
        yield _with_rows(event, target_path, manifest, wh)
    if error is not None:
        raise error
