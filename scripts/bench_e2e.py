#!/usr/bin/env python3
"""End-to-end benchmark: ESME -> smsc -> 2 simulated carriers -> receipts back to the ESME.

Three processes, as in production: the engine (`smsc serve`), the two carriers (simulators in
one process, counters only), and this load generator (S transceiver sessions of our own SMPP
client, window W each, acknowledging every receipt). The run is done when every accepted
message's receipt has reached the ESME. Prints sustained msgs/s end to end, p50/p99
submit->receipt latency, and the engine's CPU and RSS sampled every second (memory flat?).

  python scripts/bench_e2e.py --db sqlite --messages 100000
  python scripts/bench_e2e.py --db postgres --messages 100000
  python scripts/bench_e2e.py --messages 1000000 --rate 3000    # the long, memory-flat run
  python scripts/bench_e2e.py --db postgres --pg-statements 12   # where PostgreSQL spends its time
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import DeferredList, ensureDeferred  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402
from twisted.internet.task import LoopingCall, deferLater  # noqa: E402

from protocols.smpp.client import SmppClientProtocol  # noqa: E402
from protocols.smpp.receipts import receipt_summary  # noqa: E402
from protocols.smpp.session import SessionSettings  # noqa: E402
from scripts.benchlib import (  # noqa: E402
    PASSWORD, cluster_cpu, free_port, fresh_database, percentile, proc_stats, run_to_completion, start_engine, stop, wait_port,
)
from smsc.auth import hash_password  # noqa: E402

SUBMIT = {
    "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "Bench",
    "dest_addr_ton": 1, "dest_addr_npi": 1, "esm_class": 0, "protocol_id": 0, "priority_flag": 0,
    "schedule_delivery_time": "", "validity_period": "", "registered_delivery": 1,
    "replace_if_present_flag": 0, "data_coding": 0, "sm_default_msg_id": 0,
    "short_message": b"Your code is 123456. It expires in 10 minutes.",
}


def run_carriers(ports: list[int], delay: float) -> None:
    """The carriers' process: one simulator per port, counters only (memory stays flat)."""
    from protocols.smpp.simulator import UpstreamSimulator
    from protocols.smpp.simulator_settings import SimulatorSettings
    from protocols.smpp.session import SessionSettings as Settings

    sims = []
    for index, port in enumerate(ports):
        sim = UpstreamSimulator(reactor, SimulatorSettings(
            system_id=f"car{index}", password="pw", receipt_delay=delay, record="counters",
            deliver_window=500, query_memory=0, tick=0.02), random.Random(index))
        settings = Settings(window=1000, response_timeout=30, enquire_link_interval=30, inactivity_timeout=600)
        reactor.listenTCP(port, sim.factory(settings), interface="127.0.0.1")
        sims.append(sim)

    def report() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"carriers          {usage.ru_utime + usage.ru_stime:.1f} CPU s (both, one process)", file=sys.stderr)
        for n, sim in enumerate(sims):
            c = sim.counters
            print(f"carrier {n}           {c.submits} submits, {c.receipts_sent} receipts sent, "
                  f"{c.push_failures} receipt pushes refused or unanswered (re-sent later)", file=sys.stderr)

    reactor.addSystemEventTrigger("before", "shutdown", report)
    reactor.run()


def engine_config(path: str, db_url: str, port: int, carriers: list[int], args: argparse.Namespace) -> None:
    upstreams = "".join(f"""
[[upstreams]]
name = "car{i}"
endpoint = "tcp:host=127.0.0.1:port={p}"
system_id = "car{i}"
password = "pw"
window = {args.upstream_window}
""" for i, p in enumerate(carriers))
    with open(path, "w") as f:
        f.write(f"""
[database]
url = "{db_url}"
upgrade_on_start = true
sqlite_synchronous = "{args.sqlite_synchronous}"
[smpp_server]
listen = "tcp:{port}:interface=127.0.0.1"
window = {args.window}
[metrics]
enabled = {"true" if args.metrics_port else "false"}
listen = "tcp:{args.metrics_port or 9775}:interface=127.0.0.1"
[logging]
level = "warn"
[dispatcher]
interval = "50ms"
batch = 2000
[[accounts]]
system_id = "bench"
password_hash = "{hash_password(PASSWORD)}"
max_binds = {args.sessions}
window = {args.window}
{upstreams}
[[routes]]
name = "all"
upstreams = [{", ".join(f'"car{i}"' for i in range(len(carriers)))}]
""")


