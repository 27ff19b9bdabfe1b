"""`smsc queue stats`, `smsc message retry | cancel` and their store functions (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import random
import re
import time

import pytest
import sqlalchemy as sa

from smsc.store import accounts as store
from smsc.store.admin import (
    RETRYABLE, cancel_message_txn, new_message_id, queue_stats_txn, retry_message_txn, upstream_figures_txn,
)
from smsc.store.db import Database
from smsc.store.ids import NODE_BITS, SEQUENCE_BITS
from smsc.store.reports import get_message_txn
from smsc.store.schema import STATES, dlr_keys, early_receipts, messages, outbox
from tests.unit.cli_helpers import Cli, error_line, write_config

NOW = time.time()  # seed() runs at fixture time with its own clock; store tests pass that time
DAY = 86400.0


def message(message_id: int, account_id: int, state: str, *, age: float = 60.0, due_in: float = -1.0,
            upstream: str | None = None, error: str | None = None, expires_in: float | None = DAY,
            updated_age: float | None = None, now: float = NOW) -> dict:
    """A message row as the intake writes it, with the queue fields a test cares about."""
    updated = now - (age if updated_age is None else updated_age)
    return dict(id=message_id, account_id=account_id, state=state, command="submit_sm", source_addr="ACME",
                source_ton=5, source_npi=0, dest_addr="447700900001", dest_ton=1, dest_npi=1, esm_class=0,
                protocol_id=0, priority=0, registered_delivery=1, data_coding=0, body=b"hello", text="hello",
                segments=2, created_at=now - age, updated_at=updated, next_attempt_at=now + due_in,
                expires_at=None if expires_in is None else now + expires_in, upstream=upstream, error=error,
                attempts=3, parts_sent=2 if state != "QUEUED" else 0, parts_done=1 if state != "QUEUED" else 0,
                done_at=now - age if state not in ("QUEUED", "SENDING", "SUBMITTED") else None)


def outbox_row(account_id: int | None, kind: str, age: float, state: str = "PENDING", now: float = NOW) -> dict:
    return dict(account_id=account_id, kind=kind, message_id=None, state=state, source_addr="447700900001",
                source_ton=1, source_npi=1, dest_addr="12345", dest_ton=0, dest_npi=1, esm_class=0, data_coding=0,
                body=b"x", next_attempt_at=now, created_at=now - age)


def seed(conn, now: float = NOW) -> None:
    """Thirteen messages in every state, DLR keys, outbox rows and an early receipt, aged from ``now``."""
    a = store.create_account_txn(conn, "alpha", "x", now)
    b = store.create_account_txn(conn, "beta", "x", now)
    conn.execute(messages.insert(), [
        message(1, a.id, "QUEUED", now=now, age=600),                              # due now, oldest queued (10 min)
        message(2, a.id, "QUEUED", now=now, age=30, due_in=300),                   # backing off
        message(3, b.id, "QUEUED", now=now, age=120),                              # due now
        message(4, a.id, "SENDING", now=now, upstream="carrier-a"),
        message(5, b.id, "SUBMITTED", now=now, upstream="carrier-a"),
        message(6, b.id, "SUBMITTED", now=now, upstream="carrier-b"),
        message(7, a.id, "FAILED", now=now, upstream="carrier-b", error="ESME_RINVDSTADR", updated_age=50),
        message(8, a.id, "UNDELIVERABLE", now=now, upstream="carrier-b", error="stat:UNDELIV", updated_age=10),
        message(9, b.id, "EXPIRED", now=now, expires_in=-DAY, error="validity period ended in the queue"),
        message(10, b.id, "REJECTED", now=now, upstream="carrier-a", expires_in=None),
        message(11, a.id, "DELIVERED", now=now, upstream="carrier-a"),
        message(12, a.id, "CANCELLED", now=now),
        message(13, a.id, "QUEUED", now=now, age=5, upstream="gone-carrier"),      # routed once, upstream since removed
    ])
    conn.execute(dlr_keys.insert(), [
        dict(upstream="carrier-b", remote_id="r8a", message_id=8, part=1, state="UNDELIVERABLE", created_at=now, updated_at=now),
        dict(upstream="carrier-b", remote_id="r8b", message_id=8, part=2, state="SUBMITTED", created_at=now, updated_at=now),
        dict(upstream="carrier-a", remote_id="r5", message_id=5, part=1, state="SUBMITTED", created_at=now, updated_at=now),
    ])
    conn.execute(outbox.insert(), [
        outbox_row(a.id, "receipt", 90, now=now), outbox_row(a.id, "receipt", 30, now=now), outbox_row(b.id, "mo", 20, now=now),
        outbox_row(None, "mo", 400, now=now), outbox_row(a.id, "receipt", 999, now=now, state="DELIVERED"),
    ])
    conn.execute(early_receipts.insert(), [
        dict(upstream="carrier-a", remote_id="zz", state="2", error_code=None, received_at=now - 45),
    ])


@pytest.fixture
def db(tmp_path, db_url):
    cli = Cli(write_config(tmp_path, db_url))
    assert cli("db", "upgrade").exit_code == 0
    database = Database(db_url, None)
    database.run_sync("seed", seed, NOW)
    yield database
    database.stop()


@pytest.fixture
def cli(tmp_path, db_url):
    cli = Cli(write_config(tmp_path, db_url, "[intake]\ndefault_validity = \"2h\"\n"))
    assert cli("db", "upgrade").exit_code == 0
    database = Database(db_url, None)
    database.run_sync("seed", seed, time.time())
    database.stop()
    cli.db_url = db_url
    return cli


def fetch(db_url: str, message_id: int) -> dict:
    database = Database(db_url, None)
    try:
        return database.run_sync("get", get_message_txn, message_id)
    finally:
        database.stop()


# --- store functions --------------------------------------------------------------------------


@pytest.mark.parametrize("message_id,state,done", [
    (7, "FAILED", True), (8, "UNDELIVERABLE", True), (9, "EXPIRED", True), (10, "REJECTED", True),
    (1, "QUEUED", False), (4, "SENDING", False), (5, "SUBMITTED", False), (11, "DELIVERED", False),
    (12, "CANCELLED", False), (999, None, False),
], ids=lambda v: str(v))
def test_retry_txn_by_state(db, message_id, state, done):
    """When a message is retried, only the four failed final states go back to QUEUED; any
    other state is left alone and reported as found (None for a missing id)."""
    change = db.run_sync("retry", retry_message_txn, message_id, NOW, 3600.0)
    assert (change.done, change.state) == (done, "QUEUED" if done else state)
    row = db.run_sync("get", get_message_txn, message_id)
    if row is not None:
        assert row["state"] == ("QUEUED" if done else state)


def test_retry_txn_resets_the_row(db):
    """When a failed message is retried, it is due now with attempts, parts, error, done_at,
    upstream and its old DLR keys cleared; an unexpired validity is kept, an ended one extended."""
    assert db.run_sync("retry", retry_message_txn, 8, NOW, 3600.0).done
    row = db.run_sync("get", get_message_txn, 8)
    assert (row["attempts"], row["parts_sent"], row["parts_done"]) == (0, 0, 0)
    assert (row["error"], row["done_at"], row["upstream"], row["claimed_by"]) == (None, None, None, None)
    assert row["next_attempt_at"] == pytest.approx(NOW)
    assert row["expires_at"] == pytest.approx(NOW + DAY)  # still valid: unchanged
    keys = db.run_sync("keys", lambda c: [r.remote_id for r in c.execute(dlr_keys.select())])
    assert keys == ["r5"]  # message 8's keys are gone, message 5's stay

    assert db.run_sync("retry", retry_message_txn, 9, NOW, 3600.0).done
    assert db.run_sync("get", get_message_txn, 9)["expires_at"] == pytest.approx(NOW + 3600.0)
    assert db.run_sync("retry", retry_message_txn, 10, NOW, 3600.0).done
    assert db.run_sync("get", get_message_txn, 10)["expires_at"] is None  # no validity: none added


@pytest.mark.parametrize("message_id,state,done", [
    (1, "QUEUED", True), (4, "SENDING", False), (5, "SUBMITTED", False), (7, "FAILED", False),
    (12, "CANCELLED", False), (999, None, False),
], ids=lambda v: str(v))
def test_cancel_txn_by_state(db, message_id, state, done):
    """When a message is cancelled, only a QUEUED one becomes CANCELLED (done, "by operator"), and
    its ESME, which asked for receipts, is owed a final one (stat DELETED)."""
    owed_before = db.run_sync("owed", lambda c: c.execute(sa.select(outbox.c.message_id, outbox.c.body)).fetchall())
    change = db.run_sync("cancel", cancel_message_txn, message_id, NOW)
    assert (change.done, change.state) == (done, "CANCELLED" if done else state)
    owed = db.run_sync("owed", lambda c: c.execute(sa.select(outbox.c.message_id, outbox.c.body)).fetchall())
    new = [row for row in owed if row not in owed_before]
    if done:
        row = db.run_sync("get", get_message_txn, message_id)
        assert (row["state"], row["error"], row["done_at"]) == ("CANCELLED", "cancelled by operator", pytest.approx(NOW))
        assert [(m, b"stat:DELETED" in body) for m, body in new] == [(message_id, True)]
    else:
        assert new == []


def test_queue_stats_txn(db):
    """When the queue holds a mix, the stats count every state, due vs later, ages, per upstream,
    per account, the outbox by kind (unrouted MO apart, delivered ones not counted) and early receipts."""
    s = db.run_sync("stats", queue_stats_txn, NOW, readonly=True)
    assert set(s["states"]) == set(STATES)
    assert s["states"]["QUEUED"] == 4 and s["states"]["SUBMITTED"] == 2 and s["states"]["DELIVERED"] == 1
    assert s["queued"] == {"total": 4, "due_now": 3, "scheduled_later": 1, "oldest_age": pytest.approx(600)}
    assert s["upstreams"] == [
        {"upstream": "carrier-a", "queued": 0, "sending": 1, "submitted": 1},
        {"upstream": "carrier-b", "queued": 0, "sending": 0, "submitted": 1},
        {"upstream": "gone-carrier", "queued": 1, "sending": 0, "submitted": 0},
        {"upstream": None, "queued": 3, "sending": 0, "submitted": 0},
    ]
    alpha, beta = s["accounts"]
    assert (alpha["account"], alpha["queued"], alpha["due"], alpha["sending"], alpha["submitted"], alpha["outbox"]) == \
        ("alpha", 3, 2, 1, 0, 2)
    assert alpha["oldest_queued_age"] == pytest.approx(600)
    assert (beta["queued"], beta["due"], beta["submitted"], beta["outbox"]) == (1, 1, 2, 1)
    assert s["outbox"] == {"receipt": 2, "mo": 1, "unrouted_mo": 1, "oldest_age": pytest.approx(400)}
    assert s["early_receipts"] == {"waiting": 1, "oldest_age": pytest.approx(45)}


def test_queue_stats_txn_empty(db_url, tmp_path):
    """When the database is empty, every count is 0 and every age is None."""
    assert Cli(write_config(tmp_path, db_url))("db", "upgrade").exit_code == 0
    database = Database(db_url, None)
    s = database.run_sync("stats", queue_stats_txn, NOW)
    database.stop()
    assert set(s["states"].values()) == {0}
    assert s["queued"] == {"total": 0, "due_now": 0, "scheduled_later": 0, "oldest_age": None}
    assert (s["upstreams"], s["accounts"]) == ([], [])
    assert s["outbox"] == {"receipt": 0, "mo": 0, "unrouted_mo": 0, "oldest_age": None}
    assert s["early_receipts"] == {"waiting": 0, "oldest_age": None}


def test_upstream_figures_txn(db):
    """When messages went to upstreams, each gets its in-flight counts and its newest error."""
    f = db.run_sync("figures", upstream_figures_txn, readonly=True)
    assert (f["carrier-a"]["sending"], f["carrier-a"]["submitted"], f["carrier-a"]["last_error"]) == (1, 1, None)
    assert f["carrier-b"]["submitted"] == 1
    assert f["carrier-b"]["last_error"] == "stat:UNDELIV"  # message 8 (10 s ago) is newer than 7 (50 s)
    assert f["carrier-b"]["last_error_at"] == pytest.approx(NOW - 10)
    assert f[None]["queued"] == 3


def test_new_message_id_layout():
    """When the CLI makes an id, it carries the node id and a sequence the engine seldom reaches,
    and it sorts with the engine's ids of the same millisecond."""
    rng = random.Random(7)
    ids = {new_message_id(5, NOW, rng) for _ in range(50)}
    assert len(ids) > 40
    for ident in ids:
        assert (ident >> SEQUENCE_BITS) & ((1 << NODE_BITS) - 1) == 5
        assert ident & ((1 << SEQUENCE_BITS) - 1) >= 2048
    assert new_message_id(5, NOW + 0.002, rng) > max(ids)


