"""`smsc route test` and `smsc upstream list`, with the engine's live figures served by a real
HTTP server on 127.0.0.1 (port 0, in a thread) rendering smsc.metrics' own exposition."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smsc.cli import upstream as upstream_cli
from smsc.cli.upstream import EngineView, metrics_url, parse_metrics
from smsc.metrics import Metrics
from smsc.store import accounts as store
from smsc.store.db import Database
from smsc.store.schema import messages
from tests.unit.cli_helpers import Cli, error_line, write_config
from tests.unit.test_cli_queue import message

UPSTREAMS = """
[[upstreams]]
name = "carrier-a"
endpoint = "tcp:host=127.0.0.1:port=1"
system_id = "smsc"
password = "a"
window = 20
binds = 2
throughput = 50

[[upstreams]]
name = "carrier-b"
endpoint = "tcp:host=127.0.0.1:port=1"
system_id = "smsc"
password = "b"
window = 10

[[routes]]
name = "night-fr"
dest_prefixes = ["33"]
upstreams = ["carrier-b"]
days = "*"
start = "22:00"
end = "06:00"

[[routes]]
name = "uk-vip"
dest_prefixes = ["44"]
accounts = ["vip"]
upstreams = ["carrier-a", "carrier-b"]
strategy = "least_outstanding"

[[routes]]
name = "uk"
dest_prefixes = ["44"]
upstreams = ["carrier-a:3", "carrier-b:1"]
strategy = "failover"

