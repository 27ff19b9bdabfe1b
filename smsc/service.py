"""The composition root: build every object from the config and return one MultiService.

Nothing else in smsc touches the global reactor; it is passed in here. Start-up is ordered and
fails loudly: migrate (if configured), bootstrap accounts, re-queue what a crash left in
SENDING, then listen. An error at any step stops the process with one clear line.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from protocols.smpp.server import SmppServerFactory
from protocols.smpp.session import SessionSettings
from smsc.auth import FailureThrottle, verify_password
from smsc.config import Config
from smsc.dispatch import Dispatcher, facts_of
from smsc.esme import EsmeRegistry
from smsc.group_commit import GroupCommitter
from smsc.inbound import InboundSink
from smsc.ingress import Ingress
from smsc.metrics import Metrics, start_metrics_server
from smsc.outbox import OutboxPusher
from smsc.store import messages as message_store
from smsc.store import migrate
from smsc.store.accounts import ensure_accounts_txn
from smsc.store.db import Database
from smsc.store.dlr import expire_early_receipts_txn, rematch_early_receipts_txn
from smsc.store.ids import IdGenerator
from smsc.store.outbox import purge_delivered_txn
from smsc.submit import IntakeLimits
from smsc.wiring import SimulatedRack, build_modem_pool, build_policy, build_router, build_simulators, build_upstreams, mo_routes

log = Logger()
HOUSEKEEPING_INTERVAL = 10.0
CHECKPOINT_INTERVAL = 1.0
OUTBOX_KEEP = 7 * 86400.0
MO_PARTS_WAIT = 600.0  # a long MO whose parts are not all in by then goes on part by part


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


class ListeningService(Service):
    """Listens on a Twisted endpoint string when ``listen()`` is called (ordered start-up)."""

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
        self.metrics = metrics = Metrics()
        self.db = db = Database(
            config.database.url, reactor, pool_size=config.database.pool_size,
            sqlite_synchronous=config.database.sqlite_synchronous, on_timing=metrics.db_interaction,
        )
        DatabaseService(db).setServiceParent(self)
        run = db.run_interaction
        dispatch_cfg = config.dispatcher

        # what ESMEs are owed (receipts, MO), pushed when a receiver is bound
        self.registry = EsmeRegistry(reactor)
        self.pusher = OutboxPusher(run_interaction=run, clock=reactor, registry=self.registry,
                                   retry_after=dispatch_cfg.outbox_retry, metrics=metrics)
        self.pusher.setServiceParent(self)

        # receipts and MO from upstreams, and the upstreams themselves (simulated ones first)
        self.inbound = InboundSink(run_interaction=run, clock=reactor, mo_routes=mo_routes(config),
                                   on_owed=self.pusher.wake, on_bound=lambda name: self.dispatcher.wake(),
                                   on_early=self.rematch_early, metrics=metrics)
        self.simulators = build_simulators(config, reactor)
        for simulator_service in self.simulators.values():
            simulator_service.setServiceParent(self)
        self.modem_rack: SimulatedRack | None = None
        if config.simulators.modems.count > 0:  # a simulated rack on ptys (demo, trials)
            self.modem_rack = SimulatedRack(config.simulators.modems.count, config.simulators.modems.seed, reactor)
            self.modem_rack.setServiceParent(self)
        self.upstreams, profiles, overrides = build_upstreams(config, reactor, self.inbound)
        self.modem_upstream: Any = None
        modem_pool = build_modem_pool(config, reactor, run, self.inbound, self.modem_rack)
        if modem_pool is not None:  # the GSM modem rack, one more upstream for the router
            self.modem_upstream, profiles[config.modems.name] = modem_pool
            self.upstreams[config.modems.name] = self.modem_upstream
        for upstream in self.upstreams.values():
            upstream.setServiceParent(self)
        self.router = build_router(config, self.upstreams)
        self.dispatcher = Dispatcher(
            run_interaction=run, clock=reactor, node_id=config.node.id, router=self.router,
            upstreams=self.upstreams, policy=build_policy(config), profiles=profiles, source_overrides=overrides,
            no_route=dispatch_cfg.no_route, no_route_delay=dispatch_cfg.no_route_delay,
            batch=dispatch_cfg.batch, interval=dispatch_cfg.interval, metrics=metrics,
        )
        self.dispatcher.setServiceParent(self)

        # intake: the SMPP server, whose submits are group-committed then acknowledged
        self.committer = GroupCommitter(
            run, reactor, max_batch=config.intake.max_batch, max_in_flight=1 if db.is_sqlite else 4,
            on_batch=metrics.commit_batch, on_committed=self.dispatcher.wake,
        )
        server = config.smpp_server
        self._password_checks = DeferredSemaphore(2)
        self.ingress = Ingress(
            run_interaction=run, clock=reactor, registry=self.registry, committer=self.committer,
            ids=IdGenerator(config.node.id, reactor.seconds),
            limits=IntakeLimits(max_parts=config.intake.max_parts, default_validity=config.intake.default_validity),
            failure_throttle=FailureThrottle(reactor, server.auth_failure_delay, server.auth_failure_max_delay),
            verify_password=self._verify_password,
            metrics=metrics, on_receiver_bound=self.pusher.wake,
            unroutable=self._unroutable if dispatch_cfg.no_route == "reject" else None,
        )
        settings = SessionSettings(
            window=server.window, response_timeout=server.response_timeout,
            enquire_link_interval=server.enquire_link_interval, inactivity_timeout=server.inactivity_timeout,
            max_pdu_length=server.max_pdu_length, bind_timeout=server.bind_timeout,
        )
        self.smpp_factory = SmppServerFactory(self.ingress, reactor, settings, server.system_id, max_sessions=server.max_sessions)
        self.smpp_listener = ListeningService(reactor, server.listen, self.smpp_factory)
        self.smpp_listener.setServiceParent(self)

        metrics.watch_sessions(self.registry.session_counts)
        metrics.watch_messages(lambda: run("count_by_state", message_store.count_by_state_txn, readonly=True))
        metrics.watch_upstreams(lambda: [u.stats() for u in self.upstreams.values() if hasattr(u, "stats")])
        if self.modem_upstream is not None:
            metrics.watch_modems(self.modem_upstream.modem_stats)
        self.metrics_port: Any = None
        self._housekeeping = LoopingCall(self.housekeeping)
        self._housekeeping.clock = reactor
        self._checkpoints = LoopingCall(self._checkpoint)
        self._checkpoints.clock = reactor

    def _verify_password(self, password: str, stored: str) -> Deferred:
        """scrypt in a thread, at most two at a time: each one takes ~50 ms of CPU and 16 MiB,
        and 200 ESMEs binding at once (or a password-guessing burst) must not take the node's
        memory or both cores (measured: peak RSS 342 MiB with ten at a time)."""
        return self._password_checks.run(deferToThreadPool, self.reactor, self.reactor.getThreadPool(),
                                         verify_password, password, stored)

    def _unroutable(self, row: dict[str, Any], system_id: str) -> str | None:
        """Why no upstream could take this message now (``no_route = "reject"``), else None."""
        decision = self.router.route(facts_of(row, system_id), datetime.fromtimestamp(self.reactor.seconds(), timezone.utc))
        return None if decision.ok else decision.reason

    def start(self) -> Deferred:
        """Ordered start-up; the Deferred fails with the first error."""
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        self.db.start()
        if self.config.database.upgrade_on_start:
            before, after = await deferToThreadPool(self.reactor, self.reactor.getThreadPool(), migrate.upgrade, self.db.engine)
            log.info("database schema {before} -> {after}", before=before, after=after)
        if self.config.accounts:
            await self.db.run_interaction("bootstrap_accounts", ensure_accounts_txn, self.config.accounts, self.reactor.seconds())
        self.startService()
        await self.dispatcher.start()
        port = await self.smpp_listener.listen()
        log.info("SMPP server listening on {address}", address=port.getHost())
        if self.config.metrics.enabled:
            self.metrics_port = await start_metrics_server(self.metrics, self.config.metrics.listen, self.reactor)
            log.info("metrics on {address}", address=self.metrics_port.getHost())
        self._housekeeping.start(HOUSEKEEPING_INTERVAL, now=False)
        if self.db.is_sqlite:
            self._checkpoints.start(CHECKPOINT_INTERVAL, now=False)

    def _checkpoint(self) -> Deferred | None:
        d = self.db.checkpoint()
        return d.addErrback(lambda f: log.failure("WAL checkpoint failed", f)) if d is not None else None

    def housekeeping(self) -> Deferred:
        """Receipts that came early and whose key has landed since; old rows purged."""
        now = self.reactor.seconds()

        def work(conn: Any) -> None:
            rematch_early_receipts_txn(conn, now)
            expire_early_receipts_txn(conn, now - self.config.dispatcher.early_receipt_ttl)
            purge_delivered_txn(conn, now - OUTBOX_KEEP)
            self.inbound.settle_partial_txn(conn, now - MO_PARTS_WAIT)

        d = self.db.run_interaction("housekeeping", work)
        d.addCallback(lambda _: self.pusher.wake())
        return d.addErrback(lambda f: log.failure("housekeeping failed", f))

    def rematch_early(self) -> Deferred:
        """Receipts kept as early whose key has landed since (InboundSink asks soon after)."""
        d = self.db.run_interaction("rematch_early", rematch_early_receipts_txn, self.reactor.seconds())
        d.addCallback(lambda _: self.pusher.wake())
        return d.addErrback(lambda f: log.failure("matching early receipts failed", f))

    def stopService(self) -> Deferred | None:
        self.inbound.stop()
        for loop in (self._housekeeping, self._checkpoints):
            if loop.running:
                loop.stop()
        if self.metrics_port is not None:
            self.metrics_port.stopListening()
            self.metrics_port = None
        return super().stopService()


def make_service(config: Config, reactor: Any) -> Engine:
    return Engine(config, reactor)
