"""The SMSC side: binds decided by the delegate, requests, pushes, and real TCP checks
(the third-party smpplib ESME, malformed PDUs next to a healthy session)."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
import smpplib.client
import smpplib.exceptions
from twisted.internet import defer, protocol, reactor, threads
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial import unittest

from protocols.smpp.client import SmppClientFactory
from protocols.smpp.codec import Pdu, encode
from protocols.smpp.constants import Status
from protocols.smpp.errors import SmppError
from protocols.smpp.server import BindRequest, SmppServerFactory, SmppServerProtocol
from protocols.smpp.session import SessionSettings, SessionState
from tests.smpp.helpers import sent, wire

HDR = struct.Struct(">IIII")
SUBMIT = {"destination_addr": "447700900001", "short_message": b"hi"}
CREDS = {"system_id": "app", "password": "s3cret", "system_type": "VMA",
         "interface_version": 0x34, "addr_ton": 1, "addr_npi": 1, "address_range": "^44"}




class Delegate:
    """Accepts system_id "app" with password "s3cret"; answers requests with ids."""

    def __init__(self, bind_answer: Any = None) -> None:
        self.bind_answer = bind_answer
        self.binds: list[BindRequest] = []
        self.requests: list[Pdu] = []
        self.unbound_sessions: list[SmppServerProtocol] = []
        self.next_id = 0

    def bind(self, session, request: BindRequest):
        self.binds.append(request)
        if self.bind_answer is not None:
            if isinstance(self.bind_answer, BaseException):
                raise self.bind_answer
            return self.bind_answer
        if request.system_id != "app":
            raise SmppError(Status.ESME_RINVSYSID)
        if request.password != "s3cret":
            raise SmppError(Status.ESME_RINVPASWD)
        return {"account": request.system_id}

    def unbound(self, session) -> None:
        self.unbound_sessions.append(session)

    def request(self, session, pdu: Pdu):
        self.requests.append(pdu)
        self.next_id += 1
        if pdu.command in ("cancel_sm", "replace_sm"):
            return None
        if pdu.command == "query_sm":
            return {"message_id": pdu.params["message_id"], "message_state": 2}
        return {"message_id": f"id{self.next_id}"}


def connect(delegate: Delegate | None = None, **settings: Any):
    clock = Clock()
    delegate = delegate or Delegate()
    factory = SmppServerFactory(delegate, clock, SessionSettings(**settings), "ourSMSC")
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, clock, delegate, factory


# --------------------------------------------------------------------- binds

@pytest.mark.parametrize("command,bind_type,state", [
    ("bind_transmitter", "transmitter", SessionState.BOUND_TX),
    ("bind_receiver", "receiver", SessionState.BOUND_RX),
    ("bind_transceiver", "transceiver", SessionState.BOUND_TRX),
])
def test_bind_accepted(command: str, bind_type: str, state: SessionState) -> None:
    """When the delegate accepts a bind, it saw every bind field and the peer, and the
    bind_resp carries our system_id and sc_interface_version; the session exposes it."""
    proto, transport, _, delegate, _ = connect()
    proto.dataReceived(wire(command, 1, params=CREDS))
    (resp,) = sent(transport)
    assert (resp.command, resp.status, resp.sequence) == (command + "_resp", 0, 1)
    assert resp.params["system_id"] == "ourSMSC" and resp.tlvs == {"sc_interface_version": 0x34}
    assert delegate.binds == [BindRequest(bind_type, "app", "s3cret", "VMA", 0x34, 1, 1, "^44",
                                          "192.168.1.1")]
    assert (proto.state, proto.bind_type, proto.system_id, proto.principal, proto.peer) == (
        state, bind_type, "app", {"account": "app"}, "192.168.1.1")
    assert proto.is_bound and proto.can_receive == (bind_type != "transmitter")


def test_bind_resp_without_tlv_for_old_interface_version() -> None:
    """When the ESME speaks SMPP 3.3 (interface_version < 0x34), no TLV is sent back."""
    proto, transport, _, _, _ = connect()
    proto.dataReceived(wire("bind_transmitter", 1, params={**CREDS, "interface_version": 0x33}))
    assert sent(transport)[0].tlvs == {}


@pytest.mark.parametrize("creds,status", [
    ({**CREDS, "password": "wrong"}, Status.ESME_RINVPASWD),
    ({**CREDS, "system_id": "nobody"}, Status.ESME_RINVSYSID),
], ids=["bad-password", "unknown-system-id"])
def test_bind_refused(creds: dict, status: int) -> None:
    """When the delegate refuses a bind with SmppError, bind_resp carries that status with
    no body, the session stays open and unbound, and a later bind may succeed."""
    proto, transport, _, delegate, _ = connect()
    proto.dataReceived(wire("bind_transceiver", 1, params=creds))
    assert transport.value() == HDR.pack(16, 0x80000009, status, 1)
    transport.clear()
    assert proto.state is SessionState.OPEN and proto.principal is None
    proto.dataReceived(wire("bind_transceiver", 2, params=CREDS))
    assert sent(transport)[0].status == 0 and proto.is_bound


def test_refused_bind_never_logs_the_password() -> None:
    """When a bind is refused (or the delegate crashes), no log line and no repr contains
    the password (LESSONS row 13)."""
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        for answer in (None, RuntimeError("db down")):
            proto, transport, _, _, _ = connect(Delegate(answer))
            proto.dataReceived(wire("bind_transceiver", 1,
                                    params={**CREDS, "password": "hunter2"}))
    finally:
        globalLogPublisher.removeObserver(events.append)
    text = " ".join(formatEvent(e) + repr(e) for e in events)
    assert "app" in text and "hunter2" not in text
    assert "hunter2" not in repr(BindRequest("receiver", "a", "hunter2", "", 0, 0, 0, "", "h"))


def test_bind_delegate_crash_is_system_error() -> None:
    """When delegate.bind raises something other than SmppError, ESME_RSYSERR is answered."""
    proto, transport, _, _, _ = connect(Delegate(RuntimeError("boom")))
    proto.dataReceived(wire("bind_transmitter", 3, params=CREDS))
    assert transport.value() == HDR.pack(16, 0x80000002, Status.ESME_RSYSERR, 3)


def test_async_bind() -> None:
    """When delegate.bind returns a Deferred, requests before it fires are refused with
    ESME_RINVBNDSTS, a second bind with ESME_RALYBND, and bind_resp follows the Deferred."""
    pending: Deferred = Deferred()
    proto, transport, _, _, _ = connect(Delegate(pending))
    proto.dataReceived(wire("bind_transmitter", 1, params=CREDS) +
                       wire("submit_sm", 2, params=SUBMIT) +
                       wire("bind_transmitter", 3, params=CREDS))
    assert [(p.sequence, p.status) for p in sent(transport)] == [
        (2, Status.ESME_RINVBNDSTS), (3, Status.ESME_RALYBND)]
    pending.callback("principal")
    assert [(p.command, p.status) for p in sent(transport)] == [("bind_transmitter_resp", 0)]
    assert proto.principal == "principal"


def test_async_bind_refused() -> None:
    """When the bind Deferred fails with SmppError(RBINDFAIL), bind_resp carries it."""
    pending: Deferred = Deferred()
    proto, transport, _, _, _ = connect(Delegate(pending))
    proto.dataReceived(wire("bind_receiver", 1, params=CREDS))
    pending.errback(SmppError(Status.ESME_RBINDFAIL, "account disabled"))
    assert transport.value() == HDR.pack(16, 0x80000001, Status.ESME_RBINDFAIL, 1)


def test_bind_when_bound_is_already_bound() -> None:
    """When a bound session binds again, bind_resp ESME_RALYBND; the session stays bound."""
    proto, transport, _, delegate, _ = connect()
    proto.dataReceived(wire("bind_transmitter", 1, params=CREDS))
    sent(transport)
    proto.dataReceived(wire("bind_receiver", 2, params=CREDS))
    assert transport.value() == HDR.pack(16, 0x80000001, Status.ESME_RALYBND, 2)
    assert proto.state is SessionState.BOUND_TX and len(delegate.binds) == 1


def test_bind_timeout() -> None:
    """When a connection does not bind within bind_timeout, it is closed; a bound one is not."""
    proto, transport, clock, _, _ = connect(bind_timeout=10, inactivity_timeout=0)
    clock.advance(10)
    assert transport.disconnecting
    proto, transport, clock, _, _ = connect(bind_timeout=10, inactivity_timeout=0,
                                            enquire_link_interval=0)
    proto.dataReceived(wire("bind_transmitter", 1, params=CREDS))
    clock.advance(10)
    assert not transport.disconnecting


# --------------------------------------------------------------------- lifecycle

def test_unbound_told_once_on_connection_loss() -> None:
    """When a bound session's connection is lost, delegate.unbound is called once; a session
    that never bound is not reported; the factory forgets both."""
    proto, transport, _, delegate, factory = connect()
    other = factory.buildProtocol(None)
    other.makeConnection(StringTransport())
    assert factory.sessions == {proto, other}
    proto.dataReceived(wire("bind_transmitter", 1, params=CREDS))
    proto.connectionLost(Failure(ConnectionDone()))
    other.connectionLost(Failure(ConnectionDone()))
    assert delegate.unbound_sessions == [proto] and factory.sessions == set()


def test_bind_completing_after_disconnect_is_released() -> None:
    """When the bind Deferred fires after the connection is gone, delegate.unbound is called
    so the engine can release what the bind took (bind counts)."""
    pending: Deferred = Deferred()
    proto, transport, _, delegate, _ = connect(Delegate(pending))
    proto.dataReceived(wire("bind_transmitter", 1, params=CREDS))
    proto.connectionLost(Failure(ConnectionDone()))
    pending.callback("p")
    assert delegate.unbound_sessions == [proto] and transport.value() == b""


# --------------------------------------------------------------------- requests

@pytest.mark.parametrize("command,params,expected", [
    ("submit_sm", SUBMIT, {"message_id": "id1"}),
    ("submit_multi", {"dest_address": [{"dest_flag": 1, "dest_addr_ton": 1, "dest_addr_npi": 1,
                                      "destination_addr": "4470"}], "short_message": b"x"},
     {"message_id": "id1", "unsuccess_sme": []}),
    ("data_sm", {"destination_addr": "4470"}, {"message_id": "id1"}),
    ("query_sm", {"message_id": "77"},
     {"message_id": "77", "final_date": "", "message_state": 2, "error_code": 0}),
    ("cancel_sm", {"message_id": "77"}, {}),
    ("replace_sm", {"message_id": "77", "short_message": b"new"}, {}),
])
def test_requests_reach_the_delegate(command: str, params: dict, expected: dict) -> None:
    """When a bound transmitter sends any SMPP 3.4 operation, the delegate answers it and
    the response carries the delegate's params and the request's sequence (LESSONS row 12)."""
    proto, transport, _, delegate, _ = connect()
    proto.dataReceived(wire("bind_transceiver", 1, params=CREDS))
    sent(transport)
    proto.dataReceived(wire(command, 9, params=params))
    (resp,) = sent(transport)
    assert (resp.command, resp.sequence, resp.status) == (command + "_resp", 9, 0)
    assert resp.params == expected and delegate.requests[0].params == Pdu(command, 0, 0,
                                                                         params).params


def test_delegate_may_answer_with_a_whole_pdu() -> None:
    """When the delegate returns a response Pdu, its TLVs are sent with the request's sequence."""
    class TlvDelegate(Delegate):
        def request(self, session, pdu):
            return Pdu("data_sm_resp", 0, 0, {"message_id": "d1"},
                       {"additional_status_info_text": "queued"})
    proto, transport, _, _, _ = connect(TlvDelegate())
    proto.dataReceived(wire("bind_transmitter", 1, params=CREDS))
    sent(transport)
    proto.dataReceived(wire("data_sm", 4, params={"destination_addr": "4470"}))
    (resp,) = sent(transport)
    assert (resp.sequence, resp.tlvs) == (4, {"additional_status_info_text": "queued"})


