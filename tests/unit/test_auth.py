"""Password hashing (scrypt) and the per-IP slowdown after failed binds."""

from __future__ import annotations

import base64
import time

import pytest
from twisted.internet.task import Clock

from smsc.auth import FailureThrottle, hash_password, parse_hash, verify_password


def test_hash_format_and_verify():
    """When a password is hashed, the result carries its parameters and verifies only that password."""
    stored = hash_password("s3cret")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert verify_password("s3cret", stored)
    assert not verify_password("s3creT", stored)
    assert not verify_password("", stored)


def test_same_password_different_salts():
    """When the same password is hashed twice, the hashes differ (random salt) and both verify."""
    a, b = hash_password("x", n=2**4), hash_password("x", n=2**4)
    assert a != b
    assert verify_password("x", a) and verify_password("x", b)


def test_non_ascii_password():
    """When a password has non-ASCII characters, it is hashed as UTF-8 and verifies."""
    stored = hash_password("pässwörd", n=2**4)
    assert verify_password("pässwörd", stored)
    assert not verify_password("passwort", stored)


def test_verify_is_slow_enough():
    """When a password is verified with the default parameters, it costs at least a few milliseconds."""
    stored = hash_password("pw")
    started = time.perf_counter()
    verify_password("pw", stored)
    assert time.perf_counter() - started > 0.005


MALFORMED = [
    ("empty", ""),
    ("clear password", "hunter2"),
    ("wrong scheme", "bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44),
    ("bad base64", "scrypt$16384$8$1$!!!!$????"),
    ("n not a power of two", "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="),
    ("n huge (memory bomb)", "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="),
    ("r huge", "scrypt$16384$4096$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="),
    ("short digest", "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA"),
    ("not a number", "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="),
]


@pytest.mark.parametrize("label,stored", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_hash_never_matches(label, stored):
    """When the stored hash is malformed or asks for absurd parameters, verify says no (fast) and parse says why."""
    started = time.perf_counter()
    assert verify_password("hunter2", stored) is False
    assert time.perf_counter() - started < 0.5
    with pytest.raises(ValueError) as info:
        parse_hash(stored)
    assert stored not in str(info.value) or stored == ""


def test_throttle_grows_exponentially_and_caps():
    """When one IP keeps failing, its delay goes 0, 1, 2, 4, 8 ... and stops at max_delay."""
    throttle = FailureThrottle(Clock(), base_delay=1.0, max_delay=10.0)
    delays = [throttle.delay_for("10.0.0.1")]
    for _ in range(6):
        throttle.record_failure("10.0.0.1")
        delays.append(throttle.delay_for("10.0.0.1"))
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_throttle_is_per_peer_and_success_resets():
    """When one IP fails, another IP is not slowed; a successful bind clears the failing IP."""
    throttle = FailureThrottle(Clock(), 1.0, 30.0)
    throttle.record_failure("10.0.0.1")
    throttle.record_failure("10.0.0.1")
    assert throttle.delay_for("10.0.0.2") == 0.0
    assert throttle.delay_for("10.0.0.1") == 2.0
    throttle.record_success("10.0.0.1")
    assert throttle.delay_for("10.0.0.1") == 0.0


def test_throttle_forgets_after_quiet_period():
    """When an IP has not failed for forget_after seconds, it starts again from zero."""
    clock = Clock()
    throttle = FailureThrottle(clock, 1.0, 30.0, forget_after=600)
    for _ in range(4):
        throttle.record_failure("10.0.0.1")
    clock.advance(599)
    assert throttle.delay_for("10.0.0.1") == 8.0
    clock.advance(2)
    assert throttle.delay_for("10.0.0.1") == 0.0
    assert len(throttle) == 0


def test_throttle_memory_is_bounded():
    """When more IPs fail than max_entries, the least recently failed ones are forgotten."""
    throttle = FailureThrottle(Clock(), 1.0, 30.0, max_entries=100)
    for i in range(1000):
        throttle.record_failure(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) == 100
    assert throttle.delay_for("10.0.0.0") == 0.0  # forgotten
    assert throttle.delay_for("10.0.3.231") == 1.0  # the last one (i = 999)


@pytest.mark.parametrize("a,b", [
    ("2001:db8::1", "2001:db8::ffff"),  # same IPv6 /64: one host can own all of it
    ("::ffff:192.0.2.7", "192.0.2.7"),   # IPv4-mapped IPv6 is the IPv4 peer
])
def test_throttle_groups_addresses_of_one_peer(a, b):
    """When failures come from addresses that are one peer, they count together."""
    throttle = FailureThrottle(Clock(), 1.0, 30.0)
    throttle.record_failure(a)
    assert throttle.delay_for(b) == 1.0
    assert throttle.delay_for("2001:db8:0:1::1") == 0.0


def test_throttle_disabled_with_zero_base():
    """When base_delay is 0, failures never delay a bind."""
    throttle = FailureThrottle(Clock(), 0.0, 0.0)
    throttle.record_failure("10.0.0.1")
    assert throttle.delay_for("10.0.0.1") == 0.0
