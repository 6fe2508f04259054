# Two commands for a new machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster
# the venv first on PATH: dagster-dbt finds `dbt` there
export PATH := $(CURDIR)/$(BIN):$(PATH)
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print)

.PHONY: install demo test dev lock clean bench bench-mysql bench-mysql-quick lint

$(BIN)/.installed: setup.py constraints.txt
	@echo "installing the pinned packages into $(VENV) (about 1-2 minutes on a fresh machine) ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# dagster-dbt's way: parse the dbt project into a manifest before loading definitions.
$(MANIFEST): $(BIN)/.installed $(DBT_SOURCES)
	$(BIN)/dagster-dbt project prepare-and-package --file occupancy_assets/lib/dbt_project.py
	touch $@

# the instance config (pool, run monitoring); not in the repo root, where `dagster dev` would warn about it
$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.local.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.local.yaml $@

install: $(BIN)/.installed $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml

## Generate the full-scale demo portfolio into data/warehouse.duckdb and run the whole pipeline.
demo: install
	$(BIN)/occupancy-kpi demo

## The whole test suite (MySQL tests skip locally without a server; CI=true makes them required).
test: install
	$(BIN)/pytest

## Lint and the layering contract (also run by make test: occupancy_assets_tests/test_layers.py).
lint: install
	$(BIN)/ruff check occupancy_assets occupancy_assets_tests scripts
	$(BIN)/lint-imports

## The Dagster UI on http://127.0.0.1:3000
dev: install
	$(BIN)/dagster dev -w workspace.yaml

## Timings (DuckDB full scale, 6 vs 12 months, MariaDB); by hand, not a test. ARGS=--quick for a smoke run. See docs/benchmarks.md.
bench: install
	$(BIN)/python scripts/benchmark.py $(ARGS)

## DuckDB and MariaDB at full scale (16,108 rooms, 2025-10-01 .. T), with issue 11's goals; ~15-25 min. Server: OCCUPANCY_TEST_MYSQL_URL.
bench-mysql: install
	$(BIN)/python scripts/benchmark.py --mysql-full $(ARGS)

## Before merging any change to a dbt model or SQL in Python: MariaDB vs DuckDB per-model dbt timings as ratios (2,000 rooms, 6 months; < 5 min). See docs/benchmarks.md.
bench-mysql-quick: install
	$(BIN)/python scripts/benchmark.py --mysql-quick $(ARGS)

## Re-resolve constraints.txt after changing setup.py pins.
lock:
	rm -rf /tmp/occupancy-lock && $(PYTHON) -m venv /tmp/occupancy-lock
	/tmp/occupancy-lock/bin/pip install --quiet ".[dev]"
	(echo "# Exact versions of every installed package, resolved together on Python 3.11 (pip freeze)."; \
	 echo "# Regenerate: make lock"; /tmp/occupancy-lock/bin/pip freeze | grep -v occupancy) > constraints.txt

clean:
	rm -rf $(VENV) dbt_project/target data .dagster
