"""The common session: sequences, pending requests, windows, timers, bad input, states.

Driven through the concrete server and client protocols on StringTransport + Clock.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from protocols.smpp.client import SmppClientProtocol
from protocols.smpp.codec import Pdu, encode
from protocols.smpp.constants import NO_RESPONSE, Status
from protocols.smpp.errors import ProtocolError, ResponseTimeout, SmppError
from protocols.smpp.server import SmppServerProtocol
from protocols.smpp.session import MAX_SEQUENCE, SessionSettings, SessionState
from tests.smpp.helpers import sent, wire

HDR = struct.Struct(">IIII")
SUBMIT = {"destination_addr": "447700900001", "short_message": b"hi"}




def raw_sent(transport: StringTransport) -> list[tuple[int, int, int]]:
    """(command_id, status, sequence) of everything written, consumed."""
    data, out = transport.value(), []
    transport.clear()
    while data:
        length, cid, status, seq = HDR.unpack_from(data)
        out.append((cid, status, seq))
        data = data[length:]
    return out


class Delegate:
    """Records calls; answers with ``answer`` (a value, a Deferred factory or an exception)."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = answer if answer is not None else {"message_id": "m1"}
        self.requests: list[Pdu] = []
        self.pending: list[Deferred] = []
        self.unbound_calls = 0

    def bind(self, session, request):
        return "principal"

    def unbound(self, session) -> None:
        self.unbound_calls += 1

    def request(self, session, pdu):
        self.requests.append(pdu)
        if self.answer == "defer":
            d: Deferred = Deferred()
            self.pending.append(d)
            return d
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def server(delegate: Delegate | None = None, bind: str | None = "bind_transceiver",
           **settings: Any) -> tuple[SmppServerProtocol, StringTransport, Clock, Delegate]:
    clock = Clock()
    delegate = delegate or Delegate()
    proto = SmppServerProtocol(delegate, clock, SessionSettings(**settings), "ourSMSC")
    transport = StringTransport()
    proto.makeConnection(transport)
    if bind:
        proto.dataReceived(wire(bind, 1, params={"system_id": "app", "password": "pw"}))
        assert sent(transport)[0].status == 0
    return proto, transport, clock, delegate


def client(bind: str | None = "transceiver", delegate: Any = None, **settings: Any
           ) -> tuple[SmppClientProtocol, StringTransport, Clock]:
    clock = Clock()
    proto = SmppClientProtocol(clock, SessionSettings(**settings), delegate)
    transport = StringTransport()
    proto.makeConnection(transport)
    if bind:
        d = proto.bind(bind, "us", "pw")
        (req,) = sent(transport)
        proto.dataReceived(wire(req.command + "_resp", req.sequence, params={"system_id": "c"}))
        assert d.called and proto.is_bound
    return proto, transport, clock


# --------------------------------------------------------------------- sequence numbers

def test_sequence_numbers_increase_from_one() -> None:
    """When requests are sent, sequence numbers are 1, 2, 3 ... (the bind took 1)."""
    proto, transport, _ = client()
    for _ in range(3):
        proto.submit(SUBMIT)
    assert [p.sequence for p in sent(transport)] == [2, 3, 4]


def test_sequence_numbers_wrap_to_one() -> None:
    """When the sequence reaches 0x7FFFFFFF, the next one is 1 (0 is never used)."""
    proto, transport, _ = client()
    proto._sequence = MAX_SEQUENCE - 1
    for _ in range(3):
        proto.submit(SUBMIT)
    assert [p.sequence for p in sent(transport)] == [MAX_SEQUENCE, 1, 2]


def test_sequence_skips_numbers_still_pending() -> None:
    """When a wrapped sequence number is still awaiting its response, it is skipped."""
    proto, transport, _ = client(window=5)
    proto._sequence = MAX_SEQUENCE - 1
    proto.submit(SUBMIT)  # MAX
    proto._sequence = MAX_SEQUENCE - 1
    proto.submit(SUBMIT)  # would be MAX again
    assert [p.sequence for p in sent(transport)] == [MAX_SEQUENCE, 1]


