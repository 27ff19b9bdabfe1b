"""Settings, states and the status snapshot of one modem (split out of modem.py)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from modemfarm.modem_init import Health
from modemfarm.modem_send import UnknownPolicy


class ModemState(enum.Enum):
    NEW = "new"
    INITIALISING = "initialising"
    READY = "ready"
    SENDING = "sending"
    DEGRADED = "degraded"
    RECOVERING = "recovering"
    QUARANTINED = "quarantined"
    GONE = "gone"
    FAILED = "failed"
    DISABLED = "disabled"
    STOPPED = "stopped"


@dataclass
class ModemConfig:
    """Per-modem settings; the engine's config model fills them from TOML."""

    pin: str | None = None
    smsc: str | None = None  # written with AT+CSCA when the modem has none (CMS 330)
    storage: str = "SM"
    cnmi: str = "2,1,0,2,0"  # store and notify (+CMTI), status reports stored (+CDSI)
    cnmi_fallbacks: tuple[str, ...] = ("2,1,0,2", "2,1,0,1,0", "1,1,0,2,0")
    sweep_memories: tuple[str, ...] = ("SM",)
    send_timeout: float = 60.0
    prompt_timeout: float = 10.0
    health_interval: float = 60.0
    sweep_interval: float = 300.0
    sim_busy_tries: int = 10
    sim_busy_delay: float = 2.0
    retry_same_after: float = 5.0
    retry_other_after: float = 30.0
    max_consecutive_errors: int = 3
    unknown_policy: UnknownPolicy = UnknownPolicy.FAIL
    reset_wait: float = 30.0  # after AT+CFUN=1,1 the USB device re-enumerates
    quarantine_base: float = 60.0
    quarantine_max: float = 3600.0
    reboot_urcs: frozenset[str] = frozenset({"RDY", "^BOOT", "+CPIN", "+CFUN", "START"})


Opener = Callable[..., object]  # (path, on_urc=, on_lost=) -> channel or Deferred[channel]


@dataclass
class ModemInfo:
    """A snapshot for `smsc modem list` and metrics."""

    path: str
    imei: str | None
    imsi: str | None
    iccid: str | None
    state: str
    health: Health
    reason: str
    counters: dict[str, int] = field(default_factory=dict)


