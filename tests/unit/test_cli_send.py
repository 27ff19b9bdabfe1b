"""`smsc send`: one message into the intake's queue, as an ESME's submit_sm would be (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from protocols.sms import TextProfile
from smsc.cli import send as send_cli
from smsc.segments import segments_for
from smsc.store import accounts as store
from smsc.store.db import Database
from smsc.store.queue import claim_due_txn
from smsc.store.reports import get_message_txn
from tests.unit.cli_helpers import Cli, error_line, write_config

LONG_GSM = "Your parcel {ref} is ready. " * 12  # 336 characters, braces take two septets each


def add_account(url: str, system_id: str, **limits) -> None:
    database = Database(url, None)
    database.run_sync("account", store.create_account_txn, system_id, "x", time.time(), **limits)
    database.stop()


def stored(url: str, message_id: int) -> dict:
    database = Database(url, None)
    try:
        return database.run_sync("get", get_message_txn, message_id)
    finally:
        database.stop()


@pytest.fixture
def cli(tmp_path, db_url):
    cli = Cli(write_config(tmp_path, db_url, '[node]\nid = 7\n[intake]\ndefault_validity = "6h"\nmax_parts = 4\n'))
    assert cli("db", "upgrade").exit_code == 0
    cli.url = db_url
    return cli


def sent(cli: Cli, *args: str) -> dict:
    result = cli("send", *args)
    assert result.exit_code == 0, result.output
    return stored(cli.url, int(result.stdout.strip()))


@pytest.mark.parametrize("text,coding,segments", [
    ("hello", 0, 1),
    ("h\u00e9llo {x}", 0, 1),
    ("\u041f\u0440\u0438\u0432\u0435\u0442 \u263a", 8, 1),
    ("\u263a" * 71, 8, 2),
    (LONG_GSM, 0, 3),
], ids=["ascii", "gsm extension", "cyrillic", "ucs2 two parts", "long gsm"])
def test_send_encodes_like_an_esme(cli, text, coding, segments):
    """When a text is sent, the row has the encoding protocols.sms picks, the text decodes back
    exactly, and the segment count is the intake's estimate."""
    add_account(cli.url, "demo")
    row = sent(cli, "--to", "+447700900123", "--text", text)
    assert (row["data_coding"], row["text"], row["segments"]) == (coding, text, segments)
    assert row["tlvs"] is None  # a long body is the row's body, not a relayed message_payload


def test_send_row_fields(cli):
    """When sent with options, the row is a QUEUED cli message due now with the account, sender,
    priority, receipt flag, the node's id layout and [intake] default_validity."""
    add_account(cli.url, "demo")
    before = time.time()
    result = cli("send", "--to", "447700900123", "--text", "hi", "--from", "ACME", "--priority", "2", "--receipt")
    assert result.exit_code == 0, result.output
    assert "queued for 447700900123 from account demo: 1 segment(s)" in result.stderr
    ident = int(result.stdout.strip())
    row = stored(cli.url, ident)
    assert (ident >> 12) & 1023 == 7
    assert (row["state"], row["command"], row["account"]) == ("QUEUED", "cli", "demo")
    assert (row["dest_addr"], row["dest_ton"], row["dest_npi"]) == ("447700900123", 1, 1)
    assert (row["source_addr"], row["source_ton"], row["source_npi"]) == ("ACME", 5, 0)
    assert (row["priority"], row["registered_delivery"], row["attempts"]) == (2, 1, 0)
    assert before - 1 <= row["next_attempt_at"] <= time.time() + 1
    assert row["expires_at"] == pytest.approx(row["created_at"] + 6 * 3600)
    assert row["schedule_at"] is None


@pytest.mark.parametrize("source,expected", [
    ("+447700900999", ("447700900999", 1, 1)),
    ("447700900999", ("447700900999", 1, 1)),
    ("12345", ("12345", 0, 1)),
    ("", ("", 0, 0)),
], ids=["international +", "international", "short code", "none"])
def test_send_source_kinds(cli, source, expected):
    """When --from is a number, a short code or nothing, TON/NPI follow."""
    add_account(cli.url, "demo")
    row = sent(cli, "--to", "447700900123", "--text", "x", "--from", source)
    assert (row["source_addr"], row["source_ton"], row["source_npi"]) == expected
    assert row["registered_delivery"] == 0  # --no-receipt is the default


