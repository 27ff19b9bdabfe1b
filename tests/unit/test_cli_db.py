"""`smsc db upgrade | status` on SQLite and PostgreSQL, and store commands refusing an old schema."""

from __future__ import annotations

import json
import os

from smsc.store import migrate
from tests.unit.cli_helpers import Cli, error_line, write_config


def test_upgrade_then_status(tmp_path, db_url):
    """When `db upgrade` runs on an empty database it prints "(empty) -> head"; again, "already up to date"."""
    cli = Cli(write_config(tmp_path, db_url))
    head = migrate.head_revision()
    status = cli("db", "status", "--json")
    if db_url.startswith("sqlite"):  # status never creates the file
        assert status.exit_code == 1 and "does not exist: run `smsc db upgrade` first" in error_line(status)
    else:
        assert json.loads(status.stdout)["revision"] is None
    first = cli("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().endswith(f"(empty) -> {head}")
    second = cli("db", "upgrade")
    assert second.stdout.strip().endswith(f"{head} -> {head} (already up to date)")
    data = json.loads(cli("db", "status", "--json").stdout)
    assert data["revision"] == head and data["up_to_date"] is True


def test_sqlite_upgrade_creates_directory(tmp_path, monkeypatch):
    """When the SQLite URL is relative (sqlite:///var/smsc.db), upgrade creates ./var/ in the current directory."""
    monkeypatch.chdir(tmp_path)
    cli = Cli(write_config(tmp_path, "sqlite:///var/smsc.db"))
    assert cli("db", "upgrade").exit_code == 0
    assert os.path.exists(tmp_path / "var" / "smsc.db")


def test_store_command_before_upgrade(tmp_path, db_url):
    """When a store command runs before `db upgrade`, it says to run `smsc db upgrade` in one line."""
    cli = Cli(write_config(tmp_path, db_url))
    result = cli("account", "list")
    assert result.exit_code == 1
    assert "smsc db upgrade" in error_line(result)


def test_unreachable_database(tmp_path):
    """When PostgreSQL cannot be reached, the error is one line naming the masked URL, never the password."""
    cli = Cli(write_config(tmp_path, "postgresql+psycopg2://smsc:topsecret@127.0.0.1:1/smsc?connect_timeout=2"))
    result = cli("db", "status")
    assert result.exit_code == 1
    line = error_line(result)
    assert line.startswith("Error: database postgresql+psycopg2://smsc:***@127.0.0.1:1/smsc")
    assert "topsecret" not in result.output
