"""The receipt -> ESME path: InboundSink commits receipts, OutboxPusher pushes what they owe.

Real transactions on SQLite and PostgreSQL, run inline (or held, to interleave them as the
thread pool could); the bound receiver is a recording fake session answered by the test.
Covers the fast path (rows handed over after the commit, never read back, waiting in memory
while the window is full) and its guards: order behind rows already waiting, no double push
when a read overlaps, a bounded waiting list, answers written in one transaction at a time,
failures retried from the table.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import sqlalchemy as sa
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure
from twisted.internet.task import Clock

from smsc.dlr import ReceiptEvent, esme_receipt
from smsc.esme import EsmeRegistry
from smsc.inbound import InboundSink
from smsc.metrics import Metrics
from smsc.outbox import OutboxPusher
from smsc.store import migrate
from smsc.store.accounts import Account, create_account_txn
from smsc.store.db import create_engine
from smsc.store.dlr import apply_receipts_txn
from smsc.store.messages import insert_messages_txn
from smsc.store.outbox import due_outbox_txn, insert_outbox_txn
from smsc.store.queue import Sent, record_outcomes_txn
from smsc.store.schema import outbox
from tests.unit.test_queue_store import NOW, row

DELIVERED = 2


class Receiver:
    """A bound receiver session: records deliver_sm, answered by the test."""

    can_receive = True
    bind_type = "transceiver"

    def __init__(self, window: int = 100) -> None:
        self.send_window = window
        self.queued = 0
        self.waiting: list[tuple[tuple[Any, Any], dict]] = []
        self.sent: list[dict] = []

    @property
    def in_flight(self) -> int:
        return len(self.waiting)

    def send_request_notify(self, command: str, params: dict, tlvs: dict | None, vendor: Any, notify: Any, arg: Any) -> None:
        entry = dict(params, tlvs=tlvs)
        self.waiting.append(((notify, arg), entry))
        self.sent.append(entry)

    def answer(self, status: int = 0, count: int | None = None) -> None:
        answered, self.waiting = self.waiting[:count], self.waiting[len(self.waiting[:count]):]
        for (notify, arg), _ in answered:
            notify(type("Resp", (), {"status": status})(), arg)


class Node:
    """One engine's receipt path on a real database: sink -> pusher -> receiver."""

    def __init__(self, url: str, window: int = 100, messages: int = 10, **pusher_args: Any) -> None:
        self.engine = create_engine(url)
        migrate.upgrade(self.engine)
        with self.engine.begin() as conn:
            create_account_txn(conn, "app", "scrypt$x", NOW)
            insert_messages_txn(conn, [row(i, state="SENDING") for i in range(1, messages + 1)])
            record_outcomes_txn(conn, NOW, [Sent(i, "c", None, ((1, f"r{i}"),)) for i in range(1, messages + 1)], [])
        self.clock = Clock()
        self.clock.advance(NOW + 1)
        self.calls: list[str] = []
        self.hold: set[str] = set()  # descs whose transactions wait for release()
        self.late: set[str] = set()  # descs whose transactions run now, their results wait for release()
        self.held: list[tuple[Deferred, Callable[[], Any]]] = []
        self.registry = EsmeRegistry(self.clock)
        self.receiver = Receiver(window)
        binding = self.registry.binding_for(Account(1, "app", "", True, 4, window, 0.0, (), (), ""))
        self.registry.add(binding, self.receiver)
        self.metrics = Metrics()
        self.pusher = OutboxPusher(run_interaction=self.run, clock=self.clock, registry=self.registry,
                                   metrics=self.metrics, **pusher_args)
        self.pusher.startService()
        self.sink = InboundSink(run_interaction=self.run, clock=self.clock, on_owed=self.pusher.wake)

    def run(self, desc: str, fn: Callable[..., Any], *args: Any, readonly: bool = False) -> Deferred:
        self.calls.append(desc)

        def transaction() -> Any:
            with self.engine.begin() as conn:
                return fn(conn, *args)

        if desc in self.hold or desc in self.late:
            d: Deferred = Deferred()
            result = transaction() if desc in self.late else None
            self.held.append((d, transaction if desc in self.hold else lambda: result))
            return d
        try:
            return succeed(transaction())
        except Exception:  # noqa: BLE001 - handed back as the Deferred's failure
            return fail()

    def release(self) -> None:
        """Run the held transactions now, then fire their Deferreds (as a pool thread would)."""
        held, self.held = self.held, []
        results = [transaction() for _, transaction in held]
        for (d, _), result in zip(held, results):
            d.callback(result)

    def settle(self) -> None:
        for _ in range(10):
            self.clock.advance(0)

    def receipts(self, *numbers: int) -> None:
        for n in numbers:
            self.sink.receipt("c", f"r{n}", DELIVERED, 0)
        self.settle()

    def table(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]

    def become_clear(self) -> None:
        """A first read of the (empty) table: the account has nothing waiting."""
        self.pusher.wake()
        self.settle()
        assert self.calls[-1] == "due_outbox"