# --------------------------------------------------------------------- pushes

def test_deliver_to_receiver() -> None:
    """When the server pushes deliver_sm to a receiver, it is written with a fresh sequence
    and the Deferred fires with the ESME's deliver_sm_resp."""
    proto, transport, _, _, _ = connect()
    proto.dataReceived(wire("bind_receiver", 1, params=CREDS))
    sent(transport)
    d = proto.deliver({"source_addr": "4470", "short_message": b"MO"},
                      {"receipted_message_id": "abc"})
    (req,) = sent(transport)
    assert req.command == "deliver_sm" and req.tlvs == {"receipted_message_id": "abc"}
    proto.dataReceived(wire("deliver_sm_resp", req.sequence))
    assert d.result.command == "deliver_sm_resp"


def test_deliver_to_transmitter_refused() -> None:
    """When the session is a transmitter (or unbound), a push fails with ESME_RINVBNDSTS."""
    proto, transport, _, _, _ = connect()
    proto.dataReceived(wire("bind_transmitter", 1, params=CREDS))
    sent(transport)
    for d in (proto.deliver(SUBMIT), proto.send_request("deliver_sm", SUBMIT)):
        assert d.result.value.status == Status.ESME_RINVBNDSTS
        d.addErrback(lambda f: None)
    assert transport.value() == b""


