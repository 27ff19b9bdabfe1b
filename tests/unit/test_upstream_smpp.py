"""The SMPP upstream on fake endpoints and a Clock: submit_sm fields, response and failure
mapping, window, throughput, throttle back-off, binds refused and reconnects, receipts and MO
acknowledged only once the engine made them durable."""

from __future__ import annotations

import gc
import struct
from datetime import datetime, timezone
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from protocols.smpp.codec import Pdu, decode, encode
from protocols.smpp.constants import Status
from protocols.smpp.errors import ProtocolError, ResponseTimeout, SmppError
from smsc.upstreams.base import Accepted, OutboundSms, Reject, Retry, Upstream
from smsc.upstreams.smpp import SmppUpstream, SmppUpstreamSettings
from smsc.upstreams.smpp_bind import reconnect_policy
from smsc.upstreams.smpp_submit import (
    ReceiptEvent,
    SourceOverride,
    UnsendableError,
    outcome_for_failure,
    outcome_for_response,
    receipt_event,
    submit_args,
)


def sms(**over: Any) -> OutboundSms:
    fields = dict(message_id=7, segment=1, total_segments=1, source_addr="Shop", source_ton=5,
                  source_npi=0, dest_addr="4915112345678", dest_ton=1, dest_npi=1,
                  data_coding=0, esm_class=0, udh=b"", payload=b"hello", registered_delivery=1,
                  priority=0, validity_at=None, text="hello")
    fields.update(over)
    return OutboundSms(**fields)


@pytest.fixture(autouse=True)
def no_logged_errors():
    """Every test also checks that nothing logged a traceback (a NoTransition from
    ClientService, an unhandled error in a Deferred...)."""
    errors: list[dict] = []

    def observer(event: dict) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            errors.append(event)

    globalLogPublisher.addObserver(observer)
    yield
    gc.collect()
    globalLogPublisher.removeObserver(observer)
    assert not errors, [formatEvent(e) + str(e.get("log_failure", "")) for e in errors]


# --------------------------------------------------------------------- pure mapping, by table

UDH = bytes.fromhex("0500030A0201")
VALIDITY = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
FIELD_CASES = [
    ("plain", sms(), None, {"short_message": b"hello", "esm_class": 0, "source_addr": "Shop",
                            "registered_delivery": 1}, {}),
    ("udh sets UDHI and leads the body", sms(udh=UDH, esm_class=0x03), None,
     {"short_message": UDH + b"hello", "esm_class": 0x43}, {}),
    ("255 octets go in message_payload", sms(payload=b"x" * 255), None, {"short_message": b""},
     {"message_payload": b"x" * 255}),
    ("254 octets still fit short_message", sms(payload=b"x" * 254), None,
     {"short_message": b"x" * 254}, {}),
    ("validity as absolute SMPP time", sms(validity_at=VALIDITY), None,
     {"validity_period": "300102030405000+"}, {}),
    ("source override with ton/npi", sms(), SourceOverride("12345", 1, 1),
     {"source_addr": "12345", "source_addr_ton": 1, "source_addr_npi": 1}, {}),
    ("source override keeps ton/npi", sms(), SourceOverride("Brand"),
     {"source_addr": "Brand", "source_addr_ton": 5, "source_addr_npi": 0}, {}),
    ("known extra TLV decoded by tag", sms(extra_tlvs=((0x020A, b"\x00\x10"),)), None, {},
     {"source_port": 16}),
]


@pytest.mark.parametrize("label,message,source,params,tlvs", FIELD_CASES,
                         ids=[c[0] for c in FIELD_CASES])
def test_submit_args(label, message, source, params, tlvs) -> None:
    """When a segment becomes a submit_sm, each field lands where SMPP 3.4 wants it."""
    got_params, got_tlvs, vendor = submit_args(message, source)
    for key, value in params.items():
        assert got_params[key] == value, key
    assert (got_tlvs or {}) == tlvs and vendor is None
    encode(Pdu("submit_sm", 1, 0, got_params, got_tlvs or {}))  # and it encodes


