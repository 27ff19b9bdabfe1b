"""Many rows in few round trips: the hot paths (intake, outcomes, receipts) write in batches.

Core's per-row parameter processing costs ~30 µs a row on SQLite and ~100 µs on PostgreSQL
(insertmanyvalues), and the sqlite3 module's executemany hands the GIL back and forth for every
row: on the hot path that was most of the database time. SQLite gets multi-row statements built
once per batch size. PostgreSQL gets COPY for inserts, and one statement per batch for updates
and upserts, its values passed as array literals (update_in, update_many, upsert_rows); psycopg2's
executemany is a round trip per row, and execute_batch still a statement per row to plan.
"""

from __future__ import annotations

import functools
import io
from itertools import chain
from operator import itemgetter
from typing import Any, Callable, Iterator, Sequence

import sqlalchemy as sa

SQLITE_MAX_VARIABLES = 32766
# Statements come in a few fixed sizes: a batch of 300 rows goes as 256 + 16 + 16 + 4 + 4 + 4.
# Each distinct statement text is parsed and kept in sqlite3's statement cache (and ours), and
# a 500-row INSERT program is large: with every batch size its own statement, a long run grew
# the engine by ~100 MiB of cached statements and re-parsed most batches (measured 13.4 µs a
# row against 3.4 µs with fixed sizes).
CHUNK_SIZES = (256, 64, 16, 4, 1)
IN_SIZES = (1, 4, 16, 64, 256, 512)


@functools.lru_cache(maxsize=256)
def _sqlite_insert(table: sa.Table, columns: tuple[str, ...], n: int) -> str:
    row = f"({', '.join('?' * len(columns))})"
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES " + ", ".join([row] * n)


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    """Insert dict rows that all have the same keys."""
    if not rows:
        return 0
    columns = tuple(rows[0])
    values = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    if conn.dialect.name != "sqlite":
        _copy_into(conn, table, columns, [values(row) for row in rows])
        return len(rows)
    start = 0
    for size in _chunks(len(rows), SQLITE_MAX_VARIABLES // len(columns)):
        chunk = rows[start : start + size]
        start += size
        # chain(map(itemgetter)) flattens in C; the generator it replaces cost ~1 µs a row
        conn.exec_driver_sql(_sqlite_insert(table, columns, size), tuple(chain.from_iterable(map(values, chunk))))
    return len(rows)


def _chunks(n: int, most: int) -> list[int]:
    """``n`` rows as statement sizes from CHUNK_SIZES (none over ``most`` rows)."""
    sizes = []
    for size in CHUNK_SIZES:
        if size > most:
            continue
        count, n = divmod(n, size)
        sizes += [size] * count
    return sizes


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """One field in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()  # bytea hex, its backslash escaped for COPY
    if isinstance(value, str):
        # translate() looks every character up in a dict (~1 µs for a 50-character text);
        # four C scans decide first whether there is anything to escape at all
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    return repr(value) if isinstance(value, float) else str(value)


# exact class -> a formatter written in C (no Python frame per value); other classes, and str
# (which may need escaping), go through _copy_value. Measured on a 34-column message row:
# 8.7 -> ~5 µs with the escape check above.
_COPY_FORMAT: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    float: float.__repr__,
    type(None): "\\N".format,  # str.format ignores an unused argument: always \N
    bool: ("f", "t").__getitem__,
}
_copy_format = _COPY_FORMAT.get


def _copy_line(row: tuple) -> str:
    """One row in PostgreSQL's COPY text format, newline included."""
    return "\t".join([_copy_format(value.__class__, _copy_value)(value) for value in row]) + "\n"


def _copy_into(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """COPY ... FROM STDIN: ~10x less Python per row than any INSERT form (measured 115 µs a
    row with execute_values, whose per-value adaptation dominates, against ~12 µs)."""
    text = "".join(map(_copy_line, rows))
    _on_cursor(conn, f"COPY {table.name} ({', '.join(columns)}) FROM STDIN",
               lambda cursor, sql: cursor.copy_expert(sql, io.StringIO(text)))


def _on_cursor(conn: sa.Connection, sql: str, work: Any) -> None:
    """Run ``work(cursor, sql)`` on the raw psycopg2 cursor; its errors come out as SQLAlchemy's
    (IntegrityError etc.), as they would through Core, so callers handle one kind."""
    import psycopg2

    cursor = conn.connection.dbapi_connection.cursor()
    try:
        work(cursor, sql)
    except psycopg2.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, psycopg2.Error) from exc
    finally:
        cursor.close()


def select_in(conn: sa.Connection, sql: str, fixed: tuple, values: Sequence[Any]) -> list[tuple]:
    """Rows of ``sql`` (``?`` placeholders, with an ``IN ({in_})``) for ``values``, in chunks,
    as plain tuples: Core's expanding IN and row mappings cost more than the query here."""
    style = "?" if conn.dialect.name == "sqlite" else "%s"
    if style != "?":
        sql = sql.replace("?", "%s")
    out: list[tuple] = []
    for part in _padded_chunks(values):
        out.extend(conn.exec_driver_sql(sql.format(in_=", ".join([style] * len(part))), fixed + part).fetchall())
    return out


def _padded_chunks(values: Sequence[Any]) -> Iterator[tuple]:
    """``values`` in chunks of at most IN_SIZES[-1], each padded (repeating its last value) to
    one of IN_SIZES, so few statement texts exist to parse and cache."""
    top = IN_SIZES[-1]
    for start in range(0, len(values), top):
        part = tuple(values[start : start + top])
        size = next(n for n in IN_SIZES if n >= len(part))
        yield part + part[-1:] * (size - len(part))


def update_many(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...],
                rows: Sequence[tuple]) -> None:
    """``UPDATE table SET columns WHERE keys`` for each row (a tuple of the columns' values, then
    the keys'). PostgreSQL gets one statement for the whole batch, its values as one array per
    column, joined to the table (execute_batch sent a statement per row, each planned on its
    own). No two rows may share a key. Where many rows get the same values, update_in is
    cheaper and its plan never depends on the table's statistics."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_update_sql(table, columns, keys), list(rows))
        return
    _on_cursor(conn, _update_unnest_sql(table, columns, keys, conn.dialect),
               lambda cursor, sql: cursor.execute(sql, _arrays(rows)))


@functools.lru_cache(maxsize=32)
def _update_sql(table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    return (f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in columns)}"
            f" WHERE {' AND '.join(f'{k} = ?' for k in keys)}")


@functools.lru_cache(maxsize=32)
def _update_unnest_sql(table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...], dialect: Any) -> str:
    names = columns + keys
    return (f"UPDATE {table.name} SET {', '.join(f'{c} = v.{c}' for c in columns)}"
            f" FROM {_unnest(table, names, dialect)} AS v({', '.join(names)})"
            f" WHERE {' AND '.join(f'{table.name}.{k} = v.{k}' for k in keys)}")


def _unnest(table: sa.Table, columns: tuple[str, ...], dialect: Any) -> str:
    """``unnest(%s::type[], ...)``: rows from one array parameter per column, typed as the table's."""
    return f"unnest({', '.join(f'%s::{table.c[name].type.compile(dialect=dialect)}[]' for name in columns)})"


