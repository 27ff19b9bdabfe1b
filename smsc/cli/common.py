"""Shared CLI plumbing: load the config, open the database, print tables or JSON, fail in one line.

Every user error (bad config, database unreachable, schema not upgraded, no such account) becomes
``click.ClickException``: one line on stderr, exit status 1, never a traceback. Database error
texts are cut to their first line, because SQLAlchemy appends the SQL and its parameters (which
could hold a password hash).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import sys
import time
from typing import Any, Callable, Iterator, Sequence

import click
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from smsc.config import Config, ConfigError, load_config, mask_url
from smsc.store import migrate
from smsc.store.db import Database


def fail(message: str) -> click.ClickException:
    """``raise fail("...")``: one line, exit 1."""
    return click.ClickException(message)


def config_path(ctx: click.Context) -> str:
    path = (ctx.find_root().obj or {}).get("config_path")
    if not path:
        raise fail("no config file: pass --config FILE or set SMSC_CONFIG")
    return path


def get_config(ctx: click.Context) -> Config:
    """The validated config of this invocation (loaded once per command)."""
    obj = ctx.find_root().obj
    if obj is None:
        obj = ctx.find_root().obj = {}
    if "config" not in obj:
        try:
            obj["config"] = load_config(config_path(ctx))
        except ConfigError as e:
            raise fail(str(e)) from None
    return obj["config"]


load_config_or_exit = get_config  # the name `smsc serve` uses


def ensure_sqlite_dir(url: str) -> None:
    """Create the directory of a SQLite file (``sqlite:///var/smsc.db`` -> ./var/) if missing."""
    path = sqlite_file(url)
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def sqlite_file(url: str) -> str | None:
    """The file behind a sqlite URL (None for memory or other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return parsed.database


def db_error_line(error: Exception) -> str:
    """First line of a database error, without the SQL and parameters SQLAlchemy appends."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip().splitlines()
    return text[0] if text else type(error).__name__


@contextlib.contextmanager
def database_errors(config: Config) -> Iterator[None]:
    """Turn database failures into one line naming the (masked) URL."""
    try:
        yield
    except sqlalchemy.exc.SQLAlchemyError as e:
        raise fail(f"database {mask_url(config.database.url)}: {db_error_line(e)}") from None


@contextlib.contextmanager
def open_database(ctx: click.Context, *, require_schema: bool = True, create: bool = False) -> Iterator[Database]:
    """A Database for synchronous CLI use (``db.run_sync``), disposed on exit.

    ``require_schema``: refuse unless the schema is at head (names the command that fixes it).
    ``create``: allowed to create a missing SQLite file (and its directory): only `db upgrade`.
    """
    config = get_config(ctx)
    url = config.database.url
    path = sqlite_file(url)
    if path is not None and not os.path.exists(path):
        if not create:
            raise fail(f"database file {path} does not exist: run `smsc db upgrade` first")
        ensure_sqlite_dir(url)
    db = Database(url, None, pool_size=1, sqlite_synchronous=config.database.sqlite_synchronous)
    try:
        with database_errors(config):
            if require_schema:
                current, head = migrate.current_revision(db.engine), migrate.head_revision()
                if current != head:
                    raise fail(f"database schema is at {current or 'nothing'}, this smsc needs {head}: run `smsc db upgrade`")
            yield db
    finally:
        db.stop()


def run(ctx: click.Context, desc: str, fn: Callable[..., Any], *args: Any, readonly: bool = False, **kwargs: Any) -> Any:
    """Open the database, run one transaction function, close; errors as one line."""
    config = get_config(ctx)
    with open_database(ctx) as db, database_errors(config):
        return db.run_sync(desc, fn, *args, readonly=readonly, **kwargs)


def now() -> float:
    return time.time()


# --- output ---------------------------------------------------------------------------------


def iso_time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return list(value)
    return value


def print_json(data: Any) -> None:
    if isinstance(data, list):
        data = [{k: _jsonable(v) for k, v in row.items()} for row in data]
    elif isinstance(data, dict):
        data = {k: _jsonable(v) for k, v in data.items()}
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Aligned columns with a header; "(none)" when empty."""
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def print_record(record: dict[str, Any]) -> None:
    """One "key: value" line per field."""
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


# --- input ----------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now_epoch: float) -> float:
    """"10m" / "2h" / "1d" ago, or an ISO 8601 time (UTC when it has no offset) -> epoch seconds."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        return now_epoch - int(match.group(1)) * _UNIT[match.group(2)]
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected an ISO time (2026-01-31T12:00) or an age like 10m, 2h, 1d") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def read_password(password_stdin: bool, *, confirm: bool = True) -> str:
    """From one line of stdin, or a hidden prompt (typed twice). Checked for SMPP 3.4 limits."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    if not password:
        raise fail("empty password")
    if len(password.encode("utf-8")) > 8 or "\0" in password:
        # SMPP 3.4 bind password is a C-Octet String of at most 9 octets including the NUL.
        raise fail("password too long: SMPP 3.4 allows at most 8 characters")
    return password
