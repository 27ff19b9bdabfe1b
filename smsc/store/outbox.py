"""Transaction functions of the ESME outbox: receipts and MO waiting for a bound receiver."""

from __future__ import annotations

import json
from typing import Any, Iterable

import sqlalchemy as sa

from smsc.store.bulk import execute_many, insert_rows
from smsc.store.schema import PARTIAL, PENDING, outbox

ESM_UDHI = 0x40

DELIVERED = "DELIVERED"


OUTBOX_COLUMNS = tuple(c.name for c in outbox.columns)
# what the pusher needs of a row (the deliver_sm, its account, the metric and the retry backoff)
DUE_COLUMNS = ("id", "account_id", "kind", "attempts", "source_ton", "source_npi", "source_addr", "dest_ton",
               "dest_npi", "dest_addr", "esm_class", "data_coding", "body", "tlvs")
_DUE_SQL = (f"SELECT {', '.join(DUE_COLUMNS)} FROM outbox WHERE state = ? AND next_attempt_at <= ?"
            " AND account_id IN ({in_}){skip} ORDER BY id LIMIT ?")
# the ids in flight, excluded by the database as one parameter: fetching them to drop them in
# Python cost ~1.5 µs a row, up to a window's worth (800 in the benchmark) on every read
_SKIP_SQL = {"sqlite": " AND id NOT IN (SELECT value FROM json_each(?))", "postgresql": " AND id <> ALL(?)"}
_DONE_SQL = "UPDATE outbox SET state = ?, delivered_at = ? WHERE id IN ({in_})"
_RETRY_SQL = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?"
IN_CHUNK = 512


def due_outbox_txn(conn: sa.Connection, account_ids: list[int], now: float, limit: int, exclude: Iterable[int]) -> list[dict[str, Any]]:
    """Pending deliveries for these accounts, oldest first, skipping ``exclude`` (those already
    in flight). Plain SQL: it runs whenever a receiver has room, and Core cost ~300 µs to build
    the select. Rows are dicts of DUE_COLUMNS."""
    if not account_ids:
        return []
    dialect = conn.dialect.name
    args: list[Any] = [PENDING, now, *account_ids]
    skip = ""
    exclude = list(exclude)
    if exclude:
        skip = _SKIP_SQL.get(dialect, _SKIP_SQL["postgresql"])
        args.append(json.dumps(exclude) if dialect == "sqlite" else exclude)
    args.append(limit)
    sql = _paramstyle(conn, _DUE_SQL.format(in_=", ".join(["?"] * len(account_ids)), skip=skip))
    found = conn.exec_driver_sql(sql, tuple(args)).fetchall()
    if dialect == "sqlite":
        return [dict(zip(DUE_COLUMNS, r)) for r in found]
    rows = []
    for r in found:  # psycopg2 gives bytea as memoryview (Core would convert it)
        row = dict(zip(DUE_COLUMNS, r))
        row["body"] = bytes(row["body"])
        if row["tlvs"] is not None:
            row["tlvs"] = bytes(row["tlvs"])
        rows.append(row)
    return rows


def outbox_done_txn(conn: sa.Connection, now: float, delivered: list[int], retry: list[tuple[int, float]]) -> None:
    """Mark deliveries answered OK as DELIVERED; push failed ones back with their next attempt."""
    for start in range(0, len(delivered), IN_CHUNK):
        part = tuple(delivered[start : start + IN_CHUNK])
        # the IN list padded to a power of two (repeating an id): few distinct statements to parse and cache
        size = 1 << (len(part) - 1).bit_length()
        part += part[-1:] * (size - len(part))
        conn.exec_driver_sql(_paramstyle(conn, _DONE_SQL.format(in_=", ".join(["?"] * size))), (DELIVERED, now, *part))
    if retry:
        execute_many(conn, _RETRY_SQL, [(at, oid) for oid, at in retry])


def _paramstyle(conn: sa.Connection, sql: str) -> str:
    return sql if conn.dialect.name == "sqlite" else sql.replace("?", "%s")


def insert_outbox_txn(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    return insert_rows(conn, outbox, rows)


def insert_outbox_with_ids_txn(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """Insert rows with ids taken here (set on each row), so they can be pushed without being
    read back. SQLite: max(id) + 1 onwards, as its rowid allocation would do; the writer holds
    the database lock (BEGIN IMMEDIATE) until the commit, so nobody else can take them.
    PostgreSQL: from the table's own sequence, as a plain insert would, so nodes never collide."""
    if not rows:
        return 0
    for row, row_id in zip(rows, _new_ids(conn, len(rows))):
        row["id"] = row_id
    return insert_rows(conn, outbox, rows)


def _new_ids(conn: sa.Connection, count: int) -> list[int]:
    if conn.dialect.name == "sqlite":
        last = conn.exec_driver_sql("SELECT max(id) FROM outbox").scalar() or 0
        return list(range(last + 1, last + 1 + count))
    found = conn.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence('outbox', 'id')) FROM generate_series(1, %s)", (count,)).fetchall()
    return sorted(r[0] for r in found)


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
