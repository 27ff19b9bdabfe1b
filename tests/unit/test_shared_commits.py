"""SQLite's writer: writes queued while one runs share the next transaction, each in a savepoint."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from smsc.store import migrate
from smsc.store.db import Database
from smsc.store.schema import early_receipts


def _insert(conn: sa.Connection, remote_id: str) -> str:
    conn.execute(early_receipts.insert().values(upstream="u", remote_id=remote_id, state="2", received_at=0.0))
    return remote_id


def _insert_then_fail(conn: sa.Connection, remote_id: str) -> None:
    _insert(conn, remote_id)
    raise ValueError("this interaction fails after writing")


class SharedCommitsTest(TestCase):
    def setUp(self):
        self.db = Database(f"sqlite:///{self.mktemp()}.db", reactor)
        migrate.upgrade(self.db.engine)
        self.db.start()
        self.addCleanup(self.db.stop)
        self.commits = 0

        @sa.event.listens_for(self.db.engine, "commit")
        def count(_conn):  # noqa: ANN001
            self.commits += 1

    def stored(self) -> list[str]:
        with self.db.read_engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(sa.select(early_receipts.c.remote_id)))

    @defer.inlineCallbacks
    def test_writes_queued_behind_a_running_one_share_one_commit_and_fail_alone(self):
        """When writes are queued while the writer is busy, they run in one transaction: each
        gets its own result, the one that fails is rolled back alone, the others are committed."""
        gate = threading.Event()

        def blocked(conn: sa.Connection) -> str:
            gate.wait(10)
            return _insert(conn, "first")

        first = self.db.run_interaction("t", blocked)
        queued = [self.db.run_interaction("t", _insert, "a"), self.db.run_interaction("t", _insert_then_fail, "bad"),
                  self.db.run_interaction("t", _insert, "b")]
        gate.set()
        self.assertEqual((yield first), "first")
        self.assertEqual((yield queued[0]), "a")
        yield self.assertFailure(queued[1], ValueError)
        self.assertEqual((yield queued[2]), "b")
        self.assertEqual(self.stored(), ["a", "b", "first"])
        self.assertEqual(self.commits, 2, "the three queued writes shared one commit")

    @defer.inlineCallbacks
    def test_a_lone_failing_write_leaves_nothing(self):
        """When a write runs alone and fails, its transaction is rolled back and its Deferred fails."""
        yield self.assertFailure(self.db.run_interaction("t", _insert_then_fail, "bad"), ValueError)
        self.assertEqual(self.stored(), [])
        self.assertEqual((yield self.db.run_interaction("t", _insert, "ok")), "ok")
        self.assertEqual(self.stored(), ["ok"])
