"""Building blocks of the config model: the ``setting``/``section`` field helpers and the value
checks shared by sections. Kept apart so section modules can import them without importing the
root :class:`smsc.config.Config` (which imports every section).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import MISSING, field
from typing import Any, Callable


class ConfigError(Exception):
    """A config problem; ``str()`` is the single line shown to the user."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


def setting(default: Any = MISSING, doc: str = "", *, factory: Callable[[], Any] | None = None, **meta: Any) -> Any:
    """A documented config field. ``meta``: min, max, duration, secret, check(value), unique."""
    meta["doc"] = doc
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type, doc: str = "") -> Any:
    """A sub-table; when absent from the file it is built from ``{}`` (so its defaults apply)."""
    return field(default_factory=cls, metadata={"doc": doc or (cls.__doc__ or "").strip()})


# ---------------------------------------------------------------------------------------------
# value checks shared by sections


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """'500ms', '30s', '5m', '2h', '1d' -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f'expected a number of seconds or a duration like "30s", "5m", "2h", got "{text}"')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_endpoint(value: str) -> None:
    if not re.match(r"^[a-z][a-z0-9]*:\S", value):
        raise ValueError(f'expected a Twisted endpoint string like "tcp:2775:interface=127.0.0.1", got "{value}"')


def check_database_url(value: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("not a database URL (expected sqlite:///path or postgresql+psycopg2://...)") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f'unsupported database "{url.get_backend_name()}" (use sqlite or postgresql)')


def mask_url(value: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(value).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a bad URL is masked whole
        return "***"


def check_system_id(value: str) -> None:
    if not 1 <= len(value) <= 15 or not value.isascii() or not value.isprintable():
        raise ValueError(f'expected 1 to 15 printable ASCII characters (SMPP system_id), got "{value}"')


def check_password_hash(value: str) -> None:
    from smsc.auth import parse_hash

    parse_hash(value)  # raises ValueError with a clear message


def check_cidrs(value: tuple[str, ...]) -> None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f'"{item}" is not an IP address or network (e.g. "10.0.0.0/8")') from None