# --- the commands -----------------------------------------------------------------------------


def test_message_retry_command(cli):
    """When `message retry` names a failed message, it is queued again and its validity, ended
    long ago, runs for [intake] default_validity from now."""
    result = cli("message", "retry", "9")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "message 9 queued again"
    row = fetch(cli.db_url, 9)
    assert row["state"] == "QUEUED"
    assert row["expires_at"] == pytest.approx(time.time() + 7200, abs=60)


@pytest.mark.parametrize("args,expected", [
    (["retry", "11"], "Error: message 11 is DELIVERED: only " + ", ".join(RETRYABLE) + " messages can be retried"),
    (["retry", "1"], "Error: message 1 is QUEUED: only " + ", ".join(RETRYABLE) + " messages can be retried"),
    (["retry", "404"], "Error: no message 404"),
    (["retry", "x1"], "Error: not a message id: 'x1' (expected the decimal id from submit_sm_resp)"),
    (["cancel", "5"], "Error: message 5 is SUBMITTED: only QUEUED messages can be cancelled"),
    (["cancel", "404"], "Error: no message 404"),
], ids=["retry delivered", "retry queued", "retry missing", "retry bad id", "cancel submitted", "cancel missing"])
def test_message_refusals(cli, args, expected):
    """When retry/cancel cannot apply, one clear line and exit 1; the message is untouched."""
    result = cli("message", *args)
    assert result.exit_code == 1
    assert error_line(result) == expected