def test_outbind_sent_before_bind() -> None:
    """When we outbind on a connection we opened, an outbind PDU goes out; the ESME's
    bind_receiver is then handled like any bind. Outbind after a bind is refused."""
    proto, transport, _, _, _ = connect()
    proto.send_outbind("ourSMSC", "pw")
    (out,) = sent(transport)
    assert (out.command, out.params) == ("outbind", {"system_id": "ourSMSC", "password": "pw"})
    proto.dataReceived(wire("bind_receiver", 1, params=CREDS))
    assert sent(transport)[0].status == 0
    with pytest.raises(SmppError):
        proto.send_outbind("ourSMSC", "pw")


# --------------------------------------------------------------------- real TCP

class RawPeer(protocol.Protocol):
    """A hand-written peer on a real socket: writes bytes, collects what comes back."""

    def __init__(self) -> None:
        self.received = b""
        self.closed: Deferred = Deferred()
        self._waiting: list[tuple[int, Deferred]] = []

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self._check()

    def connectionLost(self, reason: Failure = None) -> None:
        self.closed.callback(None)

    def _pdus(self) -> list[tuple[int, int, int]]:
        out, data = [], self.received
        while len(data) >= 16:
            length, cid, status, seq = HDR.unpack_from(data)
            out.append((cid, status, seq))
            data = data[length:]
        return out

    def _check(self) -> None:
        for item in list(self._waiting):
            if len(self._pdus()) >= item[0]:
                self._waiting.remove(item)
                item[1].callback(self._pdus())

    def wait_pdus(self, count: int) -> Deferred:
        d: Deferred = Deferred()
        self._waiting.append((count, d))
        self._check()
        return d


