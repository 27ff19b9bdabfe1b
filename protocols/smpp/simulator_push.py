"""Pushing deliver_sm (receipts and MO) from the upstream simulator to bound receivers, the
way a real SMSC does: round-robin over the receiver/transceiver binds of the system_id, and
anything that cannot be delivered now (no receiver bound, deliver_sm_resp with an error,
no answer, connection lost) is held and pushed again when a receiver binds or on a retry
timer. Held entries are bounded (``max_held``; the oldest are dropped and counted).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from protocols.smpp.codec import Pdu
from protocols.smpp.server import SmppServerProtocol
from protocols.smpp.simulator_settings import Counters, SimulatorSettings

Entry = tuple[dict, "dict | None", str]  # params, tlvs, kind ("mo", "intermediate", stat)


class Pusher:
    """Receivers per system_id, deliver_sm in flight, and what waits for a receiver."""

    def __init__(self, clock: IReactorTime, settings: SimulatorSettings,
                 counters: Counters) -> None:
        self.clock = clock
        self.settings = settings
        self.counters = counters
        self.receivers: dict[str, list[SmppServerProtocol]] = {}
        self._held: dict[str, deque[Entry]] = {}
        self._rr = 0
        self.in_flight = 0
        self._retry_timer: IDelayedCall | None = None

    @property
    def held(self) -> int:
        return sum(len(q) for q in self._held.values())

    def stop(self) -> None:
        if self._retry_timer is not None and self._retry_timer.active():
            self._retry_timer.cancel()
        self._retry_timer = None

    def add_receiver(self, system_id: str, session: SmppServerProtocol) -> None:
        """A receiver/transceiver bind is being accepted: what is held for its system_id
        goes out once the bind_resp is written."""
        self.receivers.setdefault(system_id, []).append(session)
        if self._held.get(system_id):
            self.clock.callLater(0, self._flush, system_id)

    def remove_receiver(self, session: SmppServerProtocol) -> None:
        receivers = self.receivers.get(session.system_id or "")
        if receivers and session in receivers:
            receivers.remove(session)

    def any_bound(self, system_id: str) -> bool:
        return bool(self.receivers.get(system_id))

    def first_bound(self) -> str | None:
        return next((k for k, v in self.receivers.items() if v), None)

    def push(self, system_id: str, params: dict, tlvs: dict | None, kind: str) -> None:
        """Send a deliver_sm to a receiver of ``system_id``, or hold it until one binds."""
        receivers = self.receivers.get(system_id)
        if not receivers:
            self._hold(system_id, (params, tlvs, kind))
            return
        self._rr += 1
        session = receivers[self._rr % len(receivers)]
        self.in_flight += 1
        session.send_request_notify("deliver_sm", params, tlvs, None, self._answered,
                                    (system_id, params, tlvs, kind))

    def _answered(self, result: Any, entry: tuple[str, dict, dict | None, str]) -> None:
        """The deliver_sm_resp (or a Failure: no answer, link lost); no Deferred per push."""
        if isinstance(result, Failure):
            self._failed(result, *entry)
        else:
            self._pushed(result, *entry)

    def _pushed(self, pdu: Pdu, system_id: str, params: dict, tlvs: dict | None,
                kind: str) -> None:
        self.in_flight -= 1
        if pdu.status:
            self._requeue(system_id, params, tlvs, kind)
            return
        c = self.counters
        if kind == "mo":
            c.mo_sent += 1
        elif kind == "intermediate":
            c.intermediate_sent += 1
        else:
            c.receipts_sent += 1
            c.receipts_by_state[kind] += 1

    def _failed(self, failure: Any, system_id: str, params: dict, tlvs: dict | None,
                kind: str) -> None:
        self.in_flight -= 1
        self._requeue(system_id, params, tlvs, kind)

    def _requeue(self, system_id: str, params: dict, tlvs: dict | None, kind: str) -> None:
        self.counters.push_failures += 1
        self._hold(system_id, (params, tlvs, kind))
        if self._retry_timer is None and self.settings.retry_interval:
            self._retry_timer = self.clock.callLater(self.settings.retry_interval, self._retry)

    def _hold(self, system_id: str, entry: Entry) -> None:
        queue = self._held.get(system_id)
        if queue is None:
            queue = self._held[system_id] = deque()
        limit = self.settings.max_held
        if len(queue) >= limit:
            self.counters.dropped += 1
            if not limit:
                return
            queue.popleft()
        queue.append(entry)

    def _flush(self, system_id: str) -> None:
        queue = self._held.get(system_id)
        if not queue or not self.receivers.get(system_id):
            return
        entries = list(queue)
        queue.clear()
        for params, tlvs, kind in entries:
            self.push(system_id, params, tlvs, kind)

    def _retry(self) -> None:
        self._retry_timer = None
        for system_id in list(self._held):
            self._flush(system_id)
        if self._retry_timer is None and any(self._held.values()) \
                and any(self.receivers.values()):
            self._retry_timer = self.clock.callLater(self.settings.retry_interval, self._retry)
