"""An upstream SMSC (a carrier) that our engine binds to as an ESME: the fake that the demo
config, the end-to-end tests and the benchmark all use (CONVENTIONS item 6).

It is a ``ServerDelegate`` behind the real ``SmppServerFactory``: it accepts binds, answers
submit_sm / submit_multi / data_sm with its own ids (decimal, hex or uuid-like, optionally a
different flavour in receipts), sends delivery receipts after a delay with a configured
outcome mix (text, TLVs or both; intermediate ones on request; early ones before the
submit_sm_resp), keeps receipts and MO it cannot push and pushes them when a receiver
binds, injects faults (simulator_faults.py) and MO.

Cost per message matters (the benchmark needs >= 5,000 msg/s end to end on 2 cores): a
submit is answered synchronously (no Deferred), due receipts sit in one heap drained by one
timer every ``tick`` seconds, and nothing is logged per message.
"""

from __future__ import annotations

import heapq
from random import Random
from typing import Any

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from protocols.smpp.codec import Pdu
from protocols.smpp.constants import ESM_CLASS_DELIVERY_RECEIPT, MessageState, Status
from protocols.smpp.errors import SmppError
from protocols.smpp.receipts import encode_network_error_code, format_receipt_text
from protocols.smpp.server import BindRequest, SmppServerFactory, SmppServerProtocol
from protocols.smpp.session import SessionSettings
from protocols.smpp.times import SmppTimeError, parse_smpp_time
from protocols.smpp.simulator_faults import (
    DISCONNECT,
    DISCONNECT_AFTER,
    DROP,
    SLOW,
    Fault,
    Faults,
)
from protocols.smpp.simulator_push import Pusher
from protocols.smpp.simulator_settings import (
    ERR_FOR_STATE,
    Counters,
    IdMaker,
    SimulatorSettings,
    mo_parts,
    stat_word,
)
from protocols.sms.decode import decode_short_message

__all__ = ["UpstreamSimulator", "SimulatorSettings", "Faults", "Counters"]

_DELIVERED = MessageState.DELIVERED
_INTERMEDIATE = {"ENROUTE": MessageState.ENROUTE, "ACCEPTD": MessageState.ACCEPTED}