# --------------------------------------------------------------------- responses

def test_responses_matched_by_sequence_in_any_order() -> None:
    """When responses come back out of order, each fires the request with its sequence."""
    proto, transport, _ = client()
    d1, d2 = proto.submit(SUBMIT), proto.submit(SUBMIT)
    s1, s2 = (p.sequence for p in sent(transport))
    proto.dataReceived(wire("submit_sm_resp", s2, params={"message_id": "B"}) +
                       wire("submit_sm_resp", s1, params={"message_id": "A"}))
    assert d1.result.params["message_id"] == "A"
    assert d2.result.params["message_id"] == "B"


@pytest.mark.parametrize("status", [0x58, 0x400, 0x4FF, 0x1234, 0xFFFFFFFF],
                         ids=["throttled", "vendor-low", "vendor-high", "undefined", "max"])
def test_any_status_is_accepted(status: int) -> None:
    """When a response carries any command_status (vendor or undefined), the caller gets
    the response with that status and the session stays up (LESSONS row 10)."""
    proto, transport, _ = client()
    d = proto.submit(SUBMIT)
    (req,) = sent(transport)
    proto.dataReceived(wire("submit_sm_resp", req.sequence, status))
    assert d.result.status == status
    assert not transport.disconnecting and proto.in_flight == 0


def test_response_for_unknown_sequence_is_ignored() -> None:
    """When a response matches no request of ours, it is ignored and the session goes on."""
    proto, transport, _ = client()
    d = proto.submit(SUBMIT)
    (req,) = sent(transport)
    proto.dataReceived(wire("submit_sm_resp", 999, params={"message_id": "x"}))
    assert not d.called and transport.value() == b"" and not transport.disconnecting
    proto.dataReceived(wire("submit_sm_resp", req.sequence, params={"message_id": "ok"}))
    assert d.result.params["message_id"] == "ok"


def test_generic_nack_answers_the_request() -> None:
    """When the peer answers a request with generic_nack, the caller gets that PDU."""
    proto, transport, _ = client()
    d = proto.submit(SUBMIT)
    (req,) = sent(transport)
    proto.dataReceived(wire("generic_nack", req.sequence, Status.ESME_RINVCMDID))
    assert d.result.command == "generic_nack" and d.result.status == Status.ESME_RINVCMDID


@pytest.mark.parametrize("data_for", [
    pytest.param(lambda seq: wire("deliver_sm_resp", seq), id="wrong-command"),
    pytest.param(lambda seq: HDR.pack(20, 0x80000004, 0, seq) + b"abcd", id="no-nul"),
])
def test_bad_response_fails_the_request(data_for) -> None:
    """When the response has the request's sequence but the wrong command, or cannot be
    decoded, the request fails with ProtocolError (outcome unknown)."""
    proto, transport, _ = client()
    d = proto.submit(SUBMIT)
    (req,) = sent(transport)
    proto.dataReceived(data_for(req.sequence))
    assert d.result.check(ProtocolError)
    d.addErrback(lambda f: None)
    assert proto.in_flight == 0 and not transport.disconnecting


# --------------------------------------------------------------------- timeouts, loss

def test_response_timeout() -> None:
    """When no response arrives within response_timeout, the request fails with
    ResponseTimeout (not a moment earlier) and its window slot is freed."""
    proto, transport, clock = client(response_timeout=10)
    d = proto.submit(SUBMIT)
    clock.advance(9.9)
    assert not d.called
    clock.advance(0.1)
    failure = d.result
    d.addErrback(lambda f: None)
    assert failure.check(ResponseTimeout) and failure.value.command == "submit_sm"
    assert proto.in_flight == 0


