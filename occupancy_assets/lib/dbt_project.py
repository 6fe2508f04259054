"""The dbt project, as dagster-dbt wants it.

The manifest is parsed once, before anything loads the definitions: by `make` (the
`dagster-dbt project prepare-and-package --file` of this file, redone when a dbt file changed), or
here when it is missing (a bare `dagster dev` or `pytest` on a fresh clone). Run and step processes
never re-parse it: `prepare_if_dev()` would, in every process `dagster dev` starts.

No package-relative imports here: the dagster-dbt CLI loads this file on its own.
"""

import os
import sys
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# dagster-dbt runs `dbt` from PATH: make the one beside this interpreter (the project venv) win,
# so `dagster dev` works whether or not the venv is activated.
_VENV_BIN = str(Path(sys.executable).parent)
if (Path(_VENV_BIN) / "dbt").exists() and _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _VENV_BIN + os.pathsep + os.environ.get("PATH", "")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)
