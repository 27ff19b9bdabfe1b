"""`smsc upstream list`: every configured carrier, live figures from the engine, queue figures from
the database.

Bind state and window in use live in the running engine process, not in the database; the CLI
reads them from the engine's own Prometheus endpoint ([metrics] listen), the same numbers an
alerting system sees. An engine that does not answer within two seconds is reported as "not
running" (not an error): the database figures are still worth showing.

The dispatcher picks an upstream when it sends a message, so a queued message belongs to no
upstream until then: those are counted apart ("not routed yet").
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import click
from prometheus_client.parser import text_string_to_metric_families

from smsc.cli.common import get_config, iso_time, print_json, print_table, run
from smsc.config import Config
from smsc.store.admin import upstream_figures_txn

METRICS_TIMEOUT = 2.0  # seconds; a module constant so tests can shorten it
LIST_COLUMNS = ("name", "bound", "window", "throughput", "queued", "sending", "submitted", "submits_ok",
                "submits_failed", "reconnects", "last_error")


# --- the engine's metrics endpoint -------------------------------------------------------------


def _split_endpoint(description: str) -> list[str]:
    """Twisted endpoint string -> fields, honouring backslash escapes (``tcp6:9775:interface=\\:\\:1``)."""
    fields, current, escaped = [], [], False
    for char in description:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def metrics_url(listen: str) -> str:
    """The URL a client on this machine scrapes for a server endpoint string; ValueError if the
    endpoint is not one the CLI can reach (unix sockets, say)."""
    fields = _split_endpoint(listen.strip())
    if len(fields) == 1 and fields[0].isdigit():
        fields = ["tcp", fields[0]]
    kind, rest = fields[0].lower(), fields[1:]
    if kind not in ("tcp", "tcp6", "ssl"):
        raise ValueError(f"the CLI can only read metrics from a tcp or ssl endpoint, not {listen!r}")
    positional = [f for f in rest if "=" not in f]
    options = dict(f.split("=", 1) for f in rest if "=" in f)
    port = options.get("port") or (positional[0] if positional else "")
    if not port.isdigit():
        raise ValueError(f"no port in metrics endpoint {listen!r}")
    host = options.get("interface", "")
    if host in ("", "0.0.0.0"):
        host = "::1" if kind == "tcp6" else "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if kind == "ssl" else "http"
    return f"{scheme}://{host}:{int(port)}/metrics"


@dataclass
class EngineView:
    """What the running engine says about its upstreams (empty when it did not answer)."""

    url: str | None
    running: bool
    note: str
    bound: dict[str, bool] = field(default_factory=dict)
    window_in_use: dict[str, int] = field(default_factory=dict)
    submits: dict[str, dict[str, int]] = field(default_factory=dict)
    reconnects: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"running": self.running, "url": self.url, "note": self.note}


def parse_metrics(text: str, view: EngineView) -> EngineView:
    """Fill ``view`` from a Prometheus text exposition (ValueError if it is not one)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.labels.get("upstream")
            if name is None:
                continue
            if family.name == "smsc_upstream_bound":
                view.bound[name] = sample.value >= 1
            elif family.name == "smsc_upstream_window_in_use":
                view.window_in_use[name] = int(sample.value)
            elif family.name == "smsc_upstream_submits" and sample.name.endswith("_total"):
                status = sample.labels.get("status", "other")
                view.submits.setdefault(name, {})[status] = int(sample.value)
            elif family.name == "smsc_upstream_reconnects" and sample.name.endswith("_total"):
                view.reconnects[name] = int(sample.value)
    return view


def read_engine(config: Config, timeout: float | None = None) -> EngineView:
    """Scrape the engine named by ``config`` once; never raises."""
    if not config.metrics.enabled:
        return EngineView(None, False, "metrics are disabled in the config: live figures unknown")
    try:
        url = metrics_url(config.metrics.listen)
    except ValueError as e:
        return EngineView(None, False, f"{e}: live figures unknown")
    # no proxies (the engine is on this machine); TLS unverified: our own engine, self-signed
    handlers: list[Any] = [urllib.request.ProxyHandler({})]
    if url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))  # noqa: S323
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=METRICS_TIMEOUT if timeout is None else timeout) as response:
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return EngineView(url, False, f"engine not running at {url} (HTTP {e.code})")
    except (OSError, ValueError) as e:  # refused, timed out, reset; URLError is an OSError
        reason = getattr(e, "reason", None) or e
        return EngineView(url, False, f"engine not running at {url} ({reason})")
    try:
        return parse_metrics(text, EngineView(url, True, f"engine running ({url})"))
    except (ValueError, TypeError, KeyError) as e:
        return EngineView(url, False, f"{url} did not answer with Prometheus metrics ({e})")