def _arrays(rows: Sequence[tuple]) -> list[str]:
    """One PostgreSQL array literal (``{1,"a b",NULL}``) per column of ``rows``. A list would go
    as ARRAY[...] with a constant per value, parsed and planned one by one (measured: 0.66 s to
    plan one 18,000-row statement); the literal is one constant, read by array_in in C."""
    return ["{" + ",".join([_array_format(value.__class__, _array_value)(value) for value in column]) + "}"
            for column in zip(*rows)]


def _array_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float)):
        return repr(value)
    raise TypeError(f"no array literal for {type(value).__name__}")


_array_format = {int: int.__repr__, float: float.__repr__, type(None): "NULL".format}.get


def upsert_rows(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple],
                on_conflict: str) -> None:
    """PostgreSQL: ``INSERT ... ON CONFLICT`` for a batch of tuples in one statement, its values
    as one array per column (no per-row statement, and no look-up of existing rows first).
    ``on_conflict`` is the ``ON CONFLICT ...`` clause; no two rows may share a conflict key."""
    if rows:
        sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM {_unnest(table, columns, conn.dialect)}"
               f" {on_conflict}")
        _on_cursor(conn, sql, lambda cursor, text: cursor.execute(text, _arrays(rows)))


def update_in(conn: sa.Connection, sql: str, fixed: tuple, ids: Sequence[int]) -> None:
    """``sql`` (``?`` placeholders, the last one ``IN ({in_})``) for every id. SQLite: IN lists
    padded to IN_SIZES (few statement texts to parse). PostgreSQL: one statement, ``= ANY`` of
    one array literal, which the planner always turns into a look-up of each id: a literal per
    id was parsed one by one, and an unnest join was planned as a scan of the whole table when
    the statistics lagged behind its growth."""
    if not ids:
        return
    if conn.dialect.name == "sqlite":
        for part in _padded_chunks(ids):
            conn.exec_driver_sql(sql.format(in_=", ".join("?" * len(part))), fixed + part)
        return
    text = sql.replace("?", "%s").replace("IN ({in_})", "= ANY(%s::bigint[])")
    _on_cursor(conn, text, lambda cursor, text: cursor.execute(text, (*fixed, "{" + ",".join(map(str, ids)) + "}")))


def execute_many(conn: sa.Connection, sql: str, params: Sequence[tuple]) -> None:
    """A plain SQL statement with ``?`` placeholders, once per parameter tuple."""
    if not params:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(sql, list(params))
        return
    from psycopg2.extras import execute_batch

    _on_cursor(conn, sql.replace("?", "%s"), lambda cursor, text: execute_batch(cursor, text, params, page_size=200))
