"""Transaction functions of the receipt path: match receipts to messages, keep early ones.

A receipt is matched by (upstream, remote_id) in dlr_keys. One that finds no key yet is kept
in early_receipts and matched again when the key lands (record_outcomes) or by the periodic
sweep; it is never dropped for being early (LESSONS 3). A message is final when every part has
a final receipt; then the ESME's receipt is written in the same transaction.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from smsc.dlr import ReceiptEvent, esme_receipt
from smsc.states import final_state
from smsc.store.bulk import insert_rows, select_in, update_in, update_many
from smsc.store.outbox import insert_outbox_with_ids_txn
from smsc.store.schema import DELIVERED, FINAL_STATES, dlr_keys, early_receipts, messages, outbox

RECEIPT_COLUMNS = (
    messages.c.id, messages.c.account_id, messages.c.multi_id, messages.c.state, messages.c.segments,
    messages.c.parts_done, messages.c.registered_delivery, messages.c.created_at, messages.c.text,
    messages.c.source_addr, messages.c.source_ton, messages.c.source_npi,
    messages.c.dest_addr, messages.c.dest_ton, messages.c.dest_npi,
)


RECEIPT_COLUMN_NAMES = tuple(c.name for c in RECEIPT_COLUMNS)
_ID, _STATE, _SEGMENTS, _PARTS_DONE = (RECEIPT_COLUMN_NAMES.index(n) for n in ("id", "state", "segments", "parts_done"))
_KEYS_SQL = "SELECT remote_id, message_id, state, created_at FROM dlr_keys WHERE upstream = ? AND remote_id IN ({in_})"
_MESSAGES_SQL = f"SELECT {', '.join(RECEIPT_COLUMN_NAMES)} FROM messages WHERE id IN ({{in_}})"
_FINAL_SQL = "UPDATE messages SET parts_done = ?, state = ?, done_at = ?, updated_at = ? WHERE id IN ({in_})"
_PART_STATES_SQL = "SELECT state FROM dlr_keys WHERE message_id IN ({in_})"
_EARLY_SQL = ("SELECT e.id, e.remote_id, e.state, e.error_code FROM early_receipts e JOIN dlr_keys k"
              " ON k.upstream = e.upstream AND k.remote_id = e.remote_id WHERE e.upstream = ? AND e.remote_id IN ({in_})")


def by_upstream(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Keys grouped per upstream: ``upstream = ? AND remote_id IN (...)`` uses the primary key,
    where a row-value IN over (upstream, remote_id) pairs makes SQLite scan the whole table."""
    grouped: dict[str, dict[str, None]] = {}
    for upstream, remote_id in keys:
        grouped.setdefault(upstream, {})[remote_id] = None
    return {upstream: list(ids) for upstream, ids in grouped.items()}


def apply_receipts_txn(conn: sa.Connection, now: float, receipts: list[ReceiptEvent],
                       owed_out: list[dict[str, Any]] | None = None,
                       latency_out: dict[str, list[float]] | None = None) -> dict[str, int]:
    """Apply a batch of receipts; returns counters (matched, early, duplicate, final, owed).

    ``owed_out``, when given, gets the outbox rows written, ids included, so the caller can hand
    them to the pusher after the commit instead of it reading them back. ``latency_out`` gets,
    per upstream, the seconds from its acceptance of a part to that part's final receipt. Rows
    stay tuples and keys small lists: a dict per key and per message cost more than the queries
    (profiled)."""
    counts = {"matched": 0, "early": 0, "duplicate": 0, "final": 0, "owed": 0}
    keys: dict[tuple[str, str], list] = {}  # (upstream, remote_id) -> [message_id, state, accepted at]
    for upstream, remote_ids in by_upstream((r.upstream, r.remote_id) for r in receipts).items():
        for remote_id, message_id, state, accepted_at in select_in(conn, _KEYS_SQL, (upstream,), remote_ids):
            keys[(upstream, remote_id)] = [message_id, state, accepted_at]
    rows = {r[_ID]: r for r in select_in(conn, _MESSAGES_SQL, (), list({key[0] for key in keys.values()}))}
    early: list[dict[str, Any]] = []
    key_updates: list[tuple] = []
    owed: list[dict[str, Any]] = []
    progress: dict[int, list] = {}  # message id -> [parts done, this batch's final part states]
    finished: dict[int, list] = {}  # the same entries, for messages whose every part is now final
    for receipt in receipts:
        key = keys.get((receipt.upstream, receipt.remote_id))
        if key is None:
            early.append({"upstream": receipt.upstream, "remote_id": receipt.remote_id, "state": str(receipt.smpp_state),
                          "error_code": receipt.error_code, "received_at": now})
            continue
        message = rows.get(key[0])
        if message is None or key[1] in FINAL_STATES or message[_STATE] in FINAL_STATES:
            counts["duplicate"] += 1  # a repeated receipt, or one for a message already final
            continue
        counts["matched"] += 1
        state = final_state(receipt.smpp_state)
        if state is None:
            row = esme_receipt(dict(zip(RECEIPT_COLUMN_NAMES, message)), None, now, receipt.error_code)
            if row is not None:
                owed.append(row)
            continue
        key[1] = state
        if latency_out is not None:
            latency_out.setdefault(receipt.upstream, []).append(now - key[2])
        if message[_SEGMENTS] > 1:
            # a part's own state matters only among several parts (the overall state is read
            # from them); for one part the message row says it all: one UPDATE a receipt less
            key_updates.append((state, now, receipt.upstream, receipt.remote_id))
        entry = progress.get(key[0])
        if entry is None:
            entry = progress[key[0]] = [message[_PARTS_DONE], []]
        entry[0] += 1
        entry[1].append(state)
        if entry[0] >= message[_SEGMENTS]:
            finished.setdefault(key[0], entry)
    counts["early"] = len(early)
    insert_rows(conn, early_receipts, early)
    update_many(conn, dlr_keys, ("state", "updated_at"), ("upstream", "remote_id"), key_updates)
    update_many(conn, messages, ("parts_done", "updated_at"), ("id",),
                [(entry[0], now, message_id) for message_id, entry in progress.items() if message_id not in finished])
    final: dict[tuple[int, str], list[int]] = {}  # (parts done, state) -> message ids: usually one group
    for message_id, (parts_done, part_states) in finished.items():
        message = rows[message_id]
        state = _overall_state(conn, message_id, message[_SEGMENTS], part_states)
        final.setdefault((parts_done, state), []).append(message_id)
        row = esme_receipt(dict(zip(RECEIPT_COLUMN_NAMES, message)), state, now)
        if row is not None:
            owed.append(row)
    for (parts_done, state), ids in final.items():
        update_in(conn, _FINAL_SQL, (parts_done, state, now, now), ids)
    counts["final"] = len(finished)
    if owed_out is None:
        counts["owed"] = insert_rows(conn, outbox, owed)
    else:
        counts["owed"] = insert_outbox_with_ids_txn(conn, owed)
        owed_out.extend(owed)
    return counts


