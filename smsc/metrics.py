"""Every Prometheus metric of smsc, on one registry per service, served on 127.0.0.1:9775.

Conventions (CONVENTIONS 13): ``smsc_`` prefix, counters named without ``_total`` (the library
adds it), bounded labels only (account, command, status, reason, state; never a phone number or a
message id), gauges computed at scrape time. Two kinds of scrape-time gauges:

- cheap, in-memory values (bound sessions) come from a callback read during ``collect()``;
- values that need SQL (messages by state) come from *refresh hooks*: on GET /metrics the resource
  first runs every hook (each returns a Deferred, e.g. a readonly ``run_interaction``), then
  renders. SQL never runs on the reactor thread, and concurrent scrapes share one refresh.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from protocols.smpp.constants import Status
from smsc.store.schema import STATES

log = Logger()

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
# carriers answer in seconds to hours (a phone switched off): up to a day
RECEIPT_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)

SessionCounts = Callable[[], Mapping[tuple[str, str], int]]
RefreshHook = Callable[[], Deferred]


def status_label(status: int | str) -> str:
    """ESME_ROK etc.; vendor/unknown values collapse to "other" so the label set stays bounded."""
    if isinstance(status, str):
        return status
    try:
        return Status(status).name
    except ValueError:
        return "other"


class BatchHistogram:
    """A histogram fed a batch at a time (a receipt transaction's latencies), for the scrape-time
    collector: prometheus_client's observe() takes a lock per value (1.5 µs a receipt measured,
    against ~0.3 µs here). Fed by one receipt transaction at a time; a scrape in the middle of
    a batch sees part of it, the rest at the next scrape."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # per bucket, not cumulative; the last is +Inf
        self.sum = 0.0

    def observe_many(self, values: list[float]) -> None:
        counts, bounds = self.counts, self.bounds
        for value in values:
            counts[bisect_left(bounds, value)] += 1
        self.sum += sum(values)

    def buckets(self) -> list[tuple[str, int]]:
        """Cumulative (le, count) pairs, as the exposition format wants them."""
        out, total = [], 0
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts):
            total += count
            out.append((bound, total))
        return out