def test_submit_args_vendor_and_bad_input() -> None:
    """When extra TLVs carry a vendor tag it is kept apart; a body past 65535 octets or a
    standard TLV of the wrong size is refused with a clear error."""
    assert submit_args(sms(extra_tlvs=((0x1401, b"ab"),)))[2] == [(0x1401, b"ab")]
    with pytest.raises(UnsendableError, match="message_payload"):
        submit_args(sms(payload=b"x" * 65536))
    with pytest.raises(UnsendableError, match="0x020A"):
        submit_args(sms(extra_tlvs=((0x020A, b"\x01\x02\x03"),)))


RESPONSE_CASES = [
    ("ok string id", 0, " abc ", "string", Accepted("abc"), True),
    ("ok hex id canonical", 0, "1A", "hex", Accepted("26"), True),
    ("ok dec id leading zeros", 0, "0042", "dec", Accepted("42"), True),
    ("id not of the flavour kept", 0, "zz", "hex", Accepted("zz"), False),
    ("ok without id", 0, "", "string", None, True),
    ("throttled", 0x58, "", "string", Retry("upstream answered ESME_RTHROTTLED", cause=0x58), True),
    ("queue full", 0x14, "", "string", Retry("upstream answered ESME_RMSGQFUL", cause=0x14), True),
    ("system error", 0x08, "", "string", Retry("upstream answered ESME_RSYSERR", cause=0x08), True),
    ("temporary app error", 0x64, "", "string",
     Retry("upstream answered ESME_RX_T_APPN", cause=0x64), True),
    ("bad destination", 0x0B, "", "string",
     Reject("upstream answered ESME_RINVDSTADR", status=0x0B, cause=0x0B), True),
    ("vendor status", 0x401, "", "string",
     Reject("upstream answered VENDOR_0x00000401", status=0x401, cause=0x401), True),
]


@pytest.mark.parametrize("label,status,remote,flavour,outcome,ok", RESPONSE_CASES,
                         ids=[c[0] for c in RESPONSE_CASES])
def test_outcome_for_response(label, status, remote, flavour, outcome, ok) -> None:
    """When a submit_sm_resp arrives, its status maps to Accepted/Retry/Reject with the raw
    status as the cause, and the id is canonicalised per the submit id flavour."""
    assert outcome_for_response(status, remote, flavour) == (outcome, ok)


FAILURE_CASES = [
    ("timeout", ResponseTimeout("submit_sm", 3, 30), Retry, "timeout"),
    ("connection lost", ConnectionLost(), Retry, "connection_lost"),
    ("connection done", ConnectionDone(), Retry, "connection_lost"),
    ("unbinding session", SmppError(Status.ESME_RINVBNDSTS), Retry, 0x04),
    ("garbled response", ProtocolError("bad"), Retry, "timeout"),
    ("does not encode", ValueError("source_addr too long"), Reject, None),
    ("anything else", RuntimeError("boom"), Retry, "internal_error"),
]


@pytest.mark.parametrize("label,error,kind,cause", FAILURE_CASES, ids=[c[0] for c in FAILURE_CASES])
def test_outcome_for_failure(label, error, kind, cause) -> None:
    """When a submit gets no response, the failure maps to an outcome with a pseudo-cause;
    a timeout says the outcome is unknown."""
    outcome = outcome_for_failure(Failure(error), 30)
    assert type(outcome) is kind and outcome.cause == cause
    if label == "timeout":
        assert "unknown" in outcome.reason and outcome.try_other_upstream


RECEIPT_CASES = [
    ("text, hex flavour", {"short_message": b"id:00FF stat:UNDELIV err:034"}, {}, "hex",
     ReceiptEvent("255", 5, 34, True)),
    ("tlvs win over text", {"short_message": b"id:1 stat:DELIVRD err:000"},
     {"receipted_message_id": "2", "message_state": 3}, "string", ReceiptEvent("2", 3, 0, True)),
    ("tlvs only, network error", {"short_message": b""},
     {"receipted_message_id": "0042", "message_state": 5, "network_error_code": b"\x03\x00\x0b"},
     "dec", ReceiptEvent("42", 5, 11, True)),
    ("unknown stat is UNKNOWN", {"short_message": b"id:9 stat:WHATEVER"}, {}, "string",
     ReceiptEvent("9", 7, None, True)),
    ("id not of the flavour kept", {"short_message": b"id:xyz stat:DELIVRD"}, {}, "dec",
     ReceiptEvent("xyz", 2, None, False)),
    ("no id", {"short_message": b"stat:DELIVRD"}, {}, "string", None),
]