def test_timeouts_are_per_request() -> None:
    """When requests are sent at different times, each times out at its own deadline,
    and answered ones never do."""
    proto, transport, clock = client(response_timeout=10, window=5)
    d1 = proto.submit(SUBMIT)
    clock.advance(3)
    d2 = proto.submit(SUBMIT)
    d3 = proto.submit(SUBMIT)
    _, _, s3 = (p.sequence for p in sent(transport))
    proto.dataReceived(wire("submit_sm_resp", s3))
    clock.advance(7)
    assert d1.called and not d2.called
    clock.advance(3)
    assert d2.called and d3.result.status == 0
    for d in (d1, d2):
        assert d.result.check(ResponseTimeout)
        d.addErrback(lambda f: None)


def test_connection_loss_fails_pending_and_queued() -> None:
    """When the connection is lost, requests in flight and queued fail with ConnectionLost."""
    proto, transport, _ = client(window=1)
    d1, d2 = proto.submit(SUBMIT), proto.submit(SUBMIT)
    proto.connectionLost(Failure(ConnectionDone()))
    for d in (d1, d2):
        assert d.result.check(ConnectionLost)
        d.addErrback(lambda f: None)
    assert proto.state is SessionState.CLOSED


# --------------------------------------------------------------------- send window

def test_send_window_queues_then_sends() -> None:
    """When the window is full, further requests wait unsent and go out, in order, as
    responses free slots."""
    proto, transport, _ = client(window=2)
    ds = [proto.submit({**SUBMIT, "destination_addr": str(i)}) for i in range(4)]
    first = sent(transport)
    assert [p.params["destination_addr"] for p in first] == ["0", "1"]
    assert proto.in_flight == 2 and proto.queued == 2 and not proto.window_available()
    proto.dataReceived(wire("submit_sm_resp", first[0].sequence))
    assert [p.params["destination_addr"] for p in sent(transport)] == ["2"]
    assert ds[0].called and not ds[2].called


def test_queued_request_timeout_starts_when_sent() -> None:
    """When a request waited in the queue, its response timeout counts from transmission."""
    proto, transport, clock = client(window=1, response_timeout=10)
    d1, d2 = proto.submit(SUBMIT), proto.submit(SUBMIT)
    clock.advance(8)
    (r1,) = sent(transport)
    proto.dataReceived(wire("submit_sm_resp", r1.sequence))
    assert d1.result.status == 0
    clock.advance(9)
    assert not d2.called
    clock.advance(1)
    assert d2.result.check(ResponseTimeout)
    d2.addErrback(lambda f: None)


def test_window_available() -> None:
    """window_available is false before bind, true with a free slot, false when full."""
    proto, _, _ = client(bind=None, window=1)
    assert not proto.window_available()
    proto, _, _ = client(window=1)
    assert proto.window_available()
    proto.submit(SUBMIT)
    assert not proto.window_available()


def test_enquire_link_bypasses_full_window() -> None:
    """When the window is full of stuck submits, the periodic enquire_link still goes out."""
    proto, transport, clock = client(window=1, enquire_link_interval=5, response_timeout=60)
    proto.submit(SUBMIT)
    sent(transport)
    clock.advance(5)
    assert [p.command for p in sent(transport)] == ["enquire_link"]


# --------------------------------------------------------------------- incoming window

def test_incoming_window_throttles_without_calling_delegate() -> None:
    """When `window` requests are unanswered, the next one gets ESME_RTHROTTLED at once
    and the delegate never sees it; once one is answered, requests flow again."""
    proto, transport, _, delegate = server(Delegate("defer"), window=2)
    proto.dataReceived(b"".join(wire("submit_sm", s, params=SUBMIT) for s in (2, 3, 4)))
    assert raw_sent(transport) == [(0x80000004, Status.ESME_RTHROTTLED, 4)]
    assert len(delegate.requests) == 2
    delegate.pending[0].callback({"message_id": "A"})
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    assert len(delegate.requests) == 3
    assert raw_sent(transport) == [(0x80000004, 0, 2)]


