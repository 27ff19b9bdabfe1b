"""Batch statements (smsc/store/bulk.py) on SQLite and a real PostgreSQL: any batch size comes
back exactly, and SQLite only ever sees a few statement sizes (each size is a cached statement)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from smsc.store import migrate
from smsc.store.bulk import CHUNK_SIZES, IN_SIZES, _chunks, insert_rows, select_in
from smsc.store.db import create_engine
from smsc.store.schema import early_receipts

SIZES = [1, 2, 3, 5, 17, 63, 64, 65, 300, 513, 1100]


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


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
