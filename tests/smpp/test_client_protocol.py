"""The ESME side for upstream carriers: bind, submit, receipts/MO acknowledged only when the
delegate says so, and our client against our server over real TCP."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
from twisted.internet import defer, endpoints, reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from protocols.smpp.client import SmppClientFactory
from protocols.smpp.codec import Pdu
from protocols.smpp.constants import Status
from protocols.smpp.errors import ResponseTimeout, SmppError
from protocols.smpp.server import SmppServerFactory
from protocols.smpp.session import SessionSettings, SessionState
from tests.smpp.helpers import sent, wire

HDR = struct.Struct(">IIII")
SUBMIT = {"destination_addr": "447700900001", "short_message": b"hi"}
RECEIPT = {"source_addr": "447700900001", "esm_class": 0x04,
           "short_message": b"id:abc sub:001 dlvrd:001 stat:DELIVRD err:000"}




class Delegate:
    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.requests: list[Pdu] = []
        self.pending: list[Deferred] = []
        self.alerts: list[Pdu] = []

    def request(self, session, pdu):
        self.requests.append(pdu)
        if self.answer == "defer":
            d: Deferred = Deferred()
            self.pending.append(d)
            return d
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def alert_notification(self, session, pdu) -> None:
        self.alerts.append(pdu)


def connect(delegate: Any = None, **settings: Any):
    clock = Clock()
    factory = SmppClientFactory(clock, SessionSettings(**settings), delegate)
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, clock


def bound(bind_type: str = "transceiver", delegate: Any = None, **settings: Any):
    proto, transport, clock = connect(delegate, **settings)
    proto.bind(bind_type, "us", "pw")
    (req,) = sent(transport)
    proto.dataReceived(wire(req.command + "_resp", req.sequence, params={"system_id": "Carrier"}))
    return proto, transport, clock


# --------------------------------------------------------------------- bind

@pytest.mark.parametrize("bind_type,state", [("transmitter", SessionState.BOUND_TX),
                                             ("receiver", SessionState.BOUND_RX),
                                             ("transceiver", SessionState.BOUND_TRX)])
def test_bind(bind_type: str, state: SessionState) -> None:
    """When we bind, bind_<type> carries our credentials; a zero-status bind_resp makes the
    session bound and the Deferred fires with the bind_resp."""
    proto, transport, _ = connect()
    d = proto.bind(bind_type, "us", "pw", system_type="SMPP", address_range="^44",
                   addr_ton=1, addr_npi=1)
    (req,) = sent(transport)
    assert (req.command, req.sequence) == (f"bind_{bind_type}", 1)
    assert req.params == {"system_id": "us", "password": "pw", "system_type": "SMPP",
                          "interface_version": 0x34, "addr_ton": 1, "addr_npi": 1,
                          "address_range": "^44"}
    assert proto.state is SessionState.BINDING
    proto.dataReceived(wire(req.command + "_resp", 1, params={"system_id": "Carrier"}))
    assert d.result.params["system_id"] == "Carrier"
    assert (proto.state, proto.bind_type, proto.system_id, proto.remote_system_id) == (
        state, bind_type, "us", "Carrier")


@pytest.mark.parametrize("status", [Status.ESME_RINVPASWD, Status.ESME_RBINDFAIL, 0x4A0])
def test_bind_refused(status: int) -> None:
    """When the carrier refuses the bind, the Deferred fails with SmppError(status), the
    session is open again and may bind again."""
    proto, transport, _ = connect()
    d = proto.bind("transmitter", "us", "bad")
    proto.dataReceived(HDR.pack(16, 0x80000002, status, 1))
    assert d.result.value.status == status
    d.addErrback(lambda f: None)
    assert proto.state is SessionState.OPEN
    d2 = proto.bind("transmitter", "us", "good")
    proto.dataReceived(wire("bind_transmitter_resp", 2, params={"system_id": "C"}))
    assert d2.result.status == 0 and proto.is_bound


def test_bind_timeout() -> None:
    """When no bind_resp comes within response_timeout, the bind fails with ResponseTimeout."""
    proto, transport, clock = connect(response_timeout=5)
    d = proto.bind("transceiver", "us", "pw")
    clock.advance(5)
    assert d.result.check(ResponseTimeout)
    d.addErrback(lambda f: None)
    assert proto.state is SessionState.OPEN


def test_bind_errors_before_sending() -> None:
    """When the bind type is unknown, ValueError; when already bound, ESME_RALYBND."""
    proto, transport, _ = connect()
    d = proto.bind("sender", "us", "pw")
    assert d.result.check(ValueError)
    d.addErrback(lambda f: None)
    proto, transport, _ = bound()
    d = proto.bind("transmitter", "us", "pw")
    assert d.result.value.status == Status.ESME_RALYBND
    d.addErrback(lambda f: None)
    assert transport.value() == b""


# --------------------------------------------------------------------- submit

def test_submit_returns_response_whatever_status() -> None:
    """When submit_sm is answered with an error status, the Deferred still fires with the
    submit_sm_resp: the caller maps statuses to retry decisions."""
    proto, transport, _ = bound()
    d_ok, d_throttled = proto.submit(SUBMIT, {"sar_msg_ref_num": 7}), proto.submit(SUBMIT)
    r1, r2 = sent(transport)
    assert r1.command == "submit_sm" and r1.tlvs == {"sar_msg_ref_num": 7}
    proto.dataReceived(wire("submit_sm_resp", r1.sequence, params={"message_id": "C1"}) +
                       HDR.pack(16, 0x80000004, Status.ESME_RTHROTTLED, r2.sequence))
    assert d_ok.result.params["message_id"] == "C1"
    assert d_throttled.result.status == Status.ESME_RTHROTTLED


def test_submit_with_bad_params_fails_without_sending() -> None:
    """When params cannot be encoded, submit fails with ValueError and uses no window slot."""
    proto, transport, _ = bound(window=1)
    d = proto.submit({**SUBMIT, "destination_addr": "1" * 40})
    assert d.result.check(ValueError)
    d.addErrback(lambda f: None)
    assert transport.value() == b"" and proto.in_flight == 0


def test_submit_before_bind_refused() -> None:
    """When the session is not bound (or bound as receiver), submit fails ESME_RINVBNDSTS."""
    for proto in (connect()[0], bound("receiver")[0]):
        d = proto.submit(SUBMIT)
        assert d.result.value.status == Status.ESME_RINVBNDSTS
        d.addErrback(lambda f: None)


# --------------------------------------------------------------------- incoming

def test_receipt_acknowledged_only_when_durable() -> None:
    """When the carrier sends a deliver_sm, the delegate gets it, and deliver_sm_resp is
    written only when the delegate's Deferred fires (the receipt is durable)."""
    delegate = Delegate("defer")
    proto, transport, _ = bound(delegate=delegate)
    proto.dataReceived(wire("deliver_sm", 900, params=RECEIPT))
    assert delegate.requests[0].params["esm_class"] == 0x04 and transport.value() == b""
    delegate.pending[0].callback({})
    (resp,) = sent(transport)
    assert (resp.command, resp.sequence, resp.status) == ("deliver_sm_resp", 900, 0)