def test_enquire_link_not_throttled() -> None:
    """When the incoming window is full, enquire_link is still answered."""
    proto, transport, _, _ = server(Delegate("defer"), window=1)
    proto.dataReceived(wire("submit_sm", 2, params=SUBMIT) + wire("enquire_link", 3))
    assert raw_sent(transport) == [(0x80000015, 0, 3)]


# --------------------------------------------------------------------- delegate answers

def test_delegate_deferred_answer_is_written_when_it_fires() -> None:
    """When the delegate returns a Deferred, the response is written only when it fires."""
    proto, transport, _, delegate = server(Delegate("defer"))
    proto.dataReceived(wire("submit_sm", 7, params=SUBMIT))
    assert transport.value() == b""
    delegate.pending[0].callback({"message_id": "late"})
    (resp,) = sent(transport)
    assert (resp.command, resp.sequence, resp.params["message_id"]) == ("submit_sm_resp", 7,
                                                                        "late")


@pytest.mark.parametrize("error,status", [
    (SmppError(Status.ESME_RINVDSTADR), Status.ESME_RINVDSTADR),
    (SmppError(0x401, "vendor"), 0x401),
    (RuntimeError("bug"), Status.ESME_RSYSERR),
    (KeyError("x"), Status.ESME_RSYSERR),
], ids=["smpp-error", "vendor-status", "runtime-error", "key-error"])
@pytest.mark.parametrize("mode", ["raise", "errback"])
def test_delegate_errors_become_statuses(error: Exception, status: int, mode: str) -> None:
    """When the delegate raises or errbacks SmppError(s), the response carries s; any other
    exception is ESME_RSYSERR (logged) and the session goes on."""
    delegate = Delegate("defer" if mode == "errback" else error)
    proto, transport, _, _ = server(delegate)
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    if mode == "errback":
        delegate.pending[0].errback(error)
    assert raw_sent(transport) == [(0x80000004, status, 5)]
    delegate.answer = {"message_id": "ok"}
    proto.dataReceived(wire("submit_sm", 6, params=SUBMIT))
    assert raw_sent(transport) == [(0x80000004, 0, 6)]
    assert proto.incoming_unanswered == 0


def test_delegate_answer_that_cannot_be_encoded() -> None:
    """When the delegate's answer does not fit the response, ESME_RSYSERR is sent."""
    proto, transport, _, _ = server(Delegate({"message_id": "x" * 80}))
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    assert raw_sent(transport) == [(0x80000004, Status.ESME_RSYSERR, 5)]


def test_answer_after_connection_loss_is_dropped() -> None:
    """When the delegate answers after the connection is gone, nothing is written."""
    proto, transport, _, delegate = server(Delegate("defer"))
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    proto.connectionLost(Failure(ConnectionDone()))
    delegate.pending[0].callback({"message_id": "m"})
    assert transport.value() == b""


# --------------------------------------------------------------------- bad input

@pytest.mark.parametrize("body,status", [
    (b"\x00\x01\x01", Status.ESME_RINVCMDLEN),                         # ends mid-field
    (b"\x00\x01\x01" + b"9" * 30 + b"\x00", Status.ESME_RINVSRCADR),   # over-long source
    (encode(Pdu("submit_sm", 1, 0, SUBMIT))[16:-3] + b"\x09hi", Status.ESME_RINVMSGLEN),
    (encode(Pdu("submit_sm", 1, 0, SUBMIT))[16:] + b"\x04\x24\x00\x10ab",
     Status.ESME_RINVPARLEN),                                          # TLV overrun
], ids=["truncated", "long-source-addr", "sm-length-overrun", "tlv-overrun"])
def test_malformed_body_answered_and_session_goes_on(body: bytes, status: int) -> None:
    """When a submit_sm body is malformed, its submit_sm_resp carries the codec's status
    and the same sequence, the delegate is not called, and the next PDU is processed."""
    proto, transport, _, delegate = server()
    proto.dataReceived(HDR.pack(16 + len(body), 4, 0, 41) + body)
    assert raw_sent(transport) == [(0x80000004, status, 41)]
    proto.dataReceived(wire("submit_sm", 42, params=SUBMIT))
    assert raw_sent(transport) == [(0x80000004, 0, 42)] and len(delegate.requests) == 1


