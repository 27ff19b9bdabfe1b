"""Pushes what the ESMEs are owed (receipts, MO) to their bound receivers as deliver_sm.

Rows wait in the outbox table until a receiver (RX or TRX) of the account is bound; each is
marked DELIVERED only after a deliver_sm_resp OK. An error answer, a timeout or a lost
connection puts it back with a backoff, so a receipt survives restarts and late binds.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocols.smpp.codec import decode_tlvs
from smsc.esme import EsmeRegistry
from smsc.store.outbox import due_outbox_txn, outbox_done_txn

log = Logger()


def deliver_params(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[tuple[int, bytes]]]:
    """deliver_sm params, TLVs and vendor TLVs for an outbox row (a body over 254 octets goes as
    message_payload)."""
    tlvs, vendor = decode_tlvs(row["tlvs"]) if row["tlvs"] else ({}, [])
    body = row["body"]
    if len(body) > 254:
        tlvs["message_payload"] = body
        body = b""
    params = {
        "source_addr_ton": row["source_ton"], "source_addr_npi": row["source_npi"], "source_addr": row["source_addr"],
        "dest_addr_ton": row["dest_ton"], "dest_addr_npi": row["dest_npi"], "destination_addr": row["dest_addr"],
        "esm_class": row["esm_class"], "data_coding": row["data_coding"], "short_message": body,
    }
    return params, tlvs, vendor


class OutboxPusher(Service):
    """Pushes owed rows to bound receivers; the table is the truth, memory only a shortcut.

    The fast path: rows this process has just committed come with their ids (``wake(owed)``)
    and join their account's waiting list when nothing of that account waits in the table
    unseen ("clear" accounts); the list goes to the receivers as their windows have room. An
    account becomes clear when a read for it returns less than it asked for (what it returned
    joins the list), and stops being clear whenever rows may wait in the table unseen again
    (its list is full, a wake without rows, the periodic poll). Rows committed while a read of
    their account runs are held: the read may or may not see them, so they go after its rows,
    unless it already returned them (without that, steady load kept every account unclear: a
    commit lands during every read). Reads skip rows in flight or waiting, so nothing is
    pushed twice. Reading rows back cost ~10 µs each; nothing is lost across restarts or
    nodes, as every row is still written before it is pushed and marked after its answer.
    """

    def __init__(
        self,
        *,
        run_interaction: Callable[..., Deferred],
        clock: IReactorTime,
        registry: EsmeRegistry,
        batch: int = 1000,
        max_waiting: int = 4000,
        interval: float = 1.0,
        retry_after: float = 10.0,
        metrics: Any = None,
    ) -> None:
        self._run = run_interaction
        self._clock = clock
        self._registry = registry
        self._batch = batch
        self._max_waiting = max(max_waiting, batch)
        self._interval = interval
        self._retry_after = retry_after
        self._metrics = metrics
        self._in_flight: set[int] = set()  # ids pushed and not yet recorded as answered
        self._fetching = False
        self._again = False
        self._wake_pending = False
        self._loop: LoopingCall | None = None
        # Accounts with nothing waiting in the table that is not in flight or in _waiting. A read
        # only covers accounts that are not clear, and only its end makes them clear, so rows
        # handed over while it runs are never among those it returns.
        self._clear: set[int] = set()
        # Rows PENDING in the table, known here and not in flight, oldest first: they go as the
        # windows have room, without reading them back (receipts come faster than the ESME's
        # window at times: ~45% of them were read back when only free slots were taken).
        self._waiting: dict[int, deque[dict[str, Any]]] = {}
        self._waiting_ids: set[int] = set()
        self._reading: frozenset[int] = frozenset()  # the accounts the running read covers
        self._held: dict[int, list[dict[str, Any]]] = {}  # their rows committed while it runs
        self._stale = False  # something may be owed that the running read cannot see
        self._results: list[tuple[int, float | None]] = []  # (id, retry at or None when delivered)
        self._writing = False

    def startService(self) -> None:
        super().startService()
        self._loop = LoopingCall(self.poll)
        self._loop.clock = self._clock
        self._loop.start(self._interval, now=False)

    def stopService(self) -> None:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def wake(self, owed: list[dict[str, Any]] | None = None) -> None:
        """Something is owed, or a receiver bound: push on the next reactor turn. ``owed``: the
        outbox rows this process just committed, ids included, pushed at once when they can be."""
        if not self.running:
            return
        if owed is None:
            self._forget_clear()
        elif self._hand_over(owed):
            return
        self._schedule()

    def poll(self) -> None:
        """The periodic read: retries that came due, rows written by another process or node."""
        self._forget_clear()
        self.tick()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def waiting(self) -> int:
        return len(self._waiting_ids)

    def _schedule(self) -> None:
        if not self._wake_pending and self.running:
            self._wake_pending = True
            self._clock.callLater(0, self.tick)

    def _forget_clear(self) -> None:
        """Rows may wait in the table unseen: read every account again (its waiting list stays:
        those rows are skipped by the read)."""
        self._clear.clear()
        self._stale = self._fetching

    def _free_slots(self) -> dict[int, int]:
        """account id -> deliver_sm it can take now over all its receivers."""
        free: dict[int, int] = {}
        for binding in self._registry.bindings():
            slots = sum(max(0, s.send_window - s.in_flight - s.queued) for s in binding.sessions if s.can_receive)
            if slots > 0:
                free[binding.account.id] = slots
        return free

    # ------------------------------------------------------------------ the fast path

    def _hand_over(self, rows: list[dict[str, Any]]) -> bool:
        """Queue (or hold) the rows that need not be read back, in order per account, and push
        what has room; True when none was left to be read from the table."""
        left = False
        bound: dict[int, bool] = {}  # account id -> has a receiver, for this batch
        accounts: set[int] = set()
        for row in rows:
            account_id = row["account_id"]
            if row["id"] in self._in_flight or row["id"] in self._waiting_ids:
                continue  # a read got it first (PostgreSQL: its commit's callback can come late)
            if account_id in self._clear:
                has_receiver = bound.get(account_id)
                if has_receiver is None:
                    has_receiver = bound[account_id] = bool(self._registry.receivers_by_id(account_id))
                if has_receiver and self._keep(account_id, row):
                    accounts.add(account_id)
                    continue
                self._clear.discard(account_id)  # it waits in the table, and so do the later rows of its account
            elif account_id in self._reading:
                self._held.setdefault(account_id, []).append(row)
                continue
            left = True
        self._drain(accounts)
        return not left

    def _keep(self, account_id: int, row: dict[str, Any]) -> bool:
        """Add ``row`` to its account's waiting list, unless the list is full (then it is only in
        the table, and so must be every later row of that account)."""
        waiting = self._waiting.get(account_id)
        if waiting is None:
            waiting = self._waiting[account_id] = deque()
        elif len(waiting) >= self._max_waiting:
            return False
        waiting.append(row)
        self._waiting_ids.add(row["id"])
        return True

    def _drain(self, account_ids: Any) -> None:
        """Push waiting rows, oldest first, to the least busy receiver while one has room."""
        for account_id in account_ids:
            waiting = self._waiting.get(account_id)
            sessions = self._registry.receivers_by_id(account_id) if waiting else None
            while waiting and sessions:
                session = min(sessions, key=_load)
                if session.send_window - session.in_flight - session.queued <= 0:
                    break
                row = waiting.popleft()
                self._waiting_ids.discard(row["id"])
                self._send(row, session)
            if waiting is not None and not waiting:
                del self._waiting[account_id]

    # ------------------------------------------------------------------ reading the table

    def tick(self) -> None:
        self._wake_pending = False
        self._drain(list(self._waiting))
        if self._fetching:
            self._again = True  # look again as soon as this fetch is done
            return
        free = self._free_slots()
        # an account whose receivers are busy is read too while its list has room for a read:
        # it becomes clear again, and what is committed for it meanwhile need not be read back
        accounts = [
            account_id for account_id in self._bound_accounts(free)
            if account_id not in self._clear
            and len(self._waiting.get(account_id, ())) + self._batch <= self._max_waiting
        ]
        if not accounts:
            return
        limit = max(self._batch, sum(free.get(account_id, 0) for account_id in accounts))
        self._fetching = True
        self._reading = frozenset(accounts)
        self._stale = False
        exclude = [*self._in_flight, *self._waiting_ids]
        d = self._run("due_outbox", due_outbox_txn, accounts, self._clock.seconds(), limit, exclude, readonly=False)
        d.addCallback(self._push, limit, accounts)
        d.addErrback(lambda f: log.failure("reading the outbox failed", f))
        d.addBoth(self._fetched)

    def _bound_accounts(self, free: dict[int, int]) -> list[int]:
        """Accounts with room to push now, then those with waiting rows (bound, windows full)."""
        busy = [a for a in self._waiting if a not in free and self._registry.receivers_by_id(a)]
        return [*free, *busy]

    def _fetched(self, _: Any) -> None:
        self._fetching = False
        self._reading = frozenset()
        self._held.clear()  # when the read failed: they are in the table
        if self._again:
            self._again = False
            self._schedule()

    def _push(self, rows: list[dict[str, Any]], limit: int, accounts: list[int]) -> None:
        """The rows read join their accounts' waiting lists (after what was already there), then
        the rows committed during the read that it did not return; then what has room goes."""
        full = len(rows) >= limit or self._stale
        for row in rows:
            if row["id"] in self._in_flight or row["id"] in self._waiting_ids:
                continue  # already known (cheap insurance: the read excluded them when it began)
            if not self._keep(row["account_id"], row):
                full = True  # the rest stays in the table
                break
        held, self._held = self._held, {}
        if full:
            self._again = True  # there may be more (the held rows too: they are in the table)
        else:
            for account_id in accounts:
                # what the read did not return of the rows committed while it ran, in order
                for row in held.get(account_id, ()):
                    if row["id"] in self._in_flight or row["id"] in self._waiting_ids:
                        continue
                    if not self._keep(account_id, row):
                        self._again = True  # the rest wait in the table
                        break
                else:
                    self._clear.add(account_id)
        self._drain(accounts)

    # ------------------------------------------------------------------ pushing and answers

    def _send(self, row: dict[str, Any], session: Any) -> None:
        self._in_flight.add(row["id"])
        params, tlvs, vendor = deliver_params(row)
        session.send_request_notify("deliver_sm", params, tlvs, vendor or None, self._answered, row)

    def _answered(self, result: Any, row: dict[str, Any]) -> None:
        """The deliver_sm_resp (OK or an error status), or a Failure: no answer, link lost."""
        ok = not isinstance(result, Failure) and result.status == 0
        if self._metrics is not None:
            self._metrics.esme_delivery(row["kind"], ok)
        self._record(row, ok)

    def _record(self, row: dict[str, Any], ok: bool) -> None:
        """Queue the answer for the next write: one transaction at a time, and every answer that
        comes while one runs joins the next (a group commit without a Deferred per row)."""
        retry_at = None if ok else self._clock.seconds() + self._retry_after * min(2 ** row["attempts"], 60)
        self._results.append((row["id"], retry_at))
        if len(self._results) == 1 and not self._writing:
            self._clock.callLater(0, self._write)

    def _write(self) -> None:
        if self._writing or not self._results:
            return
        results, self._results = self._results, []
        self._writing = True
        self._run("outbox_done", self._write_results, results).addBoth(self._written, results)

    def _written(self, result: Any, results: list[tuple[int, float | None]]) -> None:
        """Answered rows leave the in-flight set only now (a read meanwhile must not take them
        again); a failed write leaves them PENDING, to be read and pushed again (at least once)."""
        self._writing = False
        if isinstance(result, Failure):
            log.failure("recording outbox deliveries failed", result)
            self._forget_clear()
        delivered = False
        for row_id, retry_at in results:
            self._in_flight.discard(row_id)
            delivered = delivered or retry_at is None
        if delivered:
            self._schedule()  # window space freed: rows left in the table can go
        self._write()

    def _write_results(self, conn: Any, results: list[tuple[int, float | None]]) -> None:
        delivered = [oid for oid, at in results if at is None]
        retry = [(oid, at) for oid, at in results if at is not None]
        outbox_done_txn(conn, self._clock.seconds(), delivered, retry)


def _load(session: Any) -> int:
    return session.in_flight + session.queued