@pytest.fixture
def node(db_url):
    node = Node(db_url)
    yield node
    node.engine.dispose()


def sent_ids(node: Node) -> list[str]:
    return [entry["tlvs"]["receipted_message_id"] for entry in node.receiver.sent]


def test_committed_receipts_are_pushed_without_reading_them_back(node):
    """When the account has nothing waiting and its receiver has room, the rows a receipt batch
    wrote are pushed straight after the commit (no read of the table), with the ids and bytes
    stored; their answers mark them DELIVERED in one write."""
    node.become_clear()
    node.calls.clear()
    node.receipts(1, 2, 3)
    assert "due_outbox" not in node.calls
    stored = node.table()
    assert sent_ids(node) == ["1", "2", "3"]
    assert [e["short_message"] for e in node.receiver.sent] == [bytes(r["body"]) for r in stored]
    assert node.pusher.in_flight == 3
    node.receiver.answer()
    node.settle()
    assert [r["state"] for r in node.table()] == ["DELIVERED"] * 3
    assert node.calls.count("outbox_done") == 1 and node.pusher.in_flight == 0
    assert node.metrics.esme_deliveries.labels("receipt", "ok")._value.get() == 3


def test_rows_wait_behind_older_rows_and_go_oldest_first(db_url):
    """When the receiver's window is full, new rows stay in the table; once answers free it,
    they are read and pushed oldest first, and later batches do not overtake them."""
    node = Node(db_url, window=2)
    node.become_clear()
    node.receipts(1, 2, 3)
    assert sent_ids(node) == ["1", "2"]
    node.receipts(4)  # row 3 waits in the table: 4 must not jump ahead of it
    node.receiver.answer()
    node.settle()
    assert sent_ids(node) == ["1", "2", "3", "4"]
    node.receiver.answer()
    node.settle()
    assert [r["state"] for r in node.table()] == ["DELIVERED"] * 4
    node.engine.dispose()


def test_rows_committed_while_a_read_runs_are_pushed_once(node):
    """When receipts commit while a read of the table runs (the periodic poll), their rows are
    not handed over (the read may or may not see them) but read again: each is pushed once."""
    node.become_clear()
    node.hold.add("due_outbox")
    node.pusher.poll()  # the read starts, held as if on a busy pool thread
    node.receipts(1, 2)
    assert sent_ids(node) == []
    node.hold.discard("due_outbox")
    node.release()
    node.settle()
    assert sent_ids(node) == ["1", "2"]


def test_rows_committed_after_a_reads_snapshot_are_not_forgotten(node):
    """When rows are committed after a running read looked at the table (so it cannot return
    them), the account does not count as clear when that read ends: they are read next,
    without waiting for the periodic poll."""
    node.become_clear()
    node.late.add("due_outbox")
    node.pusher.poll()  # reads now (finds nothing), its answer comes later
    node.receipts(1)  # handed over? no: the account is not clear; it waits in the table
    node.late.discard("due_outbox")
    node.release()
    node.settle()
    assert sent_ids(node) == ["1"]


