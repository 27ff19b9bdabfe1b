"""What the benchmark scripts share: ports, a fresh database, the engine's CPU/RSS, running a
load to completion on the reactor, percentiles."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Coroutine

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred

PASSWORD = "benchpw"  # the bench account's (SMPP passwords are at most 8 characters)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:g} s")


def start_engine(config_path: str) -> subprocess.Popen:
    """`smsc serve` as its own process, as in production."""
    return subprocess.Popen([sys.executable, "-m", "smsc", "--config", config_path, "serve"])


def stop(processes: list[subprocess.Popen], cluster: Any = None) -> None:
    """SIGTERM each process (SIGKILL after 20 s), then the throwaway PostgreSQL if any."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    if cluster is not None:
        cluster.stop()


def fresh_database(kind: str, workdir: str, pg_options: str = "") -> tuple[str, Any]:
    """(URL, cluster to stop or None): a SQLite file, or a throwaway PostgreSQL cluster."""
    if kind == "sqlite":
        return f"sqlite:///{workdir}/bench.db", None
    from tests.pg import ThrowawayPostgres, find_pg_bin

    cluster = ThrowawayPostgres(find_pg_bin() or sys.exit("no PostgreSQL binaries"), pg_options)
    cluster.start()
    return cluster.create_database("bench"), cluster


def cluster_cpu(cluster: Any) -> float:
    """CPU seconds used so far by a throwaway PostgreSQL: the postmaster, its live children
    (backends, WAL writer, checkpointer...) and the children it has reaped (autovacuum workers)."""
    with open(os.path.join(cluster.data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(entry) == postmaster:
            total += sum(int(v) for v in fields[11:15]) / tick  # its own time and its reaped children's
        elif int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS MiB) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    return cpu, hwm / 1024


def run_to_completion(load: Callable[[], Coroutine]) -> float | None:
    """Run ``load()`` on the reactor until it finishes; its wall time, or None (traceback printed)."""
    result: dict = {}

    def go() -> None:
        d = ensureDeferred(load())
        d.addCallbacks(lambda elapsed: result.update(elapsed=elapsed), lambda f: result.update(error=f))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    if "error" in result:
        result["error"].printTraceback()
        return None
    return result["elapsed"]


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]