class Esme:
    """S transceivers; every receipt is acknowledged and timed against its submit."""

    def __init__(self, args: argparse.Namespace, port: int) -> None:
        self.args = args
        self.port = port
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.accepted = 0
        self.rejected: dict[int, int] = {}
        self.receipts = 0
        self.early: dict[str, float] = {}
        self.interval = args.sessions / args.rate if args.rate else 0.0

    def request(self, session, pdu):  # ClientDelegate: a receipt (or MO) from smsc
        receipt = receipt_summary(pdu.params, pdu.tlvs)  # (id, state, error): the cheap form
        if receipt is not None:
            started = self.sent_at.pop(receipt[0], None)
            if started is None:
                self.early[receipt[0]] = time.perf_counter()
            else:
                self.latencies.append(time.perf_counter() - started)
            self.receipts += 1
        return {}

    def answered(self, pdu, started: float) -> None:
        if pdu.status == 0:
            message_id = pdu.params["message_id"]
            self.accepted += 1
            if message_id in self.early:  # the receipt beat the response here (it happens)
                self.latencies.append(self.early.pop(message_id) - started)
            else:
                self.sent_at[message_id] = started
        else:
            self.rejected[pdu.status] = self.rejected.get(pdu.status, 0) + 1

    async def session(self, index: int, count: int) -> None:
        settings = SessionSettings(window=self.args.window, response_timeout=60, enquire_link_interval=30,
                                   inactivity_timeout=0)
        client = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.port),
                                       SmppClientProtocol(reactor, settings, self))
        await client.bind("transceiver", "bench", PASSWORD)
        outstanding = []
        next_at = time.perf_counter()
        for n in range(count):
            if self.interval:
                next_at += self.interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await deferLater(reactor, delay, lambda: None)
            started = time.perf_counter()
            d = client.submit(dict(SUBMIT, destination_addr=f"49{index:02d}{n:09d}"))
            d.addCallback(self.answered, started)
            outstanding.append(d)
            if len(outstanding) >= self.args.window:
                await outstanding.pop(0)
        await DeferredList(outstanding)
        while self.receipts < self.accepted or self.sent_at:  # keep the bind until every receipt is in
            await deferLater(reactor, 0.05, lambda: None)

    async def run(self) -> float:
        started = time.perf_counter()
        per_session = self.args.messages // self.args.sessions
        await DeferredList([ensureDeferred(self.session(i, per_session)) for i in range(self.args.sessions)],
                           fireOnOneErrback=True)
        return time.perf_counter() - started


def _sql(db_url: str, sql: str) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return result.fetchall() if result.returns_rows else []
    finally:
        engine.dispose()


