"""`smsc db upgrade | status`."""

from __future__ import annotations

import click

from smsc.cli.common import database_errors, get_config, open_database, print_json, print_record
from smsc.config import mask_url
from smsc.store import migrate


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Apply schema migrations up to this version's head (creates a SQLite file if missing)."""
    config = get_config(ctx)
    with open_database(ctx, require_schema=False, create=True) as db, database_errors(config):
        before, after = migrate.upgrade(db.engine)
    click.echo(f"{mask_url(config.database.url)}: {before or '(empty)'} -> {after}"
               + ("" if before != after else " (already up to date)"))


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the schema revision of the database and the one this smsc needs."""
    config = get_config(ctx)
    with open_database(ctx, require_schema=False) as db, database_errors(config):
        current = migrate.current_revision(db.engine)
    head = migrate.head_revision()
    record = {
        "database": mask_url(config.database.url),
        "revision": current,
        "head": head,
        "up_to_date": current == head,
    }
    if as_json:
        print_json(record)
    else:
        record["revision"] = current or "(empty)"
        print_record(record)
        if current != head:
            click.echo("run `smsc db upgrade` to bring it to head")


commands = [db_group]
