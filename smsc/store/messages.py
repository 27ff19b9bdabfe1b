"""Transaction functions on the messages queue used by intake (insert, query, cancel, replace).

Every function is ``*_txn(conn, ..., now)`` and runs inside ``Database.run_interaction``.
Only QUEUED messages can be cancelled or replaced: once a dispatcher has claimed a row
(SENDING) it belongs to an upstream, and SMPP says to answer RCANCELFAIL / RREPLACEFAIL then.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from smsc.store.bulk import insert_rows
from smsc.store.schema import CANCELLED, QUEUED, messages

def insert_messages_txn(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """Insert a whole group commit in a few statements; rows already carry their ids."""
    return insert_rows(conn, messages, rows)


def get_message_txn(conn: sa.Connection, message_id: int, account_id: int | None = None) -> dict[str, Any] | None:
    query = sa.select(messages).where(messages.c.id == message_id)
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def _owned(account_id: int, source_addr: str) -> list[sa.ColumnElement[bool]]:
    """SMPP identifies a message by (message_id, source_addr) for its submitter."""
    conditions = [messages.c.account_id == account_id, messages.c.state == QUEUED]
    if source_addr:
        conditions.append(messages.c.source_addr == source_addr)
    return conditions


def cancel_txn(
    conn: sa.Connection,
    account_id: int,
    now: float,
    *,
    message_id: int | None = None,
    source_addr: str = "",
    dest_addr: str = "",
    service_type: str = "",
) -> int:
    """Cancel one queued message (by id, or its submit_multi group), or all queued ones from
    source_addr to dest_addr (cancel_sm with an empty message_id). Returns how many."""
    conditions = _owned(account_id, source_addr)
    if message_id is not None:
        conditions.append(sa.or_(messages.c.id == message_id, messages.c.multi_id == message_id))
    else:
        conditions.append(messages.c.dest_addr == dest_addr)
        if service_type:
            conditions.append(messages.c.service_type == service_type)
    result = conn.execute(
        messages.update().where(*conditions).values(state=CANCELLED, updated_at=now, done_at=now, error="cancelled by ESME")
    )
    return result.rowcount


def replace_txn(
    conn: sa.Connection, account_id: int, message_id: int, source_addr: str, now: float, changes: dict[str, Any]
) -> bool:
    """Replace the content/schedule of a queued message (replace_sm). False if not replaceable."""
    values = dict(changes, updated_at=now)
    if "schedule_at" in changes:
        values["next_attempt_at"] = changes["schedule_at"] or now
    result = conn.execute(messages.update().where(messages.c.id == message_id, *_owned(account_id, source_addr)).values(values))
    return result.rowcount == 1


def count_by_state_txn(conn: sa.Connection) -> dict[str, int]:
    query = sa.select(messages.c.state, sa.func.count()).group_by(messages.c.state)
    return {state: count for state, count in conn.execute(query)}


def ids_exist_txn(conn: sa.Connection, ids: Iterable[int]) -> set[int]:
    """Which of these ids are in the table (crash/recovery tests and tools)."""
    id_list = list(ids)
    found: set[int] = set()
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        found.update(r[0] for r in conn.execute(sa.select(messages.c.id).where(messages.c.id.in_(chunk))))
    return found
