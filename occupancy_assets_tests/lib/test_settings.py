import datetime as dt

import pytest

from occupancy_assets.lib.settings import DEFAULT_DUCKDB_PATH, Settings, SettingsError, today_jst


def test_defaults_follow_the_spec():
    s = Settings.from_env({})
    assert s.warehouse_url == f"duckdb:///{DEFAULT_DUCKDB_PATH}"
    assert DEFAULT_DUCKDB_PATH.parts[-2:] == ("data", "warehouse.duckdb")
    assert (s.history_start, s.forward_days, s.lookback_days, s.schema_prefix) == (dt.date(2025, 10, 1), 90, 3, "")
    assert [s.schema(layer) for layer in ("staging", "silver", "gold")] == ["staging", "silver", "gold"]


def test_schema_prefix_applies_to_all_three_layers():
    s = Settings.from_env({"OCCUPANCY_SCHEMA_PREFIX": "ci42_", "OCCUPANCY_FORWARD_DAYS": "30"})
    assert [s.schema(layer) for layer in ("staging", "silver", "gold")] == ["ci42_staging", "ci42_silver", "ci42_gold"]
    assert s.forward_days == 30
    with pytest.raises(ValueError, match="unknown layer"):
        s.schema("bronze")


# -- validation: every bad variable is one line naming it, its value and what is allowed -----------

BAD_VALUES = [
    ("OCCUPANCY_FORWARD_DAYS", "abc", "OCCUPANCY_FORWARD_DAYS='abc': not an integer >= 0"),
    ("OCCUPANCY_FORWARD_DAYS", "-5", "OCCUPANCY_FORWARD_DAYS='-5': not an integer >= 0"),
    ("OCCUPANCY_LOOKBACK_DAYS", "2.5", "OCCUPANCY_LOOKBACK_DAYS='2.5': not an integer >= 0"),
    ("OCCUPANCY_HISTORY_START", "garbage", "OCCUPANCY_HISTORY_START='garbage': not a date YYYY-MM-DD"),
    ("OCCUPANCY_HISTORY_START", "2999-01-01", "OCCUPANCY_HISTORY_START='2999-01-01': after today"),
    ("OCCUPANCY_HEALTH_MAX_ROW_CHANGE", "-0.1", "OCCUPANCY_HEALTH_MAX_ROW_CHANGE='-0.1': not a number >= 0"),
    ("OCCUPANCY_HEALTH_MAX_ROW_CHANGE", "nan", "OCCUPANCY_HEALTH_MAX_ROW_CHANGE='nan': not a number >= 0"),
    ("OCCUPANCY_HEALTH_MIN_TENANTS", "many", "OCCUPANCY_HEALTH_MIN_TENANTS='many': not an integer >= 0"),
    ("OCCUPANCY_DRIFT_WARN_SHARE", "5", "OCCUPANCY_DRIFT_WARN_SHARE='5': not a number between 0 and 1"),
    ("OCCUPANCY_FORECAST_LEARN_DAYS", "0", "OCCUPANCY_FORECAST_LEARN_DAYS='0': not an integer >= 1"),
    ("OCCUPANCY_RETENTION_MONTHS", "-1", "OCCUPANCY_RETENTION_MONTHS='-1': not an integer >= 0"),
    ("OCCUPANCY_RETENTION_MONTHS", "3", "OCCUPANCY_RETENTION_MONTHS=3: the forecast reads the last 270 days of silver"),
    ("AURORA_PORT", "70000", "AURORA_PORT='70000': not an integer between 1 and 65535"),
    ("OCCUPANCY_SCHEMA_PREFIX", "ci-42", "OCCUPANCY_SCHEMA_PREFIX='ci-42': only letters, digits and _"),
    ("OCCUPANCY_WAREHOUSE_URL", "postgresql://kpi:S3cretPw@db/x",
     "OCCUPANCY_WAREHOUSE_URL='postgresql://kpi:***@db/x': unsupported scheme 'postgresql'"),
    ("OCCUPANCY_WAREHOUSE_URL", "mysql://kpi:S3cretPw@db:3306/",
     "OCCUPANCY_WAREHOUSE_URL='mysql://kpi:***@db:3306/': unsupported scheme 'mysql'; use one of duckdb, mysql+pymysql"),
    ("OCCUPANCY_WAREHOUSE_URL", "mysql+pymysql://kpi:S3cretPw@db:port/",
     "OCCUPANCY_WAREHOUSE_URL='mysql+pymysql://kpi:***@db:port/': not a URL"),
    ("OCCUPANCY_WAREHOUSE_URL", "duckdb:///:memory:",
     "OCCUPANCY_WAREHOUSE_URL='duckdb:///:memory:': a DuckDB warehouse needs a file path"),
]


@pytest.mark.parametrize("name, value, message", BAD_VALUES, ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_a_bad_variable_is_one_line_naming_it(name, value, message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert isinstance(raised.value, ValueError)  # the CLI's handler: `occupancy-kpi: error: ...`, exit 2
    (line,) = str(raised.value).splitlines()
    assert line.startswith(message), line
    assert "S3cretPw" not in line


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"OCCUPANCY_FORWARD_DAYS": "abc", "OCCUPANCY_HISTORY_START": "garbage",
                           "AURORA_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:x"})
    lines = str(raised.value).splitlines()
    assert [line.split("=")[0].split(" ")[0] for line in lines] == [
        "OCCUPANCY_HISTORY_START", "OCCUPANCY_FORWARD_DAYS", "AURORA_SECRET_ARN"]
    assert lines[2] == "AURORA_SECRET_ARN is set but AURORA_ENDPOINT is not: set both (or neither)"


