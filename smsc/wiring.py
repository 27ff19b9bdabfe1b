"""Config sections -> the objects they configure (upstreams, router, retry policy, simulators).

Kept out of service.py so the composition root reads as the list of parts and their order.
A config that names an unknown upstream or a bad window fails here, at start, with one line.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from typing import Any

from twisted.application.service import Service

from modemfarm.modem import ModemConfig, serial_opener
from modemfarm.modem_send import UnknownPolicy
from modemfarm.pool import PoolConfig
from modemfarm.simulator import ModemFarm
from protocols.sms import TextProfile
from protocols.smpp.simulator import UpstreamSimulator
from protocols.smpp.simulator_settings import SimulatorSettings
from smsc.config import Config, ConfigError
from smsc.inbound import MoRoute
from smsc.retry import RetryPolicy
from smsc.retry_rules import parse_rules
from smsc.router import RouteSpec, Router, TimeWindow
from smsc.upstreams.base import health_of
from smsc.upstreams.modems import ModemUpstream, ModemUpstreamSettings
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
    """The built-in retry table, changed by ``[dispatcher] retry_rules``, then per upstream."""
    base = parse_rules(config.dispatcher.retry_rules)
    overrides = {u.name: parse_rules(u.retry_rules).overrides(u.max_attempts or None)
                 for u in config.upstreams if u.max_attempts or u.retry_rules}
    defaults = {k: v for k, v in (("unknown", base.unknown), ("vendor", base.vendor)) if v is not None}
    return RetryPolicy(base.rules, max_attempts=config.dispatcher.max_attempts, overrides=overrides, **defaults)


def mo_routes(config: Config) -> tuple[MoRoute, ...]:
    return tuple(MoRoute(account=r.account, prefix=r.prefix, keyword=r.keyword, reassemble=r.reassemble)
                 for r in config.mo_routes)


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


# ------------------------------------------------------------------------------------ modems

class SimulatedRack(Service):
    """`[simulators.modems]`: N simulated modems on ptys in this process, with udev-like stable
    links (``<dir>/by-id/sim-modem-<IMEI>``) that the pool opens like /dev/serial/by-id paths."""

    def __init__(self, count: int, seed: int, reactor: Any) -> None:
        self.link_dir = tempfile.mkdtemp(prefix="smsc-modems-")
        self.farm = ModemFarm(count, reactor, reactor, seed=seed, link_dir=self.link_dir)
        self.paths = tuple(f"{self.link_dir}/by-id/sim-modem-{m.imei}" for m in self.farm.modems)
        self.setName("simulator:modems")

    def startService(self) -> None:
        super().startService()
        self.farm.start()

    def stopService(self) -> None:
        super().stopService()
        self.farm.stop()
        shutil.rmtree(self.link_dir, ignore_errors=True)


def build_modem_pool(config: Config, reactor: Any, run_interaction: Any, events: Any,
                     rack: SimulatedRack | None = None) -> tuple[Any, TextProfile] | None:
    """The `[modems]` pool as an upstream (None when no device, glob or simulated rack is set)."""
    m = config.modems
    if not m.configured and rack is None:
        return None
    if m.name in {u.name for u in config.upstreams}:
        raise _fail(config, "modems.name", f'"{m.name}" is already the name of an SMPP upstream')
    profile = text_profile(m.text)
    pool_config = PoolConfig(
        rate_per_minute=m.rate, burst=m.burst, daily_cap=m.daily_cap or None, monthly_cap=m.monthly_cap or None,
        sticky=m.sticky, queue_timeout=m.queue_timeout, rescan_interval=m.rescan_interval, profile=profile,
        concat_bits=16 if m.text.concat == "udh16" else 8,
    )
    modem_config = ModemConfig(
        pin=m.pin or None, smsc=m.smsc_address or None, send_timeout=m.send_timeout,
        health_interval=m.health_interval, sweep_interval=m.sweep_interval,
        unknown_policy=UnknownPolicy(m.unknown_outcome),
    )
    settings = ModemUpstreamSettings(
        name=m.name, unknown_policy=UnknownPolicy(m.unknown_outcome), status_reports=m.status_reports,
        validity=m.validity, gsm7_data_coding=m.text.gsm7_data_coding, mo_destination=m.mo_destination,
        control_interval=m.control_interval,
    )
    paths = tuple(m.devices) + (rack.paths if rack is not None else ())
    upstream = ModemUpstream(settings, pool_config, modem_config, clock=reactor, opener=serial_opener(reactor, reactor),
                             run_interaction=run_interaction, events=events, paths=paths, glob=m.glob or None)
    return upstream, profile
