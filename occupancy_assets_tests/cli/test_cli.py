"""What `occupancy-kpi` prints when the configuration or the warehouse is wrong: one line per
problem, naming the variable (or host:port) and what is wrong, exit code 2, never a traceback or a
password. Run in-process through `cli.main`, as the console script does."""

import socket
import time

import pytest
import sqlalchemy as sa

from occupancy_assets.cli import main as cli

PASSWORD = "Wr0ngPassw0rdXyz"
SETTINGS_VARIABLES = (
    "OCCUPANCY_WAREHOUSE_URL", "OCCUPANCY_HISTORY_START", "OCCUPANCY_FORWARD_DAYS", "OCCUPANCY_LOOKBACK_DAYS",
    "OCCUPANCY_SCHEMA_PREFIX", "AURORA_ENDPOINT", "AURORA_PORT", "AURORA_SECRET_ARN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))


def _run(capsys, *argv: str) -> tuple[int, list[str]]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("OCCUPANCY_FORWARD_DAYS", "abc", "OCCUPANCY_FORWARD_DAYS='abc': not an integer >= 0"),
        ("OCCUPANCY_FORWARD_DAYS", "-5", "OCCUPANCY_FORWARD_DAYS='-5': not an integer >= 0"),
        ("OCCUPANCY_LOOKBACK_DAYS", "x", "OCCUPANCY_LOOKBACK_DAYS='x': not an integer >= 0"),
        ("OCCUPANCY_HISTORY_START", "garbage", "OCCUPANCY_HISTORY_START='garbage': not a date YYYY-MM-DD"),
        ("OCCUPANCY_HISTORY_START", "2999-12-31", "OCCUPANCY_HISTORY_START='2999-12-31': after today"),
        ("OCCUPANCY_DRIFT_WARN_SHARE", "2", "OCCUPANCY_DRIFT_WARN_SHARE='2': not a number between 0 and 1"),
        ("OCCUPANCY_WAREHOUSE_URL", "sqlite:///x.db", "OCCUPANCY_WAREHOUSE_URL='sqlite:///x.db': unsupported scheme 'sqlite'"),
    ],
)
@pytest.mark.parametrize("command", [["status"], ["daily"], ["backfill"], ["verify"], ["demo-data"]])
def test_a_bad_setting_is_one_line_and_exit_2(capsys, monkeypatch, command, name, value, expected):
    monkeypatch.setenv(name, value)
    code, lines = _run(capsys, *command)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"occupancy-kpi: error: {expected}"), lines[0]


def test_every_bad_setting_gets_its_own_line(capsys, monkeypatch):
    monkeypatch.setenv("OCCUPANCY_FORWARD_DAYS", "abc")
    monkeypatch.setenv("OCCUPANCY_HISTORY_START", "garbage")
    code, lines = _run(capsys, "status")
    assert code == 2
    assert [line.split("=")[0] for line in lines] == [
        "occupancy-kpi: error: OCCUPANCY_HISTORY_START", "occupancy-kpi: error: OCCUPANCY_FORWARD_DAYS"]


def test_a_mistyped_duckdb_folder_is_refused_and_not_created(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'dta' / 'warehouse.duckdb'}")
    for command in ("status", "daily", "verify"):
        code, lines = _run(capsys, command)
        assert code == 2
        (line,) = lines
        assert f"the folder {tmp_path / 'dta'} does not exist" in line
    assert not (tmp_path / "dta").exists()  # no empty warehouse appeared


def test_demo_data_creates_the_folder_of_a_new_warehouse(capsys, monkeypatch, tmp_path):
    path = tmp_path / "new" / "warehouse.duckdb"
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", f"duckdb:///{path}")
    assert cli.main(["demo-data", "--rooms", "20", "--history-start", "2026-01-01", "--today", "2026-01-03"]) == 0
    assert path.exists()


