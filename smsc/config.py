"""The one config model: a TOML file validated into frozen dataclasses.

Why not pydantic: a ~200-line validator gives exactly the error we want (one line naming the file,
the dotted key and the problem), and the same field metadata drives `smsc config reference`
(the README's config reference) and `smsc config show`.

Every field is declared with :func:`setting` (type hint + default + ``doc``, optional ``min``/
``max``, ``duration``, ``secret``, ``check``). A secret key ``foo`` may instead be given as
``foo_file = "path"`` (relative to the config file's directory), whose content is the value.
Adding a section is one dataclass plus one field on :class:`Config`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field
from typing import Any, Literal, Union

from protocols.smpp.framing import DEFAULT_MAX_PDU_LENGTH


from smsc.config_fields import (  # noqa: F401 - re-exported: sections and callers import them from here
    ConfigError,
    check_cidrs,
    check_database_url,
    check_endpoint,
    check_password_hash,
    check_system_id,
    mask_url,
    parse_duration,
    section,
    setting,
)
from smsc.config_modems import ModemsConfig
from smsc.config_upstreams import DispatcherConfig, MoRouteConfig, RouteConfig, SimulatorsConfig, UpstreamConfig


# ---------------------------------------------------------------------------------------------
# sections


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """This smsc process; several nodes may share one PostgreSQL."""

    id: int = setting(0, "Node id, part of every message id; must differ between nodes sharing a database.", min=0, max=1023)
    name: str = setting("smsc", "Name shown in logs and metrics.")


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    """The SQL store: SQLite (embedded, one node) or PostgreSQL (production)."""

    url: str = setting(
        doc="SQLAlchemy URL: `sqlite:///var/smsc.db` (three slashes: relative to the current directory; "
        "four: absolute) or `postgresql+psycopg2://user@host/db`.",
        secret=mask_url, check=check_database_url,
    )
    upgrade_on_start: bool = setting(False, "Run the schema migrations when `smsc serve` starts (else run `smsc db upgrade`).")
    pool_size: int = setting(4, "Database connections (PostgreSQL) / reader threads.", min=1, max=100)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = setting(
        "FULL", "SQLite fsync policy: FULL survives power loss; NORMAL (WAL) may lose the last commits on power loss.")


@dataclass(frozen=True, kw_only=True)
class SmppServerConfig:
    """The SMPP 3.4 server that ESMEs (internal apps) bind to."""

    listen: str = setting("tcp:2775:interface=127.0.0.1", "Twisted endpoint string; `ssl:...` for TLS.", check=check_endpoint)
    system_id: str = setting("smsc", "Our system_id in bind responses.", check=check_system_id)
    max_sessions: int = setting(500, "Connections accepted at once; more are closed at once.", min=1)
    max_pdu_length: int = setting(DEFAULT_MAX_PDU_LENGTH, "Largest command_length accepted; larger closes the connection.", min=64, max=1 << 20)
    window: int = setting(100, "Requests one session may have unanswered (an account's window can be lower).", min=1, max=65535)
    response_timeout: float = setting(30.0, "Seconds to wait for a response to a PDU we send.", duration=True, min=0.1)
    enquire_link_interval: float = setting(30.0, "Seconds of silence before we send enquire_link.", duration=True, min=1)
    inactivity_timeout: float = setting(300.0, "Seconds without any PDU before the session is closed.", duration=True, min=1)
    bind_timeout: float = setting(30.0, "Seconds a new connection has to bind.", duration=True, min=1)
    auth_failure_delay: float = setting(1.0, "Delay before answering a bind after one failure from the same IP; doubles per failure.", duration=True, min=0)
    auth_failure_max_delay: float = setting(30.0, "Ceiling of that delay.", duration=True, min=0)

    def check(self) -> tuple[str, str] | None:
        if self.auth_failure_max_delay < self.auth_failure_delay:
            return "auth_failure_max_delay", "must be at least auth_failure_delay"
        return None


@dataclass(frozen=True, kw_only=True)
class IntakeConfig:
    """How submits become durable rows."""

    max_batch: int = setting(1000, "Most messages committed in one transaction (group commit).", min=1, max=100_000)
    max_parts: int = setting(10, "Most segments of one long message.", min=1, max=255)
    default_validity: float = setting(48 * 3600.0, "Validity when the submit sets none.", duration=True, min=60)


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """Prometheus endpoint (http://127.0.0.1:9775/metrics by default)."""

    enabled: bool = setting(True, "Serve /metrics.")
    listen: str = setting("tcp:9775:interface=127.0.0.1", "Twisted endpoint string; port 9775 by default.", check=check_endpoint)


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    """Logs go to stdout (journald under systemd)."""

    level: Literal["debug", "info", "warn", "error", "critical"] = setting("info", "Lowest level written.")


@dataclass(frozen=True, kw_only=True)
class AccountConfig:
    """A bootstrap ESME account, created on start when missing (the demo works with no setup)."""

    system_id: str = setting(doc="SMPP system_id the ESME binds with.", check=check_system_id)
    password_hash: str = setting(
        doc="scrypt hash from `smsc account add` or `python -m smsc.auth`; never a clear password.",
        secret=True, check=check_password_hash,
    )
    max_binds: int = setting(4, "Sessions bound at once.", min=1, max=1000)
    window: int = setting(100, "Unanswered requests per session.", min=1, max=65535)
    throughput: float = setting(0.0, "Messages per second over all binds (0 = unlimited).", min=0)
    allowed_sources: tuple[str, ...] = setting((), "Allowed source addresses; a trailing `*` matches a prefix; empty = any.")
    ip_allowlist: tuple[str, ...] = setting((), "Networks allowed to bind (CIDR); empty = any.", check=check_cidrs)
    description: str = setting("", "Free text.")
    overwrite: bool = setting(False, "Reset password and limits to these values on every start (else the database wins).")


@dataclass(frozen=True, kw_only=True)
class Config:
    """Root of the config file. A new section: one dataclass + one field here."""

    node: NodeConfig = section(NodeConfig)
    database: DatabaseConfig = section(DatabaseConfig)
    smpp_server: SmppServerConfig = section(SmppServerConfig)
    intake: IntakeConfig = section(IntakeConfig)
    metrics: MetricsConfig = section(MetricsConfig)
    logging: LoggingConfig = section(LoggingConfig)
    accounts: tuple[AccountConfig, ...] = setting((), "Bootstrap accounts (`[[accounts]]`).", unique="system_id")
    dispatcher: DispatcherConfig = section(DispatcherConfig)
    upstreams: tuple[UpstreamConfig, ...] = setting((), "Upstream SMPP carriers (`[[upstreams]]`).", unique="name")
    routes: tuple[RouteConfig, ...] = setting((), "Routes, tried in order (`[[routes]]`).", unique="name")
    mo_routes: tuple[MoRouteConfig, ...] = setting((), "Inbound message routes (`[[mo_routes]]`).")
    simulators: SimulatorsConfig = section(SimulatorsConfig)
    modems: ModemsConfig = section(ModemsConfig)
    path: str = field(default="", metadata={"internal": True})  # the file it came from


# ---------------------------------------------------------------------------------------------
# the validator


def load_config(path: str) -> Config:
    """Read and validate ``path``; raises :class:`ConfigError` (one line) on any problem."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as e:
        raise ConfigError(path, f"cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, f"invalid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "invalid TOML: not UTF-8") from None
    return parse_config(data, path)


def parse_config(data: dict, path: str = "<config>") -> Config:
    config = build(Config, data, path)
    return dataclasses.replace(config, path=path)


def build(cls: type, data: dict, path: str = "<config>") -> Any:
    """Validate ``data`` (parsed TOML) into dataclass ``cls``; ConfigError names ``path`` and the key."""
    return _Builder(path).build(cls, data, "")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return True, args[0]
    return False, tp


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.base_dir = os.path.dirname(os.path.abspath(path)) if path != "<config>" else os.getcwd()

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.path, f"{key}: {problem}" if key else problem)

    def build(self, cls: type, data: dict, prefix: str) -> Any:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        for key in data:
            base = key[:-5] if key.endswith("_file") else None
            if key in fields or (base in fields and fields[base].metadata.get("secret")):
                continue
            dotted = f"{prefix}{key}"
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f' (did you mean "{prefix}{close[0]}"?)' if close else ""
            raise self.fail("", f'unknown key "{dotted}"{hint}')
        values: dict[str, Any] = {}
        for name, f in fields.items():
            key, tp = f"{prefix}{name}", hints[name]
            raw = data.get(name, MISSING)
            if f.metadata.get("secret") and f"{name}_file" in data:
                if raw is not MISSING:
                    raise self.fail("", f'"{key}" and "{key}_file" are both set; keep one')
                raw = self._read_secret(f"{key}_file", data[f"{name}_file"])
            if raw is MISSING:
                if dataclasses.is_dataclass(tp):
                    raw = {}
                elif f.default is MISSING and f.default_factory is MISSING:
                    raise self.fail("", f'missing required value "{key}"')
                else:
                    continue
            values[name] = self.value(tp, raw, key, f.metadata)
        obj = cls(**values)
        problem = obj.check() if hasattr(obj, "check") else None
        if problem:
            raise self.fail(f"{prefix}{problem[0]}", problem[1])
        return obj

    def _read_secret(self, key: str, file_name: Any) -> str:
        if not isinstance(file_name, str):
            raise self.fail(key, f"expected a file name, got {_show(file_name)}")
        full = os.path.join(self.base_dir, os.path.expanduser(file_name))
        try:
            with open(full, encoding="utf-8") as fh:
                return fh.read().strip()
        except (OSError, UnicodeDecodeError) as e:
            raise self.fail(key, f'cannot read "{file_name}": {getattr(e, "strerror", None) or e}') from None

    def value(self, tp: Any, raw: Any, key: str, meta: Any) -> Any:
        if meta.get("duration") and isinstance(raw, str):
            try:
                raw = parse_duration(raw)
            except ValueError as e:
                raise self.fail(key, str(e)) from None
        value = self.convert(tp, raw, key)
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"between {lo} and {hi}" if lo is not None and hi is not None else (
                f"at least {lo}" if lo is not None else f"at most {hi}")
            raise self.fail(key, f"must be {bounds}, got {_show(raw)}")
        if meta.get("check"):
            try:
                meta["check"](value)
            except ValueError as e:
                raise self.fail(key, str(e)) from None
        unique = meta.get("unique")
        if unique:
            seen: set = set()
            for i, item in enumerate(value):
                ident = getattr(item, unique)
                if ident in seen:
                    raise self.fail(f"{key}[{i}].{unique}", f"duplicate {unique} {_show(ident)}")
                seen.add(ident)
        return value

    def convert(self, tp: Any, raw: Any, key: str) -> Any:
        optional, tp = _is_optional(tp)
        origin = typing.get_origin(tp)
        if origin is Literal:
            choices = typing.get_args(tp)
            if raw in choices and type(raw) in {type(c) for c in choices}:
                return raw
            raise self.fail(key, f"expected one of {', '.join(_show(c) for c in choices)}, got {_show(raw)}")
        if origin in (list, tuple):
            if not isinstance(raw, list):
                raise self.fail(key, f"expected an array, got {_show(raw)}")
            item_tp = typing.get_args(tp)[0]
            items = [self.value(item_tp, v, f"{key}[{i}]", {}) for i, v in enumerate(raw)]
            return tuple(items) if origin is tuple else items
        if dataclasses.is_dataclass(tp):
            if not isinstance(raw, dict):
                raise self.fail(key, f"expected a table, got {_show(raw)}")
            return self.build(tp, raw, f"{key}.")
        if tp is bool and isinstance(raw, bool):
            return raw
        if tp is int and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if tp is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        if tp is str and isinstance(raw, str):
            return raw
        if tp is Any:
            return raw
        expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp)
        if expected is None:
            raise TypeError(f"config field {key}: unsupported type {tp!r}")
        raise self.fail(key, f"expected {expected}, got {_show(raw)}")


# ---------------------------------------------------------------------------------------------
# show and reference


def _toml_value(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return _show(value)


def render_toml(obj: Any, prefix: str = "", *, mask: bool = True) -> str:
    """The effective config as TOML, secrets masked (``smsc config show``)."""
    scalars, tables = [], []
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        secret = f.metadata.get("secret")
        if dataclasses.is_dataclass(value):
            tables.append(f"\n[{prefix}{f.name}]\n" + render_toml(value, f"{prefix}{f.name}.", mask=mask))
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            tables.extend(f"\n[[{prefix}{f.name}]]\n" + render_toml(v, f"{prefix}{f.name}.", mask=mask) for v in value)
        else:
            if mask and secret:
                value = secret(value) if callable(secret) else "***"
            scalars.append(f"{f.name} = {_toml_value(value)}\n")
    return "".join(scalars) + "".join(tables)


def _type_name(tp: Any, meta: Any) -> str:
    optional, tp = _is_optional(tp)
    origin = typing.get_origin(tp)
    if origin is Literal:
        name = " \\| ".join(_show(c) for c in typing.get_args(tp))
    elif origin in (list, tuple):
        name = f"array of {_type_name(typing.get_args(tp)[0], {})}s"
    elif dataclasses.is_dataclass(tp):
        name = "table"
    elif meta.get("duration"):
        name = "duration"
    else:
        name = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(tp, str(tp))
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None or hi is not None:
        name += f", {'' if lo is None else lo}..{'' if hi is None else hi}"
    return name + (" (optional)" if optional else "")


def reference_markdown(cls: type = Config, prefix: str = "") -> str:
    """Every key with its type, default and description, as Markdown (``smsc config reference``)."""
    hints = typing.get_type_hints(cls)
    rows, subsections = [], []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        tp = hints[f.name]
        _, inner = _is_optional(tp)
        item = typing.get_args(inner)[0] if typing.get_origin(inner) in (list, tuple) else None
        if dataclasses.is_dataclass(inner):
            subsections.append((f"[{prefix}{f.name}]", inner, f"{prefix}{f.name}."))
        elif item is not None and dataclasses.is_dataclass(item):
            subsections.append((f"[[{prefix}{f.name}]]", item, f"{prefix}{f.name}."))
        else:
            if f.default is not MISSING:
                default = f"`{_toml_value(f.default)}`"
            elif f.default_factory is not MISSING:
                default = f"`{_toml_value(f.default_factory())}`"
            else:
                default = "**required**"
            doc = f.metadata.get("doc", "").replace("|", "\\|")
            key = f"`{f.name}`" + (f" or `{f.name}_file`" if f.metadata.get("secret") else "")
            rows.append(f"| {key} | {_type_name(tp, f.metadata)} | {default} | {doc} |")
    out = []
    if rows:
        out += ["| key | type | default | description |", "|---|---|---|---|", *rows, ""]
    for title, sub, sub_prefix in subsections:
        out += [f"### `{title}`", "", (sub.__doc__ or "").strip(), "", reference_markdown(sub, sub_prefix)]
    return "\n".join(out)