class TcpTests(unittest.TestCase):
    """Real sockets on 127.0.0.1 with the real reactor."""

    timeout = 20

    def setUp(self) -> None:
        self.delegate = Delegate()
        self.factory = SmppServerFactory(self.delegate, reactor, SessionSettings(), "ourSMSC")
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.port_number = self.port.getHost().port

    def _raw(self) -> Deferred:
        return protocol.ClientCreator(reactor, RawPeer).connectTCP("127.0.0.1", self.port_number)

    async def _good_session(self):
        creator = SmppClientFactory(reactor, SessionSettings())
        client = await protocol.ClientCreator(
            reactor, lambda: creator.buildProtocol(None)).connectTCP("127.0.0.1",
                                                                    self.port_number)
        await client.bind("transmitter", "app", "s3cret")
        self.addCleanup(lambda: client.unbind())
        return client

    def test_smpplib_esme(self) -> Deferred:
        """When the third-party smpplib ESME binds (after one wrong password), submits,
        queries, receives a pushed deliver_sm and unbinds, every step succeeds."""
        pushed: list[Deferred] = []
        original = self.delegate.request

        def request(session, pdu):
            if not pushed:
                pushed.append(session.deliver({"source_addr": "4470", "destination_addr": "Me",
                                               "short_message": b"MO text"}))
            return original(session, pdu)
        self.delegate.request = request

        def esme(port: int) -> dict:
            c = smpplib.client.Client("127.0.0.1", port, timeout=5,
                                      allow_unknown_opt_params=True)
            c.connect()
            out: dict[str, Any] = {"sent": [], "mo": [], "query": []}
            try:
                try:
                    c.bind_transceiver(system_id="app", password="wrong")
                except smpplib.exceptions.PDUError as e:
                    out["bad_bind"] = e.args[1]
                resp = c.bind_transceiver(system_id="app", password="s3cret")
                out["bind_system_id"] = resp.system_id
                c.set_message_sent_handler(lambda pdu: out["sent"].append(pdu.message_id))
                c.set_message_received_handler(lambda pdu: out["mo"].append(pdu.short_message))
                c.set_query_resp_handler(lambda pdu: out["query"].append(pdu.message_state))
                for i in range(5):
                    c.send_message(source_addr="Test", destination_addr=f"44770090000{i}",
                                   short_message=b"hello")
                while len(out["sent"]) < 5 or not out["mo"]:
                    c.read_once()
                c.query_message(message_id=out["sent"][0].decode(), source_addr="Test")
                c.read_once()
                out["unbind"] = c.unbind().command
            finally:
                c.disconnect()
            return out

        def check(out: dict) -> None:
            assert out["bad_bind"] == Status.ESME_RINVPASWD
            assert out["bind_system_id"] == b"ourSMSC"
            assert sorted(out["sent"]) == sorted(f"id{i}".encode() for i in range(1, 6))
            assert out["mo"] == [b"MO text"] and out["query"] == [2]
            assert out["unbind"] == "unbind_resp"
            assert pushed[0].result.command == "deliver_sm_resp"
            assert [p.command for p in self.delegate.requests].count("submit_sm") == 5

        return threads.deferToThread(esme, self.port_number).addCallback(check)

    def test_tcp_nodelay_on_server_sockets(self) -> Deferred:
        """When an ESME connects, the server's socket has TCP_NODELAY set."""
        async def run() -> None:
            await self._good_session()
            (session,) = self.factory.sessions
            sock = session.transport.getHandle()
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        return defer.ensureDeferred(run())

    def test_malformed_pdus_leave_other_sessions_working(self) -> Deferred:
        """When a peer sends an unknown command id, a TLV overrun and an over-long field,
        each gets its answer (same sequence) and that session goes on; a lying
        command_length, an over-maximum length and a truncated header close only their
        own connection; meanwhile a well-behaved session keeps submitting."""
        async def run() -> None:
            good = await self._good_session()
            assert (await good.submit(SUBMIT)).status == 0

            peer = await self._raw()
            peer.transport.write(wire("bind_transmitter", 1, params=CREDS))
            good_body = encode(Pdu("submit_sm", 0, 0, SUBMIT))[16:]
            tlv_overrun = good_body + b"\x04\x24\x00\x20abc"
            long_field = b"\x00\x01\x01" + b"9" * 40 + b"\x00" + good_body[4:]
            peer.transport.write(HDR.pack(20, 0x00000777, 0, 2) + b"\0\0\0\0")
            peer.transport.write(HDR.pack(16 + len(tlv_overrun), 4, 0, 3) + tlv_overrun)
            peer.transport.write(HDR.pack(16 + len(long_field), 4, 0, 4) + long_field)
            peer.transport.write(wire("submit_sm", 5, params=SUBMIT))
            got = await peer.wait_pdus(5)
            assert got == [(0x80000002, 0, 1), (0x80000000, Status.ESME_RINVCMDID, 2),
                           (0x80000004, Status.ESME_RINVPARLEN, 3),
                           (0x80000004, Status.ESME_RINVSRCADR, 4), (0x80000004, 0, 5)]
            assert (await good.submit(SUBMIT)).status == 0

            # lying command_length: covers 8 body octets; the rest misaligns the stream
            liar = await self._raw()
            body = encode(Pdu("submit_sm", 0, 0, {**SUBMIT, "destination_addr": "4477"}))[16:]
            liar.transport.write(wire("bind_transmitter", 1, params=CREDS))
            liar.transport.write(HDR.pack(24, 4, 0, 2) + body)
            got = await liar.wait_pdus(3)
            assert got == [(0x80000002, 0, 1), (0x80000004, Status.ESME_RINVCMDLEN, 2),
                           (0x80000000, Status.ESME_RINVCMDLEN, 0)]
            await liar.closed

            huge = await self._raw()
            huge.transport.write(HDR.pack(10_000_000, 4, 0, 6))
            assert await huge.wait_pdus(1) == [(0x80000000, Status.ESME_RINVCMDLEN, 6)]
            await huge.closed

            truncated = await self._raw()
            truncated.transport.write(b"\x00\x00\x00\x2c\x00\x00")
            truncated.transport.loseConnection()
            await truncated.closed

            assert (await good.submit(SUBMIT)).status == 0
            assert good.is_bound and peer.transport.connected
            peer.transport.loseConnection()
            await peer.closed
        return defer.ensureDeferred(run())
