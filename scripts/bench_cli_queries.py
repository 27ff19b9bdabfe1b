"""How long `smsc queue stats` and `smsc upstream list` take to read a big messages table.

    python scripts/bench_cli_queries.py [--rows 1000000] [--url sqlite:///tmp/bench.db]

Fills a fresh database (default: a temp SQLite file) with mostly final messages plus a backlog,
as after a long run, then times the two read transactions the commands run.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from smsc.store import accounts as store
from smsc.store import migrate
from smsc.store.admin import queue_stats_txn, upstream_figures_txn
from smsc.store.db import Database
from smsc.store.messages import insert_messages_txn

STATES = ["DELIVERED"] * 90 + ["UNDELIVERABLE"] * 4 + ["FAILED"] * 2 + ["QUEUED"] * 2 + ["SUBMITTED"] * 2


def rows(start: int, count: int, account_ids: list[int], now: float, rng: random.Random) -> list[dict]:
    out = []
    for i in range(start, start + count):
        state = rng.choice(STATES)
        upstream = None if state == "QUEUED" else rng.choice(("carrier-a", "carrier-b"))
        out.append(dict(
            id=i, account_id=rng.choice(account_ids), state=state, command="submit_sm", multi_id=None, service_type="",
            source_addr="ACME", source_ton=5, source_npi=0, dest_addr=f"4477009{i % 100000:05d}", dest_ton=1,
            dest_npi=1, esm_class=0, protocol_id=0, priority=rng.choice((0, 0, 0, 1)), registered_delivery=1,
            data_coding=0, body=b"hello", text="hello", segments=1, tlvs=None, created_at=now - i % 86400,
            updated_at=now - i % 86400, schedule_at=None, expires_at=now + 3600, next_attempt_at=now - 1 + i % 3,
            attempts=1, route=None, upstream=upstream, error="stat:UNDELIV" if state in ("FAILED", "UNDELIVERABLE") else None,
            done_at=None, claimed_by=None, parts_sent=0, parts_done=0,
        ))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{os.path.join(tempfile.mkdtemp(), 'bench.db')}"
    db = Database(url, None)
    migrate.upgrade(db.engine)
    now = time.time()
    accounts = [db.run_sync("account", store.create_account_txn, f"acct{i}", "x", now).id for i in range(5)]
    rng = random.Random(1)
    started = time.perf_counter()
    for start in range(1, args.rows + 1, 20_000):
        db.run_sync("fill", insert_messages_txn, rows(start, min(20_000, args.rows + 1 - start), accounts, now, rng))
    print(f"filled {args.rows} rows in {time.perf_counter() - started:.1f} s ({url})")
    for name, fn, extra in (("queue stats", queue_stats_txn, (now,)), ("upstream figures", upstream_figures_txn, ())):
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            db.run_sync(name, fn, *extra, readonly=True)
            timings.append(time.perf_counter() - t0)
        print(f"{name}: best {min(timings) * 1000:.0f} ms, worst {max(timings) * 1000:.0f} ms")
    db.stop()


if __name__ == "__main__":
    main()
