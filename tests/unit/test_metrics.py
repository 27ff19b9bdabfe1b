"""Metrics: names and labels, scrape-time gauges, and the real HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent

from smsc.metrics import Metrics, start_metrics_server
from smsc.store import migrate
from smsc.store.db import Database
from smsc.store.reports import count_by_state_txn
from smsc.store.schema import STATES, accounts, messages


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of an exposition text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_names_follow_conventions():
    """When the registry is rendered, every metric starts with smsc_ and counters get _total from the library."""
    m = Metrics()
    m.count_pdu("submit_sm", 0)
    m.bind_failed("bad_password")
    m.throttled("esme1")
    text = m.render().decode()
    families = list(text_string_to_metric_families(text))
    assert families and all(f.name.startswith("smsc_") for f in families)
    assert "smsc_smpp_pdus_total" in text and "smsc_smpp_pdus_total_total" not in text


def test_count_pdu_maps_statuses_and_caches_children():
    """When PDUs are counted, integer statuses become ESME_* names, unknown ones "other", and counts add up."""
    m = Metrics()
    for _ in range(3):
        m.count_pdu("submit_sm_resp", 0)
    m.count_pdu("submit_sm_resp", 0x58)
    m.count_pdu("deliver_sm_resp", 0x4A1)  # vendor status
    m.count_pdu("deliver_sm_resp", 0x4A2)
    s = samples(m.render().decode())
    assert s[("smsc_smpp_pdus_total", (("command", "submit_sm_resp"), ("status", "ESME_ROK")))] == 3
    assert s[("smsc_smpp_pdus_total", (("command", "submit_sm_resp"), ("status", "ESME_RTHROTTLED")))] == 1
    assert s[("smsc_smpp_pdus_total", (("command", "deliver_sm_resp"), ("status", "other")))] == 2


def test_histograms_record():
    """When latencies, batch sizes and DB timings are observed, they land in the right histogram buckets."""
    m = Metrics()
    m.observe_submit_latency(0.0004)
    m.observe_submit_latency(0.003)
    m.commit_batch(250)
    m.db_interaction("insert_messages", 0.002)
    m.db_interaction("insert_messages", 0.004)
    s = samples(m.render().decode())
    assert s[("smsc_submit_response_seconds_bucket", (("le", "0.0005"),))] == 1
    assert s[("smsc_submit_response_seconds_bucket", (("le", "0.005"),))] == 2
    assert s[("smsc_submit_response_seconds_count", ())] == 2
    assert s[("smsc_intake_commit_batch_size_bucket", (("le", "200.0"),))] == 0
    assert s[("smsc_intake_commit_batch_size_bucket", (("le", "500.0"),))] == 1
    assert s[("smsc_db_interaction_seconds_count", (("desc", "insert_messages"),))] == 2


def test_receipt_latency_is_recorded_per_upstream():
    """When a receipt batch reports latencies per upstream, each lands in that upstream's histogram."""
    m = Metrics()
    m.receipts_applied({"matched": 3}, {"car0": [0.3, 4.0], "car1": [7200.0]})
    s = samples(m.render().decode())
    assert s[("smsc_upstream_receipt_latency_seconds_bucket", (("le", "0.5"), ("upstream", "car0")))] == 1
    assert s[("smsc_upstream_receipt_latency_seconds_bucket", (("le", "5.0"), ("upstream", "car0")))] == 2
    assert s[("smsc_upstream_receipt_latency_seconds_count", (("upstream", "car1"),))] == 1
    assert s[("smsc_upstream_receipt_latency_seconds_bucket", (("le", "3600.0"), ("upstream", "car1")))] == 0
    assert s[("smsc_receipts_total", (("result", "matched"),))] == 3


def test_sessions_gauge_is_read_at_scrape_time():
    """When the bound-session callback changes its answer, the next render shows the new value (no stale 4)."""
    m = Metrics()
    current = {("esme1", "transceiver"): 2, ("esme2", "receiver"): 1}
    m.watch_sessions(lambda: current)
    s = samples(m.render().decode())
    assert s[("smsc_smpp_sessions_bound", (("account", "esme1"), ("bind_type", "transceiver")))] == 2
    current = {}
    m.watch_sessions(lambda: current)
    assert not any(k[0] == "smsc_smpp_sessions_bound" for k in samples(m.render().decode()))


def test_broken_session_callback_does_not_break_scrape():
    """When the session callback raises, the scrape still renders the other metrics."""
    m = Metrics()
    m.watch_sessions(lambda: 1 / 0)
    m.count_pdu("enquire_link", 0)
    assert b"smsc_smpp_pdus_total" in m.render()


def test_registries_are_separate():
    """When two Metrics exist (two engines in one test process), they do not collide or share values."""
    a, b = Metrics(), Metrics()
    a.bind_failed("x")
    assert b"smsc_smpp_bind_failures_total{reason=\"x\"}" not in b.render()


class _Body(Protocol):
    """Collects a response body (readBody warns about the client transport in this Twisted)."""

    def __init__(self, done: defer.Deferred) -> None:
        self.done, self.chunks = done, []

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason) -> None:
        self.done.callback(b"".join(self.chunks))


