"""Throughput and CPU of the modem rack: 64 simulated modems at realistic latency.

The rack runs in its own process (`smsc simulate modems --count 64`: ptys, seconds per send,
status reports a couple of seconds later), so this process is smsc alone: the real engine
(make_service) with a route to the modem pool only, real pyserial on every pty, SQLite. For
each step N (8, 16, 32, 64) the other modems are disabled through the operator controls (the
path `smsc modem disable` uses), a backlog is queued, and for ``--duration`` seconds we count
parts accepted by the modems and the CPU time of this process (reactor, serial I/O, AT parsing,
dispatcher, DB threads) and of the simulator process. Status reports are read and applied as
receipts during the window, as in production.

    .venv/bin/python scripts/bench_modems.py [--count 64] [--duration 60] [--rate 10]
        [--latency 3] [--steps 8,16,32,64] [--profile]

Figures are provisional on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

from twisted.internet import defer, reactor, task

from smsc.auth import hash_password
from smsc.cli.send import submit_pdu
from smsc.config import parse_config
from smsc.service import make_service
from smsc.store.accounts import get_account_txn
from smsc.store.messages import insert_messages_txn
from smsc.store.modems import set_disabled_txn
from smsc.store.schema import CANCELLED, QUEUED, messages
from smsc.submit import IntakeLimits, message_row

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of another process, seconds (Linux /proc)."""
    return process_cpu_path(f"/proc/{pid}/stat")


