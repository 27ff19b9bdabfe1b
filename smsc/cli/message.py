"""`smsc message show ID | list` look at the queue; `retry ID | cancel ID` change one message.

retry and cancel are single conditional UPDATEs (smsc.store.admin): if a dispatcher moved the
message meanwhile, nothing changes and the state found is reported.
"""

from __future__ import annotations

from typing import Any

import click

from smsc.cli.common import fail, get_config, iso_time, now, parse_since, print_json, print_record, print_table, run
from smsc.store import reports
from smsc.store.admin import CANCELLABLE, RETRYABLE, cancel_message_txn, retry_message_txn
from smsc.store.schema import STATES

_TIME_FIELDS = ("created_at", "updated_at", "schedule_at", "expires_at", "next_attempt_at", "done_at")


def _for_humans(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in _TIME_FIELDS:
        if key in out:
            out[key] = iso_time(out[key])
    for key in ("body", "tlvs"):
        if isinstance(out.get(key), bytes):
            out[key] = out[key].hex()
    return out


@click.group("message")
def message_group() -> None:
    """Messages in the store."""


@message_group.command("show")
@click.argument("message_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (times as epoch seconds).")
@click.pass_context
def show(ctx: click.Context, message_id: str, as_json: bool) -> None:
    """Every field of one message (MESSAGE_ID as in submit_sm_resp)."""
    ident = _message_id(message_id)
    row = run(ctx, "message_show", reports.get_message_txn, ident, readonly=True)
    if row is None:
        raise fail(f"no message {ident}")
    if as_json:
        print_json(row)
    else:
        print_record(_for_humans(row))


@message_group.command("list")
@click.option("--account", metavar="SYSTEM_ID", help="Only this account's messages.")
@click.option("--to", metavar="ADDR", help="Only messages to this destination address.")
@click.option("--state", type=click.Choice(STATES, case_sensitive=False), help="Only messages in this state.")
@click.option("--since", metavar="WHEN", help="Created at or after: ISO time (UTC if no offset) or an age: 10m, 2h, 1d.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="Most rows shown, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (times as epoch seconds).")
@click.pass_context
def list_(ctx: click.Context, account: str | None, to: str | None, state: str | None, since: str | None,
          limit: int, as_json: bool) -> None:
    """Newest messages first, filtered."""
    since_epoch = parse_since(since, now()) if since else None
    rows = run(ctx, "message_list", reports.list_messages_txn, readonly=True, account=account, to=to,
               state=state.upper() if state else None, since=since_epoch, limit=limit)
    if as_json:
        print_json(rows)
    else:
        print_table([_for_humans(r) for r in rows], reports.SUMMARY_COLUMNS)


def _message_id(text: str) -> int:
    try:
        return reports.parse_message_id(text)
    except ValueError as e:
        raise fail(str(e)) from None


@message_group.command("retry")
@click.argument("message_id")
@click.pass_context
def retry(ctx: click.Context, message_id: str) -> None:
    """Send a failed, expired, undeliverable or rejected message again, now.

    Attempts and parts restart; a validity that already ended is extended by [intake]
    default_validity.
    """
    ident = _message_id(message_id)
    validity = get_config(ctx).intake.default_validity
    change = run(ctx, "message_retry", retry_message_txn, ident, now(), validity)
    if change.state is None:
        raise fail(f"no message {ident}")
    if not change.done:
        raise fail(f"message {ident} is {change.state}: only {', '.join(RETRYABLE)} messages can be retried")
    click.echo(f"message {ident} queued again")


@message_group.command("cancel")
@click.argument("message_id")
@click.pass_context
def cancel(ctx: click.Context, message_id: str) -> None:
    """Cancel a message still waiting in the queue (once sent, it is the carrier's)."""
    ident = _message_id(message_id)
    change = run(ctx, "message_cancel", cancel_message_txn, ident, now())
    if change.state is None:
        raise fail(f"no message {ident}")
    if not change.done:
        raise fail(f"message {ident} is {change.state}: only {', '.join(CANCELLABLE)} messages can be cancelled")
    click.echo(f"message {ident} cancelled")


commands = [message_group]