def print_pg_statements(db_url: str, top: int, messages: int) -> None:
    """Where PostgreSQL's own time went: plan + execute time per statement, per message."""
    rows = _sql(db_url, "SELECT calls, rows, total_plan_time, total_exec_time, query FROM pg_stat_statements"
                        " ORDER BY total_plan_time + total_exec_time DESC")
    total = sum(r[2] + r[3] for r in rows)
    print(f"statements        {total / 1000:.1f} s planning + executing ({total * 1000 / max(messages, 1):.0f} µs a message)")
    for calls, nrows, plan, execute, query in rows[:top]:
        print(f"  {(plan + execute) * 1000 / max(messages, 1):6.1f} µs/msg  plan {plan / 1000:5.2f} s  exec {execute / 1000:5.2f} s"
              f"  {calls:7d} calls {nrows:8d} rows  {' '.join(query.split())[:110]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--messages", type=int, default=50_000, help="total")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--upstream-window", type=int, default=500)
    parser.add_argument("--receipt-delay", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=0, help="offered msgs/s (0: as fast as it goes)")
    parser.add_argument("--sqlite-synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--metrics-port", type=int, default=0, help="serve the engine's /metrics here (0: off)")
    parser.add_argument("--py-spy", metavar="FILE", help="record the engine with py-spy (raw collapsed stacks)")
    parser.add_argument("--py-spy-seconds", type=int, default=10)
    parser.add_argument("--pg-statements", type=int, default=0, metavar="N",
                        help="PostgreSQL: print the N statements the server spent most time on (pg_stat_statements)")
    parser.add_argument("--run-carriers", nargs="+", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_carriers:
        run_carriers(args.run_carriers, args.receipt_delay)
        return 0

    workdir = tempfile.mkdtemp(prefix="smsc-e2e-")
    pg_options = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
    db_url, cluster = fresh_database(args.db, workdir, pg_options if args.pg_statements else "")
    if args.pg_statements:
        _sql(db_url, "CREATE EXTENSION pg_stat_statements")
    carrier_ports = [free_port(), free_port()]
    smpp_port = free_port()
    config = os.path.join(workdir, "e2e.toml")
    engine_config(config, db_url, smpp_port, carrier_ports, args)
    carriers = subprocess.Popen([sys.executable, __file__, "--receipt-delay", str(args.receipt_delay),
                                 "--run-carriers", *map(str, carrier_ports)])
    engine = start_engine(config)
    samples: list[tuple[float, float, float]] = []
    spy = None
    try:
        for port in (*carrier_ports, smpp_port):
            wait_port(port)
        time.sleep(1.0)  # let the engine bind its upstreams
        if args.py_spy:  # where the engine's GIL time goes, as py-spy's collapsed stacks
            spy = subprocess.Popen([shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--gil", "-r", "200", "-f", "raw", "-o", args.py_spy,
                                    "-d", str(args.py_spy_seconds), "-p", str(engine.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        esme = Esme(args, smpp_port)
        t0 = time.perf_counter()
        cpu0, _ = proc_stats(engine.pid)
        db_cpu0 = cluster_cpu(cluster) if cluster is not None else 0.0

        def sample() -> None:
            cpu, _ = proc_stats(engine.pid)
            with open(f"/proc/{engine.pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
            samples.append((time.perf_counter() - t0, cpu - cpu0, rss))

        sampler = LoopingCall(sample)
        sampler.start(1.0)
        elapsed = run_to_completion(esme.run)
        if elapsed is None:
            return 1
        sample()
        lat = sorted(esme.latencies)
        rss = [s[2] for s in samples]
        quarter = max(1, len(rss) // 4)
        print(f"database          {args.db}")
        print(f"load              {args.sessions} ESME sessions x window {args.window}, {args.messages} messages, "
              f"offered {'max' if not args.rate else args.rate} msg/s, carrier receipt delay {args.receipt_delay}s")
        print(f"accepted          {esme.accepted} (refused: {esme.rejected or 'none'})")
        print(f"receipts at ESME  {esme.receipts} of {esme.accepted} ({esme.accepted - esme.receipts} missing)")
        print(f"end to end        {esme.receipts / elapsed:.0f} msgs/s sustained ({elapsed:.1f} s from first submit to last receipt)")
        print(f"submit->receipt   p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms")
        print(f"engine            {samples[-1][1]:.1f} CPU s ({samples[-1][1] / elapsed * 100:.0f}% of one core, "
              f"{samples[-1][1] / max(esme.receipts, 1) * 1e6:.0f} µs a message), "
              f"RSS first quarter avg {sum(rss[:quarter]) / quarter:.0f} MiB, last quarter avg "
              f"{sum(rss[-quarter:]) / quarter:.0f} MiB, max {max(rss):.0f} MiB")
        if cluster is not None:
            db_cpu = cluster_cpu(cluster) - db_cpu0
            print(f"postgres          {db_cpu:.1f} CPU s ({db_cpu / elapsed * 100:.0f}% of one core, "
                  f"{db_cpu / max(esme.receipts, 1) * 1e6:.0f} µs a message; every server process)")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"load generator    {usage.ru_utime + usage.ru_stime:.1f} CPU s")
        if args.pg_statements:
            print_pg_statements(db_url, args.pg_statements, esme.receipts)
        return 0 if esme.receipts >= esme.accepted else 2
    finally:
        if spy is not None:
            spy.wait()
        stop([engine, carriers], cluster)


if __name__ == "__main__":
    sys.exit(main())
