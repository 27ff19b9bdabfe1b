"""Transaction functions of the ESME outbox: receipts and MO waiting for a bound receiver."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from protocols.sms import decode_short_message
from smsc.store.bulk import execute_many, insert_rows, update_in
from smsc.store.schema import PARTIAL, PENDING, outbox

ESM_UDHI = 0x40

DELIVERED = "DELIVERED"


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
    update_in(conn, _DONE_SQL, (DELIVERED, now), delivered)
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


# ------------------------------------------------------------------ long MO kept until whole
#
# A part of a concatenated MO that a reassembling mo_route could take waits as a PARTIAL row
# under group_key "any|source|dest|ref|total": the account is not in the key because it is
# decided by the WHOLE text once every part is in (a keyword is only in part 1). Rows of the
# first format ("account_id|source|dest|ref|total") are moved to this one by release_partial_txn.
# While PARTIAL, a row's account_id is only the route of its own text: the group's whole text
# decides where it goes.

MoRouter = Callable[[str, str], tuple[int | None, bool]]
"""(destination, whole text) -> (account id or None when unrouted, whether its route reassembles)."""

GROUP_PREFIX = "any|"
_PART_COLUMNS = ("id", "part", "body", "esm_class", "data_coding", "dest_addr", "account_id")


def mo_group_key(source_addr: str, dest_addr: str, ref: int, total: int) -> str:
    return f"{GROUP_PREFIX}{source_addr}|{dest_addr}|{ref}|{total}"


def _total_of(key: str) -> int:
    return int(key.rsplit("|", 1)[1])


def _new_counts() -> dict[str, int]:
    """whole: messages completed; released: parts sent on alone by the timeout; routed /
    unrouted: parts settled (delivered one way or another) with or without an account."""
    return {"whole": 0, "released": 0, "routed": 0, "unrouted": 0}


def complete_groups_txn(conn: sa.Connection, group_keys: Iterable[str], now: float,
                        route: MoRouter) -> dict[str, int]:
    """MO groups whose every part (1..total) is in are routed by their whole text. To a route
    that reassembles, or to none (unrouted, kept): one PENDING row with the parts' bodies joined
    in order (byte-joined, so a character split across parts comes out whole), the
    concatenation header dropped. To a route that does not: the parts go on one by one with
    their UDH. A duplicated part counts once (the copies are deleted)."""
    counts = _new_counts()
    for key in sorted(set(group_keys)):
        by_part, copies = _group_parts(conn, key)
        total = _total_of(key)
        if not all(n in by_part for n in range(1, total + 1)):
            continue
        _settle(conn, [by_part[n] for n in range(1, total + 1)], copies, now, route, True, counts)
        counts["whole"] += 1
    return counts


def release_partial_txn(conn: sa.Connection, older_than: float, route: MoRouter, now: float) -> dict[str, int]:
    """Housekeeping of the parts kept: rows of the first key format are moved to the current
    one, groups that are whole are completed (a part written by another node beside its last
    sibling), and groups whose first part came before ``older_than`` are released: their
    parts go on one by one (with their UDH) rather than lost, every part of the group to the
    account the text of the parts that did come (in part order) routes to."""
    _adopt_first_format(conn)
    whole = [key for key, count in conn.execute(
        sa.select(outbox.c.group_key, sa.func.count(sa.distinct(outbox.c.part)))
        .where(outbox.c.state == PARTIAL, outbox.c.group_key.is_not(None)).group_by(outbox.c.group_key))
        if count >= _total_of(key)]
    counts = complete_groups_txn(conn, whole, now, route)
    stale = [key for (key,) in conn.execute(
        sa.select(outbox.c.group_key).where(outbox.c.state == PARTIAL, outbox.c.group_key.is_not(None))
        .group_by(outbox.c.group_key).having(sa.func.min(outbox.c.created_at) < older_than))]
    for key in sorted(stale):
        by_part, copies = _group_parts(conn, key)
        _settle(conn, [by_part[n] for n in sorted(by_part)], copies, now, route, False, counts)
    counts["released"] += conn.execute(  # a PARTIAL row without a key should not exist: never keep it
        outbox.update().where(outbox.c.state == PARTIAL, outbox.c.group_key.is_(None)).values(state=PENDING)).rowcount
    return counts


def _adopt_first_format(conn: sa.Connection) -> None:
    """"account_id|source|dest|ref|total" -> "any|source|dest|ref|total": parts kept before an
    upgrade join the siblings that come after it, and are routed by the whole text too."""
    moved: dict[str, list[int]] = {}
    for row_id, key in conn.execute(sa.select(outbox.c.id, outbox.c.group_key).where(
            outbox.c.state == PARTIAL, outbox.c.group_key.is_not(None), ~outbox.c.group_key.startswith(GROUP_PREFIX))):
        head, sep, rest = key.partition("|")
        if sep and head.isdigit() and rest.count("|") >= 3:
            moved.setdefault(GROUP_PREFIX + rest, []).append(row_id)
    for key, ids in moved.items():
        conn.execute(outbox.update().where(outbox.c.id.in_(ids)).values(group_key=key))


def _group_parts(conn: sa.Connection, key: str) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """The group's parts by number (the first copy of each, oldest row first), and the ids of
    the later copies of a duplicated part."""
    by_part: dict[int, dict[str, Any]] = {}
    copies: list[int] = []
    for r in conn.execute(sa.select(*(outbox.c[name] for name in _PART_COLUMNS))
                          .where(outbox.c.state == PARTIAL, outbox.c.group_key == key).order_by(outbox.c.id)):
        part = dict(zip(_PART_COLUMNS, r))
        if part["part"] in by_part:
            copies.append(part["id"])
        else:
            by_part[part["part"]] = part
    return by_part, copies


def _settle(conn: sa.Connection, parts: list[dict[str, Any]], copies: list[int], now: float,
            route: MoRouter, whole: bool, counts: dict[str, int]) -> None:
    """Route ``parts`` (in order) by their joined text and take them out of PARTIAL: joined
    into one row when ``whole`` and the route reassembles (or there is none), else one by one."""
    if not parts:
        return
    body = b"".join(_without_udh(p["body"], p["esm_class"]) for p in parts)
    account_id, reassemble = route(parts[0]["dest_addr"], _text_of(parts[0], body))
    if copies:
        conn.execute(outbox.delete().where(outbox.c.id.in_(copies)))
    ids = [p["id"] for p in parts]
    counts["unrouted" if account_id is None else "routed"] += len(parts)
    if whole and (reassemble or account_id is None):
        first = conn.execute(sa.select(outbox).where(outbox.c.id == ids[0])).mappings().one()
        row = {c.name: first[c.name] for c in outbox.columns if c.name != "id"}
        row.update(state=PENDING, account_id=account_id, body=body, esm_class=first["esm_class"] & ~ESM_UDHI,
                   group_key=None, part=None, next_attempt_at=now)
        conn.execute(outbox.delete().where(outbox.c.id.in_(ids)))
        conn.execute(outbox.insert(), [row])
        return
    conn.execute(outbox.update().where(outbox.c.id.in_(ids))
                 .values(state=PENDING, group_key=None, next_attempt_at=now, account_id=account_id))
    if not whole:
        counts["released"] += len(ids)


def _text_of(first: dict[str, Any], body: bytes) -> str:
    """The text of the joined body, decoded with the first part's data_coding and UDH (which
    may announce a national language table)."""
    raw = first["body"]
    udh = raw[: raw[0] + 1] if first["esm_class"] & ESM_UDHI and raw else b""
    return decode_short_message(first["data_coding"], body, udh)


def _without_udh(body: bytes, esm_class: int) -> bytes:
    return body[body[0] + 1 :] if esm_class & ESM_UDHI and body else body
