"""Transaction functions on the messages queue used by intake (insert, query, cancel, replace).

Every function is ``*_txn(conn, ..., now)`` and runs inside ``Database.run_interaction``.
Only QUEUED messages can be cancelled or replaced: once a dispatcher has claimed a row
(SENDING) it belongs to an upstream, and SMPP says to answer RCANCELFAIL / RREPLACEFAIL then.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from smsc.dlr import esme_receipt, public_id
from smsc.store.bulk import insert_rows
from smsc.store.outbox import insert_outbox_txn
from smsc.store.schema import CANCELLED, QUEUED, messages

# Marks an intake row whose submit_sm had replace_if_present_flag=1 (not a column: taken off
# before the INSERT). SMPP 3.4 5.2.18: the new message replaces the ones still pending delivery
# from the same submitter with the same source, destination and service_type.
REPLACE_IF_PRESENT = "replace_if_present"
# What makes two messages "the same" for replace_if_present (with account_id and state QUEUED)
_REPLACE_KEY = ("account_id", "source_addr", "source_ton", "source_npi", "dest_addr", "dest_ton", "dest_npi",
                "service_type")
# what esme_receipt reads of a message taken out of the queue (replaced or cancelled)
_REPLACED_COLUMNS = ("id", "multi_id", "account_id", "source_addr", "source_ton", "source_npi", "dest_addr",
                     "dest_ton", "dest_npi", "registered_delivery", "created_at", "text")  # for its receipt
# By ix_messages_dest: without statistics SQLite picked ix_messages_account_created and read
# every message of the account (7 ms a flagged submit with 20,000 rows; 0.1 ms by destination).
_REPLACE_SQL = (
    "UPDATE messages{hint} SET state = ?, updated_at = ?, done_at = ?, error = ?"
    " WHERE dest_addr = ? AND state = ? AND id <> ? AND " + " AND ".join(f"{n} = ?" for n in _REPLACE_KEY if n != "dest_addr")
    + f" RETURNING {', '.join(_REPLACED_COLUMNS)}"
)
_REPLACE_SQLITE = _REPLACE_SQL.format(hint=" INDEXED BY ix_messages_dest")
_REPLACE_PG = _REPLACE_SQL.format(hint="").replace("?", "%s")


def insert_messages_txn(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """Insert a whole group commit in a few statements; rows already carry their ids.

    Rows marked REPLACE_IF_PRESENT first take the messages they replace out of the queue, in
    this same transaction. Telling whether a batch has any costs one C-level pass over the row
    sizes (a marked row has one key more): unmarked batches pay no Python work per row."""
    if rows:
        first = rows[0]
        plain = len(first) - (REPLACE_IF_PRESENT in first)
        if sum(map(len, rows)) != plain * len(rows):
            return _insert_replacing(conn, rows)
    return insert_rows(conn, messages, rows)


def _insert_replacing(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """A batch with replace_if_present rows, in arrival order: a marked row replaces the QUEUED
    messages already stored and the rows before it in this batch (a later marked row of the
    same key replaces it in turn); rows after it are never touched."""
    live: dict[tuple, list[int]] = {}  # key -> indexes of this batch's rows still queued
    replaced_by: dict[int, str] = {}  # index -> public id of the row that replaced it
    first_marked: dict[tuple, dict[str, Any]] = {}  # key -> its first marked row (replaces stored ones)
    clean: list[dict[str, Any]] = []
    # only a row to a marked row's destination can be replaced: the others skip building a key
    dests = {row["dest_addr"] for row in rows if REPLACE_IF_PRESENT in row}
    for index, row in enumerate(rows):
        if REPLACE_IF_PRESENT in row:
            row = {k: v for k, v in row.items() if k != REPLACE_IF_PRESENT}
            key = tuple(row[name] for name in _REPLACE_KEY)
            for earlier in live.get(key, ()):
                replaced_by[earlier] = public_id(row)
            live[key] = [index]
            first_marked.setdefault(key, row)
        elif row["dest_addr"] in dests:
            live.setdefault(tuple(row[name] for name in _REPLACE_KEY), []).append(index)
        clean.append(row)
    owed: list[dict[str, Any]] = []
    # sorted: concurrent batches (PostgreSQL) lock the stored rows of several keys in one order
    for key in sorted(first_marked):
        row = first_marked[key]
        owed += replace_queued_txn(conn, row, row["created_at"])
    if not replaced_by:
        insert_rows(conn, messages, clean)
    else:
        insert_rows(conn, messages, [row for index, row in enumerate(clean) if index not in replaced_by])
        cancelled = []
        for index, by in replaced_by.items():
            row = dict(clean[index], state=CANCELLED, error=f"replaced by {by}", done_at=clean[index]["created_at"])
            cancelled.append(row)
            receipt = esme_receipt(row, CANCELLED, row["done_at"])
            if receipt is not None:
                owed.append(receipt)
        insert_rows(conn, messages, cancelled)
    insert_outbox_txn(conn, owed)
    return len(rows)


def replace_queued_txn(conn: sa.Connection, new: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """Take the stored QUEUED messages that ``new`` replaces out of the queue (CANCELLED, as
    cancel_sm does); returns the outbox rows owed for those whose registered_delivery asks for a
    final receipt (stat DELETED). One statement: a row a dispatcher claims meanwhile is left alone."""
    sql = _REPLACE_SQLITE if conn.dialect.name == "sqlite" else _REPLACE_PG
    params = (CANCELLED, now, now, f"replaced by {public_id(new)}", new["dest_addr"], QUEUED, new["id"],
              *(new[n] for n in _REPLACE_KEY if n != "dest_addr"))
    return _deleted_receipts(conn.exec_driver_sql(sql, params).fetchall(), now)


def _deleted_receipts(taken_out: list[tuple], now: float) -> list[dict[str, Any]]:
    """The outbox rows owed for messages taken out of the queue (rows of _REPLACED_COLUMNS):
    a DELETED receipt where registered_delivery asks for a final one."""
    owed = (esme_receipt(dict(zip(_REPLACED_COLUMNS, row)), CANCELLED, now) for row in taken_out)
    return [row for row in owed if row is not None]


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
    return cancel_queued_txn(conn, conditions, now, "cancelled by ESME")


def cancel_queued_txn(conn: sa.Connection, conditions: list[Any], now: float, error: str) -> int:
    """The messages matching ``conditions`` become CANCELLED; the ESMEs whose registered_delivery
    asks for a final receipt get one (stat DELETED), as for any other end a message meets inside
    smsc, so an application tracking the id is never left waiting. Returns how many."""
    cancelled = conn.execute(
        messages.update().where(*conditions)
        .values(state=CANCELLED, updated_at=now, done_at=now, claimed_by=None, error=error)
        .returning(*(messages.c[name] for name in _REPLACED_COLUMNS))
    ).fetchall()
    insert_outbox_txn(conn, _deleted_receipts(cancelled, now))
    return len(cancelled)


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
