"""Account transaction functions, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import pytest

from smsc.auth import hash_password
from smsc.config import AccountConfig
from smsc.store import accounts as store
from smsc.store import migrate
from smsc.store.db import Database

HASH = hash_password("pw", n=2**4)


@pytest.fixture
def db(db_url):
    database = Database(db_url, None)
    migrate.upgrade(database.engine)
    yield database
    database.stop()


def test_create_and_get(db):
    """When an account is created, it reads back with its limits; JSON lists come back as tuples."""
    created = db.run_sync("t", store.create_account_txn, "esme1", HASH, 1000.0, max_binds=2, window=10,
                          throughput=50, allowed_sources=["ACME", "4470*"], ip_allowlist=["10.0.0.0/8"], description="d")
    got = db.run_sync("t", store.get_account_txn, "esme1")
    assert got == created
    assert (got.system_id, got.enabled, got.max_binds, got.window, got.throughput) == ("esme1", True, 2, 10, 50.0)
    assert got.allowed_sources == ("ACME", "4470*")
    assert got.ip_allowlist == ("10.0.0.0/8",)
    assert got.description == "d"
    assert got.password_hash == HASH


def test_defaults(db):
    """When an account is created without limits, it gets 4 binds, window 100, unlimited throughput, any source."""
    account = db.run_sync("t", store.create_account_txn, "esme1", HASH, 1.0)
    assert (account.max_binds, account.window, account.throughput) == (4, 100, 0.0)
    assert account.allowed_sources == () and account.ip_allowlist == () and account.description == ""


def test_unknown_account_is_none(db):
    """When an unknown system_id is looked up, the answer is None."""
    assert db.run_sync("t", store.get_account_txn, "nobody") is None


def test_duplicate_is_refused(db):
    """When a system_id is created twice, the second create raises AccountExists and changes nothing."""
    db.run_sync("t", store.create_account_txn, "esme1", HASH, 1.0, window=7)
    with pytest.raises(store.AccountExists):
        db.run_sync("t", store.create_account_txn, "esme1", HASH, 2.0, window=9)
    assert db.run_sync("t", store.get_account_txn, "esme1").window == 7


@pytest.mark.parametrize("limits,fragment", [
    ({"max_binds": 0}, "max_binds"),
    ({"window": 70000}, "window"),
    ({"throughput": -1}, "throughput"),
    ({"throughput": float("nan")}, "throughput"),
    ({"ip_allowlist": ["not-an-ip"]}, "not an IP"),
    ({"allowed_sources": ["a*b"]}, "allowed source"),
    ({"colour": "red"}, "unknown account setting"),
], ids=["binds", "window", "negative tps", "nan tps", "bad cidr", "star inside", "unknown key"])
def test_bad_limits_are_refused(db, limits, fragment):
    """When a limit is out of range or malformed, create raises ValueError naming it."""
    with pytest.raises(ValueError, match=fragment):
        db.run_sync("t", store.create_account_txn, "esme1", HASH, 1.0, **limits)
    assert db.run_sync("t", store.get_account_txn, "esme1") is None


def test_list_is_sorted(db):
    """When several accounts exist, list returns them ordered by system_id."""
    for sid in ("charlie", "alpha", "bravo"):
        db.run_sync("t", store.create_account_txn, sid, HASH, 1.0)
    assert [a.system_id for a in db.run_sync("t", store.list_accounts_txn)] == ["alpha", "bravo", "charlie"]


def test_password_enable_and_limits(db):
    """When password, enabled flag and limits change, the row changes; unknown accounts report False/None."""
    db.run_sync("t", store.create_account_txn, "esme1", HASH, 1.0)
    other = hash_password("other", n=2**4)
    assert db.run_sync("t", store.set_password_txn, "esme1", other, 2.0) is True
    assert db.run_sync("t", store.set_enabled_txn, "esme1", False, 3.0) is True
    updated = db.run_sync("t", store.update_limits_txn, "esme1", 4.0, window=5, allowed_sources=("X",), ip_allowlist=())
    assert updated.password_hash == other and updated.enabled is False
    assert updated.window == 5 and updated.allowed_sources == ("X",) and updated.ip_allowlist == ()
    assert updated.max_binds == 4  # untouched
    assert db.run_sync("t", store.set_password_txn, "ghost", other, 2.0) is False
    assert db.run_sync("t", store.set_enabled_txn, "ghost", True, 2.0) is False
    assert db.run_sync("t", store.update_limits_txn, "ghost", 2.0, window=5) is None


def test_ensure_accounts_creates_missing_and_keeps_existing(db):
    """When bootstrap accounts are ensured, missing ones are created; existing ones keep the CLI's changes
    unless the entry says overwrite."""
    db.run_sync("t", store.create_account_txn, "kept", HASH, 1.0, window=3)
    db.run_sync("t", store.create_account_txn, "forced", HASH, 1.0, window=3)
    new_hash = hash_password("new", n=2**4)
    wanted = [
        AccountConfig(system_id="fresh", password_hash=new_hash, window=20, allowed_sources=("A",)),
        AccountConfig(system_id="kept", password_hash=new_hash, window=20),
        AccountConfig(system_id="forced", password_hash=new_hash, window=20, overwrite=True),
    ]
    result = db.run_sync("t", store.ensure_accounts_txn, wanted, 5.0)
    assert result == [("fresh", "created"), ("kept", "kept"), ("forced", "updated")]
    get = lambda sid: db.run_sync("t", store.get_account_txn, sid)  # noqa: E731
    assert get("fresh").window == 20 and get("fresh").allowed_sources == ("A",)
    assert get("kept").window == 3 and get("kept").password_hash == HASH
    assert get("forced").window == 20 and get("forced").password_hash == new_hash
    assert db.run_sync("t", store.ensure_accounts_txn, wanted[:1], 6.0) == [("fresh", "kept")]


def _account(**kw) -> store.Account:
    base = dict(id=1, system_id="a", password_hash=HASH, enabled=True, max_binds=1, window=1, throughput=0.0,
                allowed_sources=(), ip_allowlist=(), description="")
    base.update(kw)
    return store.Account(**base)


@pytest.mark.parametrize("sources,addr,allowed", [
    ((), "anything", True),
    (("ACME",), "ACME", True),
    (("ACME",), "ACME2", False),
    (("4470*",), "447012345", True),
    (("4470*",), "4471", False),
    (("*",), "x", True),
    (("ACME", "33*"), "3312", True),
], ids=["empty=any", "exact", "exact no prefix", "prefix", "prefix miss", "star=any", "mixed"])
def test_source_allowed(sources, addr, allowed):
    """When an account lists allowed sources, exact entries match exactly and "*" entries match a prefix."""
    assert _account(allowed_sources=sources).source_allowed(addr) is allowed


@pytest.mark.parametrize("nets,ip,allowed", [
    ((), "203.0.113.9", True),
    (("10.0.0.0/8",), "10.1.2.3", True),
    (("10.0.0.0/8",), "11.0.0.1", False),
    (("10.0.0.0/8",), "::ffff:10.0.0.1", True),
    (("192.0.2.7",), "192.0.2.7", True),
    (("2001:db8::/32",), "2001:db8::1", True),
    (("2001:db8::/32",), "10.0.0.1", False),
    (("10.0.0.0/8",), "garbage", False),
], ids=["empty=any", "in net", "outside", "v4-mapped", "single host", "v6", "v4 vs v6 net", "unparseable"])
def test_ip_allowed(nets, ip, allowed):
    """When an account has an IP allowlist, only peers inside one of its networks may bind."""
    assert _account(ip_allowlist=nets).ip_allowed(ip) is allowed


def test_repr_hides_hash():
    """When an account is logged or shown in a traceback, its password hash does not appear."""
    account = _account()
    assert HASH not in repr(account) and HASH not in str(account)
    assert "password_hash" not in account.public()
