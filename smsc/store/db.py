"""Database access: SQLAlchemy engines and the one way SQL runs, ``run_interaction``.

The reactor thread never blocks on SQL: every transaction function ``fn(conn, *args)`` runs in a
thread pool inside one transaction, and its result comes back as a Deferred. SQLite gets one
writer thread (BEGIN IMMEDIATE, so two writers never deadlock on a lock upgrade) and separate
reader threads, so a slow scrape or CLI query never stalls intake; PostgreSQL gets one pool.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import event
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

TimingHook = Callable[[str, float], None]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, writer: bool = True, sqlite_synchronous: str = "FULL", pool_size: int = 5) -> sa.Engine:
    """An engine with our settings: WAL + busy timeout + explicit BEGIN on SQLite."""
    if not is_sqlite(url):
        # No bitmap scans. Every message's row is updated three times, so the state index fills
        # with entries of dead row versions, and the statistics lag behind the tables' growth:
        # the planner chose bitmap scans (state = 'SENDING', or every DLR key of an upstream),
        # which read each dead entry again on every query (243,000 index entries for a 500-row
        # update at 300,000 messages) and, unlike index scans, never mark them dead.
        return sa.create_engine(url, pool_size=pool_size, max_overflow=2, pool_pre_ping=True,
                                connect_args={"options": "-c enable_bitmapscan=off"})
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)  # e.g. ./var/ for the demo
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - DBAPI objects
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        # checkpoints run beside the writer (Database.checkpoint); this is only the safety net,
        # so a commit seldom pays for copying the WAL into the database file
        cur.execute("PRAGMA wal_autocheckpoint=20000")
        cur.execute("PRAGMA busy_timeout=30000")
        if writer:  # 32 MiB of pages: as the tables grow past the 2 MiB default, index updates
            # missed the cache (engine CPU a message over a 300,000-message run: 241 -> 224 µs)
            cur.execute("PRAGMA cache_size=-32768")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql(begin_sql)

    return engine


class Database:
    """Engines plus thread pools; start() before use, stop() at shutdown (a Service does both)."""

    def __init__(
        self,
        url: str,
        reactor: Any,
        *,
        pool_size: int = 4,
        sqlite_synchronous: str = "FULL",
        on_timing: TimingHook | None = None,
    ) -> None:
        self.url = url
        self.reactor = reactor
        self.is_sqlite = is_sqlite(url)
        self.on_timing = on_timing
        self.engine = create_engine(url, writer=True, sqlite_synchronous=sqlite_synchronous, pool_size=pool_size)
        if self.is_sqlite:
            self.read_engine = create_engine(url, writer=False, sqlite_synchronous=sqlite_synchronous)
            self._write_pool = ThreadPool(minthreads=1, maxthreads=1, name="smsc-db-write")
            self._read_pool = ThreadPool(minthreads=1, maxthreads=2, name="smsc-db-read")
            self._shared: _SharedCommits | None = _SharedCommits(self)
        else:
            self.read_engine = self.engine
            self._write_pool = ThreadPool(minthreads=1, maxthreads=pool_size, name="smsc-db")
            self._read_pool = self._write_pool
            self._shared = None  # several connections: transactions run side by side instead
        self._running = False

    def start(self) -> None:
        if not self._running:
            self._running = True
            self._write_pool.start()
            if self._read_pool is not self._write_pool:
                self._read_pool.start()

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._write_pool.stop()
            if self._read_pool is not self._write_pool:
                self._read_pool.stop()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def run_interaction(self, desc: str, fn: Callable[..., Any], *args: Any, readonly: bool = False, **kwargs: Any) -> Deferred:
        """Run ``fn(conn, *args, **kwargs)`` in a transaction on a pool thread; timed under ``desc``.
        On SQLite, writes queued while the writer is busy share its next transaction (see
        _SharedCommits); the result comes back only after that transaction's commit."""
        if readonly:
            return deferToThreadPool(self.reactor, self._read_pool, self._transaction, desc, self.read_engine, fn, args, kwargs)
        if self._shared is not None:
            return self._shared.submit(desc, fn, args, kwargs)
        return deferToThreadPool(self.reactor, self._write_pool, self._transaction, desc, self.engine, fn, args, kwargs)

    def run_sync(self, desc: str, fn: Callable[..., Any], *args: Any, readonly: bool = False, **kwargs: Any) -> Any:
        """The same, in the calling thread: for the CLI and start-up, never from the reactor."""
        return self._transaction(desc, self.read_engine if readonly else self.engine, fn, args, kwargs)

    def checkpoint(self) -> Deferred | None:
        """SQLite: copy the WAL into the database on a reader thread (PASSIVE never blocks the
        writer), instead of inside whichever commit crosses the auto-checkpoint threshold."""
        if not self.is_sqlite:
            return None
        return deferToThreadPool(self.reactor, self._read_pool, self._checkpoint)

    def _checkpoint(self) -> None:
        raw = self.read_engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            raw.close()

    def _transaction(self, desc: str, engine: sa.Engine, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        started = time.perf_counter()
        try:
            with engine.begin() as conn:
                return fn(conn, *args, **kwargs)
        finally:
            if self.on_timing is not None:
                self.on_timing(desc, time.perf_counter() - started)


class _SharedCommits:
    """SQLite's single writer: the writes queued while a transaction runs go together in the
    next one, each inside a SAVEPOINT (one failing is rolled back alone), under one COMMIT.

    Every stage (intake, claims, outcomes, receipts, deliveries) already groups its own rows;
    at moderate load each still committed a few dozen rows at a time, ~700 transactions a
    second at 3,000 msgs/s, and the single writer spent its time on fsyncs and per-transaction
    overhead. The queue and the hand-over live in the reactor thread; only the batch runs on
    the writer thread.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[tuple[str, Callable[..., Any], tuple, dict, Deferred]] = []
        self._running = False

    def submit(self, desc: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Deferred:
        d = Deferred()
        self._pending.append((desc, fn, args, kwargs, d))
        if not self._running:
            self._next()
        return d

    def _next(self) -> None:
        batch, self._pending = self._pending, []
        self._running = True
        work = [(desc, fn, args, kwargs) for desc, fn, args, kwargs, _ in batch]
        deferToThreadPool(self._db.reactor, self._db._write_pool, self._run, work).addBoth(self._done, batch)

    def _run(self, work: list[tuple[str, Callable[..., Any], tuple, dict]]) -> list[tuple[bool, Any]]:
        """On the writer thread: one transaction; (ok, result or Failure) per interaction."""
        if len(work) == 1:  # alone: no savepoint needed, its failure is the transaction's
            desc, fn, args, kwargs = work[0]
            return [(True, self._db._transaction(desc, self._db.engine, fn, args, kwargs))]
        on_timing = self._db.on_timing
        results: list[tuple[bool, Any]] = []
        with self._db.engine.begin() as conn:
            for desc, fn, args, kwargs in work:
                started = time.perf_counter()
                savepoint = conn.begin_nested()
                try:
                    result = fn(conn, *args, **kwargs)
                except Exception:  # noqa: BLE001 - handed to its own Deferred; the others go on
                    savepoint.rollback()
                    results.append((False, Failure()))
                else:
                    savepoint.commit()
                    results.append((True, result))
                if on_timing is not None:
                    on_timing(desc, time.perf_counter() - started)
        return results

    def _done(self, outcome: Any, batch: list[tuple[str, Callable[..., Any], tuple, dict, Deferred]]) -> None:
        """In the reactor: fire each interaction's Deferred in order (all fail if the commit did),
        then start the writes queued meanwhile."""
        self._running = False
        for index, (_, _, _, _, d) in enumerate(batch):
            if isinstance(outcome, Failure):
                d.errback(outcome)
            else:
                ok, value = outcome[index]
                if ok:
                    d.callback(value)
                else:
                    d.errback(value)
        if self._pending and not self._running:
            self._next()
