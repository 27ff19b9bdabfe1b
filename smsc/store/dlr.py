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
from smsc.store.bulk import execute_many, insert_rows, select_in
from smsc.store.schema import DELIVERED, FINAL_STATES, dlr_keys, early_receipts, messages, outbox

RECEIPT_COLUMNS = (
    messages.c.id, messages.c.account_id, messages.c.multi_id, messages.c.state, messages.c.segments,
    messages.c.parts_done, messages.c.registered_delivery, messages.c.created_at, messages.c.text,
    messages.c.source_addr, messages.c.source_ton, messages.c.source_npi,
    messages.c.dest_addr, messages.c.dest_ton, messages.c.dest_npi,
)


RECEIPT_COLUMN_NAMES = tuple(c.name for c in RECEIPT_COLUMNS)
_KEYS_SQL = "SELECT remote_id, message_id, part, state FROM dlr_keys WHERE upstream = ? AND remote_id IN ({in_})"
_MESSAGES_SQL = f"SELECT {', '.join(RECEIPT_COLUMN_NAMES)} FROM messages WHERE id IN ({{in_}})"


def by_upstream(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Keys grouped per upstream: ``upstream = ? AND remote_id IN (...)`` uses the primary key,
    where a row-value IN over (upstream, remote_id) pairs makes SQLite scan the whole table."""
    grouped: dict[str, dict[str, None]] = {}
    for upstream, remote_id in keys:
        grouped.setdefault(upstream, {})[remote_id] = None
    return {upstream: list(ids) for upstream, ids in grouped.items()}


def apply_receipts_txn(conn: sa.Connection, now: float, receipts: list[ReceiptEvent]) -> dict[str, int]:
    """Apply a batch of receipts; returns counters (matched, early, duplicate, final, owed)."""
    counts = {"matched": 0, "early": 0, "duplicate": 0, "final": 0, "owed": 0}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for upstream, remote_ids in by_upstream((r.upstream, r.remote_id) for r in receipts).items():
        for remote_id, message_id, part, state in select_in(conn, _KEYS_SQL, (upstream,), remote_ids):
            found[(upstream, remote_id)] = {"upstream": upstream, "remote_id": remote_id,
                                            "message_id": message_id, "part": part, "state": state}
    message_ids = list({row["message_id"] for row in found.values()})
    rows = {r[0]: dict(zip(RECEIPT_COLUMN_NAMES, r)) for r in select_in(conn, _MESSAGES_SQL, (), message_ids)}
    early: list[dict[str, Any]] = []
    key_updates: list[tuple] = []
    owed: list[dict[str, Any]] = []
    finished: dict[int, dict[str, Any]] = {}
    for receipt in receipts:
        key = found.get((receipt.upstream, receipt.remote_id))
        if key is None:
            early.append({"upstream": receipt.upstream, "remote_id": receipt.remote_id, "state": str(receipt.smpp_state),
                          "error_code": receipt.error_code, "received_at": now})
            counts["early"] += 1
            continue
        message = rows.get(key["message_id"])
        if message is None or key["state"] in FINAL_STATES or message["state"] in FINAL_STATES:
            counts["duplicate"] += 1  # a repeated receipt, or one for a message already final
            continue
        counts["matched"] += 1
        state = final_state(receipt.smpp_state)
        if state is None:
            row = esme_receipt(message, None, now, receipt.error_code)
            if row is not None:
                owed.append(row)
            continue
        key["state"] = state
        key_updates.append((state, now, key["upstream"], key["remote_id"]))
        message["parts_done"] += 1
        message.setdefault("part_states", []).append(state)
        if message["parts_done"] >= message["segments"]:
            finished[message["id"]] = message
    insert_rows(conn, early_receipts, early)
    execute_many(conn, "UPDATE dlr_keys SET state = ?, updated_at = ? WHERE upstream = ? AND remote_id = ?", key_updates)
    progressed = [m for m in rows.values() if "part_states" in m and m["id"] not in finished]
    execute_many(conn, "UPDATE messages SET parts_done = ?, updated_at = ? WHERE id = ?",
                 [(m["parts_done"], now, m["id"]) for m in progressed])
    updates = []
    for message in finished.values():
        state = _overall_state(conn, message)
        updates.append((message["parts_done"], state, now, now, message["id"]))
        row = esme_receipt(message, state, now)
        if row is not None:
            owed.append(row)
    execute_many(conn, "UPDATE messages SET parts_done = ?, state = ?, done_at = ?, updated_at = ? WHERE id = ?", updates)
    counts["final"] = len(updates)
    counts["owed"] = insert_rows(conn, outbox, owed)
    return counts


def _overall_state(conn: sa.Connection, message: dict[str, Any]) -> str:
    """DELIVERED when every part was; otherwise the first part's failure."""
    states = message["part_states"]
    if message["segments"] > 1:
        states = [r[0] for r in conn.execute(sa.select(dlr_keys.c.state).where(dlr_keys.c.message_id == message["id"]))]
        states += message["part_states"]  # this batch's updates are not flushed yet
    failures = [s for s in states if s in FINAL_STATES and s != DELIVERED]
    return failures[0] if failures else DELIVERED


def take_early_receipts_txn(conn: sa.Connection, keys: list[tuple[str, str]] | None = None) -> list[ReceiptEvent]:
    """Early receipts whose key now exists (all of them, or those for ``keys``), removed from
    early_receipts: the caller applies them in the same transaction."""
    join = early_receipts.join(
        dlr_keys, sa.and_(dlr_keys.c.upstream == early_receipts.c.upstream, dlr_keys.c.remote_id == early_receipts.c.remote_id)
    )
    query = sa.select(early_receipts).select_from(join).order_by(early_receipts.c.id)
    if keys is not None:
        if not keys:
            return []
        query = query.where(sa.tuple_(early_receipts.c.upstream, early_receipts.c.remote_id).in_(keys))
    found = list(conn.execute(query).mappings())
    if not found:
        return []
    conn.execute(early_receipts.delete().where(early_receipts.c.id.in_([r["id"] for r in found])))
    return [ReceiptEvent(r["upstream"], r["remote_id"], int(r["state"]), r["error_code"]) for r in found]


def rematch_early_receipts_txn(conn: sa.Connection, now: float, keys: list[tuple[str, str]] | None = None) -> dict[str, int]:
    """Match early receipts against keys that landed since; returns apply counters."""
    events = take_early_receipts_txn(conn, keys)
    return apply_receipts_txn(conn, now, events) if events else {"matched": 0}


def expire_early_receipts_txn(conn: sa.Connection, older_than: float) -> int:
    """Receipts whose message never showed up (another system's, or a bug upstream)."""
    return conn.execute(early_receipts.delete().where(early_receipts.c.received_at < older_than)).rowcount