@pytest.mark.parametrize("label,params,tlvs,flavour,event", RECEIPT_CASES,
                         ids=[c[0] for c in RECEIPT_CASES])
def test_receipt_event(label, params, tlvs, flavour, event) -> None:
    """When a receipt deliver_sm arrives, the engine is told the canonical id, the state and
    the error code, whichever form (text, TLVs, both) the carrier used."""
    assert receipt_event({"esm_class": 0x04, **params}, tlvs, flavour) == event


@pytest.mark.parametrize("change,message", [
    ({"bind_mode": "both"}, "bind_mode"), ({"window": 0}, "window"),
    ({"throughput": -1}, "throughput"), ({"reconnect_initial": 0}, "reconnect"),
    ({"id_flavour_receipt": "octal"}, "flavour"), ({"burst": 0}, "burst"),
], ids=["bind_mode", "window", "throughput", "reconnect", "flavour", "burst"])
def test_settings_refuse_bad_values(change, message) -> None:
    """When a setting is out of range, the error names the upstream and the setting."""
    with pytest.raises(ValueError, match=message) as info:
        SmppUpstreamSettings(**{"name": "c1", "endpoint": "tcp:host=h:port=1", "system_id": "s",
                                "password": "p", **change})
    assert "c1" in str(info.value)


def test_reconnect_policy_grows_caps_and_spreads() -> None:
    """When binds keep failing, the delay doubles from the initial value up to the maximum,
    spread +-20% by the random draw."""
    middle = reconnect_policy(1, 8, lambda: 0.5)
    assert [middle(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert reconnect_policy(1, 8, lambda: 0.0)(3) == pytest.approx(3.2)
    assert reconnect_policy(1, 8, lambda: 0.999999)(4) == pytest.approx(9.6, rel=1e-5)


# --------------------------------------------------------------------- fakes

class FakeTransport(StringTransport):
    """Closing is asynchronous, as on a real socket."""

    def __init__(self, clock: Clock, protocol: Any) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "127.0.0.1", 2775))
        self.clock, self.protocol, self.closed = clock, protocol, False

    def loseConnection(self) -> None:
        self.drop(ConnectionDone())

    def abortConnection(self) -> None:
        self.drop(ConnectionLost())

    def drop(self, reason: Exception) -> None:
        if not self.closed:
            self.closed = True
            self.clock.callLater(0, self.protocol.connectionLost, Failure(reason))


class Conn:
    """One connection as the carrier sees it."""

    def __init__(self, protocol: Any, transport: FakeTransport) -> None:
        self.protocol, self.transport = protocol, transport

    def read(self) -> list[Pdu]:
        data, out = self.transport.value(), []
        self.transport.clear()
        while data:
            (length,) = struct.unpack_from(">I", data)
            out.append(decode(data[:length]))
            data = data[length:]
        return out

    def answer(self, request: Pdu, status: int = 0, **params: Any) -> None:
        self.feed(Pdu(request.command + "_resp", request.sequence, status, params or None))

    def feed(self, pdu: Pdu) -> None:
        self.protocol.dataReceived(encode(pdu))


class FakeEndpoint:
    def __init__(self, clock: Clock) -> None:
        self.clock, self.conns, self.refuse, self.attempts = clock, [], False, []

    def connect(self, factory: Any) -> Deferred:
        self.attempts.append(self.clock.seconds())
        if self.refuse:
            return fail(ConnectionRefusedError("refused"))
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2775))
        transport = FakeTransport(self.clock, protocol)
        protocol.makeConnection(transport)
        self.conns.append(Conn(protocol, transport))
        return succeed(protocol)


