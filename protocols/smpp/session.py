"""The SMPP session shared by the server and the client side.

It owns what both ends of a bind have in common: sequence numbers, outstanding outgoing
requests and their response timeouts, the send window, the window for incoming requests,
enquire_link both ways, the inactivity timeout, the bind state machine and the answers to
PDUs that cannot be processed. Decisions (auth, storage) belong to a delegate; subclasses
(server.py, client.py) say which commands each state allows and handle binds.

Send window: ``send_request`` never refuses for a full window. It queues the request and
transmits it when a response frees a slot; the response timeout starts at transmission.
Callers that want back-pressure instead of a queue check ``window_available()``.
enquire_link and unbind bypass the window, so a window of stuck submits cannot starve the
keep-alive.

Hot-path choices: one struct unpack to route a PDU, no Deferred when the delegate answers
with a plain dict, one shared timer for all response timeouts (requests leave in send order
and share one timeout, so the oldest pending request is always the next to expire), the
idle timers re-armed lazily from the time of the last received chunk, no log line per PDU.

Cheaper variants for the engine's hot paths (each Deferred with its callbacks costs a few
µs, and every message crosses several of them):
- ``send_request_notify(..., notify, arg)`` calls ``notify(response or Failure, arg)``
  instead of returning a Deferred;
- a delegate may return ``ANSWER_LATER`` from ``request`` and call ``session.respond(pdu,
  result)`` exactly once later (after its commit), instead of returning a Deferred.
``can_transmit``, ``can_receive``, ``is_bound`` and ``in_flight`` are plain attributes kept
current by the session (routing reads them several times per message).
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocols.smpp.codec import Pdu, PduError, decode, encode, encode_fields, response_name
from protocols.smpp.constants import (
    COMMAND_IDS,
    COMMAND_NAMES,
    NO_RESPONSE,
    RESPONSE_BIT,
    CommandId,
    Status,
)
from protocols.smpp.errors import ProtocolError, ResponseTimeout, SmppError
from protocols.smpp.framing import DEFAULT_MAX_PDU_LENGTH, SmppFraming, header_only

__all__ = ["SessionSettings", "SessionState", "SmppSession", "SmppError", "ResponseTimeout",
           "ProtocolError", "BIND_TYPES", "ANSWER_LATER", "Notify"]

MAX_SEQUENCE = 0x7FFFFFFF
_ID_STATUS_SEQ = struct.Struct(">III")
_GENERIC_NACK = int(CommandId.GENERIC_NACK)


class SessionState(enum.Enum):
    OPEN = "open"              # connected, not bound
    BINDING = "binding"        # a bind is being decided (server) or awaits its resp (client)
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"    # unbind sent or received: no new work, in-flight work drains
    UNBOUND = "unbound"        # unbind exchanged, connection closing
    CLOSED = "closed"


BOUND_STATES = frozenset({SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX})
BIND_TYPES: dict[str, SessionState] = {
    "transmitter": SessionState.BOUND_TX,
    "receiver": SessionState.BOUND_RX,
    "transceiver": SessionState.BOUND_TRX,
}


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """The numbers of a session. Durations are seconds; 0 disables a timer."""

    window: int = 10                    # outgoing requests in flight, and incoming unanswered
    response_timeout: float = 30.0      # wait for a response to one of our requests
    enquire_link_interval: float = 30.0  # probe the link after this long without receiving
    inactivity_timeout: float = 120.0   # close after this long without receiving anything
    max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH
    bind_timeout: float = 30.0          # server: close a connection not bound within this

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1, not {self.window}")
        if self.response_timeout <= 0:
            raise ValueError(f"response_timeout must be positive, not {self.response_timeout}")
        for name in ("enquire_link_interval", "inactivity_timeout", "bind_timeout"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 disables it)")
        if not 16 <= self.max_pdu_length <= 0xFFFFFFFF:
            raise ValueError(f"max_pdu_length must be at least 16, not {self.max_pdu_length}")


class _AnswerLater:
    """The type of ANSWER_LATER."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANSWER_LATER"


# Returned by ``delegate.request``: "I will call ``session.respond(pdu, result)`` myself".
ANSWER_LATER = _AnswerLater()

# notify(response Pdu or Failure, arg): the Deferred-free way to learn a request's outcome.
Notify = Callable[[Any, Any], None]


