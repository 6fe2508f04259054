"""A check evaluation's summary in a few lines (partition, dates, counts, first offending rows,
action): what the CLI prints under a failed check and what an alert message quotes, so both say the
same thing. Moved here from cli/launch.py so the alerts sensor (defs) can use it too.
"""

from __future__ import annotations

import json

from occupancy_assets.defs.dbt.failures import BOOKKEEPING_KEYS

# -- what a check's evaluation says, in a few lines ----------------------------------------------
# Generic over the metadata, so a new check prints without changes here: date lists (a JSON list, or
# a key naming dates), then the short numbers and words (counts, thresholds), then the first rows of
# every table (markdown or Dagster table: the offending rows), then any longer text (an action).

#: Rows of each table shown per failed check (the check's metadata in the UI has more).
SHOWN_ROWS = 5
#: Dates listed per date entry.
SHOWN_DATES = 10
#: Short values on the counts line.
SHOWN_VALUES = 8
#: Characters per printed line (wide tables are cut).
LINE_WIDTH = 160


def _cut(text: str, width: int = LINE_WIDTH) -> str:
    text = " ".join(text.split()) if "\n" in text else text.rstrip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _table_lines(key: str, value, max_rows: int) -> list[str]:
    """The first rows of a markdown table (or a Dagster table), header included."""
    from dagster import TableMetadataValue

    if isinstance(value, TableMetadataValue):
        records = [record.data for record in value.records]
        columns = list(records[0]) if records else []
        rows = [" | ".join(columns)] + [" | ".join(str(r.get(c)) for c in columns) for r in records[:max_rows]]
        total = len(records)
    else:
        text = [line for line in str(value.value).splitlines() if line.strip()]
        if not text or not text[0].lstrip().startswith("|"):  # markdown, not a table: its first lines
            return [f"{key}:"] + [f"  {_cut(line)}" for line in text[:max_rows]]
        cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text]
        header, body = cells[0], [row for row in cells[1:] if not set("".join(row)) <= set(":- ")]
        rows, total = [" | ".join(row) for row in [header, *body[:max_rows]]], len(body)
    more = f", first {max_rows} shown" if total > max_rows else ""
    return [f"{key} ({total} row{'s' if total != 1 else ''}{more}):"] + [f"  {_cut(row)}" for row in rows]


def _dates_in_tables(tables) -> list[str]:
    """No date list in the metadata (a dbt test's): the dates of the first date column of its rows."""
    from dagster import TableMetadataValue

    for key, value in tables:
        if isinstance(value, TableMetadataValue):
            records = [record.data for record in value.records]
            header = list(records[0]) if records else []
            rows = [[str(r.get(c)) for c in header] for r in records]
        else:
            lines = [line for line in str(value.value).splitlines() if line.lstrip().startswith("|")]
            cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
            header, rows = (cells[0], cells[2:]) if len(cells) > 2 else ([], [])
        column = next((i for i, name in enumerate(header) if "date" in name), None)
        if column is None:
            continue
        values = list(dict.fromkeys(row[column] for row in rows if len(row) > column))
        shown = ", ".join(values[:SHOWN_DATES]) + (", ..." if len(values) > SHOWN_DATES else "")
        return [_cut(f"{header[column]} in {key}: {shown}")] if values else []
    return []


def check_details(evaluation, *, rows: bool = True, max_rows: int = SHOWN_ROWS) -> list[str]:
    """A check evaluation's partition, dates, counts, first offending rows and action, as lines.
    `rows=False` (warnings): the partition and the dates only."""
    from dagster import JsonMetadataValue, MarkdownMetadataValue, TableMetadataValue, TableSchemaMetadataValue

    dates, short, tables, texts = [], [], [], []
    if getattr(evaluation, "partition", None):
        dates.append(f"partition: {evaluation.partition}")
    for key, value in (evaluation.metadata or {}).items():
        raw = getattr(value, "value", value)
        if key in BOOKKEEPING_KEYS or isinstance(value, TableSchemaMetadataValue):
            continue
        if key.startswith("dagster"):
            if not isinstance(raw, (int, float)):
                continue
            key = key.rsplit("/", 1)[-1]  # dagster_dbt/failed_row_count -> failed_row_count
        if isinstance(value, (MarkdownMetadataValue, TableMetadataValue)):
            tables.append((key, value))
        elif isinstance(value, JsonMetadataValue) and isinstance(raw, list):
            shown = ", ".join(str(v) for v in raw[:SHOWN_DATES]) or "none"
            more = f", ... ({len(raw)} listed)" if len(raw) > SHOWN_DATES else ""
            dates.append(_cut(f"{key}: {shown}{more}"))
        elif isinstance(raw, (bool, int, float)) or (isinstance(raw, str) and len(raw) <= 40 and "\n" not in raw):
            if "date" in key and isinstance(raw, str):
                dates.append(f"{key}: {raw}")
            else:
                short.append(f"{key}={raw}")
        elif raw is not None:
            text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
            texts.append(_cut(f"{key}: {text}"))
    if not any(line.split(":", 1)[0] != "partition" for line in dates):
        dates += _dates_in_tables(tables)
    if not rows:
        return [line for line in dates if line.startswith("partition") or "date" in line.split(":", 1)[0]]
    lines = dates
    if short:
        lines.append(_cut(", ".join(short[:SHOWN_VALUES])))
    for key, value in tables:
        lines += _table_lines(key, value, max_rows)
    lines += texts
    if not lines and evaluation.description:
        lines.append(_cut(evaluation.description))
    return lines