def test_rows_owed_from_elsewhere_during_a_read_are_not_forgotten(node):
    """When something is owed without a hand-over (an MO, a row another process wrote) while
    a read that could not see it runs, it is read next, without waiting for the poll."""
    node.become_clear()
    node.late.add("due_outbox")
    node.pusher.poll()
    with node.engine.begin() as conn:
        insert_outbox_txn(conn, [esme_receipt(row(9), "DELIVERED", NOW)])
    node.pusher.wake()
    node.late.discard("due_outbox")
    node.release()
    node.settle()
    assert sent_ids(node) == ["9"]


def test_a_late_hand_over_of_rows_already_pushed_is_ignored(node):
    """When the rows a read already pushed are handed over afterwards (on PostgreSQL a commit's
    callback can come after another thread's read), they are not pushed twice."""
    with node.engine.begin() as conn:
        apply_receipts_txn(conn, NOW, [ReceiptEvent("c", "r1", DELIVERED)], owed := [])
    node.become_clear()
    assert sent_ids(node) == ["1"]
    node.calls.clear()
    node.pusher.wake(owed)
    node.settle()
    assert sent_ids(node) == ["1"] and node.calls == []


def test_rows_written_elsewhere_are_found_by_the_poll(node):
    """When another process writes an owed row (no hand-over), the periodic poll pushes it."""
    node.become_clear()
    with node.engine.begin() as conn:
        insert_outbox_txn(conn, [esme_receipt(row(9), "DELIVERED", NOW)])
    node.settle()
    assert sent_ids(node) == []
    node.clock.advance(1.0)
    node.settle()
    assert sent_ids(node) == ["9"]


@pytest.mark.parametrize("answer", ["error status", "no answer"])
def test_a_failed_delivery_is_retried_from_the_table(node, answer):
    """When the ESME answers an error, or the deliver_sm gets no answer (timeout, link lost),
    the row stays PENDING with a later next attempt and is pushed again once that time comes."""
    node.become_clear()
    node.receipts(1)
    if answer == "error status":
        node.receiver.answer(status=0x45)
    else:
        (notify, arg), _ = node.receiver.waiting.pop()
        notify(Failure(TimeoutError("no deliver_sm_resp")), arg)
    node.settle()
    (stored,) = node.table()
    assert (stored["state"], stored["attempts"], stored["next_attempt_at"]) == ("PENDING", 1, NOW + 1 + 10.0)
    assert node.pusher.in_flight == 0
    node.clock.advance(11.0)
    node.settle()
    assert sent_ids(node) == ["1", "1"]


def test_answers_during_a_write_join_the_next_one(node):
    """While the write of answers runs, new answers wait and go in the next single write."""
    node.become_clear()
    node.receipts(1, 2, 3)
    node.hold.add("outbox_done")
    node.receiver.answer(count=1)
    node.settle()
    node.receiver.answer()
    node.settle()
    assert node.calls.count("outbox_done") == 1 and node.pusher.in_flight == 3
    node.hold.discard("outbox_done")
    node.release()
    node.settle()
    assert node.calls.count("outbox_done") == 2 and node.pusher.in_flight == 0
    assert [r["state"] for r in node.table()] == ["DELIVERED"] * 3


def test_sink_hands_each_batch_over_once(db_url):
    """When a batch of receipts commits, on_owed gets its rows once (not once per receipt),
    with the ids the table gave them; every receipt's Deferred fires with None."""
    node = Node(db_url)
    handed: list[Any] = []
    sink = InboundSink(run_interaction=node.run, clock=node.clock, on_owed=handed.append)
    results: list[Any] = []
    for n in (1, 2, 3):
        sink.receipt("c", f"r{n}", DELIVERED, 0).addCallback(results.append)
    node.settle()
    assert results == [None, None, None] and len(handed) == 1
    assert [r["id"] for r in handed[0]] == [r["id"] for r in node.table()]
    node.engine.dispose()


