"""`smsc account add | list | show | passwd | disable | enable | set`: ESME accounts in the database.

Passwords come from a hidden prompt (typed twice) or one line of stdin (``--password-stdin``) and
are hashed here; neither the password nor its hash is ever printed.
"""

from __future__ import annotations

from typing import Any

import click

from smsc.auth import hash_password
from smsc.cli.common import fail, now, print_json, print_record, print_table, read_password, run
from smsc.store import accounts as store

LIST_COLUMNS = ("system_id", "enabled", "max_binds", "window", "throughput", "allowed_sources", "ip_allowlist", "description")


@click.group("account")
def account_group() -> None:
    """ESME accounts (who may bind to the SMPP server, and their limits)."""


def _limit_options(fn: Any) -> Any:
    options = [
        click.option("--max-binds", type=click.IntRange(1, 1000), help="Sessions bound at once."),
        click.option("--window", type=click.IntRange(1, 65535), help="Unanswered requests per session."),
        click.option("--throughput", type=click.FloatRange(min=0), help="Messages/s over all binds (0 = unlimited)."),
        click.option("--allow-source", "allow_source", multiple=True, metavar="ADDR",
                     help='Allowed source address, repeatable; "4470*" matches a prefix. Default: any.'),
        click.option("--allow-ip", "allow_ip", multiple=True, metavar="CIDR",
                     help="Network allowed to bind from, repeatable. Default: any."),
        click.option("--description", help="Free text."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _limits(max_binds: int | None, window: int | None, throughput: float | None, allow_source: tuple[str, ...],
            allow_ip: tuple[str, ...], description: str | None, *, any_source: bool = False, any_ip: bool = False) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    for key, value in (("max_binds", max_binds), ("window", window), ("throughput", throughput), ("description", description)):
        if value is not None:
            limits[key] = value
    if allow_source or any_source:
        limits["allowed_sources"] = () if any_source else allow_source
    if allow_ip or any_ip:
        limits["ip_allowlist"] = () if any_ip else allow_ip
    try:
        return store.check_limits(limits)
    except ValueError as e:
        raise fail(str(e)) from None


def _get(ctx: click.Context, system_id: str) -> store.Account:
    account = run(ctx, "account_get", store.get_account_txn, system_id, readonly=True)
    if account is None:
        raise fail(f"no account {system_id!r}")
    return account


@account_group.command("add")
@click.argument("system_id")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@_limit_options
@click.pass_context
def add(ctx: click.Context, system_id: str, password_stdin: bool, disabled: bool, **options: Any) -> None:
    """Create account SYSTEM_ID (asks for its password)."""
    try:
        store.check_system_id(system_id)
    except ValueError as e:
        raise fail(str(e)) from None
    limits = _limits(**options)
    password = read_password(password_stdin)
    try:
        account = run(ctx, "account_add", store.create_account_txn, system_id, hash_password(password), now(),
                      enabled=not disabled, **limits)
    except store.AccountExists as e:
        raise fail(str(e)) from None
    click.echo(f"created account {account.system_id} (id {account.id})")


@account_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List accounts and their limits."""
    rows = [a.public() for a in run(ctx, "account_list", store.list_accounts_txn, readonly=True)]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, LIST_COLUMNS)


@account_group.command("show")
@click.argument("system_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def show(ctx: click.Context, system_id: str, as_json: bool) -> None:
    """Show one account (never its password hash)."""
    record = _get(ctx, system_id).public()
    print_json(record) if as_json else print_record(record)


@account_group.command("passwd")
@click.argument("system_id")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.pass_context
def passwd(ctx: click.Context, system_id: str, password_stdin: bool) -> None:
    """Set a new password for SYSTEM_ID (new binds use it; bound sessions stay bound)."""
    _get(ctx, system_id)
    password = read_password(password_stdin)
    if not run(ctx, "account_passwd", store.set_password_txn, system_id, hash_password(password), now()):
        raise fail(f"no account {system_id!r}")
    click.echo(f"password changed for {system_id}")


def _set_enabled(ctx: click.Context, system_id: str, enabled: bool) -> None:
    if not run(ctx, "account_enable", store.set_enabled_txn, system_id, enabled, now()):
        raise fail(f"no account {system_id!r}")
    click.echo(f"{'enabled' if enabled else 'disabled'} account {system_id}")


@account_group.command("disable")
@click.argument("system_id")
@click.pass_context
def disable(ctx: click.Context, system_id: str) -> None:
    """Refuse new binds from SYSTEM_ID (ESME_RBINDFAIL)."""
    _set_enabled(ctx, system_id, False)


@account_group.command("enable")
@click.argument("system_id")
@click.pass_context
def enable(ctx: click.Context, system_id: str) -> None:
    """Allow binds from SYSTEM_ID again."""
    _set_enabled(ctx, system_id, True)


@account_group.command("set")
@click.argument("system_id")
@_limit_options
@click.option("--any-source", is_flag=True, help="Clear the allowed source list (any source).")
@click.option("--any-ip", is_flag=True, help="Clear the IP allowlist (any address).")
@click.pass_context
def set_(ctx: click.Context, system_id: str, **options: Any) -> None:
    """Change limits of SYSTEM_ID; list options replace the whole list."""
    limits = _limits(**options)
    if not limits:
        raise fail("nothing to change: give at least one of --max-binds, --window, --throughput, "
                    "--allow-source, --allow-ip, --any-source, --any-ip, --description")
    account = run(ctx, "account_set", store.update_limits_txn, system_id, now(), **limits)
    if account is None:
        raise fail(f"no account {system_id!r}")
    click.echo(f"updated account {system_id}: " + ", ".join(f"{k}={_show(v)}" for k, v in limits.items()))


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or "any"
    return f"{value:g}" if isinstance(value, float) else str(value)


commands = [account_group]
