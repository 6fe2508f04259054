"""Everything in deploy/ stays loadable: each instance YAML passes Dagster's own instance schema and
each pluggable class it names (run launcher, compute log manager) is importable and accepts its
config, environment variables resolved; the workspace passes the workspace schema; the compose
file's services point at files that exist and give the services the variables the instance reads.
No docker engine is needed (nothing is built or started).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config, dagster_instance_config_schema
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster._serdes.config_class import class_from_code_pointer

from occupancy_assets.lib.settings import INSTANCE_CONFIG, REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
INSTANCE_FILES = sorted(path.name for path in DEPLOY.glob("dagster*.yaml") if path != INSTANCE_CONFIG)  # production's
IMAGE_ROOT = "/opt/occupancy-kpi/"  # WORKDIR of deploy/Dockerfile: the repository's root in the image
DAGSTER_SERVICES = ("user_code", "webserver", "daemon")


def _load(path: Path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _env_names(value) -> set[str]:
    """Every `{env: NAME}` in a config tree."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return {value["env"]}
        return set().union(*(_env_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_env_names(v) for v in value)) if value else set()
    return set()


def _pluggable_sections(config: dict) -> dict[str, dict]:
    return {name: section for name, section in config.items() if isinstance(section, dict) and {"module", "class"} <= set(section)}


def test_deploy_holds_the_instance_files():
    assert {"dagster.yaml", "dagster.ecs.yaml"} <= set(INSTANCE_FILES)


@pytest.mark.parametrize("name", INSTANCE_FILES)
def test_instance_yaml_passes_dagsters_schema(name, monkeypatch):
    # Dagster's own loader and validation (what DagsterInstance.get() runs on $DAGSTER_HOME/dagster.yaml)
    dagster_instance_config(str(DEPLOY), name)
    raw = _load(DEPLOY / name)
    # ... and with the environment variables resolved (a port must be an int, etc.)
    for env in _env_names(raw):
        monkeypatch.setenv(env, "5432")
    processed = process_config(dagster_instance_config_schema(), raw)
    assert processed.success, processed.errors
    # every pluggable class: importable, and its config passes the class's own schema
    for section, spec in _pluggable_sections(raw).items():
        klass = class_from_code_pointer(spec["module"], spec["class"])
        result = process_config(klass.config_type(), spec.get("config") or {})
        assert result.success, (section, result.errors)


@pytest.mark.parametrize("name", INSTANCE_FILES)
def test_instance_yaml_keeps_the_pool_and_run_monitoring_of_the_local_instance(name):
    local, deployed = _load(INSTANCE_CONFIG), _load(DEPLOY / name)
    assert deployed["concurrency"] == local["concurrency"]
    assert deployed["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}
    assert local["run_monitoring"].items() <= deployed["run_monitoring"].items()
    assert deployed["run_retries"]["enabled"] is True
    assert "postgres" in deployed["storage"]


def test_the_ecs_instance_is_the_base_instance_plus_the_launcher():
    base, ecs = _load(DEPLOY / "dagster.yaml"), _load(DEPLOY / "dagster.ecs.yaml")
    assert {key: ecs[key] for key in base} == base
    assert set(ecs) - set(base) == {"run_launcher", "compute_logs"}
    assert ecs["run_launcher"]["class"] == "EcsRunLauncher"


def test_ecs_run_launcher_is_built_from_its_config(monkeypatch):
    """Beyond the schema: the launcher object itself (boto3 clients only; no AWS call is made)."""
    from dagster._serdes import ConfigurableClassData

    spec = _load(DEPLOY / "dagster.ecs.yaml")["run_launcher"]
    for env in _env_names(spec):
        monkeypatch.setenv(env, f"arn:aws:iam::123456789012:role/{env.lower()}")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    launcher = ConfigurableClassData(spec["module"], spec["class"], yaml.safe_dump(spec["config"])).rehydrate()
    assert launcher.run_resources == spec["config"]["run_resources"]
    assert set(spec["config"]["env_vars"]) >= {"AURORA_ENDPOINT", "AURORA_PORT", "AURORA_SECRET_ARN", "AWS_REGION"}


def test_workspace_yaml_passes_dagsters_schema():
    repo_locations = {entry["python_module"]["location_name"] for entry in _load(REPO_ROOT / "workspace.yaml")["load_from"]}
    path = DEPLOY / "workspace.yaml"
    config = ensure_workspace_config(_load(path), str(path))
    servers = [entry["grpc_server"] for entry in config["load_from"]]
    assert {server["location_name"] for server in servers} == repo_locations  # the same code location name
    assert {server["host"] for server in servers} <= set(_load(DEPLOY / "docker-compose.yml")["services"])


def test_docker_compose_services_reference_what_exists():
    compose = _load(DEPLOY / "docker-compose.yml")
    services = compose["services"]
    assert {"postgres", *DAGSTER_SERVICES} <= set(services)
    instance_env = _env_names(_load(DEPLOY / "dagster.yaml"))
    repo_location = _load(REPO_ROOT / "workspace.yaml")["load_from"][0]["python_module"]
    for name in DAGSTER_SERVICES:
        service = services[name]
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO_ROOT.resolve(), name
        assert (context / build["dockerfile"]).is_file(), name
        # files the command names inside the image are files of the repository
        for arg in service["command"]:
            if arg.startswith(IMAGE_ROOT):
                assert (REPO_ROOT / arg[len(IMAGE_ROOT):]).is_file(), (name, arg)
        # the variables deploy/dagster.yaml reads are set
        assert instance_env <= set(service["environment"]), (name, instance_env - set(service["environment"]))
        for key in service.get("depends_on", {}):
            assert key in services, (name, key)
    command = services["user_code"]["command"]
    assert command[command.index("--module-name") + 1] == repo_location["module_name"]
    assert command[command.index("--location-name") + 1] == repo_location["location_name"]
    assert {"AURORA_SECRET_ARN", "AURORA_ENDPOINT", "AWS_REGION"} <= set(services["user_code"]["environment"])
    for volume in (v.split(":")[0] for s in services.values() for v in s.get("volumes", [])):
        assert volume in compose["volumes"], volume  # named volumes only: no host paths


def test_dockerfile_copies_what_exists_and_installs_the_production_instance():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", dockerfile, flags=re.M):
        *sources, _ = line.split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), source
    assert 'cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in dockerfile
    assert "prepare-and-package --file occupancy_assets/lib/dbt_project.py" in dockerfile
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    for needed in ("occupancy_assets", "dbt_project", "deploy", "setup.py", "constraints.txt"):
        assert needed not in ignored


def test_cli_refreshes_a_local_instance_config_but_leaves_a_production_one_alone(tmp_path, monkeypatch):
    from dagster import DagsterInstance

    from occupancy_assets.cli import main as cli

    ephemeral = DagsterInstance.ephemeral()  # the config file is what is under test, not the instance
    monkeypatch.setattr(DagsterInstance, "get", staticmethod(lambda: ephemeral))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config = home / "dagster.yaml"

    config.write_text("# Local Dagster instance (copied to $DAGSTER_HOME by `make`). Production: see docs/operating.md.\n")
    os.utime(config, (0, 0))  # an old local copy: refreshed
    cli._instance()
    assert config.read_text() == INSTANCE_CONFIG.read_text()

    production = (DEPLOY / "dagster.yaml").read_text()
    config.write_text(production)
    os.utime(config, (0, 0))  # older than the repo's dagster.yaml, and still the operator's
    cli._instance()
    assert config.read_text() == production