def test_ids_taken_for_the_fast_path_do_not_collide_with_plain_inserts(node):
    """Rows inserted with ids taken by apply_receipts and rows inserted without ids (MO,
    failure receipts) interleave without a duplicate key, on both databases."""
    with node.engine.begin() as conn:
        insert_outbox_txn(conn, [esme_receipt(row(9), "DELIVERED", NOW)])
    owed: list[dict] = []
    with node.engine.begin() as conn:
        apply_receipts_txn(conn, NOW, [ReceiptEvent("c", "r1", DELIVERED), ReceiptEvent("c", "r2", DELIVERED)], owed)
    with node.engine.begin() as conn:
        insert_outbox_txn(conn, [esme_receipt(row(8), "DELIVERED", NOW)])
    ids = [r["id"] for r in node.table()]
    assert len(set(ids)) == 4 and [r["id"] for r in owed] == ids[1:3]


def test_due_rows_come_back_as_bytes(node):
    """Rows read from the table carry bytes bodies and TLVs on both databases (psycopg2 gives
    memoryview), as the deliver_sm encoder needs."""
    with node.engine.begin() as conn:
        insert_outbox_txn(conn, [esme_receipt(row(9), "DELIVERED", NOW)])
    with node.engine.begin() as conn:
        (due,) = due_outbox_txn(conn, [1], NOW + 1, 10, [])
    assert type(due["body"]) is bytes and type(due["tlvs"]) is bytes


def test_a_batch_that_kept_early_receipts_asks_for_a_recheck_soon(db_url):
    """When a receipt batch keeps receipts as early (their key is not in the table yet), the
    sink asks once, EARLY_RECHECK seconds later, for them to be matched again; a batch with
    none does not ask."""
    from smsc.inbound import EARLY_RECHECK, InboundSink

    node = Node(db_url)
    asked: list[float] = []
    sink = InboundSink(run_interaction=node.run, clock=node.clock, on_early=lambda: asked.append(node.clock.seconds()))
    sink.receipt("c", "r1", DELIVERED, 0)  # its key exists (Node recorded outcomes for 1..10)
    node.settle()
    node.clock.advance(EARLY_RECHECK)
    assert asked == []
    started = node.clock.seconds()
    sink.receipt("c", "not-yet", DELIVERED, 0)
    sink.receipt("c", "not-yet-either", DELIVERED, 0)
    node.settle()
    node.clock.advance(EARLY_RECHECK)
    assert asked == [started + EARLY_RECHECK]
    node.engine.dispose()


def answer_all(node: Node, rounds: int = 10) -> None:
    for _ in range(rounds):
        node.receiver.answer()
        node.settle()


def test_rows_beyond_the_window_wait_in_memory_without_a_read(db_url):
    """When the receiver's window is full, the rows handed over wait in memory and go oldest
    first as answers free it: the table is not read back."""
    node = Node(db_url, window=2)
    node.become_clear()
    node.calls.clear()
    node.receipts(1, 2, 3)
    node.receipts(4)
    assert sent_ids(node) == ["1", "2"] and node.pusher.waiting == 2
    answer_all(node)
    assert sent_ids(node) == ["1", "2", "3", "4"] and node.pusher.waiting == 0
    assert "due_outbox" not in node.calls
    assert [r["state"] for r in node.table()] == ["DELIVERED"] * 4
    node.engine.dispose()


