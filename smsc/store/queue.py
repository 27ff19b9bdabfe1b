"""Transaction functions of the dispatcher: claim due messages, record what upstreams said.

A claim moves rows QUEUED -> SENDING and stamps them with this node's id; on PostgreSQL the
SELECT takes ``FOR UPDATE SKIP LOCKED`` so several nodes can drain one queue without ever
claiming the same row. A retry is an UPDATE of next_attempt_at, never an in-memory timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa

from smsc.store.bulk import insert_rows
from smsc.store.dlr import by_upstream
from smsc.store.outbox import insert_outbox_txn
from smsc.store.schema import EXPIRED, FAILED, QUEUED, SENDING, SUBMITTED, accounts, dlr_keys, messages

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


def claim_due_txn(
    conn: sa.Connection, node_id: int, now: float, limit: int, receipt_for: Callable[..., dict | None]
) -> tuple[list[dict[str, Any]], int]:
    """Claim up to ``limit`` due messages, highest priority first. Returns (claimed, expired
    count): expired rows are marked EXPIRED here, with the receipts owed for them."""
    query = (
        sa.select(*CLAIM_COLUMNS, accounts.c.system_id)
        .join(accounts, accounts.c.id == messages.c.account_id)
        .where(messages.c.state == QUEUED, messages.c.next_attempt_at <= now)
        .order_by(messages.c.priority.desc(), messages.c.next_attempt_at, messages.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=messages)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if not rows:
        return [], 0
    claimed = [r for r in rows if r["expires_at"] is None or r["expires_at"] > now]
    expired = [r for r in rows if r["expires_at"] is not None and r["expires_at"] <= now]
    if claimed:
        conn.execute(
            messages.update()
            .where(messages.c.id.in_([r["id"] for r in claimed]))
            .values(state=SENDING, claimed_by=node_id, attempts=messages.c.attempts + 1, updated_at=now)
        )
    if expired:
        conn.execute(
            messages.update()
            .where(messages.c.id.in_([r["id"] for r in expired]))
            .values(state=EXPIRED, done_at=now, updated_at=now, error="validity period ended in the queue")
        )
        owed = [receipt_for(r, EXPIRED, now) for r in expired]
        insert_outbox_txn(conn, [r for r in owed if r is not None])
    return claimed, len(expired)


def _dlr_rows(now: float, upstream: str, message_id: int, remote_ids: tuple) -> list[dict[str, Any]]:
    return [
        {"upstream": upstream, "remote_id": remote_id, "message_id": message_id, "part": part,
         "state": SUBMITTED, "created_at": now, "updated_at": now}
        for part, remote_id in remote_ids
    ]


def _insert_dlr_keys(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Write a batch's DLR keys. Newest wins: a modem's MR wraps at 256 and a carrier may reuse
    ids after a long time, so an old mapping gives way. An upstream may have written the key
    itself before answering (the modem adapter does, so a status report that beats this commit
    still matches): a row for the same message and part is kept, with its state."""
    if not rows:
        return []
    latest = {(r["upstream"], r["remote_id"]): r for r in rows}  # a key repeated in the batch: the last one
    keys = list(latest)
    for upstream, remote_ids in by_upstream(keys).items():
        for start in range(0, len(remote_ids), 400):
            chunk = remote_ids[start : start + 400]
            existing = sa.select(dlr_keys.c.remote_id, dlr_keys.c.message_id, dlr_keys.c.part).where(
                dlr_keys.c.upstream == upstream, dlr_keys.c.remote_id.in_(chunk))
            stale = []
            for remote_id, message_id, part in conn.execute(existing):
                new = latest[(upstream, remote_id)]
                if (new["message_id"], new["part"]) == (message_id, part):
                    del latest[(upstream, remote_id)]
                else:
                    stale.append(remote_id)
            if stale:
                conn.execute(dlr_keys.delete().where(dlr_keys.c.upstream == upstream, dlr_keys.c.remote_id.in_(stale)))
    insert_rows(conn, dlr_keys, list(latest.values()))
    return keys


def record_outcomes_txn(
    conn: sa.Connection, now: float, outcomes: list[Sent | Requeue | Failed], owed: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """Write what upstreams said about claimed messages, and the receipts owed to ESMEs for
    failures. Returns the new DLR keys, so the caller can match receipts that came early."""
    insert_outbox_txn(conn, owed)
    key_rows: list[dict[str, Any]] = []
    submitted: dict[tuple[str, str | None, int], list[int]] = {}
    for outcome in outcomes:
        if isinstance(outcome, Sent):
            key_rows += _dlr_rows(now, outcome.upstream, outcome.message_id, outcome.remote_ids)
            last_part = outcome.remote_ids[-1][0] if outcome.remote_ids else 0
            submitted.setdefault((outcome.upstream, outcome.route, last_part), []).append(outcome.message_id)
        elif isinstance(outcome, Requeue):
            if outcome.upstream is not None:
                key_rows += _dlr_rows(now, outcome.upstream, outcome.message_id, outcome.remote_ids)
            conn.execute(
                messages.update().where(messages.c.id == outcome.message_id)
                .values(state=QUEUED, claimed_by=None, next_attempt_at=outcome.at, error=outcome.error[:200],
                        parts_sent=outcome.parts_sent, updated_at=now,
                        attempts=messages.c.attempts - (1 if outcome.uncount else 0))
            )
        else:
            conn.execute(
                messages.update().where(messages.c.id == outcome.message_id)
                .values(state=outcome.state, claimed_by=None, error=outcome.error[:200], done_at=now,
                        updated_at=now, upstream=outcome.upstream)
            )
    new_keys = _insert_dlr_keys(conn, key_rows)
    for (upstream, route, last_part), ids in submitted.items():
        conn.execute(
            messages.update().where(messages.c.id.in_(ids), messages.c.state == SENDING)  # a receipt may have finished it
            .values(state=SUBMITTED, claimed_by=None, upstream=upstream, route=route, parts_sent=last_part,
                    error=None, updated_at=now)
        )
    return new_keys