def thread_cpu() -> dict[int, float]:
    """CPU seconds per thread of this process (reactor thread = the pid)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            out[int(tid)] = process_cpu_path(f"/proc/self/task/{tid}/stat")
        except OSError:
            pass
    return out


def process_cpu_path(path: str) -> float:
    with open(path) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_rack(count: int, latency: float, report_delay: float) -> tuple[subprocess.Popen, list[str]]:
    smsc = os.path.join(os.path.dirname(sys.executable), "smsc")
    proc = subprocess.Popen([smsc, "simulate", "modems", "--count", str(count), "--seed", "5",
                             "--latency", str(latency), "--report-delay", str(report_delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    paths = [proc.stdout.readline().split("\t", 1)[0] for _ in range(count)]
    return proc, paths


def config(tmp: str, paths: list[str], rate: float) -> Any:
    return parse_config({
        "database": {"url": f"sqlite:///{tmp}/bench.db", "upgrade_on_start": True, "sqlite_synchronous": "NORMAL"},
        "smpp_server": {"listen": "tcp:0:interface=127.0.0.1"},
        "metrics": {"enabled": False},
        "logging": {"level": "warn"},
        "dispatcher": {"interval": 0.2},
        "accounts": [{"system_id": "bench", "password_hash": hash_password("benchpw")}],
        "modems": {"devices": paths, "rate": rate, "burst": 1, "send_timeout": 30, "control_interval": 2.0},
        "routes": [{"name": "rack", "upstreams": ["modems"]}],
    }, "<bench>")


def queue_txn(conn: Any, count: int, start: int, now: float, first_id: int) -> None:
    account = get_account_txn(conn, "bench")
    rows = []
    for n in range(count):
        pdu = submit_pdu((f"4915{start + n:09d}", 1, 1), ("", 0, 0), f"benchmark message {start + n}", receipt=True)
        rows.append(message_row(pdu, account, now, IntakeLimits(), first_id + n))
    insert_messages_txn(conn, rows)


def cancel_queued_txn(conn: Any, now: float) -> int:
    return conn.execute(messages.update().where(messages.c.state == QUEUED)
                        .values(state=CANCELLED, done_at=now, updated_at=now)).rowcount


async def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await task.deferLater(reactor, 0.2, lambda: None)
    return True


async def run(args: argparse.Namespace) -> None:
    proc, paths = start_rack(args.count, args.latency, args.report_delay)
    tmp = tempfile.mkdtemp(prefix="bench-modems-")
    engine = make_service(config(tmp, paths, args.rate), reactor)
    try:
        await engine.start()
        upstream = engine.modem_upstream
        pool = upstream.pool
        ready = await wait_for(lambda: sum(m.state.value == "ready" for m in pool.modems) == args.count, 60)
        print(f"{sum(m.state.value == 'ready' for m in pool.modems)} of {args.count} modems ready"
              + ("" if ready else " (timed out waiting for the rest)"))
        imeis = [m.imei for m in pool.modems]
        print(f"latency median {args.latency}s, reports after ~{args.report_delay}s, rate {args.rate}/min per modem, "
              f"{args.duration:.0f}s per step")
        print(f"{'modems':>6} {'parts':>6} {'per min':>8} {'/modem/min':>10} {'smsc CPU':>9} {'sim CPU':>8} "
              f"{'receipts':>8} {'reactor':>9}")
        next_id = 1 << 40
        for n in args.steps:
            for i, imei in enumerate(imeis):
                await engine.db.run_interaction("bench", set_disabled_txn, imei, i >= n, time.time())
            await wait_for(lambda: sum(m.state.value in ("ready", "sending") for m in pool.modems) == n, 60)
            backlog = int(n * args.rate * args.duration / 60 * 1.5) + 2 * n
            await engine.db.run_interaction("bench", queue_txn, backlog, next_id, time.time(), next_id)
            next_id += backlog
            engine.dispatcher.wake()
            await task.deferLater(reactor, 8, lambda: None)  # warm-up: every modem busy, tokens spent
            sent0, receipts0 = upstream.counts["accepted"], upstream.counts["receipts"]
            cpu0, sim0, t0, threads0 = own_cpu(), process_cpu(proc.pid), time.monotonic(), thread_cpu()
            profiler = cProfile.Profile() if args.profile and n == args.steps[-1] else None
            if profiler is not None:
                profiler.enable()
            await task.deferLater(reactor, args.duration, lambda: None)
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            elapsed = time.monotonic() - t0
            sent = upstream.counts["accepted"] - sent0
            cpu = (own_cpu() - cpu0) / elapsed
            threads1 = thread_cpu()
            main_thread = (threads1.get(os.getpid(), 0) - threads0.get(os.getpid(), 0)) / elapsed
            sim = (process_cpu(proc.pid) - sim0) / elapsed
            print(f"{n:>6} {sent:>6} {sent / elapsed * 60:>8.1f} {sent / elapsed * 60 / n:>10.2f} "
                  f"{cpu * 100:>8.1f}% {sim * 100:>7.1f}% {upstream.counts['receipts'] - receipts0:>8} "
                  f"{main_thread * 100:>8.1f}%")
            sys.stdout.flush()
            await engine.db.run_interaction("bench", cancel_queued_txn, time.time())
            await wait_for(lambda: upstream.in_flight == 0, 60)
        print("database interactions (count, seconds) by desc:")
        for metric in engine.metrics.db_seconds.collect():
            stats: dict[str, list[float]] = {}
            for sample in metric.samples:
                desc = sample.labels.get("desc")
                if sample.name.endswith("_count"):
                    stats.setdefault(desc, [0, 0])[0] = sample.value
                elif sample.name.endswith("_sum"):
                    stats.setdefault(desc, [0, 0])[1] = sample.value
            for desc, (count, seconds) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
                print(f"  {desc:<24} {count:>7.0f} {seconds:>8.2f}s")
        for family in (engine.metrics.dispatched, engine.metrics.no_route_total):
            for metric in family.collect():
                for sample in metric.samples:
                    if sample.name.endswith("_total") and sample.value:
                        print(f"  {sample.name} {sample.labels} {sample.value:.0f}")
        outcomes = {k: v for k, v in upstream.counts.items() if v}
        print(f"adapter counters: {outcomes}")
    finally:
        await engine.stopService()
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per step")
    parser.add_argument("--rate", type=float, default=10.0, help="SMS per minute per modem")
    parser.add_argument("--latency", type=float, default=3.0, help="median seconds from PDU to +CMGS")
    parser.add_argument("--report-delay", type=float, default=2.0, help="median seconds to the status report")
    parser.add_argument("--steps", default="8,16,32,64", help="healthy modems per step")
    parser.add_argument("--profile", action="store_true", help="cProfile the reactor thread during the last step")
    args = parser.parse_args()
    args.steps = [min(int(s), args.count) for s in args.steps.split(",")]
    task.react(lambda _r: defer.Deferred.fromCoroutine(run(args)))


if __name__ == "__main__":
    main()
