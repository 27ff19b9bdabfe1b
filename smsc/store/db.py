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
        else:
            self.read_engine = self.engine
            self._write_pool = ThreadPool(minthreads=1, maxthreads=pool_size, name="smsc-db")
            self._read_pool = self._write_pool
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
        """Run ``fn(conn, *args, **kwargs)`` in one transaction on a pool thread; timed under ``desc``."""
        engine = self.read_engine if readonly else self.engine
        pool = self._read_pool if readonly else self._write_pool
        return deferToThreadPool(self.reactor, pool, self._transaction, desc, engine, fn, args, kwargs)

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
