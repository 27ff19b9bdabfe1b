"""Micro-benchmark of the receipt -> ESME path, in µs per receipt.

Runs batches of carrier receipts through the real objects on a real SQLite file (WAL, as the
engine runs it), with no TCP: ``InboundSink.receipt`` x N -> group commit (apply_receipts) ->
``OutboxPusher`` -> deliver_sm to a bound receiver (a fake session that records the requests)
-> deliver_sm_resp OK -> outbox rows marked DELIVERED. Transactions run inline, as the writer
thread would run them; their time is reported apart ("db"), the rest is reactor-thread time.

  path           the whole path above (reactor + db)
  apply          apply_receipts_txn alone (matching, message updates, receipts owed)
  rematch        rematch_early_receipts_txn for a batch of new DLR keys (no early receipts:
                 the common case, run by every record_outcomes transaction)
  esme_receipt   the outbox row owed for one final message (receipt text + TLVs)

    .venv/bin/python scripts/bench_receipts.py [--batch 500] [--repeat 10]

Figures are provisional (2 shared cores); compare before/after on the same machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402
from twisted.internet import task  # noqa: E402
from twisted.internet.defer import Deferred, fail, succeed  # noqa: E402

from smsc.dlr import ReceiptEvent, esme_receipt  # noqa: E402
from smsc.esme import EsmeRegistry  # noqa: E402
from smsc.inbound import InboundSink  # noqa: E402
from smsc.metrics import Metrics  # noqa: E402
from smsc.outbox import OutboxPusher  # noqa: E402
from smsc.store import migrate  # noqa: E402
from smsc.store.accounts import Account, create_account_txn  # noqa: E402
from smsc.store.db import create_engine  # noqa: E402
from smsc.store.dlr import apply_receipts_txn, rematch_early_receipts_txn  # noqa: E402
from smsc.store.messages import insert_messages_txn  # noqa: E402
from smsc.store.queue import Sent, record_outcomes_txn  # noqa: E402
from smsc.store.schema import outbox  # noqa: E402

NOW = 1_800_000_000.0
DELIVERED = 2


def message(message_id: int) -> dict[str, Any]:
    return {
        "id": message_id, "account_id": 1, "state": "SUBMITTED", "command": "submit_sm", "multi_id": None,
        "service_type": "", "source_addr": "Bench", "source_ton": 5, "source_npi": 0,
        "dest_addr": f"4917{message_id % 10**8:08d}", "dest_ton": 1, "dest_npi": 1, "esm_class": 0,
        "protocol_id": 0, "priority": 0, "registered_delivery": 1, "data_coding": 0,
        "body": b"Your code is 123456. It expires in 10 minutes.",
        "text": "Your code is 123456. It expires in 10 minutes.", "segments": 1, "tlvs": None,
        "created_at": NOW + message_id / 1000, "updated_at": NOW, "schedule_at": None, "expires_at": NOW + 3600,
        "next_attempt_at": NOW, "attempts": 1, "route": None, "upstream": "car0", "error": None,
        "done_at": None, "claimed_by": None, "parts_sent": 1, "parts_done": 0,
    }


class Store:
    """A migrated SQLite file with one account and ``count`` submitted messages, each with a DLR key."""

    def __init__(self, count: int) -> None:
        self.dir = tempfile.mkdtemp(prefix="bench-receipts-")
        self.engine = create_engine(f"sqlite:///{self.dir}/smsc.db", sqlite_synchronous="NORMAL")
        migrate.upgrade(self.engine)
        with self.engine.begin() as conn:
            create_account_txn(conn, "bench", "scrypt$x", NOW)
            insert_messages_txn(conn, [message(i) for i in range(1, count + 1)])
            record_outcomes_txn(conn, NOW, [Sent(i, "car0", "r", ((1, f"rid{i}"),)) for i in range(1, count + 1)], [])
        self.db_seconds = 0.0
        self.calls: Counter[str] = Counter()

    def run_interaction(self, desc: str, fn: Callable[..., Any], *args: Any, readonly: bool = False) -> Deferred:
        """As Database.run_interaction, inline: the transaction's time counts as "db"."""
        self.calls[desc] += 1
        started = time.perf_counter()
        try:
            with self.engine.begin() as conn:
                result = fn(conn, *args)
        except Exception:  # noqa: BLE001 - handed back as the Deferred's failure
            return fail()
        finally:
            self.db_seconds += time.perf_counter() - started
        return succeed(result)


