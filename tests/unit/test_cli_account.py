"""`smsc account ...` against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from smsc.auth import verify_password
from smsc.store import accounts as store
from smsc.store.db import Database
from tests.unit.cli_helpers import Cli, error_line, write_config


@pytest.fixture
def cli(tmp_path, db_url):
    cli = Cli(write_config(tmp_path, db_url))
    assert cli("db", "upgrade").exit_code == 0
    cli.url = db_url
    return cli


@pytest.fixture
def sqlite_cli(tmp_path, sqlite_url):
    """Input checking does not depend on the backend: SQLite only, to keep the run short."""
    cli = Cli(write_config(tmp_path, sqlite_url))
    assert cli("db", "upgrade").exit_code == 0
    cli.url = sqlite_url
    return cli


def stored(cli, system_id):
    db = Database(cli.url, None)
    try:
        return db.run_sync("t", store.get_account_txn, system_id)
    finally:
        db.stop()


def test_add_with_stdin_password_and_limits(cli):
    """When an account is added with --password-stdin and limits, it is stored with a hash of that password."""
    result = cli("account", "add", "esme1", "--password-stdin", "--max-binds", "2", "--window", "10",
                 "--throughput", "50", "--allow-source", "ACME", "--allow-source", "4470*", "--allow-ip", "10.0.0.0/8",
                 "--description", "billing", input="s3cret\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created account esme1 (id ")
    account = stored(cli, "esme1")
    assert verify_password("s3cret", account.password_hash)
    assert (account.max_binds, account.window, account.throughput) == (2, 10, 50.0)
    assert account.allowed_sources == ("ACME", "4470*") and account.ip_allowlist == ("10.0.0.0/8",)
    assert "s3cret" not in result.output and "scrypt" not in result.output


def test_add_with_hidden_prompt(cli):
    """When no --password-stdin is given, the password is asked twice at a hidden prompt and not echoed."""
    result = cli("account", "add", "esme2", input="pw12\npw12\n")
    assert result.exit_code == 0, result.output
    assert "pw12" not in result.output
    assert verify_password("pw12", stored(cli, "esme2").password_hash)


@pytest.mark.parametrize("args,stdin,fragment", [
    (["account", "add", "x" * 16, "--password-stdin"], "pw\n", "system_id must be 1 to 15"),
    (["account", "add", "esme", "--password-stdin"], "\n", "empty password"),
    (["account", "add", "esme", "--password-stdin"], "123456789\n", "at most 8 characters"),
    (["account", "add", "esme", "--password-stdin", "--allow-ip", "nope"], "pw\n", "'nope' is not an IP"),
    (["account", "show", "ghost"], None, "no account 'ghost'"),
    (["account", "passwd", "ghost", "--password-stdin"], "pw\n", "no account 'ghost'"),
    (["account", "disable", "ghost"], None, "no account 'ghost'"),
    (["account", "set", "ghost", "--window", "3"], None, "no account 'ghost'"),
    (["account", "set", "ghost"], None, "nothing to change"),
], ids=["long system_id", "empty password", "long password", "bad cidr", "show unknown",
        "passwd unknown", "disable unknown", "set unknown", "set nothing"])
def test_user_errors_are_one_line(sqlite_cli, args, stdin, fragment):
    """When the user gets something wrong, the command exits non-zero with one clear line and no traceback."""
    result = sqlite_cli(*args, input=stdin)
    assert result.exit_code != 0
    assert fragment in error_line(result)


def test_option_out_of_range(sqlite_cli):
    """When an option is out of range, click's usage error ends with the one line naming the option."""
    result = sqlite_cli("account", "add", "esme", "--password-stdin", "--window", "0", input="pw\n")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: Invalid value for '--window'")


def test_add_twice(cli):
    """When the same system_id is added twice, the second add fails in one line and the first is unchanged."""
    cli("account", "add", "esme1", "--password-stdin", input="one\n")
    result = cli("account", "add", "esme1", "--password-stdin", input="two\n")
    assert result.exit_code == 1 and "already exists" in error_line(result)
    assert verify_password("one", stored(cli, "esme1").password_hash)


def test_list_and_show(cli):
    """When accounts exist, list prints a table (or JSON) and show prints one, never a hash."""
    cli("account", "add", "beta", "--password-stdin", "--window", "7", input="pw\n")
    cli("account", "add", "alpha", "--password-stdin", "--allow-source", "ACME", input="pw\n")
    table = cli("account", "list")
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["SYSTEM_ID", "ENABLED", "MAX_BINDS"]
    assert [line.split()[0] for line in lines[1:]] == ["alpha", "beta"]
    rows = json.loads(cli("account", "list", "--json").stdout)
    assert [r["system_id"] for r in rows] == ["alpha", "beta"]
    assert rows[0]["allowed_sources"] == ["ACME"] and rows[1]["window"] == 7
    shown = json.loads(cli("account", "show", "beta", "--json").stdout)
    assert shown["window"] == 7 and shown["enabled"] is True
    text = cli("account", "show", "beta").stdout
    assert "window" in text
    for output in (table.stdout, text, json.dumps(rows)):
        assert "scrypt" not in output and "password" not in output


def test_passwd_disable_enable_set(cli):
    """When password, enabled flag and limits are changed, the stored account follows."""
    cli("account", "add", "esme1", "--password-stdin", "--allow-ip", "10.0.0.0/8", input="old\n")
    assert cli("account", "passwd", "esme1", "--password-stdin", input="new\n").exit_code == 0
    assert verify_password("new", stored(cli, "esme1").password_hash)
    assert cli("account", "disable", "esme1").stdout.strip() == "disabled account esme1"
    assert stored(cli, "esme1").enabled is False
    assert cli("account", "enable", "esme1").exit_code == 0
    assert stored(cli, "esme1").enabled is True
    result = cli("account", "set", "esme1", "--throughput", "25", "--allow-source", "A*", "--any-ip")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "updated account esme1: throughput=25, allowed_sources=A*, ip_allowlist=any"
    account = stored(cli, "esme1")
    assert account.throughput == 25.0 and account.allowed_sources == ("A*",) and account.ip_allowlist == ()
    assert account.window == 100
