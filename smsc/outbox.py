"""Pushes what the ESMEs are owed (receipts, MO) to their bound receivers as deliver_sm.

Rows wait in the outbox table until a receiver (RX or TRX) of the account is bound; each is
marked DELIVERED only after a deliver_sm_resp OK. An error answer, a timeout or a lost
connection puts it back with a backoff, so a receipt survives restarts and late binds.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from protocols.smpp.codec import decode_tlvs
from smsc.esme import EsmeRegistry
from smsc.group_commit import GroupCommitter
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
    def __init__(
        self,
        *,
        run_interaction: Callable[..., Deferred],
        clock: IReactorTime,
        registry: EsmeRegistry,
        batch: int = 500,
        interval: float = 1.0,
        retry_after: float = 10.0,
        metrics: Any = None,
    ) -> None:
        self._run = run_interaction
        self._clock = clock
        self._registry = registry
        self._batch = batch
        self._interval = interval
        self._retry_after = retry_after
        self._metrics = metrics
        self._in_flight: set[int] = set()
        self._fetching = False
        self._again = False
        self._wake_pending = False
        self._loop: LoopingCall | None = None
        self._writer = GroupCommitter(run_interaction, clock, txn=self._write_results, desc="outbox_done")

    def startService(self) -> None:
        super().startService()
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self._clock
        self._loop.start(self._interval, now=False)

    def stopService(self) -> None:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def wake(self) -> None:
        """Something is owed, or a receiver bound: push on the next reactor turn."""
        if not self._wake_pending and self.running:
            self._wake_pending = True
            self._clock.callLater(0, self.tick)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def _free_slots(self) -> dict[int, int]:
        """account id -> deliver_sm it can take now over all its receivers."""
        free: dict[int, int] = {}
        for binding in self._registry.bindings():
            slots = sum(max(0, s.send_window - s.in_flight - s.queued) for s in binding.sessions if s.can_receive)
            if slots > 0:
                free[binding.account.id] = slots
        return free

    def tick(self) -> None:
        self._wake_pending = False
        if self._fetching:
            self._again = True  # look again as soon as this fetch is done
            return
        free = self._free_slots()
        if not free:
            return
        limit = min(self._batch, sum(free.values()))
        self._fetching = True
        d = self._run("due_outbox", due_outbox_txn, list(free), self._clock.seconds(), limit, list(self._in_flight), readonly=False)
        d.addCallback(self._push, limit)
        d.addErrback(lambda f: log.failure("reading the outbox failed", f))
        d.addBoth(self._fetched)

    def _fetched(self, _: Any) -> None:
        self._fetching = False
        if self._again:
            self._again = False
            self.wake()

    def _push(self, rows: list[dict[str, Any]], limit: int) -> None:
        for row in rows:
            receivers = self._registry.receivers_by_id(row["account_id"])
            if not receivers:
                continue
            session = min(receivers, key=lambda s: s.in_flight + s.queued)
            self._in_flight.add(row["id"])
            params, tlvs, vendor = deliver_params(row)
            d = session.send_request("deliver_sm", params, tlvs, vendor or None)
            d.addCallbacks(self._answered, self._not_answered, callbackArgs=(row,), errbackArgs=(row,))
        if len(rows) >= limit:
            self.wake()

    def _answered(self, pdu: Any, row: dict[str, Any]) -> None:
        ok = pdu.status == 0
        if self._metrics is not None:
            self._metrics.esme_delivery(row["kind"], ok)
        self._record(row, ok)

    def _not_answered(self, failure: Any, row: dict[str, Any]) -> None:
        if self._metrics is not None:
            self._metrics.esme_delivery(row["kind"], False)
        self._record(row, False)

    def _record(self, row: dict[str, Any], ok: bool) -> None:
        retry_at = None if ok else self._clock.seconds() + self._retry_after * min(2 ** row["attempts"], 60)
        d = self._writer.add((row["id"], retry_at))
        d.addErrback(lambda f: log.failure("recording an outbox delivery failed", f))
        d.addBoth(lambda _: self._in_flight.discard(row["id"]))
        if ok:
            d.addCallback(lambda _: self.wake())

    def _write_results(self, conn: Any, results: list[tuple[int, float | None]]) -> None:
        delivered = [oid for oid, at in results if at is None]
        retry = [(oid, at) for oid, at in results if at is not None]
        outbox_done_txn(conn, self._clock.seconds(), delivered, retry)
