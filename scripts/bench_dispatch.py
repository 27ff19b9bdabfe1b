"""Micro-benchmark of the dispatch path, in-process, in µs per message.

- claim: ``claim_due_txn`` over a batch of queued rows on a SQLite file (rolled back each time);
- outcomes: ``record_outcomes_txn`` for that batch, all Sent (rolled back each time);
- dispatch: ``Dispatcher._claimed`` over the batch into two real ``SmppUpstream`` objects whose
  sessions are stand-ins (``send_request_notify`` kept, answered with a prepared submit_sm_resp), the
  group commit included but not its transaction: the reactor-thread cost of one message;
- receipt: ``SmppUpstream.request`` for a receipt deliver_sm, the engine answering at once.

The session's own encode/decode is not in these figures (protocols/ has its own benchmarks).

    .venv/bin/python scripts/bench_dispatch.py [--batch 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.defer import Deferred, succeed  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402

from protocols.smpp.codec import Pdu  # noqa: E402
from smsc.dispatch import Dispatcher  # noqa: E402
from smsc.dlr import esme_receipt  # noqa: E402
from smsc.retry import RetryPolicy  # noqa: E402
from smsc.router import Router, RouteSpec  # noqa: E402
from smsc.store import migrate  # noqa: E402
from smsc.store.accounts import create_account_txn  # noqa: E402
from smsc.store.db import create_engine  # noqa: E402
from smsc.store.messages import insert_messages_txn  # noqa: E402
from smsc.store.queue import Sent, claim_due_txn, record_outcomes_txn  # noqa: E402
from smsc.upstreams.base import health_of  # noqa: E402
from smsc.upstreams.smpp import SmppUpstream, SmppUpstreamSettings  # noqa: E402

NOW = 1_800_000_000.0


def message_row(message_id: int) -> dict:
    return {
        "id": message_id, "account_id": 1, "state": "QUEUED", "command": "submit_sm", "multi_id": None,
        "service_type": "", "source_addr": "Bench", "source_ton": 5, "source_npi": 0,
        "dest_addr": f"4917{message_id:08d}", "dest_ton": 1, "dest_npi": 1, "esm_class": 0, "protocol_id": 0,
        "priority": 0, "registered_delivery": 1, "data_coding": 0,
        "body": b"Your code is 123456. It expires in 10 minutes.",
        "text": "Your code is 123456. It expires in 10 minutes.",
        "segments": 1, "tlvs": None, "created_at": NOW, "updated_at": NOW, "schedule_at": None,
        "expires_at": NOW + 86400, "next_attempt_at": NOW, "attempts": 0, "route": None, "upstream": None,
        "error": None, "done_at": None, "claimed_by": None, "parts_sent": 0, "parts_done": 0,
    }


def _repeat(fn, number: int, repeat: int) -> list[float]:
    """CPU time of this process, not wall time: other work on the machine skews less."""
    return timeit.repeat(fn, number=number, repeat=repeat, timer=time.process_time)


def report(label: str, seconds: float, per: int) -> None:
    print(f"{label:<44} {seconds / per * 1e6:8.2f} µs/message")


def bench_store(batch: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        with engine.begin() as conn:
            create_account_txn(conn, "bench", "scrypt$x", NOW)
            insert_messages_txn(conn, [message_row(i) for i in range(1, batch + 1)])
        conn = engine.connect()

        def claim() -> list:
            trans = conn.begin()
            claimed, _ = claim_due_txn(conn, 1, NOW, batch, esme_receipt)
            trans.rollback()
            return claimed

        assert len(claim()) == batch
        report("claim_due_txn", min(_repeat(claim, number=1, repeat=repeat)), batch)
        outcomes = [Sent(i, "car0", "all", ((1, f"{i:08x}"),)) for i in range(1, batch + 1)]

        def outcome() -> None:
            trans = conn.begin()
            claim_due_txn(conn, 1, NOW, batch, esme_receipt)
            record_outcomes_txn(conn, NOW, outcomes, [])
            trans.rollback()

        report("claim + record_outcomes_txn", min(_repeat(outcome, number=1, repeat=repeat)), batch)
        conn.close()
        engine.dispose()


class FakeSession:
    """What SmppUpstream needs of a bound session; submits wait for ``answer_all``, which calls
    each one's notify as the real session's ``send_request_notify`` does (no encode, no I/O)."""

    can_transmit = True
    can_receive = True

    def __init__(self, window: int) -> None:
        self.send_window = window
        self.in_flight = 0
        self.pending: list[tuple] = []

    def window_available(self) -> bool:
        return self.in_flight < self.send_window

    def send_request_notify(self, command: str, params: dict | None, tlvs: dict | None,
                            unknown_tlvs: list | None, notify, arg) -> None:  # noqa: ANN001
        self.in_flight += 1
        self.pending.append((notify, arg))

    def answer_all(self, responses: list[Pdu]) -> None:
        pending, self.pending = self.pending, []
        for (notify, arg), pdu in zip(pending, responses):
            self.in_flight -= 1
            notify(pdu, arg)


class Events:
    def receipt(self, upstream: str, remote_id: str, state: int, error_code: int | None) -> Deferred:
        return succeed(None)

    def mo(self, upstream: str, pdu: Pdu) -> Deferred:
        return succeed(None)

    def bound_changed(self, upstream: str) -> None:
        pass


def bench_dispatch(batch: int, repeat: int) -> None:
    clock = Clock()
    upstreams, sessions = {}, []
    for name in ("car0", "car1"):
        upstream = SmppUpstream(SmppUpstreamSettings(name, "tcp:host=127.0.0.1:port=1", name, "pw",
                                                     window=batch), clock, Events())
        session = FakeSession(batch)
        upstream._tx.append(session)
        upstreams[name] = upstream
        sessions.append(session)
    router = Router([RouteSpec("all", (("car0", 1), ("car1", 1)))], health_of(upstreams))

    def run_interaction(desc: str, txn, *args) -> Deferred:  # noqa: ANN001
        return succeed(None)

    dispatcher = Dispatcher(run_interaction=run_interaction, clock=clock, node_id=1, router=router,
                            upstreams=upstreams, policy=RetryPolicy(), batch=batch)
    rows = [dict(message_row(i), system_id="bench", attempts=1) for i in range(1, batch + 1)]
    responses = [Pdu("submit_sm_resp", i, 0, {"message_id": f"{i:08x}"}) for i in range(batch)]

    def one_batch() -> None:
        dispatcher._claimed((rows, 0), batch + 1)
        for session in sessions:
            session.answer_all(responses)
        clock.advance(0)  # the group commit

    one_batch()
    assert sum(u.submits["ESME_ROK"] for u in upstreams.values()) == batch
    report("dispatch (claimed -> outcome committed)", min(_repeat(one_batch, number=1, repeat=repeat)), batch)

    upstream = upstreams["car0"]
    receipt = Pdu("deliver_sm", 1, 0, {
        "esm_class": 0x04, "source_addr": "491700000001", "destination_addr": "Bench",
        "short_message": b"id:0000002a sub:001 dlvrd:001 submit date:2511221030 done date:2511221030 "
                         b"stat:DELIVRD err:000 text:Your code is 1234"},
        {"receipted_message_id": "0000002a", "message_state": 2})

    def receipts() -> None:
        for _ in range(batch):
            upstream.request(sessions[0], receipt)

    report("receipt intake (SmppUpstream.request)", min(_repeat(receipts, number=1, repeat=repeat)), batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    bench_store(args.batch, args.repeat)
    bench_dispatch(args.batch, args.repeat)


if __name__ == "__main__":
    main()