class Events:
    def __init__(self, hold: bool = False) -> None:
        self.hold, self.receipts, self.mos, self.pending, self.changes = hold, [], [], [], 0

    def _answer(self) -> Deferred:
        if not self.hold:
            return succeed(None)
        d: Deferred = Deferred()
        self.pending.append(d)
        return d

    def receipt(self, upstream, remote_id, state, error_code):
        self.receipts.append((upstream, remote_id, state, error_code))
        return self._answer()

    def mo(self, upstream, pdu):
        self.mos.append((upstream, pdu))
        return self._answer()

    def bound_changed(self, upstream) -> None:
        self.changes += 1


class Harness:
    def __init__(self, events: Events | None = None, **settings: Any) -> None:
        self.clock = Clock()
        self.events = events or Events()
        self.endpoints: list[FakeEndpoint] = []
        base = dict(name="carrier", endpoint="tcp:host=127.0.0.1:port=2775", system_id="us",
                    password="secret")
        base.update(settings)
        self.upstream = SmppUpstream(SmppUpstreamSettings(**base), self.clock, self.events,
                                     self._endpoint, random=lambda: 0.5)

    def _endpoint(self, description: str) -> FakeEndpoint:
        self.endpoints.append(FakeEndpoint(self.clock))
        return self.endpoints[-1]

    def conn(self, n: int = 0) -> Conn:
        return self.endpoints[n].conns[-1]

    def start(self, bind_status: int = 0) -> Harness:
        self.upstream.startService()
        for n in range(len(self.endpoints)):
            self.bind(n, bind_status)
        return self

    def bind(self, n: int = 0, status: int = 0) -> Pdu:
        conn = self.conn(n)
        (request,) = conn.read()
        conn.answer(request, status, **({} if status else {"system_id": "SMSC"}))
        return request

    def submits(self, n: int = 0) -> list[Pdu]:
        return [p for p in self.conn(n).read() if p.command == "submit_sm"]


def outcome(d: Deferred) -> Any:
    assert d.called, "no outcome yet"
    return d.result


# --------------------------------------------------------------------- binds

def test_binds_then_usable() -> None:
    """When the upstream starts, it binds as transceiver with its credentials and is usable
    (capacity = window) only once the bind_resp says ESME_ROK."""
    h = Harness(window=4, system_type="VMA", address_range="^49")
    assert isinstance(h.upstream, Upstream)
    h.upstream.startService()
    assert not h.upstream.is_usable() and h.upstream.capacity() == 0
    request = h.bind()
    assert request.command == "bind_transceiver"
    assert (request.params["system_id"], request.params["password"], request.params["system_type"],
            request.params["address_range"]) == ("us", "secret", "VMA", "^49")
    assert h.upstream.is_usable() and h.upstream.capacity() == 4 and h.upstream.load() == 0
    assert h.events.changes == 1 and h.upstream.healthy()
    assert "secret" not in repr(h.upstream.settings)


def test_tx_rx_pairs() -> None:
    """When bind_mode is tx_rx with binds=2, two transmitters and two receivers bind and only
    the transmitters count towards the window."""
    h = Harness(bind_mode="tx_rx", binds=2, window=3).start()
    kinds = sorted(b.bind_type for b in h.upstream.binds)
    assert kinds == ["receiver", "receiver", "transmitter", "transmitter"]
    stats = h.upstream.stats()
    assert (stats["bound_tx"], stats["bound_rx"], h.upstream.capacity()) == (2, 2, 6)


def test_not_bound_retries_elsewhere() -> None:
    """When no transmitter is bound, send() answers Retry(not_bound) at once, elsewhere."""
    h = Harness()
    h.upstream.startService()
    result = outcome(h.upstream.send(sms()))
    assert isinstance(result, Retry) and result.cause == "not_bound" and result.try_other_upstream


def test_bind_refused_keeps_retrying_with_backoff() -> None:
    """When the carrier refuses the bind (bad password), the connection is closed, the
    upstream is unhealthy, and it binds again with growing delays until it is accepted."""
    h = Harness(reconnect_initial=1, reconnect_max=4)
    h.start(bind_status=Status.ESME_RINVPASWD)
    h.clock.advance(0)
    assert h.conn().transport.closed and not h.upstream.healthy()
    assert h.upstream.stats()["binds"][0]["last_error"] == "ESME_RINVPASWD"
    for delay in (1, 2, 4, 4):
        h.clock.advance(delay - 0.01)
        assert len(h.endpoints[0].attempts) == len(h.endpoints[0].conns)
        before = len(h.endpoints[0].conns)
        h.clock.advance(0.01)
        assert len(h.endpoints[0].conns) == before + 1
        h.bind(status=Status.ESME_RINVPASWD)
        h.clock.advance(0)
    h.clock.advance(4)
    h.bind()
    assert h.upstream.is_usable() and h.upstream.healthy()
    assert h.upstream.stats()["bind_failures"] == 5


