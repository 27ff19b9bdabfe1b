"""Group commit: every item that arrives while a commit is running joins the next one.

A submit_sm_resp may only be written after its row is durable, and an fsync costs the same for
one row as for a thousand. So the first row of a quiet period waits one reactor turn (so that all
PDUs of that turn join it), and while a transaction is in flight new rows queue up and are
committed together as soon as it finishes: batch size grows with load, latency stays one commit.
Intake uses it for message rows; the receipt path for receipts (any ``txn(conn, items)``).

``add_notify`` is the Deferred-free form for per-message hot paths: a plain call per item
once its batch is committed, instead of a Deferred and its callback chain per item.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from smsc.store.messages import insert_messages_txn

log = Logger()


class GroupCommitter:
    def __init__(
        self,
        run_interaction: Callable[..., Deferred],
        clock: IReactorTime,
        *,
        max_batch: int = 1000,
        max_in_flight: int = 1,
        on_batch: Callable[[int], None] | None = None,
        txn: Callable[[Any, list[Any]], Any] = insert_messages_txn,
        desc: str = "insert_messages",
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self._on_committed = on_committed
        self._txn = txn
        self._desc = desc
        self._run_interaction = run_interaction
        self._clock = clock
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._on_batch = on_batch
        self._entries: list[list[dict[str, Any]]] = []  # one list per add: never split by a batch
        self._waiters: list[tuple[Callable[[Any, Any], None], Any]] = []  # (notify, arg) per add
        self._in_flight = 0
        self._scheduled = False

    @property
    def pending(self) -> int:
        return len(self._entries)

    def add(self, row: Any, answer: Any = None) -> Deferred:
        """Queue ``row``; the Deferred fires once it is committed (with ``answer`` when given,
        else what the transaction returned: saves the caller a callback per item), or errbacks."""
        return self.add_many([row], answer)

    def add_many(self, rows: list[Any], answer: Any = None) -> Deferred:
        """Queue rows that must commit together (one submit_multi); one Deferred for all."""
        waiter: Deferred = Deferred()
        self._queue(rows, _fire, (waiter, answer))
        return waiter

    def add_notify(self, row: Any, notify: Callable[[Any, Any], None], arg: Any = None) -> None:
        """Queue ``row``; once its batch is done, ``notify(result, arg)`` is called with what
        the transaction returned, or with the Failure. No Deferred: intake calls this once
        per submit_sm (a Deferred with its callbacks measured ~3 µs a message)."""
        self._queue([row], notify, arg)

    def _queue(self, rows: list[Any], notify: Callable[[Any, Any], None], arg: Any) -> None:
        self._entries.append(rows)
        self._waiters.append((notify, arg))
        if not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            self._clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        while self._entries and self._in_flight < self._max_in_flight:
            entries, waiters = self._entries[: self._max_batch], self._waiters[: self._max_batch]
            del self._entries[: self._max_batch], self._waiters[: self._max_batch]
            rows = [row for entry in entries for row in entry]
            self._in_flight += 1
            if self._on_batch is not None:
                self._on_batch(len(rows))
            d = self._run_interaction(self._desc, self._txn, rows)
            d.addBoth(self._committed, waiters)

    def _committed(self, result: Any, waiters: list[tuple[Callable[[Any, Any], None], Any]]) -> None:
        self._in_flight -= 1
        for notify, arg in waiters:
            try:
                notify(result, arg)
            except Exception:  # noqa: BLE001 - one bad waiter must not leave the others unanswered
                log.failure("{desc}: a commit waiter failed", desc=self._desc)
        if self._on_committed is not None and not isinstance(result, Failure):
            self._on_committed()
        if self._entries and not self._scheduled:
            self._flush()


def _fire(result: Any, waiter_answer: tuple[Deferred, Any]) -> None:
    """The notify behind add/add_many: fires the Deferred with ``answer`` when given."""
    waiter, answer = waiter_answer
    if isinstance(result, Failure):
        waiter.errback(result)
    else:
        waiter.callback(result if answer is None else answer)