def read_body(response) -> defer.Deferred:
    done: defer.Deferred = defer.Deferred()
    response.deliverBody(_Body(done))
    return done


class HttpScrapeTests(TestCase):
    """Scrape the endpoint over real HTTP on 127.0.0.1, with a real SQLite store behind the state gauge."""

    timeout = 20

    def setUp(self):
        self.metrics = Metrics()
        self.db = Database(f"sqlite:///{self.mktemp()}.db", reactor, on_timing=self.metrics.db_interaction)
        migrate.upgrade(self.db.engine)
        self.db.start()
        self.addCleanup(self.db.stop)

    @defer.inlineCallbacks
    def listen(self):
        port = yield start_metrics_server(self.metrics, "tcp:0:interface=127.0.0.1", reactor)
        self.addCleanup(port.stopListening)
        self.url = f"http://127.0.0.1:{port.getHost().port}".encode()
        return port

    @defer.inlineCallbacks
    def get(self, path=b"/metrics"):
        response = yield Agent(reactor).request(b"GET", self.url + path)
        body = yield read_body(response)
        return response, body.decode()

    def _insert(self, conn, states):
        conn.execute(accounts.insert().values(id=1, system_id="a", password_hash="x", created_at=0, updated_at=0))
        base = dict(account_id=1, command="submit_sm", source_addr="S", source_ton=0, source_npi=0, dest_addr="D",
                    dest_ton=0, dest_npi=0, esm_class=0, protocol_id=0, priority=0, registered_delivery=0,
                    data_coding=0, body=b"hi", segments=1, created_at=0, updated_at=0, next_attempt_at=0)
        conn.execute(messages.insert(), [dict(base, id=i + 1, state=s) for i, s in enumerate(states)])

    @defer.inlineCallbacks
    def test_scrape_counts_messages_by_state_from_the_database(self):
        """When Prometheus scrapes, the state counts are queried (off the reactor thread) and reflect new rows."""
        self.metrics.watch_messages(lambda: self.db.run_interaction("count_by_state", count_by_state_txn, readonly=True))
        self.metrics.watch_sessions(lambda: {("a", "transmitter"): 1})
        yield self.listen()
        response, body = yield self.get()
        self.assertEqual(response.code, 200)
        self.assertIn(b"text/plain", response.headers.getRawHeaders(b"content-type")[0])
        s = samples(body)
        self.assertEqual([s[("smsc_messages", (("state", st),))] for st in STATES], [0] * len(STATES))
        yield self.db.run_interaction("seed", self._insert, ["QUEUED", "QUEUED", "DELIVERED"])
        _, body = yield self.get()
        s = samples(body)
        self.assertEqual(s[("smsc_messages", (("state", "QUEUED"),))], 2)
        self.assertEqual(s[("smsc_messages", (("state", "DELIVERED"),))], 1)
        self.assertEqual(s[("smsc_smpp_sessions_bound", (("account", "a"), ("bind_type", "transmitter")))], 1)
        self.assertEqual(s[("smsc_db_interaction_seconds_count", (("desc", "count_by_state"),))], 2)

    @defer.inlineCallbacks
    def test_failing_hook_serves_previous_values_and_counts_error(self):
        """When a refresh hook fails (database down), the scrape still answers 200 and the error is counted."""
        calls = []

        def hook():
            calls.append(1)
            if len(calls) == 1:
                return defer.succeed({"QUEUED": 7})
            return defer.fail(sa.exc.OperationalError("SELECT", {}, Exception("database is down")))

        self.metrics.watch_messages(hook)
        yield self.listen()
        _, first = yield self.get()
        response, second = yield self.get()
        self.assertEqual(response.code, 200)
        s = samples(second)
        self.assertEqual(s[("smsc_messages", (("state", "QUEUED"),))], 7)
        self.assertEqual(s[("smsc_metrics_refresh_errors_total", ())], 1)
        self.flushLoggedErrors(sa.exc.OperationalError)

    @defer.inlineCallbacks
    def test_concurrent_scrapes_share_one_refresh(self):
        """When two scrapes arrive while a refresh is running, the hook runs once and both get answers."""
        pending = []

        def hook():
            d = defer.Deferred()
            pending.append(d)
            return d

        self.metrics.add_refresh_hook(hook)
        yield self.listen()
        first, second = self.get(), self.get()
        while not pending:
            yield deferLater(reactor, 0.01, lambda: None)
        yield deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(len(pending), 1)
        pending[0].callback(None)
        (r1, _), (r2, _) = yield defer.gatherResults([first, second])
        self.assertEqual((r1.code, r2.code), (200, 200))

    @defer.inlineCallbacks
    def test_other_paths(self):
        """When / is fetched it points to /metrics; an unknown path is 404."""
        yield self.listen()
        response, body = yield self.get(b"/")
        self.assertEqual(response.code, 200)
        self.assertIn("/metrics", body)
        response, _ = yield self.get(b"/nope")
        self.assertEqual(response.code, 404)