def test_connect_refused_backs_off() -> None:
    """When the carrier's port refuses connections, attempts follow the backoff."""
    h = Harness(reconnect_initial=2, reconnect_max=5)
    h.endpoints[0].refuse = True
    h.upstream.startService()
    h.clock.pump([1] * 20)
    assert h.endpoints[0].attempts == [0, 2, 6, 11, 16]


def test_connection_lost_mid_flight_then_reconnect() -> None:
    """When the connection drops with submits in flight, each gets Retry(connection_lost),
    the upstream is unusable, then it reconnects after the backoff and counts it."""
    h = Harness(reconnect_initial=1).start()
    ds = [h.upstream.send(sms(message_id=i)) for i in range(3)]
    assert len(h.submits()) == 3
    usable_when_told: list[bool] = []
    ds[0].addCallback(lambda o: usable_when_told.append(h.upstream.is_usable()) or o)
    h.conn().transport.drop(ConnectionLost())
    h.clock.advance(0)
    for d in ds:
        assert outcome(d).cause == "connection_lost"
    assert usable_when_told == [False]  # a dispatcher reacting at once sends elsewhere
    assert not h.upstream.is_usable() and h.events.changes == 2
    h.clock.advance(1)
    h.bind()
    assert h.upstream.is_usable() and h.upstream.stats()["reconnects"] == 1


def test_stop_unbinds_and_does_not_reconnect() -> None:
    """When the service stops, in-flight submits are answered, then unbind is sent, and the
    upstream does not connect again."""
    h = Harness().start()
    d = h.upstream.send(sms())
    (submit,) = h.submits()
    stopped = h.upstream.stopService()
    assert not h.conn().read()  # unbind waits for the window to drain
    h.conn().answer(submit, message_id="X")
    (unbind,) = h.conn().read()
    assert unbind.command == "unbind" and outcome(d) == Accepted("X")
    h.conn().answer(unbind)
    h.clock.advance(0)
    assert stopped.called
    h.clock.advance(120)
    assert len(h.endpoints[0].conns) == 1


# --------------------------------------------------------------------- submitting

def test_submit_accepted_with_canonical_id() -> None:
    """When the carrier answers ESME_ROK with a hex id and the submit flavour is hex, the
    outcome is Accepted with the canonical (decimal) id and the submit is counted."""
    h = Harness(id_flavour_submit="hex").start()
    d = h.upstream.send(sms())
    (submit,) = h.submits()
    assert submit.params["destination_addr"] == "4915112345678"
    assert h.upstream.capacity() == 9 and h.upstream.load() == pytest.approx(0.1)
    h.conn().answer(submit, message_id="ff")
    assert outcome(d) == Accepted("255")
    assert h.upstream.stats()["submits"] == {"ESME_ROK": 1}


def test_send_notify_tells_the_outcome_once_or_hands_back_a_waiting_send() -> None:
    """When a slot and a token are free, send_notify submits at once and calls notify with the
    outcome (hex id made canonical, timeouts mapped as send does); when the rate makes the
    segment wait, it returns send's Deferred instead and does not call notify."""
    h = Harness(id_flavour_submit="hex", throughput=1, window=10, response_timeout=5).start()
    told: list = []
    assert h.upstream.send_notify(sms(message_id=1), lambda o, arg: told.append((o, arg)), "a") is None
    waiting = h.upstream.send_notify(sms(message_id=2), lambda o, arg: told.append((o, arg)), "b")
    (submit,) = h.submits()
    h.conn().answer(submit, message_id="ff")
    assert told == [(Accepted("255"), "a")]
    h.clock.advance(1.0)  # the second one's token
    (second,) = h.submits()
    h.clock.advance(5.0)  # ... and no answer to it
    result = outcome(waiting)
    assert isinstance(result, Retry) and result.cause == "timeout" and len(told) == 1


