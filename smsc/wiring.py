"""Config sections -> the objects they configure (upstreams, router, retry policy, simulators).

Kept out of service.py so the composition root reads as the list of parts and their order.
A config that names an unknown upstream or a bad window fails here, at start, with one line.
"""

from __future__ import annotations

import random
from typing import Any

from protocols.sms import TextProfile
from protocols.smpp.simulator import UpstreamSimulator
from protocols.smpp.simulator_settings import SimulatorSettings
from smsc.config import Config, ConfigError
from smsc.inbound import MoRoute
from smsc.retry import Overrides, RetryPolicy
from smsc.router import RouteSpec, Router, TimeWindow
from smsc.upstreams.base import health_of
from smsc.upstreams.smpp import SmppUpstream, SmppUpstreamSettings


def _fail(config: Config, key: str, problem: str) -> ConfigError:
    return ConfigError(config.path or "<config>", f"{key}: {problem}")


def text_profile(cfg: Any) -> TextProfile:
    return TextProfile(encodings=cfg.encodings, national_languages=cfg.national_languages, concat=cfg.concat,
                       max_parts=cfg.max_parts, smart=cfg.smart, gsm7_data_coding=cfg.gsm7_data_coding)


def build_upstreams(config: Config, reactor: Any, events: Any) -> tuple[dict[str, Any], dict[str, TextProfile], dict[str, str]]:
    """SMPP upstreams by name, their text profiles and their source overrides."""
    upstreams: dict[str, Any] = {}
    profiles: dict[str, TextProfile] = {}
    overrides: dict[str, str] = {}
    for index, u in enumerate(config.upstreams):
        try:
            settings = SmppUpstreamSettings(
                name=u.name, endpoint=u.endpoint, system_id=u.system_id, password=u.password,
                system_type=u.system_type, address_range=u.address_range, bind_mode=u.bind_mode, binds=u.binds,
                window=u.window, throughput=u.throughput, response_timeout=u.response_timeout,
                enquire_link_interval=u.enquire_link_interval, reconnect_initial=u.reconnect_initial,
                reconnect_max=u.reconnect_max, id_flavour_submit=u.id_flavour_submit,
                id_flavour_receipt=u.id_flavour_receipt,
            )
            profiles[u.name] = text_profile(u.text)
        except ValueError as exc:
            raise _fail(config, f"upstreams[{index}]", str(exc)) from None
        upstreams[u.name] = SmppUpstream(settings, reactor, events)
        if u.source_override:
            overrides[u.name] = u.source_override
    return upstreams, profiles, overrides


def build_router(config: Config, upstreams: dict[str, Any]) -> Router:
    specs = []
    for index, r in enumerate(config.routes):
        weighted = []
        for item in r.upstreams:
            name, _, weight = item.partition(":")
            if name not in upstreams:
                raise _fail(config, f"routes[{index}].upstreams", f'no upstream named "{name}"')
            weighted.append((name, int(weight or 1)))
        try:
            window = TimeWindow.parse(r.days or "*", r.start, r.end, r.timezone) if r.start or r.end else None
            specs.append(RouteSpec(
                name=r.name, upstreams=tuple(weighted), strategy=r.strategy, dest_prefixes=r.dest_prefixes,
                dest_regex=r.dest_regex or None, accounts=frozenset(r.accounts), source_addrs=frozenset(r.source_addrs),
                message_class=r.message_class or None, window=window, fallthrough=r.fallthrough,
            ))
        except ValueError as exc:
            raise _fail(config, f"routes[{index}]", str(exc)) from None
    return Router(specs, health_of(upstreams))


def build_policy(config: Config) -> RetryPolicy:
    overrides = {u.name: Overrides(max_attempts=u.max_attempts) for u in config.upstreams if u.max_attempts}
    return RetryPolicy(max_attempts=config.dispatcher.max_attempts, overrides=overrides)


def mo_routes(config: Config) -> tuple[MoRoute, ...]:
    return tuple(MoRoute(account=r.account, prefix=r.prefix, keyword=r.keyword) for r in config.mo_routes)


def build_simulators(config: Config, reactor: Any) -> dict[str, Any]:
    """Services of the simulated carriers the config embeds (demo, trials)."""
    services = {}
    for index, s in enumerate(config.simulators.upstreams):
        outcomes = {"DELIVRD": s.delivered, "UNDELIV": s.undeliverable, "EXPIRED": s.expired}
        try:
            settings = SimulatorSettings(
                system_id=s.system_id, password=s.password, receipt_delay=s.receipt_delay,
                outcomes={k: v for k, v in outcomes.items() if v > 0}, mo_interval=s.mo_interval,
                mo_destination=s.mo_destination, record="counters",
            )
        except ValueError as exc:
            raise _fail(config, f"simulators.upstreams[{index}]", str(exc)) from None
        simulator = UpstreamSimulator(reactor, settings, random.Random(index))
        services[s.name] = simulator.service(reactor, s.listen)
        services[s.name].setName(f"simulator:{s.name}")
    return services
