"""ESME accounts: transaction functions (``*_txn(conn, ..., now)``) and the Account value.

The database is the source of truth for accounts and their limits; the CLI edits them and the
SMPP server reads them at bind time. List settings (allowed sources, IP allowlist) are JSON lists
in TEXT columns, NULL meaning "any".
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable

import sqlalchemy as sa

from smsc.store.schema import accounts

LIMIT_KEYS = ("max_binds", "window", "throughput", "allowed_sources", "ip_allowlist", "description")


class AccountExists(ValueError):
    """``create_account_txn`` for a system_id that is already taken."""


@dataclass(frozen=True)
class Account:
    """One ESME account as stored (password_hash is needed for the bind check: never print it)."""

    id: int
    system_id: str
    password_hash: str
    enabled: bool
    max_binds: int
    window: int
    throughput: float  # msgs/s over all binds, 0 = unlimited
    allowed_sources: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    description: str

    def __repr__(self) -> str:  # keeps the hash out of logs and tracebacks
        return f"Account(id={self.id}, system_id={self.system_id!r}, enabled={self.enabled})"

    @cached_property
    def _networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.ip_allowlist)

    @cached_property
    def _sources(self) -> tuple[frozenset[str], tuple[str, ...]]:
        exact = frozenset(s for s in self.allowed_sources if not s.endswith("*"))
        prefixes = tuple(s[:-1] for s in self.allowed_sources if s.endswith("*"))
        return exact, prefixes

    def source_allowed(self, addr: str) -> bool:
        """May this account send from ``addr``? Empty list = any; ``"4470*"`` matches a prefix."""
        if not self.allowed_sources:
            return True
        exact, prefixes = self._sources
        return addr in exact or addr.startswith(prefixes)

    def ip_allowed(self, ip: str) -> bool:
        """May this account bind from ``ip``? Empty list = any; IPv4-mapped IPv6 counts as IPv4."""
        if not self.ip_allowlist:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self._networks if net.version == addr.version)

    def public(self) -> dict[str, Any]:
        """Everything but the password hash, for the CLI and logs."""
        return {
            "id": self.id, "system_id": self.system_id, "enabled": self.enabled,
            "max_binds": self.max_binds, "window": self.window, "throughput": self.throughput,
            "allowed_sources": list(self.allowed_sources), "ip_allowlist": list(self.ip_allowlist),
            "description": self.description,
        }


def check_limits(limits: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise limit values; ValueError naming the limit."""
    out: dict[str, Any] = {}
    for key, value in limits.items():
        if key not in LIMIT_KEYS:
            raise ValueError(f"unknown account setting {key!r}")
        if key in ("max_binds", "window"):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
                raise ValueError(f"{key} must be an integer from 1 to 65535, got {value!r}")
        elif key == "throughput":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"throughput must be a number >= 0 (0 = unlimited), got {value!r}")
            value = float(value)
        elif key == "allowed_sources":
            value = tuple(value)
            for item in value:
                if not isinstance(item, str) or not item or len(item.rstrip("*")) > 20 or "*" in item[:-1]:
                    raise ValueError(f"allowed source {item!r}: expected an address of up to 20 characters, optionally ending in *")
        elif key == "ip_allowlist":
            value = tuple(value)
            for item in value:
                try:
                    ipaddress.ip_network(item, strict=False)
                except (ValueError, TypeError):
                    raise ValueError(f"{item!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        elif key == "description":
            value = value or ""
            if not isinstance(value, str) or len(value) > 200:
                raise ValueError("description must be text of at most 200 characters")
        out[key] = value
    return out


def check_system_id(system_id: str) -> None:
    if not isinstance(system_id, str) or not 1 <= len(system_id) <= 15 or not system_id.isascii() or not system_id.isprintable():
        raise ValueError(f"system_id must be 1 to 15 printable ASCII characters, got {system_id!r}")


def _dump_list(items: tuple[str, ...]) -> str | None:
    return json.dumps(list(items)) if items else None


def _load_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    value = json.loads(text)
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _row_to_account(row: Any) -> Account:
    return Account(
        id=row.id, system_id=row.system_id, password_hash=row.password_hash, enabled=bool(row.enabled),
        max_binds=row.max_binds, window=row.window, throughput=float(row.throughput),
        allowed_sources=_load_list(row.allowed_sources), ip_allowlist=_load_list(row.ip_allowlist),
        description=row.description or "",
    )


def _columns(limits: dict[str, Any]) -> dict[str, Any]:
    cols = dict(limits)
    for key in ("allowed_sources", "ip_allowlist"):
        if key in cols:
            cols[key] = _dump_list(cols[key])
    return cols


def create_account_txn(
    conn: sa.Connection, system_id: str, password_hash: str, now: float, *, enabled: bool = True, **limits: Any
) -> Account:
    """Insert a new account; AccountExists if the system_id is taken, ValueError on a bad limit."""
    check_system_id(system_id)
    values = {"max_binds": 4, "window": 100, "throughput": 0.0, "allowed_sources": (), "ip_allowlist": (), "description": ""}
    values.update(check_limits(limits))
    if get_account_txn(conn, system_id) is not None:
        raise AccountExists(f"account {system_id!r} already exists")
    conn.execute(accounts.insert().values(
        system_id=system_id, password_hash=password_hash, enabled=enabled,
        created_at=now, updated_at=now, **_columns(values),
    ))
    account = get_account_txn(conn, system_id)
    assert account is not None
    return account


def get_account_txn(conn: sa.Connection, system_id: str) -> Account | None:
    row = conn.execute(sa.select(accounts).where(accounts.c.system_id == system_id)).first()
    return _row_to_account(row) if row is not None else None


def list_accounts_txn(conn: sa.Connection) -> list[Account]:
    return [_row_to_account(r) for r in conn.execute(sa.select(accounts).order_by(accounts.c.system_id))]


def _update(conn: sa.Connection, system_id: str, now: float, **values: Any) -> bool:
    result = conn.execute(
        accounts.update().where(accounts.c.system_id == system_id).values(updated_at=now, **values)
    )
    return result.rowcount > 0


def set_password_txn(conn: sa.Connection, system_id: str, password_hash: str, now: float) -> bool:
    """False if there is no such account."""
    return _update(conn, system_id, now, password_hash=password_hash)


def set_enabled_txn(conn: sa.Connection, system_id: str, enabled: bool, now: float) -> bool:
    return _update(conn, system_id, now, enabled=enabled)


def update_limits_txn(conn: sa.Connection, system_id: str, now: float, **limits: Any) -> Account | None:
    """Change some of LIMIT_KEYS; returns the updated account, None if there is no such account."""
    values = check_limits(limits)
    if values and not _update(conn, system_id, now, **_columns(values)):
        return None
    return get_account_txn(conn, system_id)


def ensure_accounts_txn(conn: sa.Connection, wanted: Iterable[Any], now: float) -> list[tuple[str, str]]:
    """Create the config's bootstrap accounts (``AccountConfig``) that are missing.

    An existing account is left as the CLI made it, unless its entry says ``overwrite = true``.
    Returns ``(system_id, "created" | "updated" | "kept")`` per entry.
    """
    done = []
    for item in wanted:
        limits = {k: getattr(item, k) for k in LIMIT_KEYS}
        existing = get_account_txn(conn, item.system_id)
        if existing is None:
            create_account_txn(conn, item.system_id, item.password_hash, now, **limits)
            done.append((item.system_id, "created"))
        elif getattr(item, "overwrite", False):
            update_limits_txn(conn, item.system_id, now, **limits)
            set_password_txn(conn, item.system_id, item.password_hash, now)
            done.append((item.system_id, "updated"))
        else:
            done.append((item.system_id, "kept"))
    return done