class UpstreamSimulator:
    """The carrier. ``factory()`` gives the protocol factory to listen with."""

    _log = Logger()

    def __init__(self, clock: IReactorTime, settings: SimulatorSettings | None = None,
                 rng: Random | None = None) -> None:
        self.clock = clock
        self.settings = settings = settings or SimulatorSettings()
        self.rng = rng or Random()
        self.faults = Faults()
        self.counters = Counters()
        self._ids = IdMaker(settings, self.rng)
        self._next_id = settings.id_start
        self._outcomes = settings.outcome_table()
        self._heap: list[tuple[float, int, tuple]] = []
        self._timer: IDelayedCall | None = None
        self._mo_timer: IDelayedCall | None = None
        self.pusher = Pusher(clock, settings, self.counters)
        self._push = self.pusher.push
        self._states: dict[str, tuple[int, float]] = {}
        self._mo_ref = 0
        self._mo_count = 0
        self._fired = False  # a tick just ran: the next one waits at least ``tick``
        self.sessions: set[SmppServerProtocol] = set()
        self._text_body = settings.receipt_format != "tlv"
        self._tlv_body = settings.receipt_format != "text"
        self._record = settings.record

    # ------------------------------------------------------------------ plumbing

    def factory(self, session_settings: SessionSettings | None = None) -> SmppServerFactory:
        s = self.settings
        return SmppServerFactory(self, self.clock, session_settings or SessionSettings(
            window=s.deliver_window, response_timeout=s.deliver_timeout,
            enquire_link_interval=s.enquire_link_interval,
            inactivity_timeout=s.inactivity_timeout), s.server_system_id)

    def service(self, reactor: Any, listen: str) -> StreamServerEndpointService:
        """A Service listening on a Twisted endpoint string (``tcp:2776:interface=...``)
        that starts and stops the simulator's timers with it."""
        svc = _SimulatorService(serverFromString(reactor, listen), self.factory())
        svc.simulator = self
        return svc

    def start(self) -> None:
        """Start the periodic MO timer (when ``mo_interval`` is set)."""
        if self.settings.mo_interval and self._mo_timer is None:
            self._mo_timer = self.clock.callLater(self.settings.mo_interval, self._random_mo)

    def stop(self) -> None:
        """Cancel every timer (receipts not yet due stay in memory, not sent)."""
        self.pusher.stop()
        for name in ("_timer", "_mo_timer"):
            timer = getattr(self, name)
            if timer is not None and timer.active():
                timer.cancel()
            setattr(self, name, None)

    @property
    def receipts_pending(self) -> int:
        """Receipts scheduled and not yet due."""
        return len(self._heap)

    @property
    def held(self) -> int:
        """Receipts and MO waiting for a receiver (none bound, or their push failed)."""
        return self.pusher.held

    @property
    def in_flight(self) -> int:
        """deliver_sm pushed and not yet answered."""
        return self.pusher.in_flight

    def refuse_binds(self, seconds: float, status: int = Status.ESME_RBINDFAIL) -> None:
        """Refuse every bind for the next ``seconds`` with ``status``."""
        self.faults.bind_refusal_status = status
        self.faults.refuse_binds_until = self.clock.seconds() + seconds

    def drop_connections(self) -> int:
        """Cut every connection at once (a carrier outage); returns how many."""
        sessions = list(self.sessions)
        for session in sessions:
            session.close(abort=True)
        return len(sessions)

    # ------------------------------------------------------------------ binds

    def bind(self, session: SmppServerProtocol, request: BindRequest) -> str:
        f = self.faults
        if f.refuse_binds_until and self.clock.seconds() < f.refuse_binds_until:
            self.counters.binds_refused += 1
            raise SmppError(f.bind_refusal_status, "binds refused for now")
        s = self.settings
        if not s.accept_any:
            if request.system_id != s.system_id:
                self.counters.binds_refused += 1
                raise SmppError(Status.ESME_RINVSYSID)
            if request.password != s.password:
                self.counters.binds_refused += 1
                raise SmppError(Status.ESME_RINVPASWD)
        self.counters.binds += 1
        self.sessions.add(session)
        if request.bind_type != "transmitter":
            self.pusher.add_receiver(request.system_id, session)
        return request.system_id

    def unbound(self, session: SmppServerProtocol) -> None:
        self.sessions.discard(session)
        self.pusher.remove_receiver(session)

    # ------------------------------------------------------------------ requests

    def request(self, session: SmppServerProtocol, pdu: Pdu) -> Any:
        command = pdu.command
        if command == "submit_sm" or command == "data_sm":
            return self._submit(session, pdu, pdu.params["destination_addr"])
        if command == "submit_multi":
            return self._submit(session, pdu, "")
        self.counters.by_command[command] += 1
        if command == "query_sm":
            return self._query(pdu.params["message_id"])
        if command == "cancel_sm":
            raise SmppError(Status.ESME_RCANCELFAIL, "this carrier cannot cancel")
        raise SmppError(Status.ESME_RREPLACEFAIL, "this carrier cannot replace")

    def _submit(self, session: SmppServerProtocol, pdu: Pdu, destination: str) -> Any:
        counters = self.counters
        counters.submits += 1
        counters.by_command[pdu.command] += 1
        faults = self.faults
        fault = faults.pick(self.rng, destination) if faults.active else None
        if fault is not None and fault.kind != DISCONNECT_AFTER and fault.kind != SLOW:
            return self._faulty(session, fault)
        p = pdu.params
        now = self.clock.seconds()
        if fault is not None and fault.kind == SLOW:
            now += fault.delay  # accepted when answered: its receipt follows the answer
        expiry = None
        if p.get("validity_period"):
            try:
                expiry = parse_smpp_time(p["validity_period"], now)
            except SmppTimeError as exc:
                counters.by_status[Status.ESME_RINVEXPIRY] += 1
                raise SmppError(Status.ESME_RINVEXPIRY, str(exc)) from None
        n = self._next_id
        self._next_id = n + 1
        resp_id, receipt_id = self._ids(n)
        if pdu.command == "submit_multi":
            result = self._multi(session, pdu, resp_id, receipt_id, n, now, expiry)
        else:
            result = {"message_id": resp_id}
            early = self._accept(session.system_id, p, pdu.tlvs, destination, p["dest_addr_ton"],
                                 p["dest_addr_npi"], resp_id, receipt_id, n, now, expiry)
            if early and self.settings.early_receipt_lag:
                fault = fault or Fault(SLOW, 0, self.settings.early_receipt_lag)
        counters.by_status[0] += 1
        if fault is not None:
            if fault.kind == SLOW:
                d: Deferred = Deferred()
                self.clock.callLater(fault.delay, d.callback, result)
                return d
            counters.disconnects += 1
            self.clock.callLater(0, session.close, True)  # after the response is written
        return result

    def _faulty(self, session: SmppServerProtocol, fault: Fault) -> Any:
        if fault.kind == DROP:
            self.counters.unanswered += 1
            return Deferred()  # never fires: the ESME's response timeout is the point
        if fault.kind == DISCONNECT:
            self.counters.disconnects += 1
            session.close(abort=True)
            return Deferred()
        self.counters.by_status[fault.status] += 1
        raise SmppError(fault.status, "injected fault")

    def _multi(self, session: SmppServerProtocol, pdu: Pdu, resp_id: str, receipt_id: str,
               n: int, now: float, expiry: float | None) -> dict:
        unsuccess = []
        for dest in pdu.params["dest_address"]:
            if dest.get("dest_flag", 1) != 1:
                unsuccess.append({"destination_addr": dest.get("dl_name", ""),
                                  "error_status_code": Status.ESME_RINVDLNAME})
                continue
            address = dest["destination_addr"]
            status = self.faults.destination_status(address)
            if status:
                unsuccess.append({"dest_addr_ton": dest["dest_addr_ton"],
                                  "dest_addr_npi": dest["dest_addr_npi"],
                                  "destination_addr": address, "error_status_code": status})
                continue
            self._accept(session.system_id, pdu.params, pdu.tlvs, address, dest["dest_addr_ton"],
                         dest["dest_addr_npi"], resp_id, receipt_id, n, now, expiry)
        return {"message_id": resp_id, "unsuccess_sme": unsuccess}

    def _accept(self, system_id: str | None, p: dict, tlvs: dict, destination: str,
                dest_ton: int, dest_npi: int, resp_id: str, receipt_id: str, n: int,
                now: float, expiry: float | None) -> bool:
        """Record one accepted message and plan its receipts (EXPIRED at the end of a
        validity period shorter than the delivery delay); True when the final receipt was
        pushed early (before the response)."""
        record = self._record
        text = ""
        if record != "counters" or self._text_body:
            text = self._text_of(p, tlvs)
            if record != "counters":
                self.counters.arrivals[(destination, text)] += 1
                if record == "full":
                    self.counters.log.append({
                        "message_id": resp_id, "source_addr": p["source_addr"],
                        "destination_addr": destination, "text": text, "params": p,
                        "tlvs": tlvs, "system_id": system_id, "at": now})
        s = self.settings
        if s.receipt_delay_distribution == "fixed":
            due = now + s.receipt_delay
        elif s.receipt_delay_distribution == "uniform":
            due = now + self.rng.uniform(s.receipt_delay_min, s.receipt_delay)
        else:
            due = now + self.rng.expovariate(1.0 / s.receipt_delay) if s.receipt_delay else now
        r = self.rng.random()
        for bound, state in self._outcomes:
            if r < bound:
                break
        if expiry is not None and expiry < due:
            state, due = MessageState.EXPIRED, max(expiry, now)
        if s.query_memory:
            states = self._states
            states[resp_id] = (state, due)
            if len(states) > s.query_memory:
                del states[next(iter(states))]
        rd = p["registered_delivery"]
        if not rd & 0x13:
            return False
        item = (system_id or "", receipt_id, destination, dest_ton, dest_npi, p["source_addr"],
                p["source_addr_ton"], p["source_addr_npi"], now, text)
        if rd & 0x10:
            self._schedule(now, n, item + (_INTERMEDIATE[s.intermediate_stat],))
        wanted = rd & 3
        if wanted == 1 or (wanted == 2 and state != _DELIVERED) or \
                (wanted == 3 and state == _DELIVERED):
            self.counters.receipts_scheduled += 1
            if s.early_receipt and self.rng.random() < s.early_receipt:
                self._send_receipt(item + (state,), now)
                return True
            self._schedule(due, n, item + (state,))
        return False

    def _text_of(self, p: dict, tlvs: dict) -> str:
        body = p.get("short_message") or tlvs.get("message_payload") or b""
        udh = b""
        if p["esm_class"] & 0x40 and body:
            cut = body[0] + 1
            udh, body = body[:cut], body[cut:]
        return decode_short_message(p["data_coding"], body, udh)

    def _query(self, message_id: str) -> dict:
        known = self._states.get(message_id)
        if known is None:
            raise SmppError(Status.ESME_RQUERYFAIL, "unknown message id")
        state, due = known
        final = self.clock.seconds() >= due
        return {"message_id": message_id, "final_date": "",
                "message_state": state if final else MessageState.ENROUTE,
                "error_code": ERR_FOR_STATE.get(state, 0) if final else 0}

    # ------------------------------------------------------------------ receipts

    def _schedule(self, due: float, n: int, item: tuple) -> None:
        heapq.heappush(self._heap, (due, n, item))
        timer = self._timer
        if timer is None:
            self._arm(self.clock.seconds())
        elif due < timer.getTime() - self.settings.tick:  # sooner than the armed tick
            timer.cancel()
            self._timer = None
            self._arm(self.clock.seconds())

    def _arm(self, now: float) -> None:
        if self._heap:
            delay = max(self._heap[0][0] - now, self.settings.tick if self._fired else 0.0)
            self._timer = self.clock.callLater(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._fired = True
        now = self.clock.seconds()
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] <= now:
            self._send_receipt(pop(heap)[2], now)
        self._fired = bool(heap)
        self._arm(now)

    def _send_receipt(self, item: tuple, now: float) -> None:
        (system_id, receipt_id, handset, h_ton, h_npi, sender, s_ton, s_npi, submitted, text,
         state) = item
        intermediate = state == MessageState.ENROUTE or state == MessageState.ACCEPTED
        err = ERR_FOR_STATE.get(state, 0)
        params: dict[str, Any] = {
            "source_addr_ton": h_ton, "source_addr_npi": h_npi, "source_addr": handset,
            "dest_addr_ton": s_ton, "dest_addr_npi": s_npi, "destination_addr": sender,
            "esm_class": self.settings.intermediate_esm_class if intermediate
            else ESM_CLASS_DELIVERY_RECEIPT}
        if self._text_body:
            params["short_message"] = format_receipt_text(  # epoch dates: formatted from a cache
                receipt_id, state, submitted, now, err, text,
                seconds=self.settings.receipt_date_seconds).encode("latin-1", "replace")
        tlvs: dict[str, Any] | None = None
        if self._tlv_body:
            tlvs = {"receipted_message_id": receipt_id, "message_state": int(state)}
            if err:
                tlvs["network_error_code"] = encode_network_error_code(3, err)
        self._push(system_id, params, tlvs, "intermediate" if intermediate else stat_word(state))

    # ------------------------------------------------------------------ MO

    def inject_mo(self, source: str, destination: str, text: str, *,
                  data_coding: int | None = None, parts: int | None = None,
                  out_of_order: bool = False, concat: str = "udh8",
                  system_id: str | None = None, source_ton: int = 1, source_npi: int = 1,
                  dest_ton: int = 0, dest_npi: int = 0) -> int:
        """Send an MO (deliver_sm, esm_class 0, or UDHI parts) to a receiver of
        ``system_id`` (default: the configured one, or any bound receiver when binds of
        any system_id are accepted); held until one binds. Returns the number of parts."""
        self._mo_ref = (self._mo_ref + 1) & 0xFFFF
        pieces = mo_parts(text, data_coding, parts, self._mo_ref, concat)
        if out_of_order and len(pieces) > 1:
            pieces.reverse()
        target = system_id
        if target is None:
            target = self.settings.system_id
            if self.settings.accept_any and not self.pusher.any_bound(target):
                target = self.pusher.first_bound() or target
        for esm_class, dc, body in pieces:
            self._push(target, {
                "source_addr_ton": source_ton, "source_addr_npi": source_npi,
                "source_addr": source, "dest_addr_ton": dest_ton, "dest_addr_npi": dest_npi,
                "destination_addr": destination, "esm_class": esm_class, "data_coding": dc,
                "short_message": body}, None, "mo")
        return len(pieces)

    def _random_mo(self) -> None:
        s = self.settings
        self._mo_count += 1
        source = s.mo_source_prefix + format(self.rng.randrange(10_000), "04d")
        self.inject_mo(source, s.mo_destination, f"simulated MO {self._mo_count}")
        self._mo_timer = self.clock.callLater(s.mo_interval, self._random_mo)


class _SimulatorService(StreamServerEndpointService):
    simulator: UpstreamSimulator

    def startService(self) -> None:
        super().startService()
        self.simulator.start()

    def stopService(self) -> Deferred | None:
        """Stop listening, drop the connections still open (a carrier going away), then
        cancel the timers: nothing is left scheduled for a submit that raced the stop."""
        d = super().stopService()
        for session in list(self.simulator.sessions):
            session.close(abort=True)

        def stopped(result: object) -> object:
            self.simulator.stop()
            return result

        if d is None:
            stopped(None)
            return None
        return d.addBoth(stopped)
