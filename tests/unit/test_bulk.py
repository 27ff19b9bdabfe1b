"""Batch statements (smsc/store/bulk.py) on SQLite and a real PostgreSQL: any batch size comes
back exactly, and SQLite only ever sees a few statement sizes (each size is a cached statement)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from smsc.store.bulk import CHUNK_SIZES, IN_SIZES, _chunks, _copy_line, insert_rows, select_in, update_in, update_many, upsert_rows
from smsc.store.schema import early_receipts, outbox

SIZES = [1, 2, 3, 5, 17, 63, 64, 65, 300, 513, 1100]


@pytest.fixture
def engine(migrated_engine):
    return migrated_engine


@pytest.mark.parametrize("n", SIZES)
def test_any_batch_size_is_inserted_and_selected_back_exactly(engine, n):
    """When N rows are inserted and looked up by an IN list of N values (plus unknown ones), each
    row is there once with its own values."""
    rows = [{"upstream": "u", "remote_id": f"r{i}", "state": str(i % 7), "error_code": i, "received_at": float(i)}
            for i in range(n)]
    with engine.begin() as conn:
        assert insert_rows(conn, early_receipts, rows) == n
        wanted = [f"r{i}" for i in range(n)] + ["absent-1", "absent-2"]
        got = select_in(conn, "SELECT remote_id, state, error_code FROM early_receipts WHERE upstream = ? AND remote_id IN ({in_})",
                        ("u",), wanted)
        count = conn.execute(sa.select(sa.func.count()).select_from(early_receipts)).scalar()
    assert count == n
    assert sorted(got) == sorted((f"r{i}", str(i % 7), i) for i in range(n))


@pytest.mark.parametrize("n", [0, *SIZES, 32766])
@pytest.mark.parametrize("most", [1000, 300, 40])
def test_batches_split_into_the_fixed_statement_sizes(n, most):
    """A batch of any size is cut into sizes from CHUNK_SIZES no bigger than SQLite's variable
    limit allows, adding up to the batch."""
    sizes = _chunks(n, most)
    assert sum(sizes) == n
    assert set(sizes) <= {s for s in CHUNK_SIZES if s <= most}


def test_in_lists_are_padded_to_few_sizes(engine):
    """Every IN list length used is one of IN_SIZES, whatever the number of values."""
    seen: list[int] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "IN (" in statement:
            seen.append(len(parameters) - 1)

    with engine.begin() as conn:
        for n in SIZES:
            select_in(conn, "SELECT remote_id FROM early_receipts WHERE upstream = ? AND remote_id IN ({in_})", ("u",),
                      [f"r{i}" for i in range(n)])
    assert seen and set(seen) <= set(IN_SIZES)


AWKWARD = [
    ("plain", "g", b"hello", 1.5, None),
    ("tab newline CR backslash", "a\tb\nc\rd\\e", b"\x00\\\t\n\xff", 1.8e9 + 0.123456, "k"),
    ("unicode and empty", "\u20ac\u00e9", b"", 0.0, ""),
    ("a literal \\N", "\\N", b"\\N", -2.25, "\\\\"),
]


@pytest.mark.parametrize("label,text,body,when,group", AWKWARD, ids=[c[0] for c in AWKWARD])
def test_awkward_values_come_back_exactly(engine, label, text, body, when, group):
    """When values hold COPY's special characters (tab, newline, backslash, \\N), NUL octets,
    63-bit ids, floats or NULLs, they are read back exactly (PostgreSQL: COPY text format)."""
    row = {"account_id": None, "kind": "mo", "message_id": (1 << 62) + 7, "state": text[:10],
           "source_addr": text, "source_ton": 1, "source_npi": 1, "dest_addr": "447700900001",
           "dest_ton": 1, "dest_npi": 1, "esm_class": 0, "data_coding": 8, "body": body,
           "tlvs": None, "attempts": 0, "next_attempt_at": when, "created_at": when,
           "delivered_at": None, "group_key": group, "part": None}
    with engine.begin() as conn:
        insert_rows(conn, outbox, [row, dict(row, part=2, tlvs=body)])
        got = [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]
    for stored, sent_row in zip(got, [row, dict(row, part=2, tlvs=body)]):
        stored.pop("id")
        assert {k: bytes(v) if isinstance(v, memoryview) else v for k, v in stored.items()} == sent_row


@pytest.mark.parametrize("label,row,line", [
    ("ints floats None bools", (1, 2.5, None, True, False, 1 << 62), "1\t2.5\t\\N\tt\tf\t4611686018427387904\n"),
    ("strings escaped", ("a\tb", "c\\d", "e\nf\rg", "plain"), "a\\tb\tc\\\\d\te\\nf\\rg\tplain\n"),
    ("bytes as escaped hex", (b"\x00\xff", bytearray(b"A"), memoryview(b"")), "\\\\x00ff\t\\\\x41\t\\\\x\n"),
])
def test_copy_line_format(label, row, line):
    """When a row is written for COPY, each value takes PostgreSQL's text form."""
    assert _copy_line(row) == line