@pytest.mark.parametrize("command_id", [0x00000099, 0x00000010, 0x7FFFFFFF])
def test_unknown_command_id_generic_nack_same_sequence(command_id: int) -> None:
    """When the command_id is unknown, generic_nack ESME_RINVCMDID echoes the sequence and
    the session goes on (LESSONS row 11)."""
    proto, transport, _, _ = server()
    proto.dataReceived(HDR.pack(20, command_id, 0, 12345) + b"abcd")
    assert raw_sent(transport) == [(0x80000000, Status.ESME_RINVCMDID, 12345)]
    proto.dataReceived(wire("enquire_link", 12346))
    assert raw_sent(transport) == [(0x80000015, 0, 12346)]
    assert not transport.disconnecting


# --------------------------------------------------------------------- keep-alive, idle

@pytest.mark.parametrize("bind", [None, "bind_transmitter"], ids=["open", "bound"])
def test_enquire_link_answered(bind: str | None) -> None:
    """When the peer sends enquire_link (bound or not), enquire_link_resp echoes its sequence."""
    proto, transport, _, _ = server(bind=bind)
    proto.dataReceived(wire("enquire_link", 99))
    assert raw_sent(transport) == [(0x80000015, 0, 99)]


def test_periodic_enquire_link_only_when_idle() -> None:
    """When nothing was received for enquire_link_interval, we send enquire_link; traffic
    from the peer postpones it."""
    proto, transport, clock = client(enquire_link_interval=30, inactivity_timeout=0)
    clock.advance(20)
    proto.dataReceived(wire("enquire_link", 50))
    sent(transport)
    clock.advance(10)
    assert transport.value() == b""
    clock.advance(20)
    (probe,) = sent(transport)
    assert probe.command == "enquire_link"
    proto.dataReceived(wire("enquire_link_resp", probe.sequence))
    assert not transport.disconnecting


def test_unanswered_enquire_link_closes_link() -> None:
    """When our enquire_link is not answered within response_timeout, the link is aborted."""
    proto, transport, clock = client(enquire_link_interval=30, response_timeout=5,
                                     inactivity_timeout=0)
    clock.advance(30)
    assert [p.command for p in sent(transport)] == ["enquire_link"]
    clock.advance(5)
    assert transport.disconnecting


def test_no_enquire_link_before_bind() -> None:
    """When the session is not bound, we send no enquire_link."""
    proto, transport, clock = client(bind=None, enquire_link_interval=5, inactivity_timeout=0)
    clock.advance(60)
    assert transport.value() == b""


def test_inactivity_timeout() -> None:
    """When nothing is received for inactivity_timeout, the connection is closed; any
    received data restarts the count."""
    proto, transport, clock = client(inactivity_timeout=60, enquire_link_interval=0)
    clock.advance(50)
    proto.dataReceived(wire("enquire_link", 9))
    clock.advance(59)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting


# --------------------------------------------------------------------- states

@pytest.mark.parametrize("bind,command,params", [
    (None, "submit_sm", SUBMIT),
    ("bind_receiver", "submit_sm", SUBMIT),
    ("bind_receiver", "query_sm", {"message_id": "1"}),
    ("bind_transmitter", "deliver_sm", SUBMIT),
    (None, "unbind", None),
], ids=["submit-unbound", "submit-on-rx", "query-on-rx", "deliver-from-esme", "unbind-open"])
def test_request_not_allowed_in_state(bind, command, params) -> None:
    """When a request is not allowed in the session's bind state, its response carries
    ESME_RINVBNDSTS and the delegate is not called."""
    proto, transport, _, delegate = server(bind=bind)
    proto.dataReceived(wire(command, 8, params=params))
    ((cid, status, seq),) = raw_sent(transport)
    assert (cid & 0x7FFFFFFF, status, seq) == (Pdu(command).command_id, 4, 8)
    assert delegate.requests == []


