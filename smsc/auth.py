"""Passwords (scrypt) and the per-IP slowdown after failed binds.

Why scrypt from hashlib: a memory-hard KDF with no extra dependency. n=2**14, r=8, p=1 costs
~16 MiB and a few tens of milliseconds, so :func:`verify_password` must run in a thread, never on
the reactor. The stored format carries its parameters (``scrypt$n$r$p$salt_b64$hash_b64``) so they
can be raised later without invalidating old hashes; parameters read back are bounded so a
tampered row cannot make a bind allocate gigabytes.

``python -m smsc.auth`` prints a hash for a password read from a hidden prompt (or stdin), for
``[[accounts]] password_hash`` in a config file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import math
import os
import sys
from collections import OrderedDict

from twisted.internet.interfaces import IReactorTime

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    maxmem = 128 * n * r * p + (4 << 20)
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A new salted hash of ``password``: ``scrypt$n$r$p$salt_b64$hash_b64``."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, digest) of a stored hash; ValueError naming the problem (never the value)."""
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError('expected an scrypt hash "scrypt$n$r$p$salt$hash" (see `python -m smsc.auth`)')
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("malformed scrypt hash (bad number or base64)") from None
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        raise ValueError(f"scrypt parameters out of range (n a power of 2 up to {_MAX_N}, r<={_MAX_R}, p<={_MAX_P})")
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        raise ValueError("scrypt salt or hash too short")
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; a malformed ``stored`` never matches. Slow: run in a thread."""
    try:
        n, r, p, salt, digest = parse_hash(stored)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)


def _peer_key(ip: str) -> str:
    """The unit we throttle: an IPv4 address, or an IPv6 /64 (one host can hold a whole /64)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # a UNIX socket path or similar: throttle it as one peer
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


class FailureThrottle:
    """Exponential slowdown per peer after failed binds: 0, base, 2*base, 4*base ... up to max_delay.

    Memory is bounded: at most ``max_entries`` peers (least recently failed forgotten first), and a
    peer with no failure for ``forget_after`` seconds starts again from zero.
    """

    def __init__(
        self,
        clock: IReactorTime,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        *,
        max_entries: int = 10_000,
        forget_after: float | None = None,
    ) -> None:
        self._clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_entries = max_entries
        self.forget_after = forget_after if forget_after is not None else max(600.0, 10 * max_delay)
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (count, last failure)

    def _entry(self, key: str) -> tuple[int, float] | None:
        entry = self._failures.get(key)
        if entry is not None and self._clock.seconds() - entry[1] > self.forget_after:
            del self._failures[key]
            return None
        return entry

    def delay_for(self, ip: str) -> float:
        """Seconds to wait before answering a bind from ``ip``."""
        entry = self._entry(_peer_key(ip))
        if entry is None or self.base_delay <= 0:
            return 0.0
        exponent = min(entry[0] - 1, 64)
        return min(self.base_delay * math.pow(2, exponent), self.max_delay)

    def record_failure(self, ip: str) -> None:
        key = _peer_key(ip)
        entry = self._entry(key)
        count = entry[0] + 1 if entry else 1
        self._failures[key] = (count, self._clock.seconds())
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_entries:
            self._failures.popitem(last=False)

    def record_success(self, ip: str) -> None:
        self._failures.pop(_peer_key(ip), None)

    def __len__(self) -> int:
        return len(self._failures)


def main() -> int:
    """Print the hash of a password typed at a hidden prompt (or one line of stdin)."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("empty password", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