def test_message_cancel_command(cli):
    """When `message cancel` names a queued message, it becomes CANCELLED; cancelling twice is refused."""
    result = cli("message", "cancel", "3")
    assert result.exit_code == 0 and result.stdout.strip() == "message 3 cancelled"
    assert fetch(cli.db_url, 3)["state"] == "CANCELLED"
    again = cli("message", "cancel", "3")
    assert again.exit_code == 1 and "is CANCELLED" in error_line(again)


def test_queue_stats_json(cli):
    """When `queue stats --json` runs, it prints the store figures as JSON."""
    result = cli("queue", "stats", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["states"]["QUEUED"] == 4 and data["queued"]["due_now"] == 3
    assert data["outbox"]["unrouted_mo"] == 1 and data["early_receipts"]["waiting"] == 1
    assert [a["account"] for a in data["accounts"]] == ["alpha", "beta"]


def test_queue_stats_text(cli):
    """When `queue stats` runs for humans, it shows states, due vs later, ages, tables and the outbox."""
    out = cli("queue", "stats").stdout
    assert "queued: 4 (3 due now, 1 scheduled or backing off), oldest 10m" in out
    assert "(not routed yet)" in out and "gone-carrier" in out
    assert "owed to ESMEs: 2 receipt(s), 1 MO, oldest 6m4" in out  # 400 s plus test time
    assert "MO no mo_route matched (kept): 1" in out
    assert re.search(r"receipts waiting for their submit_sm_resp: 1, oldest (4[5-9]|5\d)s", out)
    lines = out.splitlines()
    alpha = next(line for line in lines if line.startswith("alpha"))
    assert alpha.split()[:5] == ["alpha", "3", "2", "1", "0"]


def test_queue_stats_without_schema(tmp_path, sqlite_url):
    """When the database was never upgraded, queue stats says what to run, in one line."""
    cli = Cli(write_config(tmp_path, sqlite_url))
    result = cli("queue", "stats")
    assert result.exit_code == 1
    assert "smsc db upgrade" in error_line(result)
