"""The ESME side of SMPP, for binds to upstream carriers.

The engine wraps it in a ClientService with ``prepareConnection`` calling :meth:`bind`, so
only bound sessions are handed out. Incoming deliver_sm / data_sm go to a delegate whose
answer may be a Deferred: the deliver_sm_resp is written only when it fires, which is how a
receipt or an MO is acknowledged only once it is durable.
"""

from __future__ import annotations

import typing
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory
from twisted.python.failure import Failure

from protocols.smpp.codec import Pdu
from protocols.smpp.constants import INTERFACE_VERSION_34, Status
from protocols.smpp.errors import SmppError
from protocols.smpp.session import BIND_TYPES, SessionSettings, SessionState, SmppSession

S = SessionState
_RX_REQUESTS = frozenset({"deliver_sm", "data_sm"})
_TX_REQUESTS = frozenset({"submit_sm", "submit_multi", "data_sm", "query_sm", "cancel_sm",
                          "replace_sm", "enquire_link"})
_KEEPALIVE = frozenset({"enquire_link"})


class ClientDelegate(typing.Protocol):
    def request(self, session: SmppClientProtocol, pdu: Pdu) -> Deferred | dict | Pdu | None:
        """deliver_sm / data_sm from the carrier: return (or fire with) the response's
        params (e.g. {} for deliver_sm_resp), or raise SmppError(status). Or return
        ANSWER_LATER and call ``session.respond(pdu, result)`` once (no Deferred)."""

    # Optional: alert_notification(session, pdu) and outbind(session, pdu); both are
    # ignored (logged) when the delegate does not define them.


class SmppClientProtocol(SmppSession):
    """One bind of ours to an upstream SMSC."""

    incoming_allowed = {
        S.OPEN: _KEEPALIVE | {"outbind"},
        S.BINDING: _KEEPALIVE,
        S.BOUND_TX: _KEEPALIVE | {"unbind"},
        S.BOUND_RX: _KEEPALIVE | _RX_REQUESTS | {"unbind", "alert_notification"},
        S.BOUND_TRX: _KEEPALIVE | _RX_REQUESTS | {"unbind", "alert_notification"},
        S.UNBINDING: _KEEPALIVE | {"unbind"},
    }
    outgoing_allowed = {
        S.OPEN: _KEEPALIVE,
        S.BOUND_TX: _TX_REQUESTS,
        S.BOUND_RX: _KEEPALIVE,
        S.BOUND_TRX: _TX_REQUESTS,
    }
    delegate_commands = _RX_REQUESTS

    def __init__(self, clock: IReactorTime, settings: SessionSettings | None = None,
                 delegate: ClientDelegate | None = None) -> None:
        super().__init__(clock, settings, delegate)
        self.remote_system_id: str | None = None
        self.bind_response: Pdu | None = None

    def bind(self, bind_type: str, system_id: str, password: str, system_type: str = "",
             address_range: str = "", interface_version: int = INTERFACE_VERSION_34,
             addr_ton: int = 0, addr_npi: int = 0) -> Deferred[Pdu]:
        """Bind; fires with the bind_resp, or fails with SmppError(status) when the SMSC
        refuses (the session stays open and may bind again), ResponseTimeout or
        ConnectionLost."""
        if bind_type not in BIND_TYPES:
            return fail(ValueError(f"bind_type must be one of {sorted(BIND_TYPES)}"))
        if self.state is not S.OPEN:
            return fail(SmppError(Status.ESME_RALYBND, f"session is {self.state.value}"))
        params = {"system_id": system_id, "password": password, "system_type": system_type,
                  "interface_version": interface_version, "addr_ton": addr_ton,
                  "addr_npi": addr_npi, "address_range": address_range}
        self._set_state(S.BINDING)
        d = self._send_internal(f"bind_{bind_type}", params)
        d.addCallbacks(self._bind_answered, self._bind_failed,
                       callbackArgs=(bind_type, system_id))
        return d

    def _bind_answered(self, pdu: Pdu, bind_type: str, system_id: str) -> Pdu:
        if pdu.status:
            if self.state is S.BINDING:
                self._set_state(S.OPEN)
            raise SmppError(pdu.status, f"bind_{bind_type} as {system_id} refused")
        self.bind_type = bind_type
        self.system_id = system_id
        self.remote_system_id = pdu.params.get("system_id")
        self.bind_response = pdu
        if self.state is S.BINDING:
            self._set_state(BIND_TYPES[bind_type])
        self._log.info("bound as {bind_type} {system_id} to {peer} ({remote})",
                       bind_type=bind_type, system_id=system_id, peer=self.peer,
                       remote=self.remote_system_id)
        return pdu

    def _bind_failed(self, failure: Failure) -> Failure:
        if self.state is S.BINDING:
            self._set_state(S.OPEN)
        return failure

    def submit(self, params: dict[str, Any], tlvs: dict[str, Any] | None = None,
               unknown_tlvs: list[tuple[int, bytes]] | None = None) -> Deferred[Pdu]:
        """submit_sm; fires with the submit_sm_resp whatever its status (the caller maps
        statuses to retry decisions). Vendor TLVs in ``unknown_tlvs`` are relayed as they came."""
        return self.send_request("submit_sm", params, tlvs, unknown_tlvs)

    def on_alert_notification(self, pdu: Pdu) -> None:
        self._optional_hook("alert_notification", pdu)

    def on_outbind(self, pdu: Pdu) -> None:
        self._optional_hook("outbind", pdu)

    def _optional_hook(self, name: str, pdu: Pdu) -> None:
        hook = getattr(self.delegate, name, None)
        if hook is None:
            self._log.info("{command} from {peer} ignored (no handler)", command=name,
                           peer=self.peer)
            return
        try:
            hook(self, pdu)
        except Exception:  # noqa: BLE001
            self._log.failure("delegate.{name} failed", name=name)


class SmppClientFactory(Factory):
    """Builds client sessions sharing one clock, settings and delegate."""

    def __init__(self, clock: IReactorTime, settings: SessionSettings | None = None,
                 delegate: ClientDelegate | None = None) -> None:
        self.clock = clock
        self.settings = settings or SessionSettings()
        self.delegate = delegate

    def buildProtocol(self, addr: Any) -> SmppClientProtocol:
        protocol = SmppClientProtocol(self.clock, self.settings, self.delegate)
        protocol.factory = self
        return protocol