def test_sent_message_is_claimed_by_the_dispatcher(cli):
    """When a message is sent, the dispatcher's own claim picks it up and splits it for an upstream."""
    add_account(cli.url, "demo")
    ident = int(cli("send", "--to", "447700900123", "--text", LONG_GSM).stdout)
    database = Database(cli.url, None)
    claimed, expired = database.run_sync("claim", claim_due_txn, 1, time.time() + 1, 10, lambda *a: None)
    database.stop()
    assert expired == 0 and [r["id"] for r in claimed] == [ident]
    parts = segments_for(claimed[0], TextProfile())
    assert len(parts) == 3
    assert "".join(p.text for p in parts) == LONG_GSM


def test_send_retries_an_id_collision(cli, monkeypatch):
    """When the id made for the message is already taken (the engine made it in the same
    millisecond), another id is made and the message is stored once."""
    add_account(cli.url, "demo")
    taken = int(cli("send", "--to", "447700900123", "--text", "first").stdout)
    real = send_cli.new_message_id
    ids = iter([taken, taken])
    monkeypatch.setattr(send_cli, "new_message_id", lambda node, now, rng: next(ids, None) or real(node, now, rng))
    second = int(cli("send", "--to", "447700900123", "--text", "second").stdout)
    assert second != taken
    assert stored(cli.url, taken)["text"] == "first" and stored(cli.url, second)["text"] == "second"


@pytest.mark.parametrize("accounts,args,expected", [
    ([], [], "Error: no accounts yet: add one with `smsc account add` (messages belong to an account)"),
    (["a1", "a2"], [], "Error: several accounts: say which one sends with --account SYSTEM_ID"),
    (["a1"], ["--account", "zz"], "Error: no account 'zz'"),
    (["a1"], ["--to", "07700 abc"], "Error: --to '07700 abc': not a number: '07700abc'"),
    (["a1"], ["--to", ""], "Error: --to '': empty destination address"),
    (["a1"], ["--from", "Far Too Long Name"], "Error: --from 'Far Too Long Name': a sender name has at most 11 "
                                              "characters, 'Far Too Long Name' has 17"),
    (["a1"], ["--text", ""], "Error: empty --text"),
    (["a1"], ["--text", "x" * 700], "Error: refused: text needs 5 gsm7 parts, the route allows 4 "
                                    "(the limit is [intake] max_parts)"),
    (["a1"], ["--priority", "4"], None),
], ids=["no account", "several", "unknown", "bad number", "empty number", "long sender", "empty text",
        "too many parts", "bad priority"])
def test_send_refusals(cli, accounts, args, expected):
    """When the account, number, sender or text is wrong, one line, exit non-zero, nothing stored."""
    for name in accounts:
        add_account(cli.url, name)
    defaults = {"--to": "447700900123", "--text": "hi"}
    for i in range(0, len(args), 2):
        defaults[args[i]] = args[i + 1]
    result = cli("send", *[x for kv in defaults.items() for x in kv])
    assert result.exit_code != 0
    if expected is not None:
        assert error_line(result) == expected
    else:
        assert "Invalid value for '--priority'" in result.stderr
    assert cli("queue", "stats", "--json").stdout.count('"QUEUED": 0') == 1


def test_send_respects_the_account(cli):
    """When the account is disabled or may not use the sender, the intake's checks refuse it."""
    add_account(cli.url, "shop", allowed_sources=("SHOP",))
    add_account(cli.url, "old", enabled=False)
    wrong = cli("send", "--account", "shop", "--to", "447700900123", "--text", "x", "--from", "OTHER")
    assert wrong.exit_code == 1
    assert error_line(wrong) == "Error: refused: source address 'OTHER' not allowed for this account"
    empty = cli("send", "--account", "shop", "--to", "447700900123", "--text", "x")
    assert error_line(empty).endswith("not allowed for this account (pick one with --from)")
    disabled = cli("send", "--account", "old", "--to", "447700900123", "--text", "x")
    assert error_line(disabled) == "Error: account 'old' is disabled"
    assert sent(cli, "--account", "shop", "--to", "447700900123", "--text", "x", "--from", "SHOP")["account"] == "shop"
