"""What replace_if_present_flag costs a group commit, in µs per row (SQLite in memory).

insert_messages_txn of batches of intake rows, each to its own destination, into a table that
already holds --fill rows of the same account: with no flagged row (the usual batch: must cost
what insert_rows costs), then with 1 and 10 flagged rows (each one UPDATE ... RETURNING).

    .venv/bin/python scripts/bench_replace_if_present.py [--batch 500] [--fill 20000] [--repeat 15]

Figures are provisional (2 shared cores); compare before/after on the same machine.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from typing import Any

import sqlalchemy as sa

from protocols.smpp.codec import Pdu
from smsc.store.accounts import Account
from smsc.store.messages import insert_messages_txn
from smsc.store.schema import metadata
from smsc.submit import IntakeLimits, message_row

ACCOUNT = Account(1, "bench", "", True, 2, 10, 0.0, (), (), "")
NOW = 1_800_000_000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--fill", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    conn = engine.connect()
    ids = itertools.count(1)
    limits = IntakeLimits()

    def row(flag: int) -> dict[str, Any]:
        n = next(ids)
        params = {"source_addr": "Bench", "source_addr_ton": 5, "destination_addr": f"4917{n:08d}",
                  "dest_addr_ton": 1, "dest_addr_npi": 1, "registered_delivery": 1,
                  "short_message": b"Your code is 123456.", "replace_if_present_flag": flag}
        return message_row(Pdu("submit_sm", 1, 0, params), ACCOUNT, NOW, limits, n)

    def batch(flagged: int) -> float:
        rows = [row(1 if i < flagged else 0) for i in range(args.batch)]
        with conn.begin():
            started = time.perf_counter()
            insert_messages_txn(conn, rows)
            return time.perf_counter() - started

    for _ in range(max(1, args.fill // args.batch)):
        batch(0)
    for flagged in (0, 1, 10):
        took = statistics.median(batch(flagged) for _ in range(args.repeat))
        print(f"{flagged:>3} flagged of {args.batch}  {took / args.batch * 1e6:6.2f} µs/row  ({took * 1e3:.2f} ms a batch)")


if __name__ == "__main__":
    main()
