"""One bind of an SMPP upstream: a ClientService that only ever hands out bound sessions.

Why this module exists: ``ClientService(prepareConnection=bind)`` is the right shape
(CONVENTIONS 7), but Twisted's ClientService has no transition for "the connection closed
while prepareConnection was running or after it failed" (automat raises NoTransition from
``connectionLost``). Carriers routinely close the socket right after refusing a bind, so a bare
ClientService logs a traceback on every refused bind. :class:`_GatedEndpoint` sits between the
real endpoint and the service: until the bind succeeded, a connection loss goes to the SMPP
session only; once the session is handed over, the service sees it and reconnects with backoff.
A refused bind (bad credentials) closes the connection and fails ``prepareConnection``: the
service keeps retrying with backoff and the bind reports itself unhealthy (LESSONS 14).
"""

from __future__ import annotations

import random as _random
from typing import Any, Callable

from twisted.application.internet import ClientService
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from protocols.smpp.client import SmppClientProtocol
from protocols.smpp.constants import status_name
from protocols.smpp.errors import SmppError
from protocols.smpp.session import SessionSettings

log = Logger()

RX_BIND_TYPES = frozenset({"receiver", "transceiver"})
TX_BIND_TYPES = frozenset({"transmitter", "transceiver"})


def reconnect_policy(initial: float, maximum: float,
                     random: Callable[[], float] | None = None) -> Callable[[int], float]:
    """Exponential backoff for ClientService: ``initial * 2**(n-1)`` capped at ``maximum``,
    spread by +-20% so that many binds refused together do not come back in lockstep."""
    if not 0 < initial <= maximum:
        raise ValueError(f"need 0 < reconnect_initial ({initial}) <= reconnect_max ({maximum})")
    draw = random or _random.Random().random

    def policy(attempt: int) -> float:
        base = initial * 2.0 ** min(max(attempt - 1, 0), 64)
        base = base if base < maximum else maximum
        return base * (0.8 + 0.4 * draw())

    return policy


# Receipts and MO a carrier may have unanswered on one bind. They cost us a row in the next
# group commit, not a slot of the carrier's window, and a refusal (ESME_RTHROTTLED) makes the
# carrier hold them and push again seconds later: measured, a 500 limit against a carrier that
# pushes 1,000 at once turned a fifth of the receipts into 5-second retries.
RECEIVE_WINDOW = 5000


class UpstreamSession(SmppClientProtocol):
    """A client session that remembers whether its ClientService has been handed it."""

    handed_over = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.receive_window = max(self.receive_window, RECEIVE_WINDOW)


class _Gate(Protocol):
    """Relays a connection to ClientService's protocol proxy, but keeps a connection loss
    from the service until the session was handed over (see module docstring)."""

    def __init__(self, outer: Any, session: UpstreamSession) -> None:
        self.outer = outer          # ClientService's proxy around ``session``
        self.session = session

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        self.connected = 1
        self.outer.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.session.dataReceived(data)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.connected = 0
        if self.session.handed_over:
            self.outer.connectionLost(reason)
        else:
            self.session.connectionLost(reason)


class _GateFactory(Factory):
    def __init__(self, outer_factory: Any, bind: SmppBind) -> None:
        self.outer_factory = outer_factory
        self.bind = bind

    def buildProtocol(self, addr: Any) -> _Gate | None:
        outer = self.outer_factory.buildProtocol(addr)  # calls SmppBind.buildProtocol
        session = self.bind.connecting
        if outer is None or session is None:
            return None
        return _Gate(outer, session)


@implementer(IStreamClientEndpoint)
class _GatedEndpoint:
    def __init__(self, endpoint: IStreamClientEndpoint, bind: SmppBind) -> None:
        self.endpoint = endpoint
        self.bind = bind

    def connect(self, factory: Any) -> Deferred:
        d = self.endpoint.connect(_GateFactory(factory, self.bind))
        return d.addCallback(lambda gate: gate.outer)

    def __repr__(self) -> str:
        return f"<gated {self.endpoint!r}>"