# --- the command --------------------------------------------------------------------------------


def modem_pool_name(config: Config) -> str | None:
    """The name of the GSM modem pool upstream when the config runs one (devices, a glob or a
    simulated rack), else None."""
    modems = getattr(config, "modems", None)
    if modems is None:
        return None
    simulated = getattr(getattr(config.simulators, "modems", None), "count", 0) > 0
    return modems.name if modems.configured or simulated else None


def _ok_and_failed(submits: dict[str, int] | None) -> tuple[int | None, int | None]:
    """SMPP upstreams count by command_status (ESME_ROK), the modem pool by outcome (accepted)."""
    if submits is None:
        return None, None
    ok = submits.get("ESME_ROK", 0) + submits.get("accepted", 0)
    return ok, sum(submits.values()) - ok


def upstream_rows(config: Config, engine: EngineView, figures: dict[str | None, dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per upstream: SMPP ones in config order, the modem pool, then names only the
    database knows (an upstream since removed from the config)."""
    rows = []
    known = [u.name for u in config.upstreams]
    by_name = {u.name: u for u in config.upstreams}
    pool = modem_pool_name(config)
    if pool is not None and pool not in by_name:
        known.append(pool)
    extra = sorted(n for n in figures if n is not None and n not in known)
    for name in known + extra:
        u = by_name.get(name)
        db = figures.get(name, {})
        ok, failed = _ok_and_failed(engine.submits.get(name, {}) if engine.running else None)
        rows.append({
            "name": name,
            "kind": "smpp" if u is not None else ("modems" if name == pool else None),
            "configured": name in known,
            "endpoint": u.endpoint if u else None,
            "bound": engine.bound.get(name) if engine.running else None,
            "window_in_use": engine.window_in_use.get(name) if engine.running else None,
            "window": u.window * u.binds if u else None,
            "binds": u.binds if u else None,
            "throughput": u.throughput if u else None,
            "modem_rate_per_minute": config.modems.rate if name == pool else None,
            "queued": db.get("queued", 0),
            "sending": db.get("sending", 0),
            "submitted": db.get("submitted", 0),
            "submits_ok": ok,
            "submits_failed": failed,
            "reconnects": engine.reconnects.get(name, 0) if engine.running else None,
            "last_error": db.get("last_error"),
            "last_error_at": db.get("last_error_at"),
        })
    return rows


def _for_humans(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    unknown = "?"
    out["bound"] = unknown if row["bound"] is None else ("yes" if row["bound"] else "no")
    in_use = unknown if row["window_in_use"] is None else row["window_in_use"]
    out["window"] = f"{in_use}/{'-' if row['window'] is None else row['window']}"  # the rack has no fixed window
    if row["kind"] == "modems":
        out["throughput"] = f"{row['modem_rate_per_minute']:g}/min/modem"
    elif row["throughput"] is None:
        out["throughput"] = "-"
    else:
        out["throughput"] = "unlimited" if row["throughput"] == 0 else f"{row['throughput']:g}/s"
    for key in ("submits_ok", "submits_failed", "reconnects"):
        if row[key] is None:
            out[key] = unknown
    if not row["configured"]:
        out["name"] = f"{row['name']} (not in config)"
    error = row["last_error"]
    if error:
        error = error if len(error) <= 60 else error[:57] + "..."
        out["last_error"] = f"{iso_time(row['last_error_at'])} {error}"
    return out


@click.group("upstream")
def upstream_group() -> None:
    """Upstream SMPP carriers."""


@upstream_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every configured upstream: bound, window in use, throughput, messages in flight, last error.

    Bound and window in use come from the running engine's metrics endpoint; "?" when it is not
    running. Counts and errors come from the database.
    """
    config = get_config(ctx)
    figures = run(ctx, "upstream_figures", upstream_figures_txn, readonly=True)
    engine = read_engine(config)
    rows = upstream_rows(config, engine, figures)
    unrouted = figures.get(None, {}).get("queued", 0)
    if as_json:
        print_json({"engine": engine.as_json(), "upstreams": rows, "queued_not_routed": unrouted})
        return
    click.echo(engine.note if engine.running else f"{engine.note}: bound and window in use unknown")
    if not config.upstreams:
        click.echo("no [[upstreams]] in the config")
    print_table([_for_humans(r) for r in rows], LIST_COLUMNS)
    if unrouted:
        click.echo(f"{unrouted} queued message(s) not routed yet (the dispatcher picks their upstream when it sends them)")


commands = [upstream_group]
