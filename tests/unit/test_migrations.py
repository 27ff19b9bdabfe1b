"""Migrations build exactly the schema the code describes, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from smsc.store import migrate
from smsc.store.db import create_engine
from smsc.store.schema import metadata


def test_upgrade_to_head_matches_schema(db_url):
    """When the database is upgraded from empty, it is at head and no table or column differs from schema.py."""
    engine = create_engine(db_url)
    before, after = migrate.upgrade(engine)
    assert before is None
    assert after == migrate.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")] == []


def test_upgrade_twice_is_a_no_op(db_url):
    """When upgrade runs on a database already at head, nothing changes and nothing fails."""
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    before, after = migrate.upgrade(engine)
    engine.dispose()
    assert before == after == migrate.head_revision()


def test_sqlite_runs_in_wal_mode(sqlite_url):
    """When smsc opens a SQLite file, it is switched to WAL so readers never block the writer."""
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