def test_window_never_exceeded_least_in_flight_first() -> None:
    """When two binds have window 2, sends alternate to the bind with fewer in flight, and a
    fifth send is answered Retry (window full) without being held."""
    h = Harness(binds=2, window=2).start()
    ds = [h.upstream.send(sms(message_id=i)) for i in range(4)]
    assert (len(h.submits(0)), len(h.submits(1))) == (2, 2)
    assert h.upstream.capacity() == 0 and h.upstream.load() == 1.0
    full = outcome(h.upstream.send(sms(message_id=9)))
    assert isinstance(full, Retry) and full.after and not any(d.called for d in ds)


def test_throughput_waits_for_tokens() -> None:
    """When throughput is 2/s with a burst of 2, the first two submits go at once and the
    next ones wait for their tokens instead of failing."""
    h = Harness(throughput=2, window=10).start()
    ds = [h.upstream.send(sms(message_id=i)) for i in range(4)]
    assert len(h.submits()) == 2 and h.upstream.capacity() == 6
    h.clock.advance(0.49)
    assert h.submits() == []
    h.clock.advance(0.01)
    assert len(h.submits()) == 1
    h.clock.advance(0.5)
    assert len(h.submits()) == 1 and not any(d.called for d in ds)


def test_throttle_slows_then_recovers() -> None:
    """When the carrier answers ESME_RTHROTTLED, that submit is Retry(0x58), the rate halves
    and the next submits wait for tokens; after the recovery period the full rate is back."""
    h = Harness(throughput=10, window=20).start()
    first = h.upstream.send(sms())
    (submit,) = h.submits()
    h.conn().answer(submit, Status.ESME_RTHROTTLED)
    assert outcome(first).cause == Status.ESME_RTHROTTLED
    assert h.upstream.stats()["rate"] == 5 and h.upstream.stats()["throttles"] == 1
    later = [h.upstream.send(sms(message_id=i)) for i in range(3)]
    assert h.submits() == [] and not any(d.called for d in later)
    h.clock.advance(0.2)
    assert len(h.submits()) == 1
    h.clock.advance(40)
    assert h.upstream.stats()["rate"] == 10


def test_throttle_without_throughput_limits_then_lifts() -> None:
    """When no throughput is configured and the carrier throttles, a rate is imposed from
    what was being sent, and lifted once it has recovered."""
    h = Harness(window=20).start()
    ds = [h.upstream.send(sms(message_id=i)) for i in range(8)]
    submits = h.submits()
    h.conn().answer(submits[0], Status.ESME_RTHROTTLED)
    assert h.upstream.stats()["rate"] == 4
    h.clock.advance(40)
    more = [h.upstream.send(sms(message_id=i)) for i in range(10)]
    assert len(h.submits()) == 10 and h.upstream.stats()["rate"] is None
    assert outcome(ds[0]).cause == 0x58 and not any(d.called for d in more)


def test_response_timeout_is_retry_unknown() -> None:
    """When no submit_sm_resp comes within response_timeout, the outcome is Retry(timeout)."""
    h = Harness(response_timeout=5, enquire_link_interval=0).start()
    d = h.upstream.send(sms())
    h.clock.advance(5.1)
    result = outcome(d)
    assert isinstance(result, Retry) and result.cause == "timeout"
    assert h.upstream.stats()["submits"] == {"timeout": 1}


def test_unsendable_and_vendor_tlvs() -> None:
    """When a segment cannot become a submit_sm it is rejected without reaching the wire;
    vendor TLVs are relayed raw, in order, beside the standard ones."""
    h = Harness().start()
    too_long = outcome(h.upstream.send(sms(payload=b"x" * 70000)))
    assert isinstance(too_long, Reject) and h.submits() == []
    h.upstream.send(sms(extra_tlvs=((0x1401, b"v"), (0x020B, b"\x00\x05"), (0x1402, b"w"))))
    (submit,) = h.submits()
    assert submit.tlvs == {"destination_port": 5}
    assert submit.unknown_tlvs == [(0x1401, b"v"), (0x1402, b"w")]