def test_the_poll_skips_waiting_rows_and_finds_rows_written_elsewhere(db_url):
    """When the periodic poll runs while rows wait in memory for a full window, it reads the
    table anyway, skipping them (each goes once), finds a row another process wrote, and the
    account is clear again afterwards: a later receipt is not read back."""
    node = Node(db_url, window=2)
    node.become_clear()
    node.receipts(1, 2, 3)
    with node.engine.begin() as conn:
        insert_outbox_txn(conn, [esme_receipt(row(9), "DELIVERED", NOW)])
    node.clock.advance(1.0)
    node.settle()
    assert node.calls.count("due_outbox") == 2 and node.pusher.waiting == 2
    node.calls.clear()
    node.receipts(4)
    answer_all(node)
    assert sent_ids(node) == ["1", "2", "3", "9", "4"] and "due_outbox" not in node.calls
    assert [r["state"] for r in node.table()] == ["DELIVERED"] * 5
    node.engine.dispose()


def test_a_full_waiting_list_leaves_later_rows_in_the_table(db_url):
    """When an account's waiting list is full, its later rows stay only in the table and are
    read once the list has drained: every row goes once, oldest first, and the account ends
    up clear (a later receipt is pushed without a read)."""
    node = Node(db_url, window=1, batch=2, max_waiting=2)
    node.become_clear()
    node.receipts(1, 2, 3, 4, 5)
    assert sent_ids(node) == ["1"] and node.pusher.waiting == 1  # 2 waits in memory, 3-5 in the table only
    answer_all(node)
    assert sent_ids(node) == ["1", "2", "3", "4", "5"]
    node.calls.clear()
    node.receipts(6)
    assert sent_ids(node)[-1] == "6" and "due_outbox" not in node.calls
    answer_all(node)
    assert [r["state"] for r in node.table()] == ["DELIVERED"] * 6
    node.engine.dispose()


def test_a_late_hand_over_of_rows_a_read_left_waiting_is_ignored(db_url):
    """When rows a read returned wait in memory (window full) and their hand-over comes
    afterwards (on PostgreSQL a commit's callback can come after another thread's read),
    they are not queued or pushed twice."""
    node = Node(db_url, window=1)
    with node.engine.begin() as conn:
        apply_receipts_txn(conn, NOW, [ReceiptEvent("c", "r1", DELIVERED), ReceiptEvent("c", "r2", DELIVERED)],
                           owed := [])
    node.become_clear()
    assert sent_ids(node) == ["1"] and node.pusher.waiting == 1
    node.pusher.wake(owed)
    node.settle()
    assert node.pusher.waiting == 1
    answer_all(node)
    assert sent_ids(node) == ["1", "2"]
    node.engine.dispose()


def test_rows_handed_over_while_no_receiver_is_bound_stay_in_the_table(node):
    """When the account's receivers are gone, rows handed over are not kept in memory; once
    a receiver binds again they are read and pushed."""
    node.become_clear()
    (binding,) = node.registry.bindings()
    node.receiver.principal = binding  # what the ESME session carries
    node.registry.remove(node.receiver)
    node.receipts(1)
    assert node.pusher.waiting == 0 and sent_ids(node) == []
    node.registry.add(binding, node.receiver)
    node.pusher.wake()
    node.settle()
    assert sent_ids(node) == ["1"]


@pytest.mark.parametrize("excluded", [0, 3, 5000], ids=["none", "some", "many"])
def test_due_rows_skip_excluded_ids_in_the_database(node, excluded):
    """When ids are excluded (in flight or waiting), the read returns the next due rows up to
    its limit, oldest first, on both databases, however long the list."""
    with node.engine.begin() as conn:
        insert_outbox_txn(conn, [esme_receipt(row(n), "DELIVERED", NOW) for n in range(1, 7)])
    ids = [r["id"] for r in node.table()]
    skip = {0: [], 3: ids[0:5:2], 5000: ids[0:5:2] + list(range(10_000, 14_997))}[excluded]
    with node.engine.begin() as conn:
        due = due_outbox_txn(conn, [1], NOW + 1, 2, skip)
    assert [r["id"] for r in due] == [i for i in ids if i not in skip][:2]
