"""Config sections for where messages go: upstreams, routes, MO routes, the dispatcher and the
simulators the demo embeds. Each maps onto a plain object of the part it configures
(SmppUpstreamSettings, RouteSpec, TextProfile, SimulatorSettings) in the composition root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from smsc.config_fields import check_endpoint, check_system_id, section, setting
from smsc.retry_rules import check_rules

RETRY_RULES_DOC = ('Retry rules "CAUSE = retry DURATION" or "CAUSE = fail", optionally followed by ", other upstream first"; '
                   'CAUSE is a command_status (88, 0x58, ESME_RTHROTTLED), timeout, connection_lost, ..., unknown or vendor.')


def check_route_upstreams(value: tuple[str, ...]) -> None:
    for item in value:
        if not re.match(r"^[\w.-]+(:\d+)?$", item):
            raise ValueError(f'expected "name" or "name:weight", got "{item}"')


def check_regex(value: str) -> None:
    if value:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class TextProfileConfig:
    """What an upstream accepts for text: encodings, long-message method, shift tables."""

    encodings: tuple[Literal["gsm7", "ucs2", "latin1", "8bit"], ...] = setting(("gsm7", "ucs2"), "Allowed encodings, cheapest first.")
    national_languages: tuple[str, ...] = setting((), 'National language shift tables this route may use (e.g. ["tr"]).')
    concat: Literal["udh8", "udh16", "sar", "payload"] = setting("udh8", "Long messages as 8/16-bit UDH, SAR TLVs or one message_payload.")
    max_parts: int = setting(10, "Most segments per message on this upstream.", min=1, max=255)
    smart: bool = setting(False, "Replace typographic look-alikes (curly quotes, dashes) so text stays GSM 7-bit.")
    gsm7_data_coding: int = setting(0, "data_coding announced for GSM 7-bit text (some carriers want 1).", min=0, max=255)


@dataclass(frozen=True, kw_only=True)
class UpstreamConfig:
    """An upstream SMPP carrier (`[[upstreams]]`)."""

    name: str = setting(doc="Name used by routes, metrics and the DLR map.")
    endpoint: str = setting(doc='Twisted client endpoint, e.g. "tcp:host=smsc.example.net:port=2775" or "tls:...".', check=check_endpoint)
    system_id: str = setting(doc="Our system_id at the carrier.", check=check_system_id)
    password: str = setting(doc="Bind password (or password_file).", secret=True)
    system_type: str = setting("", "system_type sent in the bind.")
    address_range: str = setting("", "address_range sent in the bind.")
    bind_mode: Literal["transceiver", "tx_rx"] = setting("transceiver", "One TRX bind, or a transmitter + receiver pair.")
    binds: int = setting(1, "Parallel binds (sessions), where the carrier allows.", min=1, max=64)
    window: int = setting(10, "Submits in flight per bind.", min=1, max=1000)
    throughput: float = setting(0.0, "Messages per second over all binds (0 = unlimited).", min=0)
    response_timeout: float = setting(30.0, "Wait for a submit_sm_resp; then the outcome is unknown (retry policy).", duration=True, min=0.1)
    enquire_link_interval: float = setting(30.0, "Keep-alive interval.", duration=True, min=1)
    reconnect_initial: float = setting(1.0, "First reconnect delay.", duration=True, min=0.1)
    reconnect_max: float = setting(60.0, "Longest reconnect delay.", duration=True, min=0.1)
    source_override: str = setting("", "Replace every source address with this one (empty: keep the ESME's).")
    id_flavour_submit: Literal["string", "hex", "dec"] = setting("string", "How the carrier writes ids in submit_sm_resp.")
    id_flavour_receipt: Literal["string", "hex", "dec"] = setting("string", "How it writes them in receipts (some use hex in one, decimal in the other).")
    max_attempts: int = setting(0, "Attempts on this upstream before failing (0: the dispatcher's max_attempts).", min=0, max=1000)
    retry_rules: tuple[str, ...] = setting((), RETRY_RULES_DOC + " These override [dispatcher] retry_rules for this upstream.",
                                           check=check_rules)
    text: TextProfileConfig = section(TextProfileConfig)


@dataclass(frozen=True, kw_only=True)
class RouteConfig:
    """A route (`[[routes]]`): filters, then a strategy over upstreams. First match wins."""

    name: str = setting(doc="Route name (shown by `smsc route test`).")
    upstreams: tuple[str, ...] = setting(doc='Upstream names, optionally weighted: ["carrier-a:3", "carrier-b:1"].', check=check_route_upstreams)
    strategy: Literal["weighted", "failover", "least_outstanding"] = setting("weighted", "How an upstream is chosen among the usable ones.")
    dest_prefixes: tuple[str, ...] = setting((), "Destination prefixes (international, no +); empty = any.")
    dest_regex: str = setting("", "Destination regular expression; empty = any.", check=check_regex)
    accounts: tuple[str, ...] = setting((), "Submitting accounts (system_id); empty = any.")
    source_addrs: tuple[str, ...] = setting((), "Source addresses; empty = any.")
    message_class: Literal["", "transactional", "bulk"] = setting("", "Only this class (priority > 0 is transactional).")
    days: str = setting("", 'Time window days, e.g. "mon-fri" (empty: every day).')
    start: str = setting("", 'Time window start "HH:MM" (empty: no window).')
    end: str = setting("", 'Time window end "HH:MM".')
    timezone: str = setting("UTC", "Time zone of the window.")
    fallthrough: bool = setting(False, "When no upstream of this route is usable, try the next route.")


@dataclass(frozen=True, kw_only=True)
class MoRouteConfig:
    """Where inbound (MO) messages go (`[[mo_routes]]`); first match wins."""

    account: str = setting(doc="system_id of the account that receives them.", check=check_system_id)
    prefix: str = setting("", "Destination (our number) prefix; empty = any.")
    keyword: str = setting("", "First word of the text; empty = any.")
    reassemble: bool = setting(False, "Deliver a concatenated MO as one whole message (kept durably until every part is in). "
                                      "A long MO is routed by its whole text: its parts wait when a reassembling route could "
                                      "take it, and the first route matching the whole text decides (whole message if it "
                                      "reassembles, parts one by one if not). Parts missing after 10 minutes go on one by one, "
                                      "routed by the text of the parts that came. False: parts go on with their UDH.")


@dataclass(frozen=True, kw_only=True)
class DispatcherConfig:
    """Draining the queue into the upstreams; retries."""

    batch: int = setting(500, "Most messages claimed per tick.", min=1, max=100_000)
    interval: float = setting(0.2, "Seconds between ticks when idle (commits and binds also wake it).", duration=True, min=0.001)
    no_route: Literal["wait", "fail", "reject"] = setting(
        "wait", "A message with no usable route waits (and retries), fails when dispatched, or is refused at submit "
        "time (ESME_RSUBMITFAIL).")
    no_route_delay: float = setting(30.0, "How long such a message waits before routing again.", duration=True, min=0.1)
    max_attempts: int = setting(10, "Sends before a message fails for good.", min=1, max=1000)
    retry_rules: tuple[str, ...] = setting((), RETRY_RULES_DOC + " These change the built-in table (see smsc/retry.py).",
                                           check=check_rules)
    outbox_retry: float = setting(10.0, "First retry delay of a deliver_sm to an ESME that failed.", duration=True, min=0.1)
    early_receipt_ttl: float = setting(86400.0, "How long a receipt with no matching message is kept.", duration=True, min=60)


@dataclass(frozen=True, kw_only=True)
class UpstreamSimulatorConfig:
    """An upstream SMSC simulator run inside `smsc serve` (demo, trials): a fake carrier."""

    name: str = setting(doc="Simulator name (for logs).")
    listen: str = setting(doc='Where it listens, e.g. "tcp:2776:interface=127.0.0.1".', check=check_endpoint)
    system_id: str = setting("upstream", "system_id it expects.", check=check_system_id)
    password: str = setting("secret", "Password it expects (a simulator's, not a secret).")
    receipt_delay: float = setting(1.0, "Seconds from submit to receipt.", duration=True, min=0)
    delivered: float = setting(0.9, "Share of DELIVRD receipts.", min=0)
    undeliverable: float = setting(0.07, "Share of UNDELIV receipts.", min=0)
    expired: float = setting(0.03, "Share of EXPIRED receipts.", min=0)
    mo_interval: float = setting(0.0, "Send a random MO every this many seconds (0: off).", duration=True, min=0)
    mo_destination: str = setting("12345", "Destination (our number) of the random MO.")


@dataclass(frozen=True, kw_only=True)
class ModemSimulatorConfig:
    """A rack of simulated GSM modems on pseudo-terminals, run inside `smsc serve`."""

    count: int = setting(0, "Simulated modems (0: none).", min=0, max=256)
    seed: int = setting(1, "Random seed of the network model.")


@dataclass(frozen=True, kw_only=True)
class SimulatorsConfig:
    """Simulated carriers and modems run in-process (`conf/demo.toml`); never in production."""

    upstreams: tuple[UpstreamSimulatorConfig, ...] = setting((), "Fake SMPP carriers (`[[simulators.upstreams]]`).", unique="name")
    modems: ModemSimulatorConfig = section(ModemSimulatorConfig)