class FakeReceiver:
    """A bound receiver: records deliver_sm requests, answered when the bench says so."""

    can_receive = True
    bind_type = "transceiver"

    def __init__(self, window: int) -> None:
        self.send_window = window
        self.queued = 0
        self.waiting: list[tuple[Any, Any]] = []

    @property
    def in_flight(self) -> int:
        return len(self.waiting)

    def send_request_notify(self, command: str, params: dict, tlvs: dict | None, vendor: Any, notify: Any,
                            arg: Any) -> None:
        self.waiting.append((notify, arg))

    def answer_all(self) -> int:
        waiting, self.waiting = self.waiting, []
        for notify, arg in waiting:
            notify(_OK, arg)
        return len(waiting)


class _Resp:
    status = 0


_OK = _Resp()


def bench_path(batch: int, repeat: int) -> tuple[Callable[[], None], Store]:
    store = Store(batch * (repeat + 2))
    clock = task.Clock()
    clock.advance(NOW + 1)
    registry = EsmeRegistry(clock)
    receiver = FakeReceiver(window=batch * 2)
    account = Account(1, "bench", "", True, 4, batch * 2, 0.0, (), (), "")
    binding = registry.binding_for(account)
    registry.add(binding, receiver)
    metrics = Metrics()
    pusher = OutboxPusher(run_interaction=store.run_interaction, clock=clock, registry=registry, metrics=metrics)
    pusher.startService()
    sink = InboundSink(run_interaction=store.run_interaction, clock=clock, on_owed=pusher.wake, metrics=metrics)
    next_id = [1]

    def settle() -> None:
        for _ in range(20):
            clock.advance(0)

    def run() -> None:
        first = next_id[0]
        next_id[0] += batch
        acked: list[Any] = []
        for i in range(first, first + batch):
            sink.receipt_notify("car0", f"rid{i}", DELIVERED, 0, lambda result, _: acked.append(result))
        settle()
        pushed = receiver.answer_all()
        settle()
        assert len(acked) == batch and pushed == batch, (len(acked), pushed)
        assert pusher.in_flight == 0

    return run, store


def bench_apply(batch: int, repeat: int) -> Callable[[], None]:
    store = Store(batch)
    events = [ReceiptEvent("car0", f"rid{i}", DELIVERED, 0) for i in range(1, batch + 1)]

    def run() -> None:
        with store.engine.connect() as conn:
            trans = conn.begin()
            counts = apply_receipts_txn(conn, NOW + 5, events)
            trans.rollback()  # the same batch again next time
        assert counts["final"] == batch, counts

    return run


def bench_rematch(batch: int, repeat: int) -> Callable[[], None]:
    store = Store(batch)
    keys = [("car0", f"rid{i}") for i in range(1, batch + 1)]

    def run() -> None:
        with store.engine.begin() as conn:
            rematch_early_receipts_txn(conn, NOW + 5, keys)

    return run


def bench_esme_receipt(batch: int, repeat: int) -> Callable[[], None]:
    messages = [message(i) for i in range(1, batch + 1)]

    def run() -> None:
        for m in messages:
            esme_receipt(m, "DELIVERED", NOW + 5 + m["id"] / 1000)

    return run


def best_of(run: Callable[[], None], repeat: int) -> float:
    run()  # warm up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    batch, repeat = args.batch, args.repeat

    run, store = bench_path(batch, repeat)
    run()  # warm up
    store.calls.clear()
    totals, dbs = [], []
    for _ in range(repeat):
        db0 = store.db_seconds
        started = time.perf_counter()
        run()
        totals.append(time.perf_counter() - started)
        dbs.append(store.db_seconds - db0)
    best = min(range(repeat), key=lambda i: totals[i])
    total, db = totals[best] / batch * 1e6, dbs[best] / batch * 1e6
    with store.engine.connect() as conn:
        pending = conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.state != "DELIVERED")).scalar()
    assert pending == 0, pending
    print(f"{'path':<14}{total:8.1f} µs/receipt  (reactor {total - db:.1f}, db {db:.1f})")
    print(f"{'':<14}transactions per batch: "
          + ", ".join(f"{desc} {n / repeat:.1f}" for desc, n in sorted(store.calls.items())))
    for name, bench in (("apply", bench_apply), ("rematch", bench_rematch), ("esme_receipt", bench_esme_receipt)):
        print(f"{name:<14}{best_of(bench(batch, repeat), repeat) / batch * 1e6:8.1f} µs/receipt")


if __name__ == "__main__":
    main()