# --------------------------------------------------------------------- receipts and MO

RECEIPT_TEXT = b"id:0000ff sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 " \
               b"stat:DELIVRD err:000 text:hello"


def deliver(seq: int, esm_class: int = 0x04, text: bytes = RECEIPT_TEXT,
            tlvs: dict | None = None) -> Pdu:
    return Pdu("deliver_sm", seq, 0, {"source_addr": "4915112345678", "esm_class": esm_class,
                                      "short_message": text}, tlvs)


def test_receipt_acknowledged_when_durable() -> None:
    """When a receipt arrives, the engine gets the canonical id (receipt flavour hex), the
    state and err, and the deliver_sm_resp is written only when its Deferred fires."""
    h = Harness(Events(hold=True), id_flavour_receipt="hex").start()
    h.conn().feed(deliver(5))
    assert h.events.receipts == [("carrier", "255", 2, 0)]
    assert h.conn().read() == []
    h.events.pending[0].callback(None)
    (resp,) = h.conn().read()
    assert (resp.command, resp.sequence, resp.status) == ("deliver_sm_resp", 5, 0)
    assert h.upstream.stats()["receipts"] == {"DELIVERED": 1}


def test_receipt_tlvs_preferred_and_failure_asks_again() -> None:
    """When a receipt carries receipted_message_id/message_state TLVs they win over the text;
    when the engine cannot store it, the carrier gets ESME_RX_T_APPN to send it again."""
    h = Harness(Events(hold=True)).start()
    h.conn().feed(deliver(6, text=b"", tlvs={"receipted_message_id": "A1", "message_state": 5,
                                             "network_error_code": b"\x03\x00\x22"}))
    assert h.events.receipts == [("carrier", "A1", 5, 0x22)]
    h.events.pending[0].errback(RuntimeError("database down"))
    (resp,) = h.conn().read()
    assert resp.status == Status.ESME_RX_T_APPN


def test_mo_goes_to_engine() -> None:
    """When a deliver_sm is not a receipt it is an MO: the engine gets the PDU and the
    deliver_sm_resp follows its Deferred."""
    h = Harness(Events(hold=True)).start()
    h.conn().feed(deliver(9, esm_class=0, text=b"STOP"))
    ((name, pdu),) = h.events.mos
    assert name == "carrier" and pdu.params["short_message"] == b"STOP"
    assert h.conn().read() == []
    h.events.pending[0].callback(None)
    assert h.conn().read()[0].status == 0


def test_receipt_on_receiver_before_submit_resp() -> None:
    """When a tx_rx carrier sends the receipt on the receiver before the submit_sm_resp on the
    transmitter, both reach the engine: the receipt first, then Accepted with the same id."""
    h = Harness(bind_mode="tx_rx").start()
    tx, rx = (0, 1) if h.upstream.binds[0].bind_type == "transmitter" else (1, 0)
    d = h.upstream.send(sms())
    (submit,) = h.submits(tx)
    h.conn(rx).feed(deliver(3, text=b"id:77 stat:DELIVRD err:000"))
    assert h.events.receipts == [("carrier", "77", 2, 0)] and not d.called
    h.conn(tx).answer(submit, message_id="77")
    assert outcome(d) == Accepted("77")


# --------------------------------------------------------------------- one Deferred per send

def test_waiting_and_immediate_submits_each_get_their_own_outcome() -> None:
    """When one segment goes at once and the next waits for a rate token, each send() fires
    with the outcome of its own submit_sm_resp, whatever order the carrier answers in."""
    h = Harness(throughput=1, burst=1, window=10).start()
    first, second = h.upstream.send(sms(message_id=1)), h.upstream.send(sms(message_id=2))
    (submit1,) = h.submits()
    h.clock.advance(1.0)
    (submit2,) = h.submits()
    h.conn().answer(submit2, message_id="B")
    h.conn().answer(submit1, Status.ESME_RMSGQFUL)
    assert outcome(second) == Accepted("B")
    assert isinstance(outcome(first), Retry) and outcome(first).cause == Status.ESME_RMSGQFUL
    assert h.upstream.capacity() == 10


