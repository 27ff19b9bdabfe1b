"""Transaction functions of the dispatcher: claim due messages, record what upstreams said.

A claim moves rows QUEUED -> SENDING and stamps them with this node's id; on PostgreSQL the
SELECT takes ``FOR UPDATE SKIP LOCKED`` so several nodes can drain one queue without ever
claiming the same row. A retry is an UPDATE of next_attempt_at, never an in-memory timer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa

from smsc.store.bulk import execute_many, update_in, upsert_rows
from smsc.store.outbox import insert_outbox_txn
from smsc.store.schema import EXPIRED, FAILED, QUEUED, SENDING, SUBMITTED, dlr_keys, messages

CLAIM_COLUMNS = (
    messages.c.id, messages.c.account_id, messages.c.multi_id, messages.c.service_type,
    messages.c.source_addr, messages.c.source_ton, messages.c.source_npi,
    messages.c.dest_addr, messages.c.dest_ton, messages.c.dest_npi,
    messages.c.esm_class, messages.c.protocol_id, messages.c.priority, messages.c.registered_delivery,
    messages.c.data_coding, messages.c.body, messages.c.text, messages.c.segments, messages.c.tlvs,
    messages.c.created_at, messages.c.expires_at, messages.c.attempts, messages.c.parts_sent,
    messages.c.upstream,
)


@dataclass(frozen=True, slots=True)
class Sent:
    """Every remaining part went to ``upstream``; ``remote_ids`` is (part, remote id) each."""

    message_id: int
    upstream: str
    route: str | None
    remote_ids: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Requeue:
    """Try again at ``at``; ``parts_sent`` parts already went out (resume after them)."""

    message_id: int
    at: float
    error: str
    parts_sent: int
    upstream: str | None = None
    remote_ids: tuple[tuple[int, str], ...] = ()
    uncount: bool = False  # it was never handed to an upstream: the claim's attempt does not count


@dataclass(frozen=True, slots=True)
class Failed:
    message_id: int
    error: str
    state: str = FAILED
    upstream: str | None = None


def requeue_sending_txn(conn: sa.Connection, node_id: int, now: float) -> int:
    """Start-up: rows this node left in SENDING (a crash) go back to the queue; how many."""
    result = conn.execute(
        messages.update()
        .where(messages.c.state == SENDING, messages.c.claimed_by == node_id)
        .values(state=QUEUED, claimed_by=None, next_attempt_at=now, updated_at=now,
                error="re-queued after a restart: outcome of the last send unknown")
    )
    return result.rowcount


# The hot transactions below are plain SQL built once: building and cache-keying the Core
# statements cost ~300 µs a transaction, as much as running them. ``?`` placeholders; on
# PostgreSQL they become ``%s`` (_sql). The same columns and order as the Core versions had.
CLAIM_NAMES = tuple(c.name for c in CLAIM_COLUMNS) + ("system_id",)
_CLAIM_SQL = (
    "SELECT " + ", ".join(f"messages.{name}" for name in CLAIM_NAMES[:-1]) + ", accounts.system_id"
    " FROM messages JOIN accounts ON accounts.id = messages.account_id"
    " WHERE messages.state = ? AND messages.next_attempt_at <= ?"
    " ORDER BY messages.priority DESC, messages.next_attempt_at, messages.id LIMIT ?"
)
# several nodes drain one queue: a row another node holds is skipped, never waited for
_CLAIM_SQL_PG = _CLAIM_SQL + " FOR UPDATE OF messages SKIP LOCKED"
_CLAIMED_SQL = "UPDATE messages SET state = ?, claimed_by = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ({in_})"
_EXPIRED_SQL = "UPDATE messages SET state = ?, done_at = ?, updated_at = ?, error = ? WHERE id IN ({in_})"
_REQUEUE_SQL = ("UPDATE messages SET state = ?, claimed_by = NULL, next_attempt_at = ?, error = ?, parts_sent = ?,"
                " updated_at = ?, attempts = attempts - ? WHERE id = ?")
_FAILED_SQL = ("UPDATE messages SET state = ?, claimed_by = NULL, error = ?, done_at = ?, updated_at = ?, upstream = ?"
               " WHERE id = ?")
_SUBMITTED_SQL = ("UPDATE messages SET state = ?, claimed_by = NULL, upstream = ?, route = ?, parts_sent = ?,"
                  " error = NULL, updated_at = ? WHERE state = ? AND id IN ({in_})")
_BYTES_COLUMNS = ("body", "tlvs")  # psycopg2 hands bytea out as memoryview; Core made them bytes


def _sql(conn: sa.Connection, text: str) -> str:
    return text if conn.dialect.name == "sqlite" else text.replace("?", "%s")


def claim_due_txn(
    conn: sa.Connection, node_id: int, now: float, limit: int, receipt_for: Callable[..., dict | None]
) -> tuple[list[dict[str, Any]], int]:
    """Claim up to ``limit`` due messages, highest priority first. Returns (claimed, expired
    count): expired rows are marked EXPIRED here, with the receipts owed for them."""
    sqlite = conn.dialect.name == "sqlite"
    if not sqlite:
        # Walk ix_messages_due in order and stop at the limit. With a backlog, the planner's
        # estimate of due rows lags (the newest next_attempt_at values are past its statistics):
        # it read every due row and sorted them, O(backlog) a claim (measured 127 -> 8.5 µs a
        # message of PostgreSQL's time with a 20,000-message backlog).
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
    found = conn.exec_driver_sql(_CLAIM_SQL if sqlite else _sql(conn, _CLAIM_SQL_PG), (QUEUED, now, limit)).fetchall()
    if not found:
        return [], 0
    names = CLAIM_NAMES
    rows = [dict(zip(names, r)) for r in found]
    if not sqlite:
        for row in rows:
            for name in _BYTES_COLUMNS:
                if row[name] is not None:
                    row[name] = bytes(row[name])
    claimed = [r for r in rows if r["expires_at"] is None or r["expires_at"] > now]
    if len(claimed) < len(rows):
        expired = [r for r in rows if r["expires_at"] is not None and r["expires_at"] <= now]
    else:
        expired = []
    if claimed:
        update_in(conn, _CLAIMED_SQL, (SENDING, node_id, now), [r["id"] for r in claimed])
    if expired:
        update_in(conn, _EXPIRED_SQL, (EXPIRED, now, now, "validity period ended in the queue"),
                   [r["id"] for r in expired])
        owed = [receipt_for(r, EXPIRED, now) for r in expired]
        insert_outbox_txn(conn, [r for r in owed if r is not None])
    return claimed, len(expired)


_KEY_COLUMNS = ("upstream", "remote_id", "message_id", "part", "state", "created_at", "updated_at")
# Newest wins, in one statement (PostgreSQL: the rows as arrays, see bulk.upsert_rows): a row
# for the same message and part is left as it is (with its state), any other row under the key
# is replaced. Measured: the SELECT of existing keys before every insert cost ~3 µs a key on
# SQLite, and ~11 µs a message of PostgreSQL's time.
_UPSERT_TAIL = (" ON CONFLICT (upstream, remote_id) DO UPDATE SET message_id = excluded.message_id,"
                " part = excluded.part, state = excluded.state, created_at = excluded.created_at,"
                " updated_at = excluded.updated_at"
                " WHERE dlr_keys.message_id <> excluded.message_id OR dlr_keys.part <> excluded.part")
_UPSERT_SIZES = (256, 64, 16, 4, 1)  # a few statement texts, each parsed once (see bulk.py)


@functools.lru_cache(maxsize=16)
def _upsert_sql(n: int) -> str:
    row = f"({', '.join('?' * len(_KEY_COLUMNS))})"
    return f"INSERT INTO dlr_keys ({', '.join(_KEY_COLUMNS)}) VALUES " + ", ".join([row] * n) + _UPSERT_TAIL


def _dlr_rows(now: float, upstream: str, message_id: int, remote_ids: tuple) -> list[tuple]:
    return [(upstream, remote_id, message_id, part, SUBMITTED, now, now) for part, remote_id in remote_ids]


def _insert_dlr_keys(conn: sa.Connection, rows: list[tuple]) -> list[tuple[str, str]]:
    """Write a batch's DLR keys (tuples in _KEY_COLUMNS order). Newest wins: a modem's MR wraps
    at 256 and a carrier may reuse ids after a long time, so an old mapping gives way. An
    upstream may have written the key itself before answering (the modem adapter does, so a
    status report that beats this commit still matches): a row for the same message and part
    is kept, with its state."""
    if not rows:
        return []
    latest = {(r[0], r[1]): r for r in rows}  # a key repeated in the batch: the last one
    keys = list(latest)
    if conn.dialect.name == "sqlite":
        _upsert_keys(conn, list(latest.values()))
    else:
        upsert_rows(conn, dlr_keys, _KEY_COLUMNS, list(latest.values()), _UPSERT_TAIL.strip())
    return keys


def _upsert_keys(conn: sa.Connection, rows: list[tuple]) -> None:
    start = 0
    for size in _UPSERT_SIZES:
        count = (len(rows) - start) // size
        for _ in range(count):
            chunk = rows[start : start + size]
            start += size
            conn.exec_driver_sql(_upsert_sql(size), tuple(v for row in chunk for v in row))


def record_outcomes_txn(
    conn: sa.Connection, now: float, outcomes: list[Sent | Requeue | Failed], owed: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """Write what upstreams said about claimed messages, and the receipts owed to ESMEs for
    failures. Returns the new DLR keys, so the caller can match receipts that came early."""
    insert_outbox_txn(conn, owed)
    key_rows: list[tuple] = []
    submitted: dict[tuple[str, str | None, int], list[int]] = {}
    requeued: list[tuple] = []
    failed: list[tuple] = []
    for outcome in outcomes:
        if isinstance(outcome, Sent):
            key_rows += _dlr_rows(now, outcome.upstream, outcome.message_id, outcome.remote_ids)
            last_part = outcome.remote_ids[-1][0] if outcome.remote_ids else 0
            submitted.setdefault((outcome.upstream, outcome.route, last_part), []).append(outcome.message_id)
        elif isinstance(outcome, Requeue):
            if outcome.upstream is not None:
                key_rows += _dlr_rows(now, outcome.upstream, outcome.message_id, outcome.remote_ids)
            requeued.append((QUEUED, outcome.at, outcome.error[:200], outcome.parts_sent, now,
                             1 if outcome.uncount else 0, outcome.message_id))
        else:
            failed.append((outcome.state, outcome.error[:200], now, now, outcome.upstream, outcome.message_id))
    execute_many(conn, _REQUEUE_SQL, requeued)
    execute_many(conn, _FAILED_SQL, failed)
    new_keys = _insert_dlr_keys(conn, key_rows)
    for (upstream, route, last_part), ids in submitted.items():
        # AND state = SENDING: a receipt may have finished it already
        update_in(conn, _SUBMITTED_SQL, (SUBMITTED, upstream, route, last_part, now, SENDING), ids)
    return new_keys