[[routes]]
name = "transactional-rest"
message_class = "transactional"
upstreams = ["carrier-a"]
"""


def stats(a_bound: bool = True, a_in_use: int = 0, b_bound: bool = True, b_in_use: int = 0) -> list[dict]:
    """What SmppUpstream.stats() gives smsc.metrics, for two carriers."""
    return [
        {"name": "carrier-a", "usable": a_bound, "window_in_use": a_in_use, "submits": {0: 120, 0x58: 3, 0x0B: 2},
         "receipts": {"DELIVERED": 100}, "reconnects": 4},
        {"name": "carrier-b", "usable": b_bound, "window_in_use": b_in_use, "submits": {}, "receipts": {},
         "reconnects": 0},
    ]


class FakeEngine:
    """/metrics on 127.0.0.1:<port 0>, rendered by a real smsc.metrics.Metrics, answered from a thread."""

    def __init__(self) -> None:
        self.metrics = Metrics()
        self.upstreams = stats()
        self.metrics.watch_upstreams(lambda: self.upstreams)
        self.status = 200
        self.body: bytes | None = None  # None: the Metrics exposition
        self.requests = 0
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                engine.requests += 1
                body = engine.body if engine.body is not None else engine.metrics.render()
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                self.send_response(engine.status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def engine():
    fake = FakeEngine()
    yield fake
    fake.stop()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cli(tmp_path, url: str, port: int, extra: str = "") -> Cli:
    metrics = f'[metrics]\nlisten = "tcp:{port}:interface=127.0.0.1"\n{extra}'
    cli = Cli(write_config(tmp_path, url, metrics + UPSTREAMS))
    assert cli("db", "upgrade").exit_code == 0
    return cli


@pytest.fixture
def cli(tmp_path, sqlite_url, engine):
    return make_cli(tmp_path, sqlite_url, engine.port)


@pytest.fixture
def offline_cli(tmp_path, sqlite_url):
    return make_cli(tmp_path, sqlite_url, free_port())


def route(cli: Cli, *args: str) -> dict:
    result = cli("route", "test", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- route test -----------------------------------------------------------------------------------

@pytest.mark.parametrize("live,args,upstream,route_name", [
    (stats(), ["+447700900123"], "carrier-a", "uk"),
    (stats(a_bound=False), ["447700900123"], "carrier-b", "uk"),
    (stats(a_bound=False, b_bound=False), ["447700900123"], None, "uk"),
    (stats(a_in_use=30, b_in_use=1), ["447700900123", "--account", "vip"], "carrier-b", "uk-vip"),
    (stats(a_in_use=1, b_in_use=8), ["447700900123", "--account", "vip"], "carrier-a", "uk-vip"),
    (stats(), ["33612345678", "--at", "2026-03-04T23:30"], "carrier-b", "night-fr"),
    (stats(), ["33612345678", "--at", "2026-03-04T12:00", "--class", "transactional"], "carrier-a",
     "transactional-rest"),
    (stats(), ["33612345678", "--at", "2026-03-04T12:00"], None, None),
    ([stats()[1]], ["447700900123"], "carrier-b", "uk"),
], ids=["failover first", "first unbound", "none bound", "least load b", "least load a", "night window",
        "transactional catch-all", "no route", "not reported = not usable"])
def test_route_decisions(cli, engine, live, args, upstream, route_name):
    """When the engine reports bind state and window use, route test decides as the dispatcher would."""
    engine.upstreams = live
    data = route(cli, *args)
    assert data["health_assumed"] is False and data["engine"]["running"] is True
    assert (data["decision"]["upstream"], data["decision"]["route"]) == (upstream, route_name)
    assert data["explain"][-1].startswith("decision: ")


def test_route_explains_in_words(cli, engine):
    """When printed for humans, every route tried and every upstream skipped is named with why."""
    engine.upstreams = stats(a_bound=False)
    result = cli("route", "test", "+447700900123", "--at", "2026-03-04T12:00")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"engine running (http://127.0.0.1:{engine.port}/metrics)"
    assert "route 'night-fr': no match: destination does not start with 33" in lines
    assert any(line.startswith("route 'uk-vip': no match: no account given; the route takes vip") for line in lines)
    assert "  carrier-a: weight 3, skipped: not usable (unbound or unhealthy)" in lines
    assert lines[-1] == "decision: carrier-b via route 'uk': first usable in failover order among carrier-b"


def test_route_without_engine(offline_cli):
    """When the engine does not answer, every upstream is assumed usable and the output says so."""
    result = offline_cli("route", "test", "447700900123")
    assert result.exit_code == 0, result.output
    assert "engine not running" in result.stdout.splitlines()[0]
    assert result.stdout.splitlines()[0].endswith("assuming every upstream is bound and idle")
    data = route(offline_cli, "447700900123")
    assert data["health_assumed"] is True and data["decision"]["upstream"] == "carrier-a"


@pytest.mark.parametrize("args,expected", [
    (["abc"], "Error: not a number: 'abc'"),
    (["44770090012345678901234"], "Error: not a number: '44770090012345678901234'"),
    (["447700900123", "--at", "yesterday"], "Error: --at 'yesterday': expected an ISO time such as "
                                            "2026-01-31T22:30 (UTC when no offset)"),
    (["447700900123", "--from", "AVERYLONGNAME"], "Error: a sender name has at most 11 characters, "
                                                  "'AVERYLONGNAME' has 13"),
], ids=["letters", "too long", "bad time", "bad sender"])
def test_route_bad_input(offline_cli, args, expected):
    """When the number, sender or time is bad, one line and exit 1."""
    result = offline_cli("route", "test", *args)
    assert result.exit_code == 1
    assert error_line(result) == expected


# --- upstream list ----------------------------------------------------------------------------------

def seed(conn) -> None:
    a = store.create_account_txn(conn, "alpha", "x", time.time())
    conn.execute(messages.insert(), [
        message(1, a.id, "QUEUED"), message(2, a.id, "QUEUED"),
        message(3, a.id, "SENDING", upstream="carrier-a"),
        message(4, a.id, "SUBMITTED", upstream="carrier-a"), message(5, a.id, "SUBMITTED", upstream="carrier-a"),
        message(6, a.id, "FAILED", upstream="carrier-b", error="ESME_RINVDSTADR: invalid destination"),
        message(7, a.id, "SUBMITTED", upstream="retired"),
    ])


def seeded(cli: Cli, url: str) -> Cli:
    database = Database(url, None)
    database.run_sync("seed", seed)
    database.stop()
    return cli


def test_upstream_list_reads_the_engine(cli, engine, sqlite_url):
    """When the engine answers, bound/window/submits/reconnects come from its /metrics, counts
    and last error from the database; an upstream only the database knows is listed too."""
    seeded(cli, sqlite_url)
    engine.upstreams = stats(a_bound=True, a_in_use=7, b_bound=False)
    result = cli("upstream", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert engine.requests == 1
    assert data["engine"] == {"running": True, "url": f"http://127.0.0.1:{engine.port}/metrics",
                              "note": f"engine running (http://127.0.0.1:{engine.port}/metrics)"}
    a, b, retired = data["upstreams"]
    assert (a["name"], a["bound"], a["window_in_use"], a["window"], a["throughput"]) == ("carrier-a", True, 7, 40, 50)
    assert (a["sending"], a["submitted"], a["submits_ok"], a["submits_failed"], a["reconnects"]) == (1, 2, 120, 5, 4)
    assert (b["bound"], b["window_in_use"], b["window"], b["submits_ok"], b["submits_failed"]) == (False, 0, 10, 0, 0)
    assert b["last_error"] == "ESME_RINVDSTADR: invalid destination"
    assert (retired["name"], retired["configured"], retired["submitted"]) == ("retired", False, 1)
    assert data["queued_not_routed"] == 2


def test_upstream_list_table(cli, engine, sqlite_url):
    """When printed for humans, the table shows yes/no, in-use/window, throughput and the error."""
    seeded(cli, sqlite_url)
    engine.upstreams = stats(a_in_use=7, b_bound=False)
    lines = cli("upstream", "list").stdout.splitlines()
    assert lines[0] == f"engine running (http://127.0.0.1:{engine.port}/metrics)"
    assert lines[1].split() == [c.upper() for c in upstream_cli.LIST_COLUMNS]
    assert lines[2].split()[:10] == ["carrier-a", "yes", "7/40", "50/s", "0", "1", "2", "120", "5", "4"]
    assert lines[3].split()[:4] == ["carrier-b", "no", "0/10", "unlimited"]
    assert lines[3].endswith("ESME_RINVDSTADR: invalid destination")
    assert lines[4].startswith("retired (not in config)")
    assert lines[-1].startswith("2 queued message(s) not routed yet")


def test_upstream_list_engine_not_running(offline_cli, sqlite_url):
    """When nothing listens on the metrics port, the database figures still show, live ones are
    "?", the first line says the engine is not running, and the exit status is 0."""
    seeded(offline_cli, sqlite_url)
    result = offline_cli("upstream", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("engine not running at http://127.0.0.1:")
    assert lines[0].endswith("bound and window in use unknown")
    assert lines[2].split()[:7] == ["carrier-a", "?", "?/40", "50/s", "0", "1", "2"]
    data = json.loads(offline_cli("upstream", "list", "--json").stdout)
    assert data["engine"]["running"] is False
    assert {u["bound"] for u in data["upstreams"]} == {None}


def test_upstream_list_engine_silent(tmp_path, sqlite_url, monkeypatch):
    """When the metrics port accepts but never answers, the CLI gives up after its timeout
    (2 s; shortened here) and reports the engine as not running."""
    monkeypatch.setattr(upstream_cli, "METRICS_TIMEOUT", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # the kernel completes the handshake; nobody ever reads or writes
        cli = make_cli(tmp_path, sqlite_url, silent.getsockname()[1])
        started = time.monotonic()
        data = json.loads(cli("upstream", "list", "--json").stdout)
        elapsed = time.monotonic() - started
    assert data["engine"]["running"] is False and "timed out" in data["engine"]["note"]
    assert elapsed < 2.0


@pytest.mark.parametrize("status,body,note", [
    (500, b"oops", "(HTTP 500)"),
    (200, b"<html>a web page</html>", "did not answer with Prometheus metrics"),
], ids=["server error", "not prometheus"])
def test_upstream_list_bad_answers(cli, engine, status, body, note):
    """When the metrics port answers with an error or something else, it is "not running", not a crash."""
    engine.status, engine.body = status, body
    result = cli("upstream", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["engine"]["running"] is False and note in data["engine"]["note"]


def test_upstream_list_metrics_disabled(tmp_path, sqlite_url):
    """When [metrics] is disabled, nothing is fetched and the reason is given."""
    cli = Cli(write_config(tmp_path, sqlite_url, "[metrics]\nenabled = false\n" + UPSTREAMS))
    assert cli("db", "upgrade").exit_code == 0
    first = cli("upstream", "list").stdout.splitlines()[0]
    assert first.startswith("metrics are disabled in the config")


def test_upstream_list_needs_a_database(tmp_path, sqlite_url):
    """When the database file does not exist, one line says to upgrade it."""
    cli = Cli(write_config(tmp_path, sqlite_url, UPSTREAMS))
    result = cli("upstream", "list")
    assert result.exit_code == 1 and "smsc db upgrade" in error_line(result)


# --- pieces -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("listen,url", [
    ("tcp:9775:interface=127.0.0.1", "http://127.0.0.1:9775/metrics"),
    ("tcp:port=9775", "http://127.0.0.1:9775/metrics"),
    ("tcp:9775:interface=0.0.0.0", "http://127.0.0.1:9775/metrics"),
    ("tcp:9775:interface=10.1.2.3:backlog=5", "http://10.1.2.3:9775/metrics"),
    (r"tcp6:9775:interface=\:\:1", "http://[::1]:9775/metrics"),
    (r"tcp6:9775:interface=\:\:", "http://[::1]:9775/metrics"),
    ("ssl:9443:privateKey=key.pem", "https://127.0.0.1:9443/metrics"),
    ("9775", "http://127.0.0.1:9775/metrics"),
], ids=["tcp", "port kw", "any iface", "other options", "tcp6", "tcp6 any", "ssl", "bare port"])
def test_metrics_url(listen, url):
    """When the engine listens on an endpoint string, the CLI scrapes the matching local URL."""
    assert metrics_url(listen) == url


@pytest.mark.parametrize("listen", ["unix:/run/smsc.sock", "tcp:interface=127.0.0.1"], ids=["unix", "no port"])
def test_metrics_url_unreachable(listen):
    """When the endpoint is not a TCP one with a port, ValueError names it."""
    with pytest.raises(ValueError, match="metrics"):
        metrics_url(listen)


def test_parse_metrics_from_the_real_exposition():
    """When smsc.metrics renders upstream figures, parse_metrics reads them back by upstream."""
    m = Metrics()
    m.watch_upstreams(lambda: stats(a_in_use=3, b_bound=False))
    view = parse_metrics(m.render().decode(), EngineView("u", True, "n"))
    assert view.bound == {"carrier-a": True, "carrier-b": False}
    assert view.window_in_use == {"carrier-a": 3, "carrier-b": 0}
    assert view.submits == {"carrier-a": {"ESME_ROK": 120, "ESME_RTHROTTLED": 3, "ESME_RINVDSTADR": 2}}
    assert view.reconnects == {"carrier-a": 4, "carrier-b": 0}


MODEM_POOL = """
[modems]
name = "rack"
devices = ["/dev/serial/by-id/usb-modem-0"]
rate = 6

