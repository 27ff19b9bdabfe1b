"""`smsc message show | list` over real rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time

import pytest

from smsc.store import accounts as store
from smsc.store.db import Database
from smsc.store.schema import messages
from tests.unit.cli_helpers import Cli, write_config

NOW = time.time()


def _row(message_id, account_id, state, dest, age):
    return dict(id=message_id, account_id=account_id, state=state, command="submit_sm", source_addr="ACME",
                source_ton=5, source_npi=0, dest_addr=dest, dest_ton=1, dest_npi=1, esm_class=0, protocol_id=0,
                priority=0, registered_delivery=1, data_coding=0, body=b"hello", text="hello", segments=1,
                created_at=NOW - age, updated_at=NOW - age, next_attempt_at=NOW - age)


def _seed(conn):
    a = store.create_account_txn(conn, "alpha", "x", NOW)
    b = store.create_account_txn(conn, "beta", "x", NOW)
    conn.execute(messages.insert(), [
        _row(101, a.id, "QUEUED", "447700900001", 7200),      # 2 h old
        _row(102, a.id, "DELIVERED", "447700900002", 1800),   # 30 min old
        _row(103, b.id, "QUEUED", "447700900001", 60),        # 1 min old
        _row(104, b.id, "FAILED", "447700900003", 10),
    ])


@pytest.fixture
def cli(tmp_path, db_url):
    cli = Cli(write_config(tmp_path, db_url))
    assert cli("db", "upgrade").exit_code == 0
    db = Database(db_url, None)
    db.run_sync("seed", _seed)
    db.stop()
    return cli


def ids(result):
    return [row["id"] for row in json.loads(result.stdout)]


@pytest.mark.parametrize("args,expected", [
    ([], [104, 103, 102, 101]),
    (["--account", "alpha"], [102, 101]),
    (["--to", "447700900001"], [103, 101]),
    (["--state", "queued"], [103, 101]),
    (["--since", "1h"], [104, 103, 102]),
    (["--since", "5m"], [104, 103]),
    (["--account", "beta", "--state", "QUEUED"], [103]),
    (["--limit", "2"], [104, 103]),
    (["--account", "nobody"], []),
], ids=["all", "account", "to", "state any case", "since 1h", "since 5m", "combined", "limit", "no match"])
def test_list_filters(cli, args, expected):
    """When message list gets filters, it returns only matching messages, newest first."""
    result = cli("message", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    assert ids(result) == expected


def test_list_since_iso(cli):
    """When --since is an ISO time, messages created from then on are listed."""
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 3600))
    assert ids(cli("message", "list", "--json", "--since", since)) == [104, 103, 102]


def test_list_table(cli):
    """When listed without --json, a table with the account's system_id and ISO times is printed."""
    lines = cli("message", "list", "--account", "alpha").stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["ID", "CREATED_AT", "ACCOUNT", "STATE"]
    assert lines[1].split()[:4][0] == "102" and lines[1].split()[2] == "alpha"
    assert lines[1].split()[1].endswith("Z")


def test_show(cli):
    """When one message is shown, every field is printed; JSON has the body in hex."""
    data = json.loads(cli("message", "show", "103", "--json").stdout)
    assert data["account"] == "beta" and data["dest_addr"] == "447700900001" and data["body"] == b"hello".hex()
    text = cli("message", "show", "103").stdout
    assert "registered_delivery" in text and "beta" in text


@pytest.mark.parametrize("args,fragment", [
    (["message", "show", "999"], "no message 999"),
    (["message", "show", "abc"], "not a message id: 'abc'"),
    (["message", "list", "--since", "yesterday"], "expected an ISO time"),
], ids=["unknown id", "not a number", "bad since"])
def test_errors(cli, args, fragment):
    """When the id or a filter is wrong, the error is one line, never a traceback."""
    result = cli(*args)
    assert result.exit_code != 0
    assert fragment in result.stderr.strip().splitlines()[-1]
