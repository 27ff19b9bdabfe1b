"""The `[modems]` section: a rack of GSM modems driven as one upstream (the modem pool).

Modems are named by stable paths (`/dev/serial/by-id/...`, see systemd/99-smsc-modems.rules) or
found by a glob; each is then known by its IMEI, never by /dev/ttyUSBn. The pool is built when
`devices` or `glob` is set, or when `[simulators.modems] count > 0` (the simulated rack's paths
are then added). Routes name it by `name`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from smsc.config_fields import section, setting
from smsc.config_upstreams import TextProfileConfig


def check_pin(value: str) -> None:
    if value and not (value.isdigit() and 4 <= len(value) <= 8):
        raise ValueError("a SIM PIN is 4 to 8 digits")


def check_name(value: str) -> None:
    import re

    if not re.match(r"^[\w.-]+$", value):
        raise ValueError(f'expected letters, digits, "_", "." or "-", got "{value}"')


@dataclass(frozen=True, kw_only=True)
class ModemsConfig:
    """The GSM modem rack, one upstream for the router."""

    name: str = setting("modems", "Upstream name of the pool (routes, metrics, DLR map).", check=check_name)
    devices: tuple[str, ...] = setting((), "Serial devices by stable path, e.g. \"/dev/serial/by-id/usb-Huawei_...-if00-port0\".")
    glob: str = setting("", 'Also probe every device matching this glob, e.g. "/dev/serial/by-id/usb-*-if00*" (empty: off).')
    rescan_interval: float = setting(30.0, "How often the glob is probed again for new devices.", duration=True, min=1)
    pin: str = setting("", "SIM PIN entered when a SIM asks for one (or pin_file); empty: none.", secret=True, check=check_pin)
    smsc_address: str = setting("", 'SMSC number written with AT+CSCA when a SIM has none (CMS 330), e.g. "+491722270333".')
    rate: float = setting(10.0, "SMS per minute per modem (token bucket; real modems do 6-12).", min=0.1, max=600)
    burst: int = setting(2, "Sends a modem may make back to back before the rate applies.", min=1, max=100)
    daily_cap: int = setting(0, "Parts per SIM per day (UTC), kept in the database; 0: no cap.", min=0)
    monthly_cap: int = setting(0, "Parts per SIM per calendar month; 0: no cap.", min=0)
    sticky: bool = setting(False, "Send to a recipient from the SIM that wrote to it before (same sender number).")
    unknown_outcome: Literal["fail", "retry_same_modem", "requeue"] = setting(
        "fail", "A send that timed out after the PDU went out may or may not have left: fail it (at most "
        "once), retry on the same modem, or requeue anywhere (at least once). Always counted.")
    send_timeout: float = setting(60.0, "Wait for +CMGS after the PDU; then the outcome is unknown.", duration=True, min=1)
    queue_timeout: float = setting(30.0, "How long a send waits for a free modem before it is retried later.", duration=True, min=1)
    status_reports: bool = setting(True, "Ask the network for status reports (they become receipts).")
    validity: float = setting(0.0, "Validity period asked of the network; 0: the message's own (at most 63 weeks).", duration=True, min=0)
    health_interval: float = setting(60.0, "Seconds between signal/registration polls.", duration=True, min=1)
    sweep_interval: float = setting(300.0, "Seconds between AT+CMGL sweeps for messages whose notification was lost.", duration=True, min=5)
    control_interval: float = setting(2.0, "How often `smsc modem disable|enable|reset` requests are picked up.", duration=True, min=0.1)
    mo_destination: str = setting("", "Destination address given to MO from the rack (empty: the receiving SIM's IMSI).")
    text: TextProfileConfig = section(TextProfileConfig)

    @property
    def configured(self) -> bool:
        return bool(self.devices or self.glob)

    def check(self) -> tuple[str, str] | None:
        if any(e not in ("gsm7", "ucs2") for e in self.text.encodings):
            return "text.encodings", 'a modem sends only "gsm7" and "ucs2"'
        if self.text.concat not in ("udh8", "udh16"):
            return "text.concat", 'a modem concatenates with a UDH: "udh8" or "udh16"'
        if self.text.national_languages:
            return "text.national_languages", "not supported by the modem pool yet"
        if self.daily_cap and self.monthly_cap and self.monthly_cap < self.daily_cap:
            return "monthly_cap", "must be at least daily_cap"
        return None
