"""Read-only queries for the CLI and the metrics scrape: one message, filtered lists, counts.

Rows come back as plain dicts with the account's system_id joined in, so the CLI can print them as
a table or JSON without knowing the schema. Ids are time-ordered (smsc.store.ids), so "newest
first" is ORDER BY id DESC, which uses the primary key.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smsc.store.schema import STATES, accounts, messages

# What `message list` shows; `message show` adds everything else in the row.
SUMMARY_COLUMNS = ("id", "created_at", "account", "state", "source_addr", "dest_addr", "segments", "upstream", "error")


def parse_message_id(text: str) -> int:
    """A message id as the SMPP server hands it out (decimal); ValueError otherwise."""
    text = text.strip()
    if not text.isdigit() or len(text) > 19:
        raise ValueError(f"not a message id: {text!r} (expected the decimal id from submit_sm_resp)")
    return int(text)


def _select(columns: list[Any]) -> sa.Select:
    return sa.select(*columns).select_from(messages.join(accounts, messages.c.account_id == accounts.c.id))


def _summary_columns() -> list[Any]:
    return [messages.c[name] if name != "account" else accounts.c.system_id.label("account") for name in SUMMARY_COLUMNS]


def get_message_txn(conn: sa.Connection, message_id: int) -> dict[str, Any] | None:
    """Every column of one message plus ``account`` (system_id); None if there is no such id."""
    query = _select([*messages.c, accounts.c.system_id.label("account")]).where(messages.c.id == message_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def list_messages_txn(
    conn: sa.Connection,
    *,
    account: str | None = None,
    to: str | None = None,
    state: str | None = None,
    since: float | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first, at most ``limit``; every filter is optional. ``since`` is epoch seconds."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r} (one of {', '.join(STATES)})")
    query = _select(_summary_columns())
    if account is not None:
        query = query.where(accounts.c.system_id == account)
    if to is not None:
        query = query.where(messages.c.dest_addr == to)
    if state is not None:
        query = query.where(messages.c.state == state)
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    query = query.order_by(messages.c.id.desc()).limit(limit)
    return [dict(row) for row in conn.execute(query).mappings()]


def count_by_state_txn(conn: sa.Connection) -> dict[str, int]:
    """{state: count} over the whole table, every known state present (0 if none)."""
    counts = dict.fromkeys(STATES, 0)
    query = sa.select(messages.c.state, sa.func.count()).group_by(messages.c.state)
    counts.update({state: int(n) for state, n in conn.execute(query)})
    return counts


def count_by_account_state_txn(conn: sa.Connection) -> list[tuple[str, str, int]]:
    """(system_id, state, count) for `smsc message stats`-style summaries."""
    query = (
        _select([accounts.c.system_id, messages.c.state, sa.func.count()])
        .group_by(accounts.c.system_id, messages.c.state)
        .order_by(accounts.c.system_id, messages.c.state)
    )
    return [(sid, state, int(n)) for sid, state, n in conn.execute(query)]