AWKWARD_STRINGS = ['plain', 'with "quotes"', "back\\slash", "comma, {braces}", "NULL", "", " spaced ", "ünï\tcode"]


@pytest.mark.parametrize("n", [1, 3, 513])
def test_update_many_sets_each_row_its_own_values(engine, n):
    """When N rows are updated in one call (PostgreSQL: one statement with an array per column),
    each row gets its own values, awkward strings and NULLs included, and other rows are untouched."""
    rows = [{"upstream": "u", "remote_id": f"r{i}", "state": "old", "error_code": i, "received_at": float(i)}
            for i in range(n + 1)]
    updates = [(AWKWARD_STRINGS[i % len(AWKWARD_STRINGS)], None if i % 3 == 0 else -i, "u", f"r{i}") for i in range(n)]
    with engine.begin() as conn:
        insert_rows(conn, early_receipts, rows)
        update_many(conn, early_receipts, ("state", "error_code"), ("upstream", "remote_id"), updates)
        got = dict((r[0], r[1:]) for r in conn.execute(
            sa.select(early_receipts.c.remote_id, early_receipts.c.state, early_receipts.c.error_code)))
    assert got == {**{f"r{i}": (s, e) for s, e, _, r in updates for i in [int(r[1:])]}, f"r{n}": ("old", n)}


def test_upsert_rows_inserts_new_keys_and_applies_its_conflict_clause(engine):
    """When some rows' keys exist, the ON CONFLICT clause decides for them; the others are inserted."""
    if engine.dialect.name == "sqlite":
        pytest.skip("upsert_rows is PostgreSQL's path (SQLite upserts with multi-row VALUES)")
    from smsc.store.schema import dlr_keys

    columns = ("upstream", "remote_id", "message_id", "part", "state", "created_at", "updated_at")
    clause = "ON CONFLICT (upstream, remote_id) DO UPDATE SET message_id = excluded.message_id"
    with engine.begin() as conn:
        upsert_rows(conn, dlr_keys, columns, [("u", "a", 1, 1, "SUBMITTED", 1.0, 1.0)], clause)
        upsert_rows(conn, dlr_keys, columns, [("u", "a", 2, 1, "SUBMITTED", 2.0, 2.0),
                                              ("u", 'b "quoted"', 3, 2, "SUBMITTED", 2.0, 2.0)], clause)
        got = sorted(conn.execute(sa.select(dlr_keys.c.remote_id, dlr_keys.c.message_id, dlr_keys.c.created_at)))
    assert got == [("a", 2, 1.0), ('b "quoted"', 3, 2.0)]


@pytest.mark.parametrize("n", [1, 5, 512, 1100])
def test_update_in_reaches_every_id_and_only_them(engine, n):
    """When N ids are updated in one call (SQLite: padded IN lists; PostgreSQL: = ANY of one
    array), exactly those rows change."""
    rows = [{"upstream": "u", "remote_id": f"r{i}", "state": "old", "error_code": i, "received_at": float(i)}
            for i in range(n + 2)]
    with engine.begin() as conn:
        insert_rows(conn, early_receipts, rows)
        ids = [r[0] for r in conn.execute(sa.select(early_receipts.c.id).order_by(early_receipts.c.id))]
        update_in(conn, "UPDATE early_receipts SET state = ?, error_code = ? WHERE id IN ({in_})", ("new", -1), ids[1:n + 1])
        got = [tuple(r) for r in conn.execute(sa.select(early_receipts.c.state, early_receipts.c.error_code)
                                              .order_by(early_receipts.c.id))]
    assert got == [("old", 0)] + [("new", -1)] * n + [("old", n + 1)]