def test_cli_date_arguments_are_still_argparse_errors(capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(["backfill", "--start", "2026-01-05", "--end", "2026-01-02"])
    assert raised.value.code == 2
    assert "--end 2026-01-02 is before --start 2026-01-05" in capsys.readouterr().err



@pytest.mark.parametrize("command", ["restore", "archive"])
def test_a_month_that_is_not_yyyy_mm_is_an_argument_error(command, capsys):
    """Issue 18: `restore --month garbage` was a DagsterUnknownPartitionError traceback."""
    with pytest.raises(SystemExit) as raised:
        cli.main([command, "--month", "garbage"])
    assert raised.value.code == 2
    assert "argument --month: not a month (YYYY-MM): 'garbage'" in capsys.readouterr().err


def test_restore_of_a_month_outside_the_history_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("OCCUPANCY_HISTORY_START", "2025-10-01")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert cli.main(["restore", "--month", "2019-01"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("restore 2019-01: refused - not a month of the history (2025-10 .. ")
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing was opened or created

# -- the warehouse cannot be reached: one line with host:port and the server's own message -----------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WAREHOUSE_COMMANDS = [["status"], ["daily"], ["backfill"], ["verify"], ["archive"], ["demo-data", "--rooms", "20"]]


@pytest.mark.mysql
@pytest.mark.parametrize("command", WAREHOUSE_COMMANDS)
def test_a_wrong_password_is_one_line_without_the_password(capsys, monkeypatch, mysql_url, command):
    url = sa.engine.make_url(mysql_url)
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", url.set(password=PASSWORD).render_as_string(hide_password=False))
    code, lines = _run(capsys, *command)
    out = capsys.readouterr()
    assert code == 2
    (line,) = lines
    assert line.startswith(f"occupancy-kpi: error: cannot connect to the warehouse at {url.host}:{url.port or 3306}: ")
    assert "Access denied for user" in line
    assert PASSWORD not in line + out.out + out.err


@pytest.mark.mysql
@pytest.mark.parametrize("command", WAREHOUSE_COMMANDS)
def test_a_refused_port_is_one_line(capsys, monkeypatch, mysql_url, command):
    port = _free_port()  # nothing listens there
    url = sa.engine.make_url(mysql_url).set(host="127.0.0.1", port=port, password=PASSWORD)
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", url.render_as_string(hide_password=False))
    code, lines = _run(capsys, *command)
    assert code == 2
    (line,) = lines
    assert line.startswith(f"occupancy-kpi: error: cannot connect to the warehouse at 127.0.0.1:{port}: Can't connect")
    assert PASSWORD not in line


def test_an_unroutable_host_fails_within_the_connect_timeout(capsys, monkeypatch):
    """10.255.255.1 never answers (or, behind some proxies, accepts and never greets): the URL's
    connect_timeout=1 bounds the whole connection, handshake included. No server needed."""
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", f"mysql+pymysql://kpi:{PASSWORD}@10.255.255.1:3306/?connect_timeout=1")
    started = time.monotonic()
    code, lines = _run(capsys, "verify")
    elapsed = time.monotonic() - started
    assert code == 2
    (line,) = lines
    assert line.startswith("occupancy-kpi: error: cannot connect to the warehouse at 10.255.255.1:3306: "), line
    assert PASSWORD not in line
    assert elapsed < 8, f"took {elapsed:.1f} s"


def test_status_of_a_warehouse_never_built(monkeypatch, tmp_path, capsys):
    """Issue 18: status on a missing DuckDB file was a CatalogException traceback and created the file."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("OCCUPANCY_WAREHOUSE_URL", f"duckdb:///{path}")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().out == (
        f"status: no warehouse at {path}: nothing is built yet; run `occupancy-kpi backfill` (or `make demo`), "
        "or check OCCUPANCY_WAREHOUSE_URL\n")
    assert not path.exists()

    import duckdb

    duckdb.connect(str(path)).close()  # a file with no tables: the report, no traceback
    assert cli.main(["status"]) == 1
    out = capsys.readouterr().out
    assert "no KPI rows yet: gold.kpi_month_end_metrics does not exist (run a backfill)" in out
    assert "gold.occupancy_daily_metrics does not exist: run a backfill" in out