@pytest.mark.parametrize("answer,status", [
    (None, 0), ({}, 0), (SmppError(Status.ESME_RX_T_APPN), Status.ESME_RX_T_APPN),
    (RuntimeError("db locked"), Status.ESME_RSYSERR),
], ids=["none", "empty-dict", "temporary-app-error", "crash"])
def test_incoming_sync_answers(answer: Any, status: int) -> None:
    """When the delegate answers at once, deliver_sm_resp is written at once with the status."""
    proto, transport, _ = bound(delegate=Delegate(answer))
    proto.dataReceived(wire("deliver_sm", 5, params=RECEIPT) +
                       wire("data_sm", 6, params={"source_addr": "44"}))
    assert [(p.command, p.status, p.sequence) for p in sent(transport)] == [
        ("deliver_sm_resp", status, 5), ("data_sm_resp", status, 6)]


def test_deliver_on_transmitter_bind_refused() -> None:
    """When a carrier sends deliver_sm on a transmitter bind, ESME_RINVBNDSTS answers it."""
    delegate = Delegate({})
    proto, transport, _ = bound("transmitter", delegate=delegate)
    proto.dataReceived(wire("deliver_sm", 5, params=RECEIPT))
    assert transport.value() == HDR.pack(16, 0x80000005, Status.ESME_RINVBNDSTS, 5)
    assert delegate.requests == []


