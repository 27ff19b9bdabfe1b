"""An SMPP carrier behind the upstream contract: several binds, a window, a rate, receipts.

- Binds: one transceiver per ``binds``, or a transmitter + receiver pair per ``binds``; each is a
  ClientService that only hands out bound sessions (smpp_bind.py), reconnecting with backoff.
- send(): the bound TX session with the fewest submits in flight takes the segment. Segments
  wait for a rate token (never fail for want of one) but the upstream never holds more than
  its free window: what the dispatcher gave it is either in flight or next in line.
- ESME_RTHROTTLED halves this upstream's rate and lets it recover (AdaptiveRate); nothing is
  frozen and other upstreams are untouched (LESSONS 8). With no configured throughput the rate
  starts at what was being sent when the first throttle came, and is lifted once recovered.
- Receipts and MO go to :class:`UpstreamEvents`; the deliver_sm_resp is written only when the
  engine's Deferred fires (durable), ESME_RX_T_APPN if it fails so the carrier sends it again.
  A receipt may come before its submit_sm_resp (other bind): the engine keeps early receipts.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, Callable

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocols.smpp.codec import Pdu
from protocols.smpp.constants import MessageState, Status, status_name
from protocols.smpp.errors import SmppError
from protocols.smpp.receipts import is_delivery_receipt, state_name
from protocols.smpp.session import ANSWER_LATER, SessionSettings
from smsc.ratelimit import AdaptiveRate
from smsc.upstreams.base import Accepted, OutboundSms, Outcome, Reject, Retry
from smsc.upstreams.smpp_bind import SmppBind, UpstreamSession, reconnect_policy
from smsc.upstreams.smpp_settings import SmppUpstreamSettings, UpstreamEvents
from smsc.upstreams.smpp_submit import (
    SourceOverride,
    UnsendableError,
    outcome_for_failure,
    outcome_for_response,
    receipt_event,
    submit_args,
)

__all__ = ["SmppUpstream", "SmppUpstreamSettings", "UpstreamEvents"]

log = Logger()
EndpointFactory = Callable[[str], IStreamClientEndpoint]
# Counter keys of the statuses and states SMPP defines, looked up per submit and per receipt:
# an Enum call costs ~1 µs, a dict ~50 ns. Other values (vendor, garbage) are named on the fly.
_STATUS_KEYS = {int(status): status.name for status in Status}
_STATE_KEYS = {int(state): state.name for state in MessageState}


def _status_key(status: int) -> str:
    key = _STATUS_KEYS.get(status)
    return key if key is not None else status_name(status)


def _state_key(state: int) -> str:
    key = _STATE_KEYS.get(state)
    return key if key is not None else state_name(state)


def _stored(_: Any) -> dict:
    return {}  # the deliver_sm_resp: ESME_ROK, no fields


def _fire_outcome(outcome: Outcome, d: Deferred) -> None:
    """The notify behind ``send``: its Deferred fires with the outcome."""
    d.callback(outcome)


class _Waiting:
    __slots__ = ("sms", "deferred")

    def __init__(self, sms: OutboundSms, deferred: Deferred) -> None:
        self.sms = sms
        self.deferred = deferred


class SmppUpstream(MultiService):
    """Implements :class:`smsc.upstreams.base.Upstream` for one SMPP carrier."""

    def __init__(self, settings: SmppUpstreamSettings, clock: IReactorTime,
                 events: UpstreamEvents, client_endpoint_factory: EndpointFactory | None = None,
                 random: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.name = settings.name
        self.setName(settings.name)
        self.clock = clock
        self.events = events
        self._receipt_notify = getattr(events, "receipt_notify", None)  # the Deferred-free form, if offered
        make_endpoint = client_endpoint_factory or (lambda s: clientFromString(clock, s))
        self._source = (SourceOverride(settings.source_override, settings.source_override_ton,
                                       settings.source_override_npi)
                        if settings.source_override is not None else None)
        session_settings = SessionSettings(
            window=settings.window, response_timeout=settings.response_timeout,
            enquire_link_interval=settings.enquire_link_interval,
            inactivity_timeout=max(120.0, 4 * settings.enquire_link_interval))
        policy = reconnect_policy(settings.reconnect_initial, settings.reconnect_max, random)
        types = (["transceiver"] if settings.bind_mode == "transceiver"
                 else ["transmitter", "receiver"])
        credentials = (settings.system_id, settings.password, settings.system_type,
                       settings.address_range)
        self.binds: list[SmppBind] = []
        for n in range(settings.binds):
            for bind_type in types:
                bind = SmppBind(f"{settings.name}/{bind_type}/{n + 1}", bind_type,
                                make_endpoint(settings.endpoint), credentials, session_settings,
                                clock, self, self, policy)
                bind.service.setServiceParent(self)
                self.binds.append(bind)
        self._tx: list[UpstreamSession] = []     # bound sessions that can transmit
        self._waiting: deque[_Waiting] = deque()
        self._timer: IDelayedCall | None = None
        self._rate: AdaptiveRate | None = None
        self._rate_is_temporary = False
        if settings.throughput:
            self._rate = self._make_rate(settings.throughput)
        self._sent_second = (0, 0, 0)            # (second, count, previous second's count)
        self._seq = 0
        self._stopping = False
        # counters for smsc/metrics.py and `smsc upstream list`
        self.submits: Counter[str] = Counter()
        self.receipts: Counter[str] = Counter()
        self.mo_count = 0
        self.reconnects = 0
        self.throttles = 0
        self.id_flavour_mismatches = 0
        self.events_failed = 0

    def _make_rate(self, rate: float) -> AdaptiveRate:
        burst = self.settings.burst or max(1, int(rate))
        return AdaptiveRate(rate, burst, self.clock)

    # ------------------------------------------------------------------ Upstream contract

    def _live(self) -> list[UpstreamSession]:
        # A session closes (state CLOSED) before it fails its in-flight submits and before
        # the bind hears of it: whoever reacts to those failures must already see it gone.
        return [s for s in self._tx if s.can_transmit]

    def is_usable(self) -> bool:
        for session in self._tx:  # called per routing decision: a plain loop, no generator
            if session.can_transmit:
                return True
        return False

    def window_total(self) -> int:
        return self._window()[0]

    def in_flight(self) -> int:
        return self._window()[1]

    def _window(self) -> tuple[int, int]:
        """(window, in flight) over live transmitters; called per message, so one loop."""
        total = used = 0
        for session in self._tx:
            if session.can_transmit:
                total += session.send_window
                used += session.in_flight
        return total, used

    def load(self) -> float:
        total, used = self._window()
        if not total:
            return 1.0
        return min(1.0, (used + len(self._waiting)) / total)

    def capacity(self) -> int:
        total, used = self._window()
        free = total - used - len(self._waiting)
        return free if free > 0 else 0

    def send(self, sms: OutboundSms) -> Deferred:
        d: Deferred = Deferred()
        waiting = self.send_notify(sms, _fire_outcome, d)
        return d if waiting is None else waiting

    def send_notify(self, sms: OutboundSms, notify: Callable[[Any, Any], None], arg: Any = None) -> Deferred | None:
        """``send`` without a Deferred when a slot and a token are free now (the usual case):
        returns None and calls ``notify(outcome, arg)`` once with the segment's outcome (saves
        the session's Deferred and three callbacks per segment). Otherwise it returns a
        Deferred of the outcome (refused at once, or the segment waits) and ``notify`` is not
        called."""
        if not self.is_usable():
            return succeed(Retry(f"upstream {self.name} has no bound transmitter",
                                 cause="not_bound", try_other_upstream=True))
        if self.capacity() <= 0:
            return succeed(Retry(f"upstream {self.name}: window full "
                                 f"({self.window_total()} in flight or waiting)",
                                 after=0.1))
        if not self._waiting:
            session = self._pick()
            if session is not None:
                rate = self._current_rate()
                if rate is None or rate.try_take():
                    self._submit(session, sms, notify, arg)
                    return None
        d: Deferred = Deferred()
        self._waiting.append(_Waiting(sms, d))
        self._pump()
        return d

    # ------------------------------------------------------------------ submitting

    def _pump(self) -> None:
        """Submit waiting segments while a session has a free slot and the rate allows."""
        waiting = self._waiting
        while waiting:
            session = self._pick()
            if session is None:
                return  # a response will free a slot and pump again
            rate = self._current_rate()
            if rate is not None and not rate.try_take():
                if self._timer is None:
                    delay = max(rate.delay_until_available(), 0.001)
                    self._timer = self.clock.callLater(delay, self._tick)
                return
            item = waiting.popleft()
            self._submit(session, item.sms, _fire_outcome, item.deferred)

    def _tick(self) -> None:
        self._timer = None
        self._pump()

    def _pick(self) -> UpstreamSession | None:
        best = None
        for session in self._tx:
            if session.window_available() and (best is None or
                                               session.in_flight < best.in_flight):
                best = session
        return best

    def _current_rate(self) -> AdaptiveRate | None:
        rate = self._rate
        if rate is not None and self._rate_is_temporary and rate.rate >= rate.max_rate:
            self._rate, self._rate_is_temporary = None, False  # recovered: unlimited again
            return None
        return rate

    def _submit(self, session: UpstreamSession, sms: OutboundSms, notify: Callable[[Any, Any], None],
                arg: Any) -> None:
        """Submit one segment now; ``notify(outcome, arg)`` is called once, never with a failure."""
        try:
            params, tlvs, vendor_tlvs = submit_args(sms, self._source)
        except UnsendableError as exc:
            self._count("unsendable")
            notify(Reject(f"message {sms.message_id}: {exc}"), arg)
            return
        self._note_sent()
        session.send_request_notify("submit_sm", params, tlvs, vendor_tlvs, self._submit_done, (sms, notify, arg))

    def _submit_done(self, result: Any, context: tuple[OutboundSms, Callable[[Any, Any], None], Any]) -> None:
        sms, notify, arg = context
        outcome = self._failed(result) if isinstance(result, Failure) else self._answered(result, sms)
        notify(outcome, arg)

    def _answered(self, pdu: Pdu, sms: OutboundSms) -> Outcome:
        try:
            outcome = self._outcome_of(pdu, sms)
        except Exception:  # noqa: BLE001 - a bug here: still an outcome, never an errback
            outcome = self._internal_error()
        if self._waiting:  # the answer freed a slot (in flight + waiting stays the same)
            self._pump()
        return outcome

    def _failed(self, failure: Failure) -> Outcome:
        try:
            outcome = outcome_for_failure(failure, self.settings.response_timeout)
            self._count(str(outcome.cause) if outcome.cause is not None else "invalid")
        except Exception:  # noqa: BLE001
            outcome = self._internal_error()
        if self._waiting:
            self._pump()
        return outcome

    def _internal_error(self) -> Retry:
        log.failure("upstream {upstream}: mapping a submit result failed", upstream=self.name)
        return Retry(f"internal error in upstream {self.name}", cause="internal_error",
                     try_other_upstream=True)

    def _outcome_of(self, pdu: Pdu, sms: OutboundSms) -> Outcome:
        status = pdu.status
        self._count(_status_key(status))
        if status == Status.ESME_RTHROTTLED:
            self._throttled()
        outcome, id_ok = outcome_for_response(status, pdu.params.get("message_id"),
                                              self.settings.id_flavour_submit)
        if not id_ok:
            self.id_flavour_mismatches += 1
            log.warn("upstream {upstream}: message_id {remote!r} is not {flavour}: kept as sent",
                     upstream=self.name, remote=pdu.params.get("message_id"),
                     flavour=self.settings.id_flavour_submit)
        if outcome is None:
            # Accepted without an id: re-sending would duplicate it; no receipt can match.
            self._seq += 1
            remote = f"noid-{self.name}-{sms.message_id}-{sms.segment}-{self._seq}"
            log.warn("upstream {upstream} accepted message {message_id} without a message_id",
                     upstream=self.name, message_id=sms.message_id)
            return Accepted(remote)
        return outcome

    def _count(self, key: str) -> None:
        self.submits[key] += 1

    def _note_sent(self) -> None:
        second = int(self.clock.seconds())
        current, count, previous = self._sent_second
        if second == current:
            self._sent_second = (current, count + 1, previous)
        else:
            self._sent_second = (second, 1, count if second == current + 1 else 0)

    def _throttled(self) -> None:
        self.throttles += 1
        if self._rate is None:
            _, count, previous = self._sent_second
            self._rate = self._make_rate(float(max(count, previous, 1)))
            self._rate_is_temporary = True
        if self._rate.throttled():
            log.info("upstream {upstream} throttled: rate now {rate:.1f}/s",
                     upstream=self.name, rate=self._rate.rate)

    # ------------------------------------------------------------------ binds (BindListener)

    def bind_up(self, bind: SmppBind, session: UpstreamSession) -> None:
        if self._stopping:  # a reconnect that raced stopService: leave at once
            session.unbind()
            return
        if bind.binds_ok > 1:
            self.reconnects += 1
        if bind.can_transmit:
            self._tx.append(session)
        self._notify()
        if self._waiting:
            self._pump()

    def bind_down(self, bind: SmppBind, session: UpstreamSession) -> None:
        if session in self._tx:
            self._tx.remove(session)
        if self._waiting and not self.is_usable():
            waiting, self._waiting = self._waiting, deque()
            for item in waiting:
                item.deferred.callback(Retry(f"upstream {self.name} lost its last transmitter",
                                             cause="not_bound", try_other_upstream=True))
        self._notify()

    def bind_failed(self, bind: SmppBind, failure: Failure) -> None:
        pass  # counted on the bind (state "refused", bind_failures); healthy() reads it

    def _notify(self) -> None:
        try:
            self.events.bound_changed(self.name)
        except Exception:  # noqa: BLE001 - the engine's bug must not break the bind
            log.failure("bound_changed failed for upstream {upstream}", upstream=self.name)

    def healthy(self) -> bool:
        """False when no transmitter is bound or a bind is being refused (LESSONS 14)."""
        return self.is_usable() and not any(b.state == "refused" for b in self.binds)

    # ------------------------------------------------------------------ receipts and MO

    def request(self, session: UpstreamSession, pdu: Pdu) -> Deferred | dict:
        """deliver_sm / data_sm from the carrier (SmppClientProtocol's delegate)."""
        if is_delivery_receipt(pdu.params.get("esm_class", 0)):
            return self._receipt(session, pdu)
        self.mo_count += 1
        return self._ack(self.events.mo, (self.name, pdu), "MO")

    def _receipt(self, session: UpstreamSession, pdu: Pdu) -> Deferred | dict | object:
        event = receipt_event(pdu.params, pdu.tlvs, self.settings.id_flavour_receipt)
        if event is None:
            self.receipts["no_id"] += 1
            log.warn("upstream {upstream}: receipt without a message id ignored: {pdu!r}",
                     upstream=self.name, pdu=pdu)
            return {}
        if not event.flavour_ok:
            self.id_flavour_mismatches += 1
        self.receipts[_state_key(event.state)] += 1
        if self._receipt_notify is None:
            return self._ack(self.events.receipt,
                             (self.name, event.remote_id, event.state, event.error_code), "receipt")
        try:
            self._receipt_notify(self.name, event.remote_id, event.state, event.error_code,
                                 self._receipt_stored, (session, pdu))
        except Exception:  # noqa: BLE001 - the engine's failure is an answer to the carrier
            return fail().addErrback(self._not_stored, "receipt")
        return ANSWER_LATER

    def _receipt_stored(self, result: Any, context: tuple[UpstreamSession, Pdu]) -> None:
        """deliver_sm_resp once the receipt is durable (ESME_RX_T_APPN if it is not)."""
        session, pdu = context
        if isinstance(result, Failure):
            try:
                self._not_stored(result, "receipt")
            except SmppError as exc:
                session.respond(pdu, exc)
            return
        session.respond(pdu, None)

    def _ack(self, handler: Callable[..., Any], args: tuple, what: str) -> Deferred:
        """The deliver_sm_resp once ``handler(*args)`` is durable; ESME_RX_T_APPN if it fails
        (the carrier sends it again). What maybeDeferred did, without its per-call cost."""
        try:
            d = handler(*args)
        except Exception:  # noqa: BLE001 - the engine's failure is an answer to the carrier
            return fail().addErrback(self._not_stored, what)
        if not isinstance(d, Deferred):
            return _stored(d)
        return d.addCallbacks(_stored, self._not_stored, errbackArgs=(what,))

    def _not_stored(self, failure: Failure, what: str) -> None:
        self.events_failed += 1
        log.warn("upstream {upstream}: {what} not stored ({error}): asking for it again",
                 upstream=self.name, what=what, error=failure.getErrorMessage())
        raise SmppError(Status.ESME_RX_T_APPN, f"{what} not stored")

    # ------------------------------------------------------------------ service

    def startService(self) -> None:
        self._stopping = False
        super().startService()

    def stopService(self) -> Deferred:
        """Unbind every session (in-flight submits are answered first), then stop."""
        self._stopping = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        waiting, self._waiting = self._waiting, deque()
        for item in waiting:
            item.deferred.callback(Retry(f"upstream {self.name} is stopping",
                                         cause="not_bound", try_other_upstream=True))
        unbinds = DeferredList([b.unbind() for b in self.binds], consumeErrors=True)
        return unbinds.addCallback(lambda _: super(SmppUpstream, self).stopService())

    def stats(self) -> dict[str, Any]:
        """Figures for metrics and `smsc upstream list` (read at scrape time)."""
        rate = self._rate
        return {
            "name": self.name,
            "usable": self.is_usable(),
            "healthy": self.healthy(),
            "binds": [{"bind": b.label, "type": b.bind_type, "state": b.state,
                       "in_flight": b.session.in_flight if b.session else 0,
                       "last_error": b.last_error, "failures": b.bind_failures}
                      for b in self.binds],
            "bound_tx": len(self._live()),
            "bound_rx": sum(1 for b in self.binds if b.session is not None and b.can_receive),
            "window_total": self.window_total(),
            "window_in_use": self.in_flight(),
            "waiting": len(self._waiting),
            "rate": rate.rate if rate is not None else None,
            "submits": dict(self.submits),
            "receipts": dict(self.receipts),
            "mo": self.mo_count,
            "reconnects": self.reconnects,
            "bind_failures": sum(b.bind_failures for b in self.binds),
            "throttles": self.throttles,
            "id_flavour_mismatches": self.id_flavour_mismatches,
            "events_failed": self.events_failed,
        }