def test_a_bug_mapping_the_response_is_still_an_outcome(monkeypatch) -> None:
    """When turning a submit_sm_resp into an outcome raises (a bug), send() still fires with
    Retry(internal_error) that may go elsewhere, logged once; it never errbacks."""
    from twisted.logger import Logger

    import smsc.upstreams.smpp as module

    logged: list[dict] = []
    monkeypatch.setattr(module, "log", Logger(observer=logged.append))
    monkeypatch.setattr(module, "outcome_for_response", lambda *a: 1 / 0)
    h = Harness().start()
    d = h.upstream.send(sms())
    h.conn().answer(h.submits()[0], message_id="A")
    result = outcome(d)
    assert isinstance(result, Retry) and result.cause == "internal_error" and result.try_other_upstream
    assert len(logged) == 1 and logged[0]["log_failure"].check(ZeroDivisionError)


@pytest.mark.parametrize("label, answer, status", [
    ("engine raises at once", RuntimeError("bug"), Status.ESME_RX_T_APPN),
    ("engine answers a plain value", None, 0),
])
def test_receipt_engine_answers_without_a_deferred(monkeypatch, label, answer, status) -> None:
    """When the engine's receipt() raises instead of returning a failed Deferred, the carrier
    gets ESME_RX_T_APPN (it sends the receipt again); a plain return value is an ESME_ROK."""
    from twisted.logger import Logger

    import smsc.upstreams.smpp as module

    monkeypatch.setattr(module, "log", Logger(observer=lambda event: None))
    events = Events()

    def receipt(*args: Any) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    events.receipt = receipt
    h = Harness(events).start()
    h.conn().feed(deliver(11))
    (resp,) = h.conn().read()
    assert (resp.command, resp.sequence, resp.status) == ("deliver_sm_resp", 11, status)
    assert h.upstream.events_failed == (1 if status else 0)


class NotifyEvents(Events):
    """An engine offering the Deferred-free ``receipt_notify`` (as InboundSink does)."""

    def __init__(self, raises: bool = False) -> None:
        super().__init__()
        self.raises, self.notifies = raises, []

    def receipt_notify(self, upstream, remote_id, state, error_code, notify, arg) -> None:
        if self.raises:
            raise RuntimeError("bug")
        self.receipts.append((upstream, remote_id, state, error_code))
        self.notifies.append((notify, arg))


@pytest.mark.parametrize("label, result, status", [
    ("committed", None, 0),
    ("commit failed", Failure(RuntimeError("database down")), Status.ESME_RX_T_APPN),
])
def test_receipt_through_notify_is_answered_only_when_durable(monkeypatch, label, result, status) -> None:
    """When the engine offers receipt_notify, the deliver_sm_resp waits for its notify: ESME_ROK
    once the receipt is committed, ESME_RX_T_APPN (the carrier sends it again) if it was not."""
    from twisted.logger import Logger

    import smsc.upstreams.smpp as module

    monkeypatch.setattr(module, "log", Logger(observer=lambda event: None))
    h = Harness(NotifyEvents(), id_flavour_receipt="hex").start()
    h.conn().feed(deliver(12))
    assert h.events.receipts == [("carrier", "255", 2, 0)]
    assert h.conn().read() == []  # nothing before the commit
    notify, arg = h.events.notifies[0]
    notify(result, arg)
    (resp,) = h.conn().read()
    assert (resp.command, resp.sequence, resp.status) == ("deliver_sm_resp", 12, status)
    assert h.upstream.events_failed == (1 if status else 0)


def test_receipt_notify_that_raises_asks_again(monkeypatch) -> None:
    """When the engine's receipt_notify raises, the carrier gets ESME_RX_T_APPN at once."""
    from twisted.logger import Logger

    import smsc.upstreams.smpp as module

    monkeypatch.setattr(module, "log", Logger(observer=lambda event: None))
    h = Harness(NotifyEvents(raises=True)).start()
    h.conn().feed(deliver(13))
    (resp,) = h.conn().read()
    assert (resp.sequence, resp.status) == (13, Status.ESME_RX_T_APPN)