def test_send_request_refused_in_wrong_state() -> None:
    """When we try to send a request the state does not allow, it fails with
    SmppError(ESME_RINVBNDSTS) and nothing is written."""
    proto, transport, _ = client(bind="receiver")
    d = proto.submit(SUBMIT)
    assert d.result.value.status == Status.ESME_RINVBNDSTS
    d.addErrback(lambda f: None)
    assert transport.value() == b""


def test_unbind_from_peer_waits_for_answers_then_closes() -> None:
    """When the peer unbinds, requests in progress are answered first, then unbind_resp
    is written, the connection closed and the delegate told once."""
    proto, transport, _, delegate = server(Delegate("defer"))
    proto.dataReceived(wire("submit_sm", 2, params=SUBMIT) + wire("unbind", 3) +
                       wire("submit_sm", 4, params=SUBMIT))
    assert raw_sent(transport) == [(0x80000004, Status.ESME_RINVBNDSTS, 4)]
    delegate.pending[0].callback({"message_id": "m"})
    assert raw_sent(transport) == [(0x80000004, 0, 2), (0x80000006, 0, 3)]
    assert transport.disconnecting and proto.state is SessionState.UNBOUND
    proto.connectionLost(Failure(ConnectionDone()))
    assert delegate.unbound_calls == 1


def test_unbind_by_us_is_graceful() -> None:
    """When we unbind, queued requests fail, in-flight ones are awaited, then unbind is
    sent and the connection closed on unbind_resp."""
    proto, transport, _ = client(window=1)
    d1, d2 = proto.submit(SUBMIT), proto.submit(SUBMIT)
    (r1,) = sent(transport)
    closed = proto.unbind()
    assert d2.result.value.status == Status.ESME_RINVBNDSTS
    d2.addErrback(lambda f: None)
    assert transport.value() == b""
    proto.dataReceived(wire("submit_sm_resp", r1.sequence))
    (unbind,) = sent(transport)
    assert unbind.command == "unbind" and d1.result.status == 0
    proto.dataReceived(wire("unbind_resp", unbind.sequence))
    assert transport.disconnecting and not closed.called
    proto.connectionLost(Failure(ConnectionDone()))
    assert closed.called


@pytest.mark.parametrize("factory", [
    lambda: SmppServerProtocol(Delegate(), Clock()),
    lambda: SmppClientProtocol(Clock()),
], ids=["server", "client"])
def test_every_allowed_command_has_a_handler(factory) -> None:
    """Every request a state allows has a handler (no KeyError on valid input)."""
    proto = factory()
    for allowed in proto.incoming_allowed.values():
        for command in allowed:
            assert command in proto._handlers, command


def test_no_response_commands_refused_with_generic_nack() -> None:
    """When a command without response (outbind) is not allowed, generic_nack answers it."""
    assert "outbind" in NO_RESPONSE
    proto, transport, _, _ = server()
    proto.dataReceived(wire("outbind", 5, params={"system_id": "x", "password": "y"}))
    assert raw_sent(transport) == [(0x80000000, Status.ESME_RINVBNDSTS, 5)]


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"response_timeout": 0},
                                    {"inactivity_timeout": -1}, {"max_pdu_length": 15}],
                         ids=["window", "response-timeout", "inactivity", "max-pdu"])
def test_settings_validated(kwargs: dict) -> None:
    """When a setting is out of range, SessionSettings refuses it with its name."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SessionSettings(**kwargs)


def test_handler_bug_answers_system_error() -> None:
    """When handling a request raises (a bug), ESME_RSYSERR answers it and the link stays."""
    proto, transport, _, _ = server()

    def broken(pdu: Pdu) -> None:
        raise ZeroDivisionError

    proto._handlers["enquire_link"] = broken
    proto.dataReceived(wire("enquire_link", 3))
    assert raw_sent(transport) == [(0x80000015, Status.ESME_RSYSERR, 3)]
    assert not transport.disconnecting
