"""The SMSC side of SMPP: binds and requests from ESMEs, decided by a delegate.

The protocol knows SMPP; the delegate (smsc/ingress) knows accounts, limits and storage.
A delegate may answer synchronously (a plain value: the response is written at once, no
Deferred on the hot path) or with a Deferred (the response is written when it fires, e.g.
after the commit that makes a message durable).

Outbind, server-side: outbind is an SMSC-to-ESME PDU, so an outbind *received* here is
refused (generic_nack ESME_RINVBNDSTS, the connection goes on). To reach an ESME that
waits for outbind, connect a protocol from ``SmppServerFactory.buildProtocol`` to it with a
client endpoint and call ``send_outbind``; the ESME then sends bind_receiver on that
connection, which the delegate decides like any other bind.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import ServerFactory
from twisted.python.failure import Failure

from protocols.smpp.codec import Pdu, encode, make_response
from protocols.smpp.constants import INTERFACE_VERSION_34, Status
from protocols.smpp.errors import SmppError
from protocols.smpp.framing import header_only
from protocols.smpp.session import BIND_TYPES, SessionSettings, SessionState, SmppSession

S = SessionState
_BINDS = frozenset({"bind_transmitter", "bind_receiver", "bind_transceiver"})
_TX_REQUESTS = frozenset({"submit_sm", "submit_multi", "data_sm", "query_sm", "cancel_sm",
                          "replace_sm"})
_ALWAYS = frozenset({"enquire_link"}) | _BINDS  # binds when bound -> ESME_RALYBND


@dataclass(frozen=True, slots=True)
class BindRequest:
    """A bind_* PDU as the delegate sees it. The password never appears in repr()."""

    bind_type: str  # "transmitter" | "receiver" | "transceiver"
    system_id: str
    password: str = field(repr=False)
    system_type: str
    interface_version: int
    addr_ton: int
    addr_npi: int
    address_range: str
    peer: str


class ServerDelegate(typing.Protocol):
    def bind(self, session: SmppServerProtocol, request: BindRequest) -> Deferred | Any:
        """Return (or fire with) an opaque principal, or raise SmppError(status)."""

    def unbound(self, session: SmppServerProtocol) -> None:
        """A session that bound successfully is gone (unbind or connection loss)."""

    def request(self, session: SmppServerProtocol, pdu: Pdu) -> Deferred | dict | Pdu | None:
        """submit_sm, submit_multi, data_sm, query_sm, cancel_sm, replace_sm: return the
        response's mandatory params (or a whole response Pdu), or raise SmppError. Or
        return ANSWER_LATER and call ``session.respond(pdu, result)`` once (no Deferred)."""


class SmppServerProtocol(SmppSession):
    """One ESME connection to our SMSC."""

    incoming_allowed = {
        S.OPEN: _ALWAYS,
        S.BINDING: _ALWAYS,
        S.BOUND_TX: _ALWAYS | _TX_REQUESTS | {"unbind"},
        S.BOUND_RX: _ALWAYS | {"unbind"},
        S.BOUND_TRX: _ALWAYS | _TX_REQUESTS | {"unbind"},
        S.UNBINDING: frozenset({"enquire_link", "unbind"}),
    }
    _push = frozenset({"deliver_sm", "data_sm", "enquire_link"})
    outgoing_allowed = {
        S.BOUND_TX: frozenset({"enquire_link"}),
        S.BOUND_RX: _push,
        S.BOUND_TRX: _push,
    }
    delegate_commands = _TX_REQUESTS

    def __init__(self, delegate: ServerDelegate, clock: IReactorTime,
                 settings: SessionSettings | None = None, system_id: str = "smsc") -> None:
        super().__init__(clock, settings, delegate)
        self.server_system_id = system_id
        self.factory: SmppServerFactory | None = None
        self._bind_timer: IDelayedCall | None = None
        self._unbound_told = False

    def connectionMade(self) -> None:
        super().connectionMade()
        if self.factory is not None:
            self.factory.sessions.add(self)
        if self.settings.bind_timeout:
            self._bind_timer = self.clock.callLater(self.settings.bind_timeout,
                                                    self._bind_timed_out)

    def _bind_timed_out(self) -> None:
        self._bind_timer = None
        if self.state is S.OPEN or self.state is S.BINDING:
            self._log.info("{peer} did not bind within {t:g} s: closing", peer=self.peer,
                           t=self.settings.bind_timeout)
            self.close()

    def session_closed(self, was_bound: bool) -> None:
        if self._bind_timer is not None and self._bind_timer.active():
            self._bind_timer.cancel()
        self._bind_timer = None
        if self.factory is not None:
            self.factory.sessions.discard(self)
        if was_bound:
            self._tell_unbound()

    def _tell_unbound(self) -> None:
        if self._unbound_told:
            return
        self._unbound_told = True
        try:
            self.delegate.unbound(self)
        except Exception:  # noqa: BLE001
            self._log.failure("delegate.unbound failed for {system_id}",
                              system_id=self.system_id)

    # ------------------------------------------------------------------ binds

    def on_bind_transmitter(self, pdu: Pdu) -> None:
        self._bind(pdu, "transmitter")

    def on_bind_receiver(self, pdu: Pdu) -> None:
        self._bind(pdu, "receiver")

    def on_bind_transceiver(self, pdu: Pdu) -> None:
        self._bind(pdu, "transceiver")

    def _bind(self, pdu: Pdu, bind_type: str) -> None:
        if self.state is not S.OPEN:
            self._write(header_only(pdu.command_id | 0x80000000, Status.ESME_RALYBND,
                                    pdu.sequence))
            return
        p = pdu.params
        request = BindRequest(bind_type, p["system_id"], p["password"], p["system_type"],
                              p["interface_version"], p["addr_ton"], p["addr_npi"],
                              p["address_range"], self.peer)
        self._set_state(S.BINDING)
        try:
            result = self.delegate.bind(self, request)
        except Exception as exc:  # noqa: BLE001
            self._bind_refused(Failure(exc), pdu, request)
            return
        if isinstance(result, Deferred):
            result.addCallbacks(self._bind_accepted, self._bind_refused,
                                callbackArgs=(pdu, request), errbackArgs=(pdu, request))
        else:
            self._bind_accepted(result, pdu, request)

    def _bind_accepted(self, principal: Any, pdu: Pdu, request: BindRequest) -> None:
        self.principal = principal
        self.bind_type = request.bind_type
        self.system_id = request.system_id
        if self.state is not S.BINDING:
            # the connection went away while the delegate decided: release the bind
            self._tell_unbound()
            return
        self._set_state(BIND_TYPES[request.bind_type])
        response = make_response(pdu, system_id=self.server_system_id)
        if request.interface_version >= INTERFACE_VERSION_34:
            response.tlvs["sc_interface_version"] = INTERFACE_VERSION_34
        self._write(encode(response))
        self._log.info("{peer} bound as {bind_type} {system_id}", peer=self.peer,
                       bind_type=request.bind_type, system_id=request.system_id)

    def _bind_refused(self, failure: Failure, pdu: Pdu, request: BindRequest) -> None:
        if failure.check(SmppError):
            status = failure.value.status
            self._log.info("bind {bind_type} {system_id} from {peer} refused: {error}",
                           bind_type=request.bind_type, system_id=request.system_id,
                           peer=self.peer, error=str(failure.value))
        else:
            status = Status.ESME_RSYSERR
            self._log.failure("delegate.bind failed for {system_id} from {peer}", failure,
                              system_id=request.system_id, peer=self.peer)
        if self.state is S.BINDING:
            self._set_state(S.OPEN)
        self._write(header_only(pdu.command_id | 0x80000000, status, pdu.sequence))

    # ------------------------------------------------------------------ pushes

    def send_outbind(self, system_id: str, password: str) -> None:
        """Ask the ESME at the other end of an outgoing connection to bind_receiver."""
        if self.state is not S.OPEN:
            raise SmppError(Status.ESME_RINVBNDSTS, "outbind is only sent before a bind")
        self.send_notification("outbind", {"system_id": system_id, "password": password})

    def deliver(self, params: dict[str, Any], tlvs: dict[str, Any] | None = None
                ) -> Deferred[Pdu]:
        """Push a deliver_sm to a receiver/transceiver; fires with the deliver_sm_resp."""
        if not self.can_receive:
            return fail(SmppError(Status.ESME_RINVBNDSTS,
                                  f"session {self.system_id} is {self.state.value}"))
        return self.send_request("deliver_sm", params, tlvs)


class SmppServerFactory(ServerFactory):
    """Builds server sessions; ``sessions`` holds the connected ones."""

    def __init__(self, delegate: ServerDelegate, clock: IReactorTime,
                 settings: SessionSettings | None = None, system_id: str = "smsc",
                 max_sessions: int = 0) -> None:
        self.delegate = delegate
        self.clock = clock
        self.settings = settings or SessionSettings()
        self.system_id = system_id
        self.max_sessions = max_sessions  # 0 = no limit
        self.sessions: set[SmppServerProtocol] = set()

    def buildProtocol(self, addr: Any) -> SmppServerProtocol | None:
        """A new session, or None (Twisted closes the connection) past ``max_sessions``."""
        if self.max_sessions and len(self.sessions) >= self.max_sessions:
            return None
        protocol = SmppServerProtocol(self.delegate, self.clock, self.settings, self.system_id)
        protocol.factory = self
        return protocol
