"""The Deferred-free session paths: send_request_notify, ANSWER_LATER + respond, and the
state flags kept as plain attributes.

Each behaviour is checked against what the Deferred form does, on StringTransport + Clock.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.error import ConnectionLost
from twisted.logger import capturedLogs
from twisted.python.failure import Failure

from protocols.smpp.constants import CommandId, Status
from protocols.smpp.errors import ProtocolError, ResponseTimeout, SmppError
from protocols.smpp.session import ANSWER_LATER, SessionState
from tests.smpp.helpers import sent, wire
from tests.smpp.test_session import SUBMIT, Delegate, client, raw_sent, server


class Recorder:
    """A notify that keeps every (outcome, arg) it is called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, outcome: Any, arg: Any) -> None:
        self.calls.append((outcome, arg))

    def only(self) -> tuple[Any, Any]:
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


# --------------------------------------------------------------------- send_request_notify

def test_notify_gets_the_response_with_its_arg() -> None:
    """When the response to a notified request comes, notify gets the Pdu and the arg."""
    proto, transport, _ = client()
    notify = Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, notify, "ctx")
    (req,) = sent(transport)
    assert req.command == "submit_sm" and req.params["destination_addr"] == "447700900001"
    assert notify.calls == []
    proto.dataReceived(wire("submit_sm_resp", req.sequence, params={"message_id": "r1"}))
    pdu, arg = notify.only()
    assert (pdu.command, pdu.params["message_id"], arg) == ("submit_sm_resp", "r1", "ctx")
    assert proto.in_flight == 0


def test_notify_sends_tlvs_and_vendor_tlvs() -> None:
    """When TLVs and vendor TLVs are given, they go out as with send_request."""
    proto, transport, _ = client()
    proto.send_request_notify("submit_sm", SUBMIT, {"user_message_reference": 7},
                              [(0x1401, b"\x05")], Recorder())
    (req,) = sent(transport)
    assert req.tlvs == {"user_message_reference": 7}
    assert req.unknown_tlvs == [(0x1401, b"\x05")]


def test_notify_refused_in_a_state_that_does_not_allow_the_command() -> None:
    """When the state forbids the command, notify gets SmppError(RINVBNDSTS) at once."""
    proto, transport, _ = client(bind="receiver")
    notify = Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, notify, 1)
    failure, arg = notify.only()
    assert isinstance(failure, Failure) and failure.check(SmppError)
    assert failure.value.status == Status.ESME_RINVBNDSTS and arg == 1
    assert transport.value() == b""


def test_notify_waits_for_a_window_slot() -> None:
    """When the window is full, notified requests queue and leave as responses free slots."""
    proto, transport, _ = client(window=1)
    first, second = Recorder(), Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, first, "a")
    proto.send_request_notify("submit_sm", SUBMIT, None, None, second, "b")
    (req,) = sent(transport)
    assert proto.queued == 1 and not proto.window_available()
    proto.dataReceived(wire("submit_sm_resp", req.sequence, params={"message_id": "1"}))
    assert first.only()[1] == "a" and second.calls == []
    (req2,) = sent(transport)
    proto.dataReceived(wire("submit_sm_resp", req2.sequence, params={"message_id": "2"}))
    assert second.only()[0].params["message_id"] == "2"


def test_notify_times_out() -> None:
    """When no response comes within response_timeout, notify gets ResponseTimeout."""
    proto, transport, clock = client(response_timeout=5, enquire_link_interval=0)
    notify = Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, notify, "t")
    clock.advance(4.9)
    assert notify.calls == []
    clock.advance(0.2)
    failure, arg = notify.only()
    assert failure.check(ResponseTimeout) and arg == "t" and proto.in_flight == 0


def test_notify_on_connection_lost_for_sent_and_queued() -> None:
    """When the connection drops, notify gets ConnectionLost for sent and queued requests."""
    proto, transport, _ = client(window=1)
    sent_one, queued_one = Recorder(), Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, sent_one)
    proto.send_request_notify("submit_sm", SUBMIT, None, None, queued_one)
    proto.connectionLost(Failure(ConnectionLost("gone")))
    assert sent_one.only()[0].check(ConnectionLost)
    assert queued_one.only()[0].check(ConnectionLost)


def test_notify_for_a_mismatched_response_is_a_protocol_error() -> None:
    """When the response is of the wrong command, notify gets ProtocolError."""
    proto, transport, _ = client()
    notify = Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, notify)
    (req,) = sent(transport)
    proto.dataReceived(wire("query_sm_resp", req.sequence))
    assert notify.only()[0].check(ProtocolError)


def test_notify_for_params_that_do_not_encode() -> None:
    """When params do not encode, notify gets the ValueError and nothing is sent."""
    proto, transport, _ = client()
    notify = Recorder()
    proto.send_request_notify("submit_sm", {"source_addr": "x" * 40}, None, None, notify)
    assert notify.only()[0].check(ValueError)
    assert transport.value() == b"" and proto.in_flight == 0


def test_queued_notify_refused_when_unbinding() -> None:
    """When the session unbinds, queued notified requests get SmppError(RINVBNDSTS)."""
    proto, transport, _ = client(window=1)
    proto.send_request_notify("submit_sm", SUBMIT, None, None, Recorder())
    queued = Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, queued)
    proto.unbind()
    failure, _ = queued.only()
    assert failure.value.status == Status.ESME_RINVBNDSTS


