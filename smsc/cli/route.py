"""`smsc route test NUMBER`: which upstream would a message take now, and why.

The router is built from the config exactly as the engine builds it (``smsc.wiring.build_router``);
what it cannot know from the config (which upstreams are bound, and how full their windows are)
is read from the running engine's metrics endpoint. When the engine does not answer, every
upstream is assumed bound and idle, and the output says so.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import click

from protocols.smpp.errors import SmppError
from smsc.cli.common import fail, get_config, print_json
from smsc.cli.send import parse_destination, parse_source
from smsc.cli.upstream import EngineView, modem_pool_name, read_engine
from smsc.config import Config, ConfigError
from smsc.router import MESSAGE_CLASSES, MessageFacts, RouteDecision, Router
from smsc.wiring import build_router


@dataclass(frozen=True)
class UpstreamHealth:
    """The router's view of one upstream (the ``Upstream`` contract's is_usable/load), from figures."""

    name: str
    usable: bool
    busy: float

    def is_usable(self) -> bool:
        return self.usable

    def load(self) -> float:
        return self.busy


def health_from(config: Config, engine: EngineView) -> dict[str, UpstreamHealth]:
    """Per configured upstream: bound and window in use / window from the engine; without a
    running engine, usable and idle. An upstream the engine does not report is not usable."""
    health = {}
    for u in config.upstreams:
        if not engine.running:
            health[u.name] = UpstreamHealth(u.name, True, 0.0)
            continue
        window = u.window * u.binds
        in_use = engine.window_in_use.get(u.name, 0)
        health[u.name] = UpstreamHealth(u.name, engine.bound.get(u.name, False), min(1.0, in_use / window))
    pool = modem_pool_name(config)
    if pool is not None and pool not in health:
        # the rack's capacity is not in the config (modems come and go): usable or not, load unknown
        health[pool] = UpstreamHealth(pool, engine.bound.get(pool, False) if engine.running else True, 0.0)
    return health


def build(config: Config, engine: EngineView) -> Router:
    try:
        return build_router(config, health_from(config, engine))
    except ConfigError as e:
        raise fail(str(e)) from None


def _decision_json(decision: RouteDecision) -> dict[str, Any]:
    return {"upstream": decision.upstream, "route": decision.route, "reason": decision.reason,
            "candidates": list(decision.candidates),
            "skipped": [{"upstream": n, "why": why} for n, why in decision.excluded]}


def _parse_at(text: str | None) -> datetime.datetime:
    if text is None:
        return datetime.datetime.now(datetime.timezone.utc)
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--at {text!r}: expected an ISO time such as 2026-01-31T22:30 (UTC when no offset)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)


@click.group("route")
def route_group() -> None:
    """Routes: which upstream a message takes."""


@route_group.command("test")
@click.argument("number")
@click.option("--account", metavar="SYSTEM_ID", help="Submitting account (routes can filter on it).")
@click.option("--from", "source", metavar="ADDR", default="", help="Source address (routes can filter on it).")
@click.option("--class", "message_class", type=click.Choice(MESSAGE_CLASSES), default="bulk", show_default=True,
              help="Message class; the engine counts a message with priority > 0 as transactional.")
@click.option("--at", "at", metavar="TIME", help="Pretend it is this time (ISO; UTC when no offset), for time windows.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def test(ctx: click.Context, number: str, account: str | None, source: str, message_class: str,
         at: str | None, as_json: bool) -> None:
    """Show the routes tried for NUMBER, the upstreams skipped and why, and the decision."""
    config = get_config(ctx)
    try:
        dest, _, _ = parse_destination(number)
        source, _, _ = parse_source(source)
    except SmppError as e:
        raise fail(e.message) from None
    now = _parse_at(at)
    engine = read_engine(config)
    router = build(config, engine)
    facts = MessageFacts(dest, account, source or None, message_class)
    lines = router.explain(facts, now)
    decision = router.route(facts, now)  # a throwaway router: its round-robin state is fresh
    health_note = engine.note if engine.running else f"{engine.note}: assuming every upstream is bound and idle"
    if as_json:
        print_json({"destination": dest, "account": account, "source": source or None, "class": message_class,
                    "at": now.isoformat(), "engine": engine.as_json(), "health_assumed": not engine.running,
                    "explain": lines, "decision": _decision_json(decision)})
        return
    click.echo(health_note)
    if not config.routes:
        click.echo("no [[routes]] in the config")
    for line in lines:
        click.echo(line)


commands = [route_group]