def _overall_state(conn: sa.Connection, message_id: int, segments: int, part_states: list[str]) -> str:
    """DELIVERED when every part was; otherwise the first part's failure."""
    states = part_states
    if segments > 1:
        states = [r[0] for r in select_in(conn, _PART_STATES_SQL, (), [message_id])]
        states += part_states  # this batch's updates are not flushed yet
    for state in states:
        if state in FINAL_STATES and state != DELIVERED:
            return state
    return DELIVERED


def take_early_receipts_txn(conn: sa.Connection, keys: list[tuple[str, str]] | None = None) -> list[ReceiptEvent]:
    """Early receipts whose key now exists (all of them, or those for ``keys``), removed from
    early_receipts: the caller applies them in the same transaction."""
    if keys is not None:
        return _take_early_receipts_for(conn, keys)
    join = early_receipts.join(
        dlr_keys, sa.and_(dlr_keys.c.upstream == early_receipts.c.upstream, dlr_keys.c.remote_id == early_receipts.c.remote_id)
    )
    query = sa.select(early_receipts).select_from(join).order_by(early_receipts.c.id)
    found = list(conn.execute(query).mappings())
    if not found:
        return []
    conn.execute(early_receipts.delete().where(early_receipts.c.id.in_([r["id"] for r in found])))
    return [ReceiptEvent(r["upstream"], r["remote_id"], int(r["state"]), r["error_code"]) for r in found]


def _take_early_receipts_for(conn: sa.Connection, keys: list[tuple[str, str]]) -> list[ReceiptEvent]:
    """The same for the keys a record_outcomes transaction just wrote: it runs with every batch
    of outcomes and nearly always finds nothing, so it is plain SQL per upstream (the Core
    select with a tuple IN cost ~10 µs a key to build and run). The table is nearly always
    empty, and one row's look costs less than binding every key (1.4% of the engine measured)."""
    if conn.exec_driver_sql("SELECT 1 FROM early_receipts LIMIT 1").first() is None:
        return []
    found: list[tuple[int, str, str, str, int | None]] = []
    for upstream, remote_ids in by_upstream(keys).items():
        found += [(row_id, upstream, remote_id, state, error_code)
                  for row_id, remote_id, state, error_code in select_in(conn, _EARLY_SQL, (upstream,), remote_ids)]
    if not found:
        return []
    found.sort()  # oldest first, as they came
    conn.execute(early_receipts.delete().where(early_receipts.c.id.in_([r[0] for r in found])))
    return [ReceiptEvent(upstream, remote_id, int(state), error_code) for _, upstream, remote_id, state, error_code in found]


def rematch_early_receipts_txn(conn: sa.Connection, now: float, keys: list[tuple[str, str]] | None = None) -> dict[str, int]:
    """Match early receipts against keys that landed since; returns apply counters."""
    events = take_early_receipts_txn(conn, keys)
    return apply_receipts_txn(conn, now, events) if events else {"matched": 0}


def expire_early_receipts_txn(conn: sa.Connection, older_than: float) -> int:
    """Receipts whose message never showed up (another system's, or a bug upstream)."""
    return conn.execute(early_receipts.delete().where(early_receipts.c.received_at < older_than)).rowcount
