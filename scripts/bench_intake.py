#!/usr/bin/env python3
"""Intake benchmark: S ESME sessions submit M messages each with a window W to a real `smsc serve`.

The engine runs as its own process (as in production) on SQLite or a throwaway PostgreSQL;
this process is the load generator (our own SMPP client, one reactor). Every submit_sm_resp is
written after a durable commit. Prints accepted msgs/s, p50/p99 submit->resp latency, the
engine's CPU seconds and peak RSS, and checks that every acknowledged id is in the database.

  python scripts/bench_intake.py --db sqlite --sessions 4 --messages 25000 --window 100
  python scripts/bench_intake.py --db postgres --rate 5000 --messages 10000
  python scripts/bench_intake.py --db sqlite --sessions 200 --messages 200 --window 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import DeferredList, ensureDeferred  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from protocols.smpp.client import SmppClientProtocol  # noqa: E402
from protocols.smpp.session import SessionSettings  # noqa: E402
from scripts.benchlib import (  # noqa: E402
    PASSWORD, free_port, fresh_database, percentile, proc_stats, run_to_completion, start_engine, stop, wait_port,
)
from smsc.auth import hash_password  # noqa: E402


def write_config(path: str, db_url: str, port: int, args: argparse.Namespace) -> None:
    with open(path, "w") as f:
        f.write(f"""
[database]
url = "{db_url}"
upgrade_on_start = true
sqlite_synchronous = "{args.sqlite_synchronous}"
[smpp_server]
listen = "tcp:{port}:interface=127.0.0.1"
window = {args.window}
max_sessions = {args.sessions + 10}
[metrics]
enabled = false
[logging]
level = "warn"
[[accounts]]
system_id = "bench"
password_hash = "{hash_password(PASSWORD)}"
max_binds = {args.sessions}
window = {args.window}
""")




SUBMIT = {
    "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "Bench",
    "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "491701234567", "esm_class": 0,
    "protocol_id": 0, "priority_flag": 0, "schedule_delivery_time": "", "validity_period": "",
    "registered_delivery": 1, "replace_if_present_flag": 0, "data_coding": 0, "sm_default_msg_id": 0,
    "short_message": b"Your code is 123456. It expires in 10 minutes.",
}


class Load:
    def __init__(self, args: argparse.Namespace, port: int) -> None:
        self.args = args
        self.port = port
        self.latencies: list[float] = []
        self.ids: list[int] = []
        self.errors: dict[int, int] = {}
        self.interval = args.sessions / args.rate if args.rate else 0.0

    async def session(self, index: int) -> None:
        settings = SessionSettings(window=self.args.window, response_timeout=60, enquire_link_interval=0, inactivity_timeout=0)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        client = await connectProtocol(endpoint, SmppClientProtocol(reactor, settings))
        await client.bind("transmitter", "bench", PASSWORD)
        outstanding = []
        next_at = time.perf_counter()
        for n in range(self.args.messages):
            if self.interval:
                next_at += self.interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await deferLater(reactor, delay, lambda: None)
            started = time.perf_counter()
            params = dict(SUBMIT, destination_addr=f"4917{index:03d}{n:07d}")
            d = client.submit(params)  # waits for a window slot inside the session
            d.addCallback(self.answered, started)
            outstanding.append(d)
            if len(outstanding) >= self.args.window:
                await outstanding.pop(0)
        await DeferredList(outstanding)
        await client.unbind()

    def answered(self, pdu, started: float) -> None:
        if pdu.status == 0:
            self.latencies.append(time.perf_counter() - started)
            self.ids.append(int(pdu.params["message_id"]))
        else:
            self.errors[pdu.status] = self.errors.get(pdu.status, 0) + 1

    async def run(self) -> float:
        started = time.perf_counter()
        await DeferredList([ensureDeferred(self.session(i)) for i in range(self.args.sessions)], fireOnOneErrback=True)
        return time.perf_counter() - started



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--db-url", help="use this database instead of a fresh one")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--messages", type=int, default=25000, help="per session")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--sqlite-synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--rate", type=float, default=0, help="offered msgs/s over all sessions (0 = as fast as possible)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="smsc-bench-")
    db_url, cluster = (args.db_url, None) if args.db_url else fresh_database(args.db, workdir)
    port = free_port()
    config = os.path.join(workdir, "bench.toml")
    write_config(config, db_url, port, args)
    engine = start_engine(config)
    try:
        wait_port(port)
        cpu_before, _ = proc_stats(engine.pid)
        load = Load(args, port)
        elapsed = run_to_completion(load.run)
        if elapsed is None:
            return 1
        cpu_after, rss = proc_stats(engine.pid)
        lat = sorted(load.latencies)
        accepted = len(lat)
        from smsc.store.db import Database
        from smsc.store.messages import ids_exist_txn

        db = Database(db_url, reactor)
        durable = len(db.run_sync("check", ids_exist_txn, load.ids, readonly=True))
        db.stop()
        print(f"database        {args.db}{' (' + db_url.split('@')[-1] + ')' if args.db_url else ''}")
        print(f"sessions/window {args.sessions} x {args.window}, {args.messages} msgs each, offered {'max' if not args.rate else args.rate} msg/s")
        print(f"accepted        {accepted} in {elapsed:.2f} s = {accepted / elapsed:.0f} submit_sm/s")
        print(f"errors          {load.errors or 'none'}")
        print(f"latency         p50 {percentile(lat, 50) * 1000:.2f} ms, p99 {percentile(lat, 99) * 1000:.2f} ms, max {lat[-1] * 1000 if lat else 0:.2f} ms")
        print(f"engine          {cpu_after - cpu_before:.1f} CPU s, peak RSS {rss:.0f} MiB")
        print(f"durable         {durable}/{accepted} acknowledged ids found in the database")
        return 0 if durable == accepted else 2
    finally:
        stop([engine], cluster)


if __name__ == "__main__":
    sys.exit(main())