class _ScrapeTimeCollector:
    """Gauges whose values are read when Prometheus scrapes, never kept up to date by hand."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Any]:
        return []  # values depend on callbacks registered later; skip the registry's dry run

    def collect(self) -> Iterable[Any]:
        m = self._metrics
        sessions = GaugeMetricFamily("smsc_smpp_sessions_bound", "SMPP sessions bound now, by account and bind type",
                                     labels=["account", "bind_type"])
        if m.session_counts is not None:
            try:
                counts = m.session_counts()
            except Exception:  # noqa: BLE001 - a broken callback must not break the scrape
                log.failure("session count callback failed")
                counts = {}
            for (account, bind_type), n in sorted(counts.items()):
                sessions.add_metric([account, bind_type], n)
        yield sessions
        if m.message_states is not None:
            states = GaugeMetricFamily("smsc_messages", "Messages in the store by state (counted at scrape time)",
                                       labels=["state"])
            for state in STATES:
                states.add_metric([state], m.message_states.get(state, 0))
            for state in sorted(set(m.message_states) - set(STATES)):
                states.add_metric([state], m.message_states[state])
            yield states
        if m.upstream_stats is not None:
            yield from _upstream_families(m.upstream_stats())
        latency = HistogramMetricFamily(
            "smsc_upstream_receipt_latency_seconds",
            "Upstream accepted a part (submit_sm_resp) -> its final receipt applied, by upstream", labels=["upstream"])
        for upstream, histogram in sorted(m.receipt_latency.items()):
            latency.add_metric([upstream], histogram.buckets(), histogram.sum)
        yield latency
        if m.modem_stats is not None:
            try:
                modems = m.modem_stats()
            except Exception:  # noqa: BLE001 - a broken callback must not break the scrape
                log.failure("modem stats callback failed")
                modems = []
            yield from _modem_families(modems)


def _upstream_families(stats: list[dict[str, Any]]) -> Iterable[Any]:
    """Per-upstream figures the connectors keep themselves, exposed at scrape time."""
    bound = GaugeMetricFamily("smsc_upstream_bound", "1 when the upstream has a usable bind", labels=["upstream"])
    window = GaugeMetricFamily("smsc_upstream_window_in_use", "Submits in flight to the upstream", labels=["upstream"])
    submits = CounterMetricFamily("smsc_upstream_submits", "submit_sm answered by the upstream, by status",
                                  labels=["upstream", "status"])
    receipts = CounterMetricFamily("smsc_upstream_receipts", "Receipts received from the upstream, by state",
                                   labels=["upstream", "state"])
    reconnects = CounterMetricFamily("smsc_upstream_reconnects", "Connections (re)made to the upstream", labels=["upstream"])
    for st in stats:
        name = st["name"]
        bound.add_metric([name], 1 if st.get("usable") else 0)
        window.add_metric([name], st.get("window_in_use", 0))
        for status, n in sorted(st.get("submits", {}).items(), key=lambda kv: str(kv[0])):
            submits.add_metric([name, status_label(status)], n)
        for state, n in sorted(st.get("receipts", {}).items(), key=lambda kv: str(kv[0])):
            receipts.add_metric([name, str(state)], n)
        reconnects.add_metric([name], st.get("reconnects", 0))
    yield from (bound, window, submits, receipts, reconnects)


MODEM_STATES = ("new", "initialising", "ready", "sending", "degraded", "recovering", "quarantined", "gone",
                "failed", "disabled", "stopped")


def _modem_families(stats: list[dict[str, Any]]) -> Iterable[Any]:
    """Per-modem figures of the rack (label ``modem`` is the IMEI: bounded by the hardware)."""
    info = GaugeMetricFamily("smsc_modem_info", "1 per modem; identity and place as labels",
                             labels=["upstream", "modem", "sim", "operator", "path"])
    state = GaugeMetricFamily("smsc_modem_state", "1 for the state the modem is in", labels=["modem", "state"])
    signal = GaugeMetricFamily("smsc_modem_signal_rssi", "Last AT+CSQ rssi (0-31; 99 unknown)", labels=["modem"])
    sends = CounterMetricFamily("smsc_modem_sends", "Sends through the modem, by result", labels=["modem", "result"])
    receipts = CounterMetricFamily("smsc_modem_receipts", "Status reports read from the modem", labels=["modem"])
    mo = CounterMetricFamily("smsc_modem_mo", "MO parts read from the modem", labels=["modem"])
    recoveries = CounterMetricFamily("smsc_modem_recoveries", "Recoveries started (re-init, reopen, reset)", labels=["modem"])
    unknown = CounterMetricFamily("smsc_modem_unknown_outcomes", "Sends whose outcome stayed unknown (timeout after the PDU)",
                                  labels=["modem"])
    today = GaugeMetricFamily("smsc_modem_sim_sent_today", "Parts the modem's SIM sent today (UTC)", labels=["modem"])
    cap = GaugeMetricFamily("smsc_modem_sim_daily_cap", "Daily cap per SIM (absent: none)", labels=["modem"])
    for st in stats:
        modem = st["modem"]
        info.add_metric([st["upstream"], modem, st.get("imsi", ""), st.get("operator", ""), st.get("path", "")], 1)
        for name in MODEM_STATES:
            state.add_metric([modem, name], 1 if st["state"] == name else 0)
        if st.get("rssi") is not None:
            signal.add_metric([modem], st["rssi"])
        for result, n in sorted(st.get("sends", {}).items()):
            sends.add_metric([modem, result], n)
        receipts.add_metric([modem], st.get("receipts", 0))
        mo.add_metric([modem], st.get("mo", 0))
        recoveries.add_metric([modem], st.get("recoveries", 0))
        unknown.add_metric([modem], st.get("unknown_outcomes", 0))
        if st.get("sent_today") is not None:
            today.add_metric([modem], st["sent_today"])
        if st.get("daily_cap") is not None:
            cap.add_metric([modem], st["daily_cap"])
    yield from (info, state, signal, sends, receipts, mo, recoveries, unknown, today, cap)


class Metrics:
    """The metric objects of one service. ``registry=None`` makes a private one (tests, several engines)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.pdus = Counter("smsc_smpp_pdus", "SMPP PDUs handled by the server, by command and status",
                            ["command", "status"], registry=r)
        self.submit_latency = Histogram("smsc_submit_response_seconds",
                                        "submit_sm received -> submit_sm_resp written (durable commit included)",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.commit_batch_size = Histogram("smsc_intake_commit_batch_size", "Messages per group-commit transaction",
                                           buckets=BATCH_BUCKETS, registry=r)
        self.db_seconds = Histogram("smsc_db_interaction_seconds", "Duration of one database interaction, by desc",
                                    ["desc"], buckets=DB_BUCKETS, registry=r)
        self.bind_failures = Counter("smsc_smpp_bind_failures", "Refused binds, by reason", ["reason"], registry=r)
        self.throttled_submits = Counter("smsc_smpp_throttled_submits", "Submits refused with ESME_RTHROTTLED, by account",
                                         ["account"], registry=r)
        self.refresh_errors = Counter("smsc_metrics_refresh_errors", "Scrape-time refresh hooks that failed", registry=r)
        self.dispatched = Counter("smsc_dispatch_failures", "Sends that failed, by upstream and whether they will be retried",
                                  ["upstream", "retry"], registry=r)
        self.recovered = Counter("smsc_recovered_sending", "Messages found in SENDING at start (outcome unknown) and re-queued",
                                 registry=r)
        self.expired_total = Counter("smsc_expired", "Messages whose validity ended in the queue", registry=r)
        self.no_route_total = Counter("smsc_no_route", "Dispatch attempts that found no usable route", registry=r)
        self.esme_deliveries = Counter("smsc_esme_deliveries", "deliver_sm pushed to ESMEs, by kind and result",
                                       ["kind", "result"], registry=r)
        self.receipts = Counter("smsc_receipts", "Upstream receipts processed, by result", ["result"], registry=r)
        self.receipt_latency: dict[str, BatchHistogram] = {}  # per upstream, exposed at scrape time
        self.mo_total = Counter("smsc_mo", "Inbound messages stored, by routing result", ["result"], registry=r)
        self.session_counts: SessionCounts | None = None
        self.upstream_stats: Callable[[], list[dict[str, Any]]] | None = None
        self.modem_stats: Callable[[], list[dict[str, Any]]] | None = None
        self.message_states: dict[str, int] | None = None
        self._hooks: list[RefreshHook] = []
        self._pdu_children: dict[tuple[str, Any], Any] = {}
        self._db_children: dict[str, Any] = {}
        self._delivery_children: dict[tuple[str, bool], Any] = {}
        self._refreshing: Deferred | None = None
        r.register(_ScrapeTimeCollector(self))

    # --- hot-path recorders -----------------------------------------------------------------

    def count_pdu(self, command: str, status: int | str = 0) -> None:
        """One PDU; label children are cached so this is one dict lookup plus an increment."""
        child = self._pdu_children.get((command, status))
        if child is None:
            child = self._pdu_children[(command, status)] = self.pdus.labels(command, status_label(status))
        child.inc()

    def observe_submit_latency(self, seconds: float) -> None:
        self.submit_latency.observe(seconds)

    def commit_batch(self, size: int) -> None:
        """GroupCommitter(on_batch=...)."""
        self.commit_batch_size.observe(size)

    def db_interaction(self, desc: str, seconds: float) -> None:
        """Database(on_timing=...): called from pool threads; prometheus_client is thread-safe."""
        child = self._db_children.get(desc)
        if child is None:
            child = self._db_children[desc] = self.db_seconds.labels(desc)
        child.observe(seconds)

    def bind_failed(self, reason: str) -> None:
        self.bind_failures.labels(reason).inc()

    def throttled(self, account: str) -> None:
        self.throttled_submits.labels(account).inc()

    def send_failed(self, upstream: str, retry: bool) -> None:
        self.dispatched.labels(upstream, "yes" if retry else "no").inc()

    def recovered_sending(self, count: int) -> None:
        self.recovered.inc(count)

    def expired(self, count: int) -> None:
        self.expired_total.inc(count)

    def no_route(self) -> None:
        self.no_route_total.inc()

    def esme_delivery(self, kind: str, ok: bool, count: int = 1) -> None:
        """``count`` deliver_sm of ``kind`` answered (ok) or not; children cached as in count_pdu."""
        child = self._delivery_children.get((kind, ok))
        if child is None:
            child = self._delivery_children[(kind, ok)] = self.esme_deliveries.labels(kind, "ok" if ok else "failed")
        child.inc(count)

    def receipts_applied(self, counts: Mapping[str, int], latencies: Mapping[str, list[float]] | None = None) -> None:
        """A batch's counters, and its final receipts' latencies per upstream (apply_receipts_txn)."""
        for result in ("matched", "early", "duplicate"):
            if counts.get(result):
                self.receipts.labels(result).inc(counts[result])
        for upstream, seconds in (latencies or {}).items():
            histogram = self.receipt_latency.get(upstream)
            if histogram is None:
                histogram = self.receipt_latency[upstream] = BatchHistogram(RECEIPT_BUCKETS)
            histogram.observe_many(seconds)

    def mo_stored(self, count: int, unrouted: int) -> None:
        self.mo_total.labels("routed").inc(count - unrouted)
        if unrouted:
            self.mo_total.labels("unrouted").inc(unrouted)

    # --- scrape-time sources ----------------------------------------------------------------

    def watch_upstreams(self, stats: Callable[[], list[dict[str, Any]]]) -> None:
        """``stats()`` -> one dict per upstream (SmppUpstream.stats()), read at every scrape."""
        self.upstream_stats = stats

    def watch_modems(self, stats: Callable[[], list[dict[str, Any]]]) -> None:
        """``stats()`` -> one dict per modem (ModemUpstream.modem_stats()), read at every scrape."""
        self.modem_stats = stats

    def watch_sessions(self, counts: SessionCounts) -> None:
        """``counts()`` -> {(account, bind_type): n}, called at every scrape."""
        self.session_counts = counts

    def watch_messages(self, count_by_state: RefreshHook) -> None:
        """``count_by_state()`` -> Deferred[{state: n}] (a readonly run_interaction), run before each scrape."""

        def hook() -> Deferred:
            return maybeDeferred(count_by_state).addCallback(self._set_message_states)

        self.add_refresh_hook(hook)

    def _set_message_states(self, counts: Mapping[str, int]) -> None:
        self.message_states = dict(counts)

    def add_refresh_hook(self, hook: RefreshHook) -> None:
        self._hooks.append(hook)

    def refresh(self) -> Deferred:
        """Run every refresh hook; fires (never fails) when all are done. Concurrent calls share one run."""
        running = self._refreshing
        if running is None:
            running = self._refreshing = DeferredList([maybeDeferred(h) for h in self._hooks], consumeErrors=True)
            running.addCallback(self._refreshed)
        waiter: Deferred = Deferred()
        running.addBoth(lambda result: (waiter.callback(None), result)[1])
        return waiter

    def _refreshed(self, results: list[tuple[bool, Any]]) -> None:
        self._refreshing = None
        for ok, failure in results:
            if not ok:
                self.refresh_errors.inc()
                log.failure("metrics refresh hook failed (serving the previous values)", failure)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsResource(Resource):
    """GET -> refresh hooks -> prometheus_client's text exposition."""

    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics

    def render_GET(self, request: Request) -> Any:
        finished = [False]
        request.notifyFinish().addBoth(lambda _: finished.__setitem__(0, True))

        def write(_: Any) -> None:
            if finished[0]:
                return  # the scraper went away
            body = self.metrics.render()
            request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode("ascii"))
            request.setHeader(b"content-length", str(len(body)).encode("ascii"))
            request.write(body)
            request.finish()

        self.metrics.refresh().addCallback(write).addErrback(lambda f: log.failure("metrics render failed", f))
        return NOT_DONE_YET


class _Root(Resource):
    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"metrics":
            return self.metrics_resource
        if path == b"":
            return self
        return notFound()

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"smsc metrics: GET /metrics\n"


class _QuietSite(Site):
    def log(self, request: Request) -> None:  # no access log line per scrape
        pass


def metrics_site(metrics: Metrics) -> Site:
    root = _Root()
    root.metrics_resource = MetricsResource(metrics)
    site = _QuietSite(root)
    site.noisy = False  # no "Starting factory" line per listen
    return site


def start_metrics_server(metrics: Metrics, endpoint: str, reactor: Any) -> Deferred:
    """Listen on ``endpoint`` (e.g. "tcp:9775:interface=127.0.0.1"); fires with the listening port."""
    return serverFromString(reactor, endpoint).listen(metrics_site(metrics))
