"""A throwaway PostgreSQL cluster for the tests: initdb in a temp dir, one server on 127.0.0.1.

CI runs as root and initdb refuses root, so as root the cluster is created and run as the
``postgres`` user (``runuser``); on a developer laptop it runs as the current user.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time


def find_pg_bin() -> str | None:
    """Where initdb and pg_ctl live: $PG_BIN, then PATH, then Debian's versioned directories."""
    candidates = [os.environ.get("PG_BIN", "")]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.dirname(on_path))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if directory and os.path.exists(os.path.join(directory, "initdb")):
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """initdb + pg_ctl start in a temp dir; ``stop()`` removes everything."""

    def __init__(self, bin_dir: str, options: str = "") -> None:
        self.bin_dir = bin_dir
        self.options = options  # extra server settings, e.g. the benchmarks' pg_stat_statements
        self.as_root = os.geteuid() == 0
        self.base = tempfile.mkdtemp(prefix="smsc-pg-")
        self.data = os.path.join(self.base, "data")
        self.port = _free_port()
        self.user = "postgres" if self.as_root else os.environ.get("USER") or "postgres"

    def _run(self, *args: str) -> None:
        cmd = [os.path.join(self.bin_dir, args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.base, "postgres")
            os.chmod(self.base, 0o700)
        self._run("initdb", "-D", self.data, "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.base}"
            " -c fsync=on -c max_connections=200 -c shared_buffers=128MB " + self.options
        )
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.base, "log"), "-w", "start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("throwaway PostgreSQL did not start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


_shared: ThrowawayPostgres | None = None
_databases = 0


def shared_cluster() -> ThrowawayPostgres:
    """One cluster per test process (pytest fixtures and trial TestCases share it).

    Missing binaries skip the test, unless $SMSC_REQUIRE_POSTGRES says they must be there (CI).
    """
    global _shared
    if _shared is None:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            import pytest

            if os.environ.get("SMSC_REQUIRE_POSTGRES"):
                pytest.fail("PostgreSQL binaries not found and SMSC_REQUIRE_POSTGRES is set")
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
        cluster = ThrowawayPostgres(bin_dir)
        cluster.start()
        atexit.register(cluster.stop)
        _shared = cluster
    return _shared


def database_in_shared_cluster() -> str:
    """A fresh empty database in the shared cluster; returns its SQLAlchemy URL."""
    global _databases
    _databases += 1
    return shared_cluster().create_database(f"smsc_test_{os.getpid()}_{_databases}")
