"""The composition root: build every object from the config and return one MultiService.

Nothing else in smsc touches the global reactor; it is passed in here. Start-up is ordered and
fails loudly: migrate (if configured), bootstrap accounts, then listen. An error at any step stops
the process with one clear line instead of a half-running engine.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import serverFromString
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from protocols.smpp.server import SmppServerFactory
from protocols.smpp.session import SessionSettings
from smsc.auth import FailureThrottle, verify_password
from smsc.config import Config
from smsc.esme import EsmeRegistry
from smsc.group_commit import GroupCommitter
from smsc.ingress import Ingress
from smsc.metrics import Metrics, start_metrics_server
from smsc.store import messages as message_store
from smsc.store import migrate
from smsc.store.accounts import ensure_accounts_txn
from smsc.store.db import Database
from smsc.store.ids import IdGenerator
from smsc.submit import IntakeLimits

log = Logger()


class DatabaseService(Service):
    """Owns the Database's thread pools for the life of the process."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def startService(self) -> None:
        super().startService()
        self.db.start()

    def stopService(self) -> None:
        super().stopService()
        self.db.stop()


class BoundedServerFactory(SmppServerFactory):
    """Refuses connections past ``max_sessions`` (the connection is closed at once)."""

    def __init__(self, *args: Any, max_sessions: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_sessions = max_sessions

    def buildProtocol(self, addr: Any) -> Any:
        if len(self.sessions) >= self.max_sessions:
            log.warn("refusing a connection from {addr}: {n} sessions already", addr=addr, n=len(self.sessions))
            return None
        return super().buildProtocol(addr)


class ListeningService(Service):
    """Listens on a Twisted endpoint string; ``started`` fires with the port or the error."""

    def __init__(self, reactor: Any, description: str, factory: Any) -> None:
        self.reactor = reactor
        self.description = description
        self.factory = factory
        self.port: Any = None

    def listen(self) -> Deferred:
        d = serverFromString(self.reactor, self.description).listen(self.factory)
        return d.addCallback(self._listening)

    def _listening(self, port: Any) -> Any:
        self.port = port
        return port

    def stopService(self) -> Deferred:
        """Stop accepting, then drop every session (their messages are already durable)."""
        super().stopService()
        waits = []
        if self.port is not None:
            port, self.port = self.port, None
            waits.append(port.stopListening())
        for session in list(getattr(self.factory, "sessions", ())):
            waits.append(session.when_closed())
            session.close(abort=True)
        return DeferredList(waits, consumeErrors=True)


class Engine(MultiService):
    """Everything one node runs. ``start()`` is the ordered start-up (returns a Deferred)."""

    def __init__(self, config: Config, reactor: Any) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.metrics = Metrics()
        self.db = Database(
            config.database.url,
            reactor,
            pool_size=config.database.pool_size,
            sqlite_synchronous=config.database.sqlite_synchronous,
            on_timing=self.metrics.db_interaction,
        )
        DatabaseService(self.db).setServiceParent(self)
        self.registry = EsmeRegistry(reactor)
        self.committer = GroupCommitter(
            self.db.run_interaction,
            reactor,
            max_batch=config.intake.max_batch,
            max_in_flight=1 if self.db.is_sqlite else 2,
            on_batch=self.metrics.commit_batch,
        )
        server = config.smpp_server
        self.ingress = Ingress(
            run_interaction=self.db.run_interaction,
            clock=reactor,
            registry=self.registry,
            committer=self.committer,
            ids=IdGenerator(config.node.id, reactor.seconds),
            limits=IntakeLimits(max_parts=config.intake.max_parts, default_validity=config.intake.default_validity),
            failure_throttle=FailureThrottle(reactor, server.auth_failure_delay, server.auth_failure_max_delay),
            verify_password=lambda password, stored: deferToThreadPool(
                reactor, reactor.getThreadPool(), verify_password, password, stored
            ),
            metrics=self.metrics,
        )
        settings = SessionSettings(
            window=server.window,
            response_timeout=server.response_timeout,
            enquire_link_interval=server.enquire_link_interval,
            inactivity_timeout=server.inactivity_timeout,
            max_pdu_length=server.max_pdu_length,
            bind_timeout=server.bind_timeout,
        )
        self.smpp_factory = BoundedServerFactory(self.ingress, reactor, settings, server.system_id, max_sessions=server.max_sessions)
        self.smpp_listener = ListeningService(reactor, server.listen, self.smpp_factory)
        self.smpp_listener.setServiceParent(self)
        self.metrics.watch_sessions(self.registry.session_counts)
        self.metrics.watch_messages(lambda: self.db.run_interaction("count_by_state", message_store.count_by_state_txn, readonly=True))
        self.metrics_port: Any = None

    def start(self) -> Deferred:
        """Ordered start-up; the Deferred fails with the first error."""
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        self.startService()
        if self.config.database.upgrade_on_start:
            before, after = await deferToThreadPool(self.reactor, self.reactor.getThreadPool(), migrate.upgrade, self.db.engine)
            log.info("database schema {before} -> {after}", before=before, after=after)
        if self.config.accounts:
            await self.db.run_interaction(
                "bootstrap_accounts", ensure_accounts_txn, self.config.accounts, self.reactor.seconds()
            )
        port = await self.smpp_listener.listen()
        log.info("SMPP server listening on {address}", address=port.getHost())
        if self.config.metrics.enabled:
            self.metrics_port = await start_metrics_server(self.metrics, self.config.metrics.listen, self.reactor)
            log.info("metrics on {address}", address=self.metrics_port.getHost())

    def stopService(self) -> Deferred | None:
        if self.metrics_port is not None:
            self.metrics_port.stopListening()
            self.metrics_port = None
        return super().stopService()


def make_service(config: Config, reactor: Any) -> Engine:
    return Engine(config, reactor)
