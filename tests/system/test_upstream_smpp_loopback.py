"""The SMPP upstream against the upstream simulator over real TCP on 127.0.0.1: ids and
receipts, a receipt ahead of its submit_sm_resp, a throttle, a connection cut mid-flight,
binds refused for a while, and a clean stop."""

from __future__ import annotations

import socket
from typing import Any, Callable

import pytest
from twisted.internet import defer, endpoints, reactor, task
from twisted.internet.defer import Deferred
from twisted.trial import unittest

from protocols.smpp.constants import Status
from protocols.smpp.simulator import SimulatorSettings, UpstreamSimulator
from smsc.upstreams.base import Accepted, OutboundSms, Retry
from smsc.upstreams.smpp import SmppUpstream, SmppUpstreamSettings

pytestmark = pytest.mark.system


def sms(n: int = 1) -> OutboundSms:
    return OutboundSms(message_id=n, segment=1, total_segments=1, source_addr="Shop",
                       source_ton=5, source_npi=0, dest_addr=f"49151000{n:05d}", dest_ton=1,
                       dest_npi=1, data_coding=0, esm_class=0, udh=b"", payload=b"hello",
                       registered_delivery=1, priority=0, validity_at=None, text="hello")


class Events:
    """The engine's side: records what arrives, in order, and acknowledges at once."""

    def __init__(self) -> None:
        self.order: list[tuple[str, str]] = []
        self.receipts: list[tuple[str, int, int | None]] = []
        self.changes = 0

    def receipt(self, upstream: str, remote_id: str, state: int, error_code: int | None):
        self.order.append(("receipt", remote_id))
        self.receipts.append((remote_id, state, error_code))
        return defer.succeed(None)

    def mo(self, upstream: str, pdu: Any):
        self.order.append(("mo", pdu.params["short_message"].decode()))
        return defer.succeed(None)

    def bound_changed(self, upstream: str) -> None:
        self.changes += 1


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition on the real reactor (bounded); fails the test on timeout."""
    waited = 0.0
    while not condition():
        if waited >= timeout:
            raise AssertionError("condition not met within %.1f s" % timeout)
        await task.deferLater(reactor, 0.01, lambda: None)
        waited += 0.01


class UpstreamLoopbackTests(unittest.TestCase):
    timeout = 30

    async def start(self, sim_settings: SimulatorSettings | None = None, **settings: Any
                    ) -> SmppUpstream:
        self.sim = UpstreamSimulator(reactor, sim_settings or SimulatorSettings(
            system_id="us", password="pw", receipt_delay=0.05, tick=0.01))
        port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            self.sim.factory())
        self.addCleanup(self.sim.stop)
        self.addCleanup(port.stopListening)
        self.events = Events()
        base = dict(name="sim", endpoint=f"tcp:host=127.0.0.1:port={port.getHost().port}",
                    system_id="us", password="pw", reconnect_initial=0.05, reconnect_max=0.2,
                    response_timeout=2, enquire_link_interval=5)
        base.update(settings)
        upstream = SmppUpstream(SmppUpstreamSettings(**base), reactor, self.events)
        upstream.startService()
        self.addCleanup(lambda: upstream.stopService() if upstream.running else None)
        await until(upstream.is_usable)
        return upstream

    def test_accepted_then_receipt_with_matching_ids(self) -> Deferred:
        """When the carrier answers with hex ids and sends decimal ids in receipts, the
        Accepted id and the receipt id are the same canonical id, the receipt after it, and
        the socket has TCP_NODELAY."""
        async def run() -> None:
            up = await self.start(SimulatorSettings(
                system_id="us", password="pw", id_flavour="hex", receipt_id_flavour="dec",
                id_start=0xABC, receipt_delay=0.05, tick=0.01),
                id_flavour_submit="hex", id_flavour_receipt="dec")
            outcomes = await defer.gatherResults([up.send(sms(n)) for n in range(5)])
            for o in outcomes:
                self.events.order.append(("accepted", o.remote_id))
            assert sorted(o.remote_id for o in outcomes) == [str(0xABC + n) for n in range(5)]
            await until(lambda: len(self.events.receipts) == 5)
            assert {r[0] for r in self.events.receipts} == {o.remote_id for o in outcomes}
            assert all(r[1] == 2 for r in self.events.receipts)
            first_receipt = self.events.order.index(next(e for e in self.events.order
                                                         if e[0] == "receipt"))
            assert first_receipt == 5  # all five Accepted came first
            assert up.stats()["submits"] == {"ESME_ROK": 5}
            sock = up.binds[0].session.transport.getHandle()  # LESSONS 1, through the gate too
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        return defer.ensureDeferred(run())

    def test_receipt_before_submit_resp_on_tx_rx(self) -> Deferred:
        """When the carrier sends the receipt on the receiver bind before the submit_sm_resp
        on the transmitter bind, the engine gets the receipt first and then Accepted."""
        async def run() -> None:
            up = await self.start(SimulatorSettings(
                system_id="us", password="pw", early_receipt=1.0, early_receipt_lag=0.2,
                tick=0.01), bind_mode="tx_rx")
            await until(lambda: up.stats()["bound_rx"] == 1)
            outcome = await up.send(sms())
            assert isinstance(outcome, Accepted)
            assert self.events.order == [("receipt", outcome.remote_id)]
        return defer.ensureDeferred(run())

    def test_throttle_then_recover(self) -> Deferred:
        """When the carrier throttles, that submit is Retry(ESME_RTHROTTLED) and the rate is
        slowed, and the submits that follow still go through (slower, not frozen)."""
        async def run() -> None:
            up = await self.start(throughput=50)
            self.sim.faults.scripted(["throttle"])
            first = await up.send(sms(0))
            assert isinstance(first, Retry) and first.cause == Status.ESME_RTHROTTLED
            assert up.stats()["rate"] == 25
            start = reactor.seconds()
            rest = await defer.gatherResults([up.send(sms(n)) for n in range(1, 6)])
            assert all(isinstance(o, Accepted) for o in rest)
            assert reactor.seconds() - start >= 4 / 25 * 0.9  # paced by the halved rate
        return defer.ensureDeferred(run())

    def test_connection_killed_mid_flight_then_reconnect(self) -> Deferred:
        """When the carrier cuts the connection with a submit in flight, that submit gets
        Retry(connection_lost); the upstream reconnects and binds by itself and the next
        submit is accepted."""
        async def run() -> None:
            up = await self.start()
            self.sim.faults.scripted(["drop"])
            pending = up.send(sms(1))
            await until(lambda: self.sim.counters.unanswered == 1)
            assert self.sim.drop_connections() == 1
            lost = await pending
            assert isinstance(lost, Retry) and lost.cause == "connection_lost"
            await until(up.is_usable)
            assert isinstance(await up.send(sms(2)), Accepted)
            assert up.stats()["reconnects"] == 1 and self.events.changes >= 3
        return defer.ensureDeferred(run())

    def test_binds_refused_for_a_while(self) -> Deferred:
        """When the carrier refuses binds for a while, the upstream is unhealthy and keeps
        trying with backoff, then binds once the carrier accepts again."""
        async def run() -> None:
            up = await self.start()
            self.sim.refuse_binds(0.5, Status.ESME_RBINDFAIL)
            self.sim.drop_connections()
            await until(lambda: up.stats()["bind_failures"] >= 1)
            assert not up.healthy() and not up.is_usable()
            await until(up.is_usable)
            assert up.healthy() and up.stats()["bind_failures"] >= 2
        return defer.ensureDeferred(run())

    def test_stop_unbinds(self) -> Deferred:
        """When the upstream stops, it unbinds and the carrier sees no session left, and it
        does not come back."""
        async def run() -> None:
            up = await self.start(binds=2)
            await until(lambda: len(self.sim.sessions) == 2)
            await up.stopService()
            await until(lambda: not self.sim.sessions)
            await task.deferLater(reactor, 0.3, lambda: None)
            assert not self.sim.sessions and not up.is_usable()
        return defer.ensureDeferred(run())
