"""Transaction functions of the ESME outbox: receipts and MO waiting for a bound receiver."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from smsc.store.bulk import insert_rows
from smsc.store.schema import PARTIAL, PENDING, outbox

ESM_UDHI = 0x40

DELIVERED = "DELIVERED"


def due_outbox_txn(conn: sa.Connection, account_ids: list[int], now: float, limit: int, exclude: list[int]) -> list[dict[str, Any]]:
    """Pending deliveries for these accounts, oldest first, skipping those already in flight."""
    if not account_ids:
        return []
    query = (
        sa.select(outbox)
        .where(outbox.c.state == PENDING, outbox.c.account_id.in_(account_ids), outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.id)
        .limit(limit + len(exclude))
    )
    skip = set(exclude)
    names = tuple(c.name for c in outbox.columns)
    rows = [r for r in conn.execute(query) if r[0] not in skip][:limit]  # id is the first column
    return [dict(zip(names, r)) for r in rows]


def outbox_done_txn(conn: sa.Connection, now: float, delivered: list[int], retry: list[tuple[int, float]]) -> None:
    """Mark deliveries answered OK as DELIVERED; push failed ones back with their next attempt."""
    if delivered:
        conn.execute(outbox.update().where(outbox.c.id.in_(delivered)).values(state=DELIVERED, delivered_at=now))
    if retry:
        conn.execute(
            outbox.update().where(outbox.c.id == sa.bindparam("o_id"))
            .values(attempts=outbox.c.attempts + 1, next_attempt_at=sa.bindparam("o_at")),
            [{"o_id": oid, "o_at": at} for oid, at in retry],
        )


def insert_outbox_txn(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    return insert_rows(conn, outbox, rows)


def pending_counts_txn(conn: sa.Connection) -> dict[int, int]:
    """account_id -> deliveries still owed (CLI `queue stats`)."""
    query = sa.select(outbox.c.account_id, sa.func.count()).where(outbox.c.state == PENDING).group_by(outbox.c.account_id)
    return {account_id: count for account_id, count in conn.execute(query)}


def purge_delivered_txn(conn: sa.Connection, older_than: float) -> int:
    return conn.execute(outbox.delete().where(outbox.c.state == DELIVERED, outbox.c.delivered_at < older_than)).rowcount


def complete_groups_txn(conn: sa.Connection, group_keys: Iterable[str], now: float) -> int:
    """MO groups whose every part is in: one PENDING row with the parts' bodies joined in order
    (byte-joined, so a character split across parts by the sender comes out whole), the
    concatenation header dropped. Returns how many messages were completed."""
    completed = 0
    for key in set(group_keys):
        total = int(key.rsplit("|", 1)[1])
        parts = [dict(zip(("id", "part", "body", "esm_class"), r)) for r in conn.execute(
            sa.select(outbox.c.id, outbox.c.part, outbox.c.body, outbox.c.esm_class)
            .where(outbox.c.state == PARTIAL, outbox.c.group_key == key).order_by(outbox.c.id))]
        by_part = {}
        for part in parts:
            by_part.setdefault(part["part"], part)  # a duplicated part counts once
        if len(by_part) < total:
            continue
        first = conn.execute(sa.select(outbox).where(outbox.c.id == by_part[1]["id"])).mappings().one()
        body = b"".join(_without_udh(by_part[n]["body"], by_part[n]["esm_class"]) for n in range(1, total + 1))
        row = {c.name: first[c.name] for c in outbox.columns if c.name != "id"}
        row.update(state=PENDING, body=body, esm_class=first["esm_class"] & ~ESM_UDHI, group_key=None, part=None,
                   next_attempt_at=now)
        conn.execute(outbox.delete().where(outbox.c.id.in_([p["id"] for p in parts])))
        conn.execute(outbox.insert(), [row])
        completed += 1
    return completed


def _without_udh(body: bytes, esm_class: int) -> bytes:
    return body[body[0] + 1 :] if esm_class & ESM_UDHI and body else body


def release_partial_txn(conn: sa.Connection, older_than: float) -> int:
    """Parts whose siblings never came: delivered one by one (with their UDH) rather than lost."""
    return conn.execute(
        outbox.update().where(outbox.c.state == PARTIAL, outbox.c.created_at < older_than)
        .values(state=PENDING, group_key=None)
    ).rowcount
