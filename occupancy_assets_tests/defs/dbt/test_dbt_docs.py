"""The dbt models' and seeds' documentation is the assets' documentation in the UI.

One set of words: each model's `schema.yml` description is the text of its section in
docs/kpi_definitions.md before the column table, and each column's description is that table's
rule for it. Every model, seed and column the warehouse has is described, dagster-dbt carries the
descriptions and column schemas onto the assets, and the unpartitioned dbt assets record their
row count.
"""

from __future__ import annotations

import re

import pytest
import yaml
from dagster import AssetKey

from occupancy_assets.lib.dbt_project import DBT_PROJECT_DIR
from occupancy_assets.lib.settings import REPO_ROOT

KPI_DEFINITIONS = REPO_ROOT / "docs" / "kpi_definitions.md"


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _documented() -> dict[tuple[str, str], dict]:
    """(layer, name) -> the model's or seed's yml entry, for every model and seed of the project."""
    layers = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    seed_layers = {name: config["+schema"] for name, config in layers["seeds"]["occupancy_kpi"].items()}
    found = {}
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml")) + sorted((DBT_PROJECT_DIR / "seeds").glob("*.yml")):
        content = yaml.safe_load(path.read_text())
        for entry in content.get("models", []):
            found[(path.parent.name, entry["name"])] = entry
        for entry in content.get("seeds", []):
            found[(seed_layers[entry["name"]], entry["name"])] = entry
    return found


def _sections() -> dict[str, tuple[str, dict[str, str]]]:
    """docs/kpi_definitions.md: '## layer.table' -> (text before the first table, {column: rule})."""
    sections = {}
    for section in re.split(r"^## ", KPI_DEFINITIONS.read_text(), flags=re.M)[1:]:
        title, _, body = section.partition("\n")
        prose, rules, tables, in_table = [], {}, 0, False
        for line in body.split("\n"):
            if line.startswith("|"):
                tables += not in_table
                in_table = True
                row = re.match(r"^\| ((?:`[a-z0-9_]+`(?:, )?)+) \| (.*) \|$", line)
                if row and tables == 1:
                    rules.update(dict.fromkeys(re.findall(r"`([a-z0-9_]+)`", row.group(1)), row.group(2)))
            else:
                in_table = False
                if tables == 0:
                    prose.append(line)
        sections[title.strip()] = ("\n".join(prose), rules)
    return sections


def test_every_dbt_model_and_seed_has_a_schema_yml_entry():
    sql = {(p.parent.name, p.stem) for p in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    seeds = {p.stem for p in (DBT_PROJECT_DIR / "seeds").glob("*.csv")}
    documented = _documented()
    assert sql <= set(documented), f"models without a schema.yml entry: {sorted(sql - set(documented))}"
    assert seeds <= {name for _, name in documented}, "seeds without a yml entry"
    for key, entry in documented.items():
        assert _normalized(entry.get("description", "")), f"{key}: no description"
        for column in entry.get("columns", []):
            assert _normalized(column.get("description", "")), f"{key}.{column['name']}: no description"


def test_schema_yml_says_what_kpi_definitions_md_says():
    """Same words in both: a rule changed in one place only fails here (edit both)."""
    sections = _sections()
    documented = _documented()
    compared = 0
    for (layer, name), entry in documented.items():
        if f"{layer}.{name}" not in sections:
            continue
        prose, rules = sections[f"{layer}.{name}"]
        assert _normalized(entry["description"]) == _normalized(prose), f"{layer}.{name}: description differs"
        columns = {c["name"]: c["description"] for c in entry["columns"]}
        assert list(columns) == list(rules), f"{layer}.{name}: columns differ from the md table"
        for column, rule in rules.items():
            assert _normalized(columns[column]) == _normalized(rule), f"{layer}.{name}.{column} differs"
        compared += 1
    assert compared == 6  # silver x3 (with the dump-health gate), gold month-end, property, trace
    prose, _ = sections["Management status codes"]
    assert _normalized(documented[("silver", "management_statuses")]["description"]) in _normalized(prose)


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_every_warehouse_column_is_documented_and_the_assets_show_it(example_warehouse):
    wh, settings, defs, instance = example_warehouse
    asset_graph = defs.resolve_asset_graph()
    for (layer, name), entry in _documented().items():
        columns = [c["name"] for c in entry["columns"]]
        assert sorted(columns) == sorted(wh.columns(layer, name)), f"{layer}.{name}: documented != warehouse columns"
        node = asset_graph.get(AssetKey([layer, name]))
        # the translator replaces key and group only: description (dagster-dbt appends the raw SQL)
        # and column schema stay dbt's
        assert _normalized(node.description).startswith(_normalized(entry["description"]))
        schema = node.metadata["dagster/column_schema"]
        assert [(c.name, _normalized(c.description)) for c in schema.columns] == [
            (c["name"], _normalized(c["description"])) for c in entry["columns"]
        ]
        assert node.group_name == layer


@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_unpartitioned_dbt_assets_record_their_row_count(example_warehouse):
    wh, settings, defs, instance = example_warehouse
    for layer, name in [("gold", "kpi_reference_trace"), ("silver", "management_statuses"), ("gold", "kpi_references")]:
        event = instance.get_latest_materialization_event(AssetKey([layer, name]))
        assert event is not None, f"{layer}.{name} was not materialized"
        count = int(wh.read_sql(f"SELECT COUNT(*) AS n FROM {{{layer}}}.{name}").iloc[0, 0])
        assert event.asset_materialization.metadata["dagster/row_count"].value == count > 0



@pytest.mark.parametrize("built_example", ["duckdb"], indirect=True)
def test_the_property_table_shows_the_emptiest_houses_and_the_largest_changes(example_warehouse):
    """The worked example on 2026-02-01 (the build's last partition): House A 2 of 3 rooms occupied
    (101, and 102 again after tenant 2 left it on 01-31: +1), House B 1 of 1."""
    from dagster import AssetRecordsFilter

    from occupancy_assets.lib.names import PROPERTY_KEY
    from occupancy_assets_tests.worked_example import AS_OF

    _, _, _, instance = example_warehouse
    def latest(partition: str):
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=PROPERTY_KEY, asset_partitions=[partition]), limit=1).records
        return records[0].asset_materialization.metadata

    metadata = latest(AS_OF.isoformat())
    lowest = [r.data for r in metadata["lowest_occupancy_houses"].records]
    assert lowest == [
        {"apartment_id": 1, "property": "Worked Example House A", "rooms": 3, "occupied": 2, "rate": 0.6667},
        {"apartment_id": 2, "property": "Worked Example House B", "rooms": 1, "occupied": 1, "rate": 1.0},
    ]
    changes = [r.data for r in metadata["largest_one_day_changes"].records]
    assert changes == [
        {"apartment_id": 1, "property": "Worked Example House A", "rooms": 3, "occupied": 2, "rate": 0.6667, "change_rooms": 1},
    ]
    assert "lowest_occupancy_houses" not in latest("2026-01-31")  # on the run's last partition only