def test_a_failing_notify_is_logged_and_the_link_carries_on() -> None:
    """When a notify raises, it is logged; the link stays up and other requests get theirs."""
    proto, transport, _ = client()

    def bad(outcome: Any, arg: Any) -> None:
        raise RuntimeError("bug in the caller")

    good = Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, bad)
    proto.send_request_notify("submit_sm", SUBMIT, None, None, good)
    first, second = sent(transport)
    with capturedLogs() as events:
        proto.dataReceived(wire("submit_sm_resp", first.sequence, params={"message_id": "1"}) +
                           wire("submit_sm_resp", second.sequence, params={"message_id": "2"}))
    assert good.only()[0].params["message_id"] == "2"
    assert [e["log_failure"].value.args for e in events if "log_failure" in e] == [("bug in the caller",)]
    assert proto.is_bound and not transport.disconnecting


def test_a_failing_notify_on_connection_lost_does_not_starve_the_others() -> None:
    """When the connection drops and one notify raises, the others still get ConnectionLost."""
    proto, transport, _ = client(window=1)

    def bad(outcome: Any, arg: Any) -> None:
        raise RuntimeError("bug")

    queued = Recorder()
    proto.send_request_notify("submit_sm", SUBMIT, None, None, bad)
    proto.send_request_notify("submit_sm", SUBMIT, None, None, queued)
    with capturedLogs():
        proto.connectionLost(Failure(ConnectionLost("gone")))
    assert queued.only()[0].check(ConnectionLost)


# --------------------------------------------------------------------- ANSWER_LATER + respond

class LaterDelegate(Delegate):
    """Keeps every request and answers ANSWER_LATER."""

    def request(self, session, pdu):
        self.requests.append(pdu)
        return ANSWER_LATER


def test_answer_later_responds_when_told() -> None:
    """When the delegate answers ANSWER_LATER, the response is written only at respond()."""
    proto, transport, _, delegate = server(LaterDelegate())
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    assert transport.value() == b"" and proto.incoming_unanswered == 1
    proto.respond(delegate.requests[0], {"message_id": "m42"})
    (resp,) = sent(transport)
    assert (resp.command, resp.sequence, resp.status, resp.params["message_id"]) == \
        ("submit_sm_resp", 5, 0, "m42")
    assert proto.incoming_unanswered == 0


@pytest.mark.parametrize("label,outcome,status", [
    ("SmppError as Failure", Failure(SmppError(Status.ESME_RTHROTTLED, "slow")), Status.ESME_RTHROTTLED),
    ("SmppError as exception", SmppError(Status.ESME_RSUBMITFAIL, "no"), Status.ESME_RSUBMITFAIL),
    ("any other failure", Failure(RuntimeError("db down")), Status.ESME_RSYSERR),
])
def test_answer_later_error_responses(label: str, outcome: Any, status: int) -> None:
    """When respond() gets a failure, the response carries its status (RSYSERR if not SMPP)."""
    proto, transport, _, delegate = server(LaterDelegate())
    proto.dataReceived(wire("submit_sm", 6, params=SUBMIT))
    proto.respond(delegate.requests[0], outcome)
    assert raw_sent(transport) == [(CommandId.SUBMIT_SM_RESP, status, 6)]
    assert proto.incoming_unanswered == 0


def test_answer_later_counts_against_the_receive_window() -> None:
    """When requests wait for respond(), they fill the receive window; respond frees a slot."""
    proto, transport, _, delegate = server(LaterDelegate(), window=2)
    for seq in (2, 3, 4):
        proto.dataReceived(wire("submit_sm", seq, params=SUBMIT))
    assert raw_sent(transport) == [(CommandId.SUBMIT_SM_RESP, Status.ESME_RTHROTTLED, 4)]
    proto.respond(delegate.requests[0], {"message_id": "1"})
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    assert len(delegate.requests) == 3


def test_answer_later_after_close_writes_nothing() -> None:
    """When the connection closed before respond(), nothing is written and nothing fails."""
    proto, transport, _, delegate = server(LaterDelegate())
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    proto.connectionLost(Failure(ConnectionLost("gone")))
    proto.respond(delegate.requests[0], {"message_id": "late"})
    assert transport.value() == b""


def test_unbind_waits_for_answers_owed_later() -> None:
    """When the peer unbinds with an answer owed, unbind_resp follows that answer."""
    proto, transport, _, delegate = server(LaterDelegate())
    proto.dataReceived(wire("submit_sm", 5, params=SUBMIT))
    proto.dataReceived(wire("unbind", 6))
    assert transport.value() == b""
    proto.respond(delegate.requests[0], {"message_id": "m"})
    assert [c for c, _, _ in raw_sent(transport)] == [CommandId.SUBMIT_SM_RESP, CommandId.UNBIND_RESP]


# --------------------------------------------------------------------- state flags

@pytest.mark.parametrize("bind,transmit,receive", [
    ("transmitter", True, False), ("receiver", False, True), ("transceiver", True, True),
])
def test_state_flags_follow_the_bind(bind: str, transmit: bool, receive: bool) -> None:
    """When bound, can_transmit/can_receive/is_bound say so; after close all are False."""
    proto, _, _ = client(bind=bind)
    assert (proto.is_bound, proto.can_transmit, proto.can_receive) == (True, transmit, receive)
    proto.connectionLost(Failure(ConnectionLost("gone")))
    assert proto.state is SessionState.CLOSED
    assert (proto.is_bound, proto.can_transmit, proto.can_receive) == (False, False, False)


def test_state_flags_false_before_bind_and_while_unbinding() -> None:
    """When not bound yet, or unbinding, no flag is set."""
    proto, _, _ = client(bind=None)
    assert (proto.is_bound, proto.can_transmit, proto.can_receive) == (False, False, False)
    proto, _, _ = client()
    proto.unbind()
    assert proto.state is SessionState.UNBINDING
    assert (proto.is_bound, proto.can_transmit, proto.can_receive) == (False, False, False)