def test_alert_notification_goes_to_delegate_without_response() -> None:
    """When alert_notification arrives, the delegate hook sees it and nothing is answered."""
    delegate = Delegate({})
    proto, transport, _ = bound(delegate=delegate)
    proto.dataReceived(wire("alert_notification", 5, params={"source_addr": "4470"}))
    assert delegate.alerts[0].params["source_addr"] == "4470" and transport.value() == b""


def test_incoming_unbind_closes() -> None:
    """When the carrier unbinds, unbind_resp is sent and the connection closed; submits
    queued for the window fail with ConnectionLost once the connection is gone."""
    proto, transport, _ = bound(window=1)
    ds = [proto.submit(SUBMIT), proto.submit(SUBMIT)]
    sent(transport)
    proto.dataReceived(wire("unbind", 77))
    (resp,) = sent(transport)
    assert (resp.command, resp.sequence) == ("unbind_resp", 77) and transport.disconnecting
    proto.connectionLost()
    for d in ds:
        assert d.result.check(ConnectionLost)
        d.addErrback(lambda f: None)


# --------------------------------------------------------------------- real TCP

class InstantServerDelegate:
    def __init__(self) -> None:
        self.sessions: list = []
        self.count = 0

    def bind(self, session, request):
        self.sessions.append(session)
        return request.system_id

    def unbound(self, session) -> None:
        pass

    def request(self, session, pdu):
        self.count += 1
        return {"message_id": f"S{self.count}"}


class LoopbackTests(unittest.TestCase):
    """Our client against our server over 127.0.0.1."""

    timeout = 20

    def test_client_and_server(self) -> Deferred:
        """When our client binds as transceiver to our server, a window of submits is
        answered, the server pushes a receipt that the client acknowledges only after its
        delegate fires, both sockets have TCP_NODELAY, and unbind closes both ends."""
        async def run() -> None:
            server_delegate = InstantServerDelegate()
            factory = SmppServerFactory(server_delegate, reactor, SessionSettings(), "SMSC")
            port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"
                                                      ).listen(factory)
            self.addCleanup(port.stopListening)
            client_delegate = Delegate("defer")
            endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
            client = await endpoint.connect(SmppClientFactory(
                reactor, SessionSettings(window=5), client_delegate))
            resp = await client.bind("transceiver", "esme", "pw")
            assert resp.params["system_id"] == "SMSC"

            results = await defer.gatherResults([client.submit(SUBMIT) for _ in range(20)])
            assert sorted(r.params["message_id"] for r in results) == sorted(
                f"S{i}" for i in range(1, 21))

            (server_session,) = server_delegate.sessions
            receipt = server_session.deliver(RECEIPT)
            while not client_delegate.pending:
                await deferLater(0.01)
            assert not receipt.called
            client_delegate.pending[0].callback({})
            assert (await receipt).status == 0

            for proto in (client, server_session):
                sock = proto.transport.getHandle()
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            await client.unbind()
            await server_session.when_closed()
            assert server_session.state is SessionState.CLOSED and factory.sessions == set()
        return defer.ensureDeferred(run())


def deferLater(seconds: float) -> Deferred:
    from twisted.internet import task
    return task.deferLater(reactor, seconds, lambda: None)
