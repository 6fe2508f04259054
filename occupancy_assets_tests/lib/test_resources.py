import json

import pytest
from dagster_aws.secretsmanager import SecretsManagerResource

from occupancy_assets.lib.resources import WarehouseResource, warehouse_resource
from occupancy_assets.lib.settings import Settings


class _FakeSecretsClient:
    def __init__(self, secret: dict):
        self.secret = secret
        self.asked_for: list[str] = []

    def get_secret_value(self, SecretId):  # noqa: N803 - boto3's parameter name
        self.asked_for.append(SecretId)
        return {"SecretString": json.dumps(self.secret)}


class _FakeSecretsManager(SecretsManagerResource):
    """The nested dagster-aws resource, replaced the way Dagster allows: a subclass (no monkeypatch)."""

    def get_client(self):
        return CLIENTS[self.region_name]


CLIENTS: dict[str, _FakeSecretsClient] = {}


@pytest.fixture
def fake_secrets():
    CLIENTS["ap-northeast-1"] = _FakeSecretsClient({"username": "kpi_app", "password": "p@ss:word/with#chars"})
    return CLIENTS["ap-northeast-1"]


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
    assert resource.secrets_manager.region_name == "ap-northeast-1"
    resource = WarehouseResource(  # the same resource with a stand-in for AWS's API (issue: a local one)
        schema_prefix=resource.schema_prefix, aurora_endpoint=resource.aurora_endpoint, aurora_port=resource.aurora_port,
        aurora_secret_arn=resource.aurora_secret_arn, secrets_manager=_FakeSecretsManager(region_name="ap-northeast-1"),
    )
    wh = resource.warehouse()
    assert fake_secrets.asked_for == ["arn:aws:secretsmanager:ap-northeast-1:123:secret:kpi"]
    assert wh.dialect == "mysql" and wh.schema("gold") == "prod_gold"
    assert (wh.url.host, wh.url.port, wh.url.username) == ("kpi.cluster-abc.ap-northeast-1.rds.amazonaws.com", 3307, "kpi_app")
    assert wh.url.password == "p@ss:word/with#chars"  # special characters survive (no URL string building)
    assert "p@ss" not in repr(wh) and "p@ss" not in repr(resource)
    assert wh.dbt_env()["OCCUPANCY_MYSQL_USER"] == "kpi_app"


def test_a_secret_without_password_is_a_clear_error():
    CLIENTS["no-password"] = _FakeSecretsClient({"username": "kpi_app"})
    resource = WarehouseResource(aurora_endpoint="db", aurora_secret_arn="arn:x",
                                 secrets_manager=_FakeSecretsManager(region_name="no-password"))
    with pytest.raises(ValueError, match="no 'password' key"):
        resource.warehouse()


def test_secret_arn_without_endpoint_is_a_clear_error():
    with pytest.raises(ValueError, match="AURORA_ENDPOINT"):
        WarehouseResource(aurora_secret_arn="arn:x").warehouse()


def test_default_resource_is_the_embedded_duckdb_file():
    resource = warehouse_resource(Settings.from_env({}))
    assert resource.url.startswith("duckdb:///") and resource.url.endswith("data/warehouse.duckdb")
