import json

import pytest

from occupancy_assets import resources
from occupancy_assets.resources import WarehouseResource, warehouse_resource
from occupancy_assets.settings import Settings


class _FakeSecretsClient:
    def __init__(self, secret: dict):
        self.secret = secret
        self.asked_for: list[str] = []

    def get_secret_value(self, SecretId):  # noqa: N803 - boto3's parameter name
        self.asked_for.append(SecretId)
        return {"SecretString": json.dumps(self.secret)}


@pytest.fixture
def fake_secrets(monkeypatch):
    client = _FakeSecretsClient({"username": "kpi_app", "password": "p@ss:word/with#chars"})
    monkeypatch.setattr(resources.SecretsManagerResource, "get_client", lambda self: client)
    return client


def test_aurora_credentials_come_from_secrets_manager_and_stay_hidden(fake_secrets):
    settings = Settings.from_env(
        {
            "AURORA_ENDPOINT": "kpi.cluster-abc.ap-northeast-1.rds.amazonaws.com",
            "AURORA_PORT": "3307",
            "AURORA_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-1:123:secret:kpi",
            "AWS_REGION": "ap-northeast-1",
            "OCCUPANCY_SCHEMA_PREFIX": "prod_",
        }
    )
    resource = warehouse_resource(settings)
    assert resource.url is None and resource.aurora_secret_arn.endswith(":kpi")
    wh = resource.warehouse()
    assert fake_secrets.asked_for == ["arn:aws:secretsmanager:ap-northeast-1:123:secret:kpi"]
    assert wh.dialect == "mysql" and wh.schema("gold") == "prod_gold"
    assert (wh.url.host, wh.url.port, wh.url.username) == ("kpi.cluster-abc.ap-northeast-1.rds.amazonaws.com", 3307, "kpi_app")
    assert wh.url.password == "p@ss:word/with#chars"  # special characters survive (no URL string building)
    assert "p@ss" not in repr(wh) and "p@ss" not in repr(resource)
    assert wh.dbt_env()["OCCUPANCY_MYSQL_USER"] == "kpi_app"


def test_a_secret_without_password_is_a_clear_error(monkeypatch):
    client = _FakeSecretsClient({"username": "kpi_app"})
    monkeypatch.setattr(resources.SecretsManagerResource, "get_client", lambda self: client)
    resource = WarehouseResource(aurora_endpoint="db", aurora_secret_arn="arn:x")
    with pytest.raises(ValueError, match="no 'password' key"):
        resource.warehouse()


def test_secret_arn_without_endpoint_is_a_clear_error():
    with pytest.raises(ValueError, match="AURORA_ENDPOINT"):
        WarehouseResource(aurora_secret_arn="arn:x").warehouse()


def test_default_resource_is_the_embedded_duckdb_file():
    resource = warehouse_resource(Settings.from_env({}))
    assert resource.url.startswith("duckdb:///") and resource.url.endswith("data/warehouse.duckdb")