class BindListener:
    """What a bind tells its upstream (SmppUpstream implements it)."""

    def bind_up(self, bind: SmppBind, session: UpstreamSession) -> None: ...
    def bind_down(self, bind: SmppBind, session: UpstreamSession) -> None: ...
    def bind_failed(self, bind: SmppBind, failure: Failure) -> None: ...


class SmppBind(Factory):
    """One session to the carrier (transmitter, receiver or transceiver), kept bound by a
    ClientService; ``session`` is the bound session or None."""

    def __init__(self, label: str, bind_type: str, endpoint: IStreamClientEndpoint,
                 credentials: tuple[str, str, str, str], settings: SessionSettings,
                 clock: IReactorTime, delegate: Any, listener: BindListener,
                 retry_policy: Callable[[int], float]) -> None:
        self.label = label
        self.bind_type = bind_type
        self._credentials = credentials  # system_id, password, system_type, address_range
        self.settings = settings
        self.clock = clock
        self.delegate = delegate
        self.listener = listener
        self.session: UpstreamSession | None = None
        self.connecting: UpstreamSession | None = None
        self.state = "down"      # down | binding | bound | refused
        self.last_error: str | None = None
        self.binds_ok = 0
        self.bind_failures = 0
        self.service = ClientService(_GatedEndpoint(endpoint, self), self,
                                     retryPolicy=retry_policy, clock=clock,
                                     prepareConnection=self._prepare)
        self.service.setName(label)

    @property
    def can_transmit(self) -> bool:
        return self.bind_type in TX_BIND_TYPES

    @property
    def can_receive(self) -> bool:
        return self.bind_type in RX_BIND_TYPES

    def buildProtocol(self, addr: Any) -> UpstreamSession:
        session = UpstreamSession(self.clock, self.settings, self.delegate)
        session.factory = self
        self.connecting = session
        return session

    def _prepare(self, proxy: Any) -> Deferred:
        """Bind on a fresh connection; a refusal closes it and counts as a failed attempt."""
        session = self.connecting
        assert session is not None
        self.state = "binding"
        system_id, password, system_type, address_range = self._credentials
        result: Deferred = Deferred(lambda _: session.close(abort=True))
        bound = session.bind(self.bind_type, system_id, password, system_type, address_range)
        bound.addCallbacks(self._bound, self._refused, callbackArgs=(session,),
                           errbackArgs=(session,))
        bound.addBoth(self._forward, result)
        return result

    @staticmethod
    def _forward(value: Any, result: Deferred) -> None:
        # Not chainDeferred: a cancelled ``result`` (service stopped mid-bind) is already
        # called by the time the bind fails with the connection we aborted.
        if not result.called:
            if isinstance(value, Failure):
                result.errback(value)
            else:
                result.callback(value)

    def _bound(self, pdu: Any, session: UpstreamSession) -> None:
        session.handed_over = True
        self.session = session
        self.connecting = None
        self.state = "bound"
        self.last_error = None
        self.binds_ok += 1
        session.when_closed().addCallback(self._lost, session)
        self.listener.bind_up(self, session)

    def _refused(self, failure: Failure, session: UpstreamSession) -> Failure:
        self.bind_failures += 1
        if failure.check(SmppError):
            self.state = "refused"
            self.last_error = status_name(failure.value.status)
        else:
            self.state = "down"
            self.last_error = failure.getErrorMessage() or failure.type.__name__
        if not failure.check(CancelledError):
            log.warn("bind {bind} ({bind_type} as {system_id}) failed: {error}",
                     bind=self.label, bind_type=self.bind_type, system_id=self._credentials[0],
                     error=self.last_error)
        session.close(abort=True)
        self.connecting = None
        self.listener.bind_failed(self, failure)
        return failure

    def _lost(self, _: None, session: UpstreamSession) -> None:
        if self.session is session:
            self.session = None
            if self.state == "bound":
                self.state = "down"
            self.listener.bind_down(self, session)

    def unbind(self) -> Deferred:
        """Unbind the current session gracefully (drains its window); fires when closed."""
        session = self.session
        if session is None:
            return succeed(None)
        return session.unbind()