def _fire(result: Any, d: Deferred) -> None:
    """The notify behind ``send_request``: hands the outcome to its Deferred."""
    if isinstance(result, Failure):
        d.errback(result)
    else:
        d.callback(result)


def _notify(notify: Notify, outcome: Any, arg: Any) -> None:
    """Call a caller's notify; a bug in it is logged, never raised into the session (a
    Deferred would have caught it too), so the link and the other requests carry on."""
    try:
        notify(outcome, arg)
    except Exception:  # noqa: BLE001
        _log.failure("notify {notify!r} failed", notify=notify)


class _Pending:
    __slots__ = ("command", "response_id", "notify", "arg", "deadline", "windowed")

    def __init__(self, command: str, notify: Notify, arg: Any, deadline: float,
                 windowed: bool) -> None:
        self.command = command
        self.response_id = _RESPONSE_IDS[command]
        self.notify = notify
        self.arg = arg
        self.deadline = deadline
        self.windowed = windowed


_RESPONSE_IDS = {name: cid | RESPONSE_BIT for name, cid in COMMAND_IDS.items()}
_log = Logger()


class SmppSession(SmppFraming):
    """One SMPP connection. Subclasses set the per-state command sets and the handlers."""

    # Requests the peer may send in each state; anything else gets ESME_RINVBNDSTS.
    incoming_allowed: dict[SessionState, frozenset[str]] = {}
    # Requests ``send_request`` may send in each state (internal enquire_link/unbind/bind
    # bypass this).
    outgoing_allowed: dict[SessionState, frozenset[str]] = {}
    # Requests handed to ``delegate.request``; they count against the incoming window.
    delegate_commands: frozenset[str] = frozenset()

    def __init__(self, clock: IReactorTime, settings: SessionSettings | None = None,
                 delegate: Any = None) -> None:
        super().__init__()
        self.clock = clock
        self.settings = settings or SessionSettings()
        self.delegate = delegate
        self.max_pdu_length = self.settings.max_pdu_length
        self.send_window = self.settings.window
        self.receive_window = self.settings.window
        self.bind_type: str | None = None
        self.system_id: str | None = None
        self.principal: Any = None
        self.peer: str = ""
        self._seconds = clock.seconds
        self._sequence = 0
        self._pending: dict[int, _Pending] = {}
        # (command, params, tlvs, vendor TLVs, notify, arg) waiting for a window slot
        self._queue: deque[tuple[str, dict | None, dict | None, list | None, Notify, Any]] = deque()
        self.in_flight = 0  # windowed requests sent and not yet answered
        self._incoming = 0
        self._closing = False
        self._last_rx = self._seconds()
        self._response_timer: IDelayedCall | None = None
        self._inactivity_timer: IDelayedCall | None = None
        self._enquire_timer: IDelayedCall | None = None
        self._enquire_in_flight = False
        self._idle_waiters: list[Callable[[], None]] = []
        self._closed_waiters: list[Deferred] = []
        self._handlers: dict[str, Callable[[Pdu], None]] = {}
        for name in COMMAND_IDS:
            handler = getattr(self, "on_" + name, None)
            if handler is None and name in self.delegate_commands:
                handler = self._delegate_request
            if handler is not None:
                self._handlers[name] = handler
        self.state = SessionState.OPEN
        self.is_bound = False
        self.can_transmit = False  # bound as transmitter or transceiver
        self.can_receive = False   # bound as receiver or transceiver: deliver_sm may be pushed
        self._allowed_in: frozenset[str] = frozenset()
        self._allowed_out: frozenset[str] = frozenset()
        self._set_state(SessionState.OPEN)

    # ------------------------------------------------------------------ state

    @property
    def queued(self) -> int:
        """Requests waiting for a free slot in the send window."""
        return len(self._queue)

    @property
    def incoming_unanswered(self) -> int:
        return self._incoming

    def window_available(self) -> bool:
        """True when a request sent now would be transmitted at once, not queued."""
        return (self.in_flight < self.send_window and not self._queue
                and not self._closing and self.is_bound)

    def _set_state(self, state: SessionState) -> None:
        self.state = state
        self.is_bound = state in BOUND_STATES
        self.can_transmit = state is SessionState.BOUND_TX or state is SessionState.BOUND_TRX
        self.can_receive = state is SessionState.BOUND_RX or state is SessionState.BOUND_TRX
        self._allowed_in = self.incoming_allowed.get(state, frozenset())
        self._allowed_out = self.outgoing_allowed.get(state, frozenset())
        if state in BOUND_STATES:
            self._start_enquire_link()
            self._send_queued()

    # ------------------------------------------------------------------ connection

    def connectionMade(self) -> None:
        super().connectionMade()
        peer = self.transport.getPeer()
        self.peer = str(getattr(peer, "host", peer))
        self._last_rx = self._seconds()
        timeout = self.settings.inactivity_timeout
        if timeout:
            self._inactivity_timer = self.clock.callLater(timeout, self._check_inactivity)

    def dataReceived(self, data: bytes) -> None:
        self._last_rx = self._seconds()
        SmppFraming.dataReceived(self, data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if reason is None:
            reason = Failure(ConnectionDone())
        was_bound = self.state in BOUND_STATES or self.state is SessionState.UNBINDING \
            or self.state is SessionState.UNBOUND
        self._closing = True
        self.stop_framing()
        self._set_state(SessionState.CLOSED)
        for name in ("_response_timer", "_inactivity_timer", "_enquire_timer"):
            timer = getattr(self, name)
            if timer is not None and timer.active():
                timer.cancel()
            setattr(self, name, None)
        pending, queued = list(self._pending.values()), list(self._queue)
        self._pending.clear()
        self._queue.clear()
        self.in_flight = 0
        lost = reason if reason.check(ConnectionLost) else Failure(
            ConnectionLost(f"closed before the response came ({reason.getErrorMessage()})"))
        for p in pending:
            _notify(p.notify, lost, p.arg)
        for q in queued:
            _notify(q[4], lost, q[5])
        self._idle_waiters = []
        self.session_closed(was_bound)
        waiters, self._closed_waiters = self._closed_waiters, []
        for d in waiters:
            d.callback(None)

    def session_closed(self, was_bound: bool) -> None:
        """Hook: the connection is gone (server tells the delegate)."""

    def when_closed(self) -> Deferred[None]:
        """Fires once the connection is closed."""
        if self.state is SessionState.CLOSED:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._closed_waiters.append(d)
        return d

    def close(self, abort: bool = False) -> None:
        """Close the connection: ``abort`` drops unsent data (a dead or hostile peer)."""
        if self._closing or self.transport is None:
            return
        self._closing = True
        self.stop_framing()
        if abort:
            self.transport.abortConnection()
        else:
            self.transport.loseConnection()

    def framing_error(self, length: int) -> None:
        self._closing = True

    # ------------------------------------------------------------------ incoming PDUs

    def pdu_received(self, data: bytes) -> None:
        command_id, _status, sequence = _ID_STATUS_SEQ.unpack_from(data, 4)
        if command_id & RESPONSE_BIT:
            self._response_received(data, command_id, sequence)
            return
        command = COMMAND_NAMES.get(command_id)
        if command is None:
            self._log.warn("unknown command_id 0x{cid:08X} #{seq} from {peer}: generic_nack",
                           cid=command_id, seq=sequence, peer=self.peer)
            self._write(header_only(_GENERIC_NACK, Status.ESME_RINVCMDID, sequence))
            return
        if command not in self._allowed_in:
            self._refuse(command, command_id, sequence, Status.ESME_RINVBNDSTS)
            return
        if self._incoming >= self.receive_window and command in self.delegate_commands:
            self._refuse(command, command_id, sequence, Status.ESME_RTHROTTLED)
            return
        try:
            pdu = decode(data)
        except PduError as exc:
            self._log.warn("malformed {command} #{seq} from {peer}: {error}", command=command,
                           seq=sequence, peer=self.peer, error=str(exc))
            self._refuse(command, command_id, sequence, exc.status)
            return
        try:
            self._handlers[command](pdu)
        except Exception:  # noqa: BLE001 - a bug in one handler must not drop the link
            self._log.failure("handling {command} #{seq} from {peer} failed", command=command,
                              seq=sequence, peer=self.peer)
            self._refuse(command, command_id, sequence, Status.ESME_RSYSERR)

    def _refuse(self, command: str, command_id: int, sequence: int, status: int) -> None:
        """Answer a request we will not process: its own response, header only, or a
        generic_nack for commands that have no response."""
        if command in NO_RESPONSE:
            self._write(header_only(_GENERIC_NACK, status, sequence))
        else:
            self._write(header_only(command_id | RESPONSE_BIT, status, sequence))

    def _write(self, data: bytes) -> None:
        if not self._closing:
            self.transport.write(data)

    def _delegate_request(self, pdu: Pdu) -> None:
        self._incoming += 1
        try:
            result = self.delegate.request(self, pdu)
        except Exception as exc:  # noqa: BLE001 - the delegate must never crash the session
            self._incoming -= 1
            self._answer_error(pdu, Failure(exc))
            return
        if result is ANSWER_LATER:
            return  # the delegate calls respond() when it knows
        if isinstance(result, Deferred):
            result.addCallbacks(self._answer_later, self._answer_error_later,
                                callbackArgs=(pdu,), errbackArgs=(pdu,))
        else:
            self._incoming -= 1
            self._answer(pdu, result)

    def respond(self, request: Pdu, result: Any) -> None:
        """Answer a request whose delegate returned ANSWER_LATER; call it exactly once.
        ``result`` is what ``request`` could have returned (params dict, None, a response
        Pdu), or a Failure / SmppError for an error response."""
        self._incoming -= 1
        if isinstance(result, Failure):
            self._answer_error(request, result)
        elif isinstance(result, Exception):
            self._answer_error(request, Failure(result))
        else:
            self._answer(request, result)

    def _answer_later(self, result: Any, pdu: Pdu) -> None:
        self._incoming -= 1
        self._answer(pdu, result)

    def _answer_error_later(self, failure: Failure, pdu: Pdu) -> None:
        self._incoming -= 1
        self._answer_error(pdu, failure)

    def _answer(self, request: Pdu, result: Any) -> None:
        """Send the response to ``request``: ``result`` is the response's mandatory params
        (dict or None) or a whole response Pdu (to carry TLVs)."""
        if not self._closing:
            try:
                if isinstance(result, Pdu):
                    result.sequence = request.sequence
                    data = encode(result)
                else:
                    data = encode_fields(response_name(request.command), request.sequence,
                                         0, result)
            except Exception:  # noqa: BLE001
                self._log.failure("cannot encode the response to {command} #{seq} from the "
                                  "delegate's answer {answer!r}", command=request.command,
                                  seq=request.sequence, answer=result)
                data = header_only(request.command_id | RESPONSE_BIT, Status.ESME_RSYSERR,
                                   request.sequence)
            self.transport.write(data)
        if self._idle_waiters:
            self._check_idle()

    def _answer_error(self, request: Pdu, failure: Failure) -> None:
        if failure.check(SmppError):
            status = failure.value.status
        else:
            self._log.failure("delegate failed on {command} #{seq} from {peer}", failure,
                              command=request.command, seq=request.sequence, peer=self.peer)
            status = Status.ESME_RSYSERR
        self._write(header_only(request.command_id | RESPONSE_BIT, status, request.sequence))
        if self._idle_waiters:
            self._check_idle()

    def on_enquire_link(self, pdu: Pdu) -> None:
        self._write(header_only(CommandId.ENQUIRE_LINK_RESP, 0, pdu.sequence))

    def on_unbind(self, pdu: Pdu) -> None:
        """The peer unbinds: refuse new work, answer what is in progress, then reply
        unbind_resp and close."""
        self._set_state(SessionState.UNBINDING)

        def respond() -> None:
            self._write(header_only(CommandId.UNBIND_RESP, 0, pdu.sequence))
            if self.state is not SessionState.CLOSED:
                self._set_state(SessionState.UNBOUND)
            self.close()

        self._when_idle(respond, outgoing=False)

    # ------------------------------------------------------------------ responses

    def _response_received(self, data: bytes, command_id: int, sequence: int) -> None:
        pending = self._pending.pop(sequence, None)
        if pending is None:
            self._log.warn("{command} #{seq} from {peer} answers no request of ours: ignored",
                           command=COMMAND_NAMES.get(command_id, hex(command_id)),
                           seq=sequence, peer=self.peer)
            return
        result: Any
        try:
            result = decode(data)
        except PduError as exc:
            result = Failure(ProtocolError(f"undecodable response to {pending.command} "
                                           f"#{sequence}: {exc}"))
        else:
            if command_id != pending.response_id and command_id != _GENERIC_NACK:
                result = Failure(ProtocolError(f"{result.command} #{sequence} answers a "
                                               f"{pending.command}"))
        if pending.windowed:
            self.in_flight -= 1
            if self._queue:
                self._send_queued()
        if self._idle_waiters:
            self._check_idle()
        try:
            pending.notify(result, pending.arg)
        except Exception:  # noqa: BLE001 - see _notify; inlined on the hot path
            self._log.failure("notify for {command} #{seq} failed", command=pending.command,
                              seq=sequence)

    # ------------------------------------------------------------------ outgoing requests

    def send_request(self, command: str, params: dict[str, Any] | None = None,
                     tlvs: dict[str, Any] | None = None,
                     unknown_tlvs: list[tuple[int, bytes]] | None = None) -> Deferred[Pdu]:
        """Send a request; the Deferred fires with the response Pdu whatever its status
        (a generic_nack included), or fails with ResponseTimeout, ConnectionLost,
        ProtocolError, ValueError (params that do not encode) or SmppError(RINVBNDSTS)
        when the session state does not allow ``command``. Queued while the window is full.
        ``unknown_tlvs`` are vendor TLVs relayed as they came (tag, raw value), in order.
        """
        if command not in self._allowed_out or self._closing:
            return fail(SmppError(Status.ESME_RINVBNDSTS,
                                  f"cannot send {command} in state {self.state.value}"))
        d: Deferred[Pdu] = Deferred()
        if self.in_flight >= self.send_window or self._queue:
            self._queue.append((command, params, tlvs, unknown_tlvs, _fire, d))
        else:
            self._transmit(command, params, tlvs, unknown_tlvs, _fire, d, True)
        return d

    def send_request_notify(self, command: str, params: dict[str, Any] | None,
                            tlvs: dict[str, Any] | None, unknown_tlvs: list | None,
                            notify: Notify, arg: Any = None) -> None:
        """``send_request`` without a Deferred: ``notify(outcome, arg)`` is called once, with
        the response Pdu or a Failure (the same ones send_request's Deferred would fail
        with; a refusal by the session state is notified before this returns). Saves the
        Deferred and its callbacks on paths that send one request per message."""
        if command not in self._allowed_out or self._closing:
            _notify(notify, Failure(SmppError(Status.ESME_RINVBNDSTS,
                                              f"cannot send {command} in state "
                                              f"{self.state.value}")), arg)
        elif self.in_flight >= self.send_window or self._queue:
            self._queue.append((command, params, tlvs, unknown_tlvs, notify, arg))
        else:
            self._transmit(command, params, tlvs, unknown_tlvs, notify, arg, True)

    def send_notification(self, command: str, params: dict[str, Any] | None = None) -> None:
        """Send a request that has no response (alert_notification, outbind)."""
        if command not in NO_RESPONSE:
            raise ValueError(f"{command} expects a response: use send_request")
        self._write(encode_fields(command, self._next_sequence(), 0, params))

    def _send_internal(self, command: str, params: dict[str, Any] | None = None) -> Deferred:
        """bind / enquire_link / unbind: outside the window and the state rules."""
        d: Deferred[Pdu] = Deferred()
        if self._closing:
            d.errback(ConnectionLost(f"cannot send {command}: connection closing"))
        else:
            self._transmit(command, params, None, None, _fire, d, False)
        return d

    def _next_sequence(self) -> int:
        seq = self._sequence
        while True:
            seq = seq + 1 if seq < MAX_SEQUENCE else 1
            if seq not in self._pending:
                self._sequence = seq
                return seq

    def _transmit(self, command: str, params: dict | None, tlvs: dict | None,
                  unknown_tlvs: list[tuple[int, bytes]] | None, notify: Notify, arg: Any,
                  windowed: bool) -> None:
        seq = self._next_sequence()
        try:
            data = encode_fields(command, seq, 0, params, tlvs, unknown_tlvs)
        except (ValueError, TypeError, PduError) as exc:
            _notify(notify, Failure(exc), arg)
            return
        self._pending[seq] = _Pending(command, notify, arg,
                                      self._seconds() + self.settings.response_timeout, windowed)
        if windowed:
            self.in_flight += 1
        self.transport.write(data)
        if self._response_timer is None:
            self._arm_response_timer()

    def _send_queued(self) -> None:
        queue = self._queue
        while queue and self.in_flight < self.send_window and not self._closing:
            command, params, tlvs, unknown_tlvs, notify, arg = queue.popleft()
            if command not in self._allowed_out:
                _notify(notify, Failure(SmppError(Status.ESME_RINVBNDSTS,
                                                  f"cannot send {command} in state "
                                                  f"{self.state.value}")), arg)
                continue
            self._transmit(command, params, tlvs, unknown_tlvs, notify, arg, True)

    def _arm_response_timer(self) -> None:
        for pending in self._pending.values():
            delay = max(0.0, pending.deadline - self._seconds())
            self._response_timer = self.clock.callLater(delay, self._expire_requests)
            return

    def _expire_requests(self) -> None:
        self._response_timer = None
        now = self._seconds()
        expired: list[tuple[int, _Pending]] = []
        for seq, pending in self._pending.items():
            if pending.deadline > now:
                break
            expired.append((seq, pending))
        for seq, pending in expired:
            del self._pending[seq]
            if pending.windowed:
                self.in_flight -= 1
        timeout = self.settings.response_timeout
        for seq, pending in expired:
            _notify(pending.notify, Failure(ResponseTimeout(pending.command, seq, timeout)),
                    pending.arg)
        self._send_queued()
        if self._idle_waiters:
            self._check_idle()
        if self._response_timer is None and self._pending:
            self._arm_response_timer()

    # ------------------------------------------------------------------ unbind and idle

    def unbind(self) -> Deferred[None]:
        """Unbind gracefully: requests still queued fail with SmppError(RINVBNDSTS), the
        ones in flight and the incoming ones in progress are answered, then unbind is sent
        and the connection closed on unbind_resp (or its timeout). Fires when closed."""
        closed = self.when_closed()
        if self.state not in BOUND_STATES:
            self.close()
            return closed
        self._set_state(SessionState.UNBINDING)
        queued = list(self._queue)
        self._queue.clear()
        for entry in queued:
            _notify(entry[4], Failure(SmppError(Status.ESME_RINVBNDSTS, "session is unbinding")),
                    entry[5])

        def send_unbind() -> None:
            if self._closing:
                return
            d = self._send_internal("unbind")
            d.addBoth(lambda _: self.close())

        self._when_idle(send_unbind, outgoing=True)
        return closed

    def _when_idle(self, callback: Callable[[], None], outgoing: bool) -> None:
        """Run ``callback`` once no incoming request is being processed (and, if
        ``outgoing``, no request of ours awaits its response)."""
        def check() -> bool:
            return not self._incoming and not (outgoing and self._pending)

        if check():
            callback()
        else:
            self._idle_waiters.append(lambda: check() and (callback() or True))

    def _check_idle(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        remaining = [w for w in waiters if not w()]
        self._idle_waiters = remaining + self._idle_waiters

    # ------------------------------------------------------------------ timers

    def _check_inactivity(self) -> None:
        self._inactivity_timer = None
        timeout = self.settings.inactivity_timeout
        idle = self._seconds() - self._last_rx
        if idle >= timeout:
            self._log.info("nothing received from {peer} for {idle:.0f} s: closing",
                           peer=self.peer, idle=idle)
            self.close(abort=True)
            return
        self._inactivity_timer = self.clock.callLater(timeout - idle, self._check_inactivity)

    def _start_enquire_link(self) -> None:
        interval = self.settings.enquire_link_interval
        if interval and self._enquire_timer is None and not self._closing:
            self._enquire_timer = self.clock.callLater(interval, self._enquire_tick)

    def _enquire_tick(self) -> None:
        self._enquire_timer = None
        if self.state not in BOUND_STATES or self._closing:
            return
        interval = self.settings.enquire_link_interval
        idle = self._seconds() - self._last_rx
        if idle >= interval and not self._enquire_in_flight:
            self._enquire_in_flight = True
            self._send_internal("enquire_link").addCallbacks(self._enquire_answered,
                                                             self._enquire_failed)
            delay = interval
        else:
            delay = interval - idle if idle < interval else interval
        self._enquire_timer = self.clock.callLater(delay, self._enquire_tick)

    def _enquire_answered(self, pdu: Pdu) -> None:
        self._enquire_in_flight = False

    def _enquire_failed(self, failure: Failure) -> None:
        self._enquire_in_flight = False
        if failure.check(ResponseTimeout):
            self._log.warn("enquire_link to {peer} unanswered: closing the dead link",
                           peer=self.peer)
            self.close(abort=True)
        elif not failure.check(ConnectionLost):
            self._log.warn("enquire_link to {peer} failed: {error}", peer=self.peer,
                           error=failure.getErrorMessage())

