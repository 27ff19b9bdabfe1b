"""`smsc queue stats`: how much work is waiting, where, and for how long.

Everything comes from the database (the queue is a table), in one read-only transaction, so it
works whether or not the engine runs: messages by state, queued ones due now versus scheduled or
backing off, the oldest queued message, the same per upstream and per account, what is owed to
ESMEs (receipts and MO in the outbox, MO no route matched) and receipts waiting for their submit.
"""

from __future__ import annotations

from typing import Any

import click

from smsc.cli.common import now, print_json, print_table, run
from smsc.store.admin import queue_stats_txn


def age(seconds: float | None) -> str:
    """1h02m, 3m10s, 42s; "-" when there is nothing."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def print_stats(stats: dict[str, Any]) -> None:
    states = stats["states"]
    click.echo("messages by state:")
    width = max(len(s) for s in states)
    for state, n in states.items():
        click.echo(f"  {state.ljust(width)}  {n}")
    q = stats["queued"]
    click.echo(f"queued: {q['total']} ({q['due_now']} due now, {q['scheduled_later']} scheduled or backing off), "
               f"oldest {age(q['oldest_age'])}")
    click.echo("")
    click.echo("in flight by upstream (queued messages get an upstream when the dispatcher sends them):")
    print_table([{**r, "upstream": r["upstream"] or "(not routed yet)"} for r in stats["upstreams"]],
                ("upstream", "queued", "sending", "submitted"))
    click.echo("")
    click.echo("by account:")
    print_table([{**r, "oldest_queued": age(r["oldest_queued_age"])} for r in stats["accounts"]],
                ("account", "queued", "due", "sending", "submitted", "oldest_queued", "outbox"))
    o = stats["outbox"]
    click.echo("")
    click.echo(f"owed to ESMEs: {o['receipt']} receipt(s), {o['mo']} MO, oldest {age(o['oldest_age'])}")
    click.echo(f"MO no mo_route matched (kept): {o['unrouted_mo']}")
    e = stats["early_receipts"]
    click.echo(f"receipts waiting for their submit_sm_resp: {e['waiting']}, oldest {age(e['oldest_age'])}")


@click.group("queue")
def queue_group() -> None:
    """The message queue (the messages table) and what is owed to ESMEs."""


@queue_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (ages in seconds).")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts by state, due now vs later, oldest queued, per upstream and account, outbox, early receipts."""
    figures = run(ctx, "queue_stats", queue_stats_txn, now(), readonly=True)
    if as_json:
        print_json(figures)
    else:
        print_stats(figures)


commands = [queue_group]