def test_good_values_pass_and_the_limits_are_allowed():
    s = Settings.from_env({
        "OCCUPANCY_FORWARD_DAYS": " 0 ", "OCCUPANCY_LOOKBACK_DAYS": "0", "OCCUPANCY_HISTORY_START": str(today_jst()),
        "OCCUPANCY_DRIFT_WARN_SHARE": "1", "OCCUPANCY_HEALTH_MAX_ROW_CHANGE": "1.5", "AURORA_PORT": "65535",
        "OCCUPANCY_WAREHOUSE_URL": "mysql+pymysql://kpi:pw@db.example:3307/?connect_timeout=15",
    })
    assert (s.forward_days, s.lookback_days, s.history_start, s.drift_warn_share) == (0, 0, today_jst(), 1.0)
    assert s.health_max_row_change == 1.5 and s.aurora_port == 65535
    assert Settings.from_env({"OCCUPANCY_WAREHOUSE_URL": "mariadb+pymysql://kpi@db/"}).warehouse_url.startswith("mariadb")


def test_a_duckdb_file_in_a_missing_folder_is_refused_unless_the_command_creates_it(tmp_path):
    url = f"duckdb:///{tmp_path / 'dta' / 'warehouse.duckdb'}"  # a typo of data/
    with pytest.raises(SettingsError, match=r"OCCUPANCY_WAREHOUSE_URL='duckdb:///.*/dta/warehouse.duckdb': the folder .*/dta does not exist"):
        Settings.from_env({"OCCUPANCY_WAREHOUSE_URL": url})
    assert Settings.from_env({"OCCUPANCY_WAREHOUSE_URL": url}, may_create_warehouse=True).warehouse_url == url
    assert not (tmp_path / "dta").exists()  # judging the settings creates nothing
    with pytest.raises(SettingsError, match="is a folder"):
        Settings.from_env({"OCCUPANCY_WAREHOUSE_URL": f"duckdb:///{tmp_path}"})
    assert Settings.from_env({"OCCUPANCY_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}"})


def test_the_default_location_needs_no_folder_yet():
    """A fresh clone has no data/: `make dev` and `make demo` create it (the default is never a typo)."""
    assert Settings.from_env({}).warehouse_url == f"duckdb:///{DEFAULT_DUCKDB_PATH}"


def test_a_password_never_shows_even_in_an_unparsable_url():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"OCCUPANCY_WAREHOUSE_URL": "mysql+pymysql://kpi:p@ss@db:x/"})  # port x: not a URL
    assert "not a URL" in str(raised.value)
    assert "p@ss" not in str(raised.value) and "ss@" not in str(raised.value)


def test_build_definitions_fails_with_the_same_message(monkeypatch):
    """`dagster dev` loads the code location through build_definitions: the same one line."""
    from occupancy_assets.definitions import build_definitions

    monkeypatch.setenv("OCCUPANCY_FORWARD_DAYS", "abc")
    with pytest.raises(SettingsError, match=r"^OCCUPANCY_FORWARD_DAYS='abc': not an integer >= 0$"):
        build_definitions()


def test_alert_settings_are_off_by_default_and_each_bad_one_is_a_line_without_its_secret():
    settings = Settings.from_env({})
    assert (settings.alert_webhook_url, settings.alert_smtp_url, settings.ui_base_url) == (None, None, "http://127.0.0.1:3000")
    with pytest.raises(SettingsError) as err:
        Settings.from_env({
            "OCCUPANCY_ALERT_WEBHOOK_URL": "hooks.slack.com/services/T0/B0/SECRETTOKEN",
            "OCCUPANCY_ALERT_SMTP_URL": "imap://ops:pa55word@mail.example",
            "OCCUPANCY_ALERT_EMAIL_TO": "ops, nobody",
        })
    lines = str(err.value).splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "OCCUPANCY_ALERT_WEBHOOK_URL", "OCCUPANCY_ALERT_SMTP_URL", "OCCUPANCY_ALERT_EMAIL_TO"]
    assert "SECRETTOKEN" not in str(err.value) and "pa55word" not in str(err.value)
    good = Settings.from_env({
        "OCCUPANCY_ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/SECRETTOKEN",
        "OCCUPANCY_ALERT_SMTP_URL": "smtps://ops:pa55word@mail.example:465",
        "OCCUPANCY_ALERT_EMAIL_TO": "a@example.com, b@example.com",
        "OCCUPANCY_UI_BASE_URL": "https://dagster.example/",
    })
    assert good.alert_email_to == ("a@example.com", "b@example.com") and good.ui_base_url == "https://dagster.example"
    assert "SECRETTOKEN" not in repr(good) and "pa55word" not in repr(good)


def test_an_smtp_url_needs_recipients():
    with pytest.raises(SettingsError, match="OCCUPANCY_ALERT_EMAIL_TO is not"):
        Settings.from_env({"OCCUPANCY_ALERT_SMTP_URL": "smtp://mail.example:25"})