[[routes]]
name = "to-rack"
dest_prefixes = ["49"]
upstreams = ["rack"]
"""


def test_modem_pool_is_an_upstream(tmp_path, sqlite_url, engine):
    """When the config runs a modem pool, route test can pick it (bound per the engine) and
    upstream list shows it with its per-modem rate and outcome counts."""
    engine.upstreams = stats() + [{"name": "rack", "usable": True, "window_in_use": 2,
                                   "submits": {"accepted": 9, "retry": 1}, "receipts": {}, "reconnects": 0}]
    cli = make_cli(tmp_path, sqlite_url, engine.port, extra=MODEM_POOL.split("[[routes]]")[0])
    path = tmp_path / "smsc.toml"
    path.write_text(path.read_text() + "[[routes]]" + MODEM_POOL.split("[[routes]]")[1])
    assert route(cli, "4915112345678")["decision"]["upstream"] == "rack"
    engine.upstreams = engine.upstreams[:2] + [dict(engine.upstreams[2], usable=False)]
    assert route(cli, "4915112345678")["decision"]["upstream"] is None
    rack = json.loads(cli("upstream", "list", "--json").stdout)["upstreams"][2]
    assert (rack["name"], rack["kind"], rack["configured"], rack["bound"]) == ("rack", "modems", True, False)
    assert (rack["submits_ok"], rack["submits_failed"], rack["window_in_use"]) == (9, 1, 2)
    table = cli("upstream", "list").stdout.splitlines()
    assert table[4].split()[:4] == ["rack", "no", "2/-", "6/min/modem"]
