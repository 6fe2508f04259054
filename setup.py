from setuptools import find_packages, setup

setup(
    name="occupancy-kpi",
    version="0.1.0",
    description="Share-house occupancy and revenue KPIs as a Dagster + dbt asset graph (DuckDB or MySQL/Aurora).",
    packages=find_packages(exclude=["occupancy_assets_tests"]),
    python_requires=">=3.11,<3.12",
    # Direct dependencies, pinned; constraints.txt pins everything they pull in.
    # dbt-mysql is the only MySQL adapter and needs dbt-core 1.7, so the dbt side stays on 1.7.
    install_requires=[
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-dbt==0.29.27",
        "dagster-aws==0.29.27",
        "dagster-postgres==0.29.27",  # production instance storage (deploy/dagster.yaml)
        "dbt-core==1.7.20",
        "dbt-duckdb==1.7.5",
        "dbt-mysql==1.7.0",
        "duckdb==2.0.1",
        "duckdb-engine==0.17.0",
        "sqlalchemy==2.1.9",
        "pymysql==1.2.4",
        "pandas==3.1.1",
        "pyarrow==26.0.1",
        "tabulate==0.10.0",
        "pyyaml==6.0.4",  # lib/settings.py reads dbt_project.yml's vars (the thresholds and status groups)
    ],
    # moto[server]: a real S3 API on 127.0.0.1 for the archive tests (occupancy_assets_tests/defs/archive/test_archive.py);
    # playwright: drives the system's Chromium in the UI test (test_ui.py; never `playwright install`);
    # import-linter: the layering contract in pyproject.toml (test_layers.py); ruff: lint (make lint)
    extras_require={
        "dev": ["pytest==9.2.0", "aiosmtpd==1.4.6", "moto[server]==5.2.5", "playwright==1.65.2", "import-linter==2.17", "ruff==0.17.6"]
    },
    entry_points={"console_scripts": ["occupancy-kpi=occupancy_assets.cli.main:main"]},
)
