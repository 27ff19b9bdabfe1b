"""`smsc config check | show | reference`."""

from __future__ import annotations

import tomllib

from click.testing import CliRunner

from smsc.auth import hash_password
from smsc.cli import main
from tests.unit.cli_helpers import Cli, error_line, write_config


def test_check_ok(tmp_path):
    """When the config is valid, `config check` prints "ok: FILE" and exits 0."""
    path = write_config(tmp_path, "sqlite:///var/x.db")
    result = Cli(path)("config", "check")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ok: {path}"


def test_check_error_is_one_line(tmp_path):
    """When the config has a wrong type, `config check` prints the one error line and exits 1."""
    path = write_config(tmp_path, "sqlite:///var/x.db", '[smpp_server]\nwindow = "ten"\n')
    result = Cli(path)("config", "check")
    assert result.exit_code == 1
    assert error_line(result) == f'Error: {path}: smpp_server.window: expected an integer, got "ten"'


def test_no_config_given(tmp_path):
    """When neither --config nor SMSC_CONFIG is given, the error says how to give one."""
    result = CliRunner().invoke(main, ["config", "check"], env={"SMSC_CONFIG": None})
    assert result.exit_code == 1
    assert "pass --config FILE or set SMSC_CONFIG" in error_line(result)


def test_config_from_environment(tmp_path):
    """When SMSC_CONFIG names the file, no --config is needed."""
    path = write_config(tmp_path, "sqlite:///var/x.db")
    result = CliRunner().invoke(main, ["config", "check"], env={"SMSC_CONFIG": path})
    assert result.exit_code == 0 and result.stdout.strip() == f"ok: {path}"


def test_show_masks_and_is_toml(tmp_path):
    """When `config show` prints the effective config, it is valid TOML with defaults and no secrets."""
    stored = hash_password("pw", n=2**4)
    path = write_config(tmp_path, "postgresql+psycopg2://smsc:topsecret@db/smsc",
                        f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{stored}"\n')
    result = Cli(path)("config", "show")
    assert result.exit_code == 0
    assert "topsecret" not in result.output and stored not in result.output
    data = tomllib.loads(result.stdout)
    assert data["smpp_server"]["listen"] == "tcp:2775:interface=127.0.0.1"
    assert data["accounts"][0]["system_id"] == "a"


def test_reference_needs_no_config(tmp_path):
    """When `config reference` runs, it prints every section without reading any config file."""
    result = CliRunner().invoke(main, ["config", "reference"], env={"SMSC_CONFIG": None})
    assert result.exit_code == 0
    for title in ("[node]", "[database]", "[smpp_server]", "[intake]", "[metrics]", "[logging]", "[[accounts]]"):
        assert f"### `{title}`" in result.stdout
