"""The dbt project, as dagster-dbt wants it: prepared (manifest parsed) in `dagster dev`,
and by `make` / CI (`dagster-dbt project prepare-and-package --file` this file) everywhere else.

No package-relative imports here: the dagster-dbt CLI loads this file on its own.
"""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
