"""Fault injection settings of one simulated modem.

Each fault is plain data read by the interpreter at the point where a real modem would misbehave:
scripted +CMS errors for the next submits, prompt variants and delays, slow or missing +CMGS,
hangs, URCs pushed inside responses, vendor noise. `apply_fault` is the one entry point used by
the control API (`SimModem.inject_fault`), so a test or the CLI names faults by string.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: prompt variants seen on real modems (reference Q2); "" means no prompt at all.
PROMPTS = {"space": "\r\n> ", "nospace": "\r\n>", "bare": "> ", "crlf": "\r\n> \r\n", "none": ""}


@dataclass
class Faults:
    """Current misbehaviour of one modem (defaults: a well-behaved modem)."""

    submit_errors: deque[int | str | None] = field(default_factory=deque)
    prompt: str = PROMPTS["space"]
    prompt_delay: float = 0.0
    cmgs_delay: float | None = None  # overrides the network latency
    cmgs_split_gap: float = 0.0  # +CMGS line, then OK after this gap
    cmgs_without_mr: bool = False  # OK without the +CMGS line
    hang_until: float = 0.0  # no answer at all until then (math.inf: until reboot)
    hang_next_submit: bool = False  # the next Ctrl-Z never gets a result
    urc_inside_response: bool = False  # pending URCs go between info lines and the final
    noise_interval: float = 0.0  # vendor URC spam (^RSSI) every N seconds; 0 = off
    csca_required: bool = False  # +CMS ERROR: 330 until AT+CSCA is written (Huawei E220)
    reboot_unplugs: bool = False  # AT+CFUN=1,1 re-enumerates: the device comes back elsewhere
    persist_mr: bool = True  # the MR counter survives a reboot
    double_echo: bool = False  # firmware that echoes each command line twice (Q1)
    sms_ready_at: float = 0.0  # SMS commands answer +CMS ERROR: 500 until then (Q8)


def apply_fault(faults: Faults, kind: str, now: float, **params: Any) -> None:
    """Set one fault on ``faults``; raise ValueError for an unknown kind or bad parameter.

    Device-level faults (no_signal, sim_*, reboot, unplug, storage_full) are handled by
    `SimModem.inject_fault` before it delegates here.
    """
    if kind == "cms_errors":
        codes = params.get("codes")
        if not isinstance(codes, (list, tuple)):
            raise ValueError("cms_errors needs codes=[int | 'ERROR' | None, ...]")
        faults.submit_errors.extend(codes)
    elif kind == "prompt":
        variant = params.get("variant", "space")
        if variant not in PROMPTS:
            raise ValueError(f"prompt variant must be one of {sorted(PROMPTS)}")
        faults.prompt = PROMPTS[variant]
        faults.prompt_delay = float(params.get("delay", 0.0))
    elif kind == "slow_cmgs":
        faults.cmgs_delay = float(params["delay"]) if params.get("delay") is not None else None
    elif kind == "split_cmgs":
        faults.cmgs_split_gap = float(params.get("gap", 1.0))
    elif kind == "cmgs_without_mr":
        faults.cmgs_without_mr = bool(params.get("on", True))
    elif kind == "hang":
        seconds = params.get("seconds")
        faults.hang_until = math.inf if seconds is None else now + float(seconds)
    elif kind == "hang_next_submit":
        faults.hang_next_submit = True
    elif kind == "urc_inside_response":
        faults.urc_inside_response = bool(params.get("on", True))
    elif kind == "noise":
        faults.noise_interval = float(params.get("interval", 5.0))
    elif kind == "csca_required":
        faults.csca_required = bool(params.get("on", True))
    elif kind == "reboot_unplugs":
        faults.reboot_unplugs = bool(params.get("on", True))
    elif kind == "mr_lost_on_reboot":
        faults.persist_mr = not bool(params.get("on", True))
    elif kind == "double_echo":
        faults.double_echo = bool(params.get("on", True))
    elif kind == "sms_not_ready":
        faults.sms_ready_at = now + float(params.get("seconds", 5.0))
    elif kind == "clear":
        fresh = Faults()
        for name in fresh.__dataclass_fields__:
            setattr(faults, name, getattr(fresh, name))
    else:
        raise ValueError(f"unknown fault {kind!r}")
