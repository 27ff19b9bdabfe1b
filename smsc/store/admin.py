"""Transaction functions of the operator commands: retry, cancel, queue figures, CLI message ids.

Every state change is one conditional UPDATE (``WHERE id = ? AND state IN (...)``), so a
dispatcher claiming the same row at the same moment either wins (the UPDATE touches nothing and
the operator is told the state it found) or loses; there is no read-then-write race.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from smsc.store.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS
from smsc.store.messages import cancel_queued_txn
from smsc.store.schema import (
    CANCELLED, EXPIRED, FAILED, PENDING, QUEUED, REJECTED, SENDING, STATES, SUBMITTED, UNDELIVERABLE,
    accounts, dlr_keys, early_receipts, messages, outbox,
)

RETRYABLE = (FAILED, EXPIRED, UNDELIVERABLE, REJECTED)
CANCELLABLE = (QUEUED,)
IN_FLIGHT = (QUEUED, SENDING, SUBMITTED)


@dataclass(frozen=True, slots=True)
class Change:
    """What an operator command did: ``done`` or not, and the state the message was in
    (None: no such message)."""

    done: bool
    state: str | None


def _state_of(conn: sa.Connection, message_id: int) -> str | None:
    return conn.execute(sa.select(messages.c.state).where(messages.c.id == message_id)).scalar()


def retry_message_txn(conn: sa.Connection, message_id: int, now: float, default_validity: float) -> Change:
    """A finished-but-failed message goes back to the queue, due now, as if new.

    Attempts and part counters restart, the error is cleared, and a validity that has already
    ended is extended by ``default_validity`` (else the dispatcher would expire it at once).
    Its old DLR keys are removed: a late receipt for the earlier attempt must not count as a
    part of the new one (it is kept as an early receipt and ages out instead).
    """
    result = conn.execute(
        messages.update()
        .where(messages.c.id == message_id, messages.c.state.in_(RETRYABLE))
        .values(
            state=QUEUED, attempts=0, parts_sent=0, parts_done=0, error=None, done_at=None, claimed_by=None,
            upstream=None, route=None, next_attempt_at=now, updated_at=now,
            expires_at=sa.case(
                (sa.and_(messages.c.expires_at.is_not(None), messages.c.expires_at <= now), now + default_validity),
                else_=messages.c.expires_at,
            ),
        )
    )
    if result.rowcount != 1:
        return Change(False, _state_of(conn, message_id))
    conn.execute(dlr_keys.delete().where(dlr_keys.c.message_id == message_id))
    return Change(True, QUEUED)


def cancel_message_txn(conn: sa.Connection, message_id: int, now: float) -> Change:
    """A queued message is cancelled by the operator (one row: the id `message show` prints).

    ``smsc.store.messages.cancel_txn`` is the ESME's cancel_sm: scoped to the submitting account
    and source address, and a submit_multi id cancels the whole group; the operator names a row.
    """
    conditions = [messages.c.id == message_id, messages.c.state.in_(CANCELLABLE)]
    if cancel_queued_txn(conn, conditions, now, "cancelled by operator") != 1:
        return Change(False, _state_of(conn, message_id))
    return Change(True, CANCELLED)


def new_message_id(node_id: int, now: float, rng: random.Random | None = None) -> int:
    """An id for a message made outside the engine (``smsc send``), in the engine's id layout.

    The engine on the same node numbers its ids of one millisecond 0, 1, 2...; a random
    sequence from the upper half keeps the CLI out of its way (the engine reaches 2048 only past
    two million messages a second). The caller retries with a fresh id on a key collision.
    """
    rng = rng or random.Random()
    ms = int(now * 1000) - EPOCH_MS
    sequence = rng.randrange(1 << (SEQUENCE_BITS - 1), 1 << SEQUENCE_BITS)
    return (ms << (NODE_BITS + SEQUENCE_BITS)) | (node_id << SEQUENCE_BITS) | sequence


def only_account_txn(conn: sa.Connection) -> list[str]:
    """system_ids of up to two accounts: ``smsc send`` defaults to the only one."""
    return [r[0] for r in conn.execute(sa.select(accounts.c.system_id).order_by(accounts.c.id).limit(2))]


# --- figures ----------------------------------------------------------------------------------


def upstream_figures_txn(conn: sa.Connection) -> dict[str | None, dict[str, Any]]:
    """Per upstream (None: queued, not routed yet): queued/sending/submitted counts and the
    last error recorded on a message that went to it."""
    figures: dict[str | None, dict[str, Any]] = {}

    def entry(name: str | None) -> dict[str, Any]:
        return figures.setdefault(name, {"queued": 0, "sending": 0, "submitted": 0, "last_error": None,
                                         "last_error_at": None})

    query = (sa.select(messages.c.upstream, messages.c.state, sa.func.count())
             .where(messages.c.state.in_(IN_FLIGHT)).group_by(messages.c.upstream, messages.c.state))
    for upstream, state, n in conn.execute(query):
        entry(upstream)[state.lower()] = int(n)
    latest = (sa.select(messages.c.upstream, sa.func.max(messages.c.updated_at).label("at"))
              .where(messages.c.upstream.is_not(None), messages.c.error.is_not(None))
              .group_by(messages.c.upstream).subquery())
    query = (sa.select(messages.c.upstream, messages.c.error, messages.c.updated_at)
             .join(latest, sa.and_(messages.c.upstream == latest.c.upstream, messages.c.updated_at == latest.c.at))
             .where(messages.c.error.is_not(None)))
    for upstream, error, at in conn.execute(query):
        e = entry(upstream)
        e["last_error"], e["last_error_at"] = error, at
    return figures


def queue_stats_txn(conn: sa.Connection, now: float) -> dict[str, Any]:
    """Everything `smsc queue stats` shows, in one read-only transaction."""
    m = messages.c
    by_state = dict.fromkeys(STATES, 0)
    by_state.update({s: int(n) for s, n in conn.execute(sa.select(m.state, sa.func.count()).group_by(m.state))})

    due = sa.case((m.next_attempt_at <= now, 1), else_=0)
    queued = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(due), 0), sa.func.min(m.created_at))
        .where(m.state == QUEUED)
    ).one()
    oldest = queued[2]

    per_upstream = []
    query = (sa.select(m.upstream, m.state, sa.func.count()).where(m.state.in_(IN_FLIGHT))
             .group_by(m.upstream, m.state).order_by(m.upstream))
    rows: dict[str | None, dict[str, int]] = {}
    for upstream, state, n in conn.execute(query):
        rows.setdefault(upstream, dict.fromkeys(s.lower() for s in IN_FLIGHT))[state.lower()] = int(n)
    for upstream, counts in sorted(rows.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        per_upstream.append({"upstream": upstream, **{k: v or 0 for k, v in counts.items()}})

    per_account: dict[str, dict[str, Any]] = {}

    def account(system_id: str) -> dict[str, Any]:
        return per_account.setdefault(system_id, {"account": system_id, "queued": 0, "due": 0, "sending": 0,
                                                  "submitted": 0, "oldest_queued_age": None, "outbox": 0})

    query = (sa.select(accounts.c.system_id, m.state, sa.func.count(), sa.func.coalesce(sa.func.sum(due), 0),
                       sa.func.min(m.created_at))
             .select_from(messages.join(accounts, m.account_id == accounts.c.id))
             .where(m.state.in_(IN_FLIGHT)).group_by(accounts.c.system_id, m.state))
    for system_id, state, n, n_due, first in conn.execute(query):
        a = account(system_id)
        a[state.lower()] = int(n)
        if state == QUEUED:
            a["due"] = int(n_due)
            a["oldest_queued_age"] = max(0.0, now - first)

    o = outbox.c
    owed = {"receipt": 0, "mo": 0, "unrouted_mo": 0, "oldest_age": None}
    query = (sa.select(o.kind, o.account_id.is_(None), sa.func.count(), sa.func.min(o.created_at))
             .where(o.state == PENDING).group_by(o.kind, o.account_id.is_(None)))
    firsts = []
    for kind, unrouted, n, first in conn.execute(query):
        key = "unrouted_mo" if unrouted else kind
        owed[key] = owed.get(key, 0) + int(n)
        firsts.append(first)
    if firsts:
        owed["oldest_age"] = max(0.0, now - min(firsts))
    query = (sa.select(accounts.c.system_id, sa.func.count())
             .select_from(outbox.join(accounts, o.account_id == accounts.c.id))
             .where(o.state == PENDING).group_by(accounts.c.system_id))
    for system_id, n in conn.execute(query):
        account(system_id)["outbox"] = int(n)

    early = conn.execute(sa.select(sa.func.count(), sa.func.min(early_receipts.c.received_at))).one()
    return {
        "at": now,
        "states": by_state,
        "queued": {"total": int(queued[0]), "due_now": int(queued[1]), "scheduled_later": int(queued[0]) - int(queued[1]),
                   "oldest_age": max(0.0, now - oldest) if oldest is not None else None},
        "upstreams": per_upstream,
        "accounts": [per_account[k] for k in sorted(per_account)],
        "outbox": owed,
        "early_receipts": {"waiting": int(early[0]),
                           "oldest_age": max(0.0, now - early[1]) if early[1] is not None else None},
    }
