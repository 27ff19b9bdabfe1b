"""Fault injection for the upstream simulator: what a carrier does to a submit when it
misbehaves.

Each fault is a probability (drawn from the simulator's seeded RNG, so a run is
reproducible) or an entry of a scripted list that is consumed one per submit before any
probability is drawn. Faults are plain attributes that tests and the benchmark change at run
time (``sim.faults.throttle = 0.2``); the cost on the hot path is one attribute test while
no fault is set.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from random import Random
from typing import Iterable

from protocols.smpp.constants import Status

OK = "ok"                  # answer normally (useful in scripts)
THROTTLE = "throttle"      # ESME_RTHROTTLED
REJECT = "reject"          # a given command_status (default ESME_RINVDSTADR)
SYSERR = "syserr"          # ESME_RSYSERR
SLOW = "slow"              # answer normally, after a delay
DROP = "drop"              # never answer (the ESME's response timeout fires)
DISCONNECT = "disconnect"  # drop the connection instead of answering
DISCONNECT_AFTER = "disconnect_after"  # answer, then drop the connection
KINDS = frozenset({OK, THROTTLE, REJECT, SYSERR, SLOW, DROP, DISCONNECT, DISCONNECT_AFTER})


@dataclass(frozen=True, slots=True)
class Fault:
    """One decision about one submit."""

    kind: str
    status: int = 0
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; use one of {sorted(KINDS)}")
        if self.delay < 0:
            raise ValueError(f"fault delay must be >= 0, not {self.delay}")


def ok() -> Fault:
    return Fault(OK)


def throttle() -> Fault:
    return Fault(THROTTLE, Status.ESME_RTHROTTLED)


def reject(status: int = Status.ESME_RINVDSTADR) -> Fault:
    return Fault(REJECT, int(status))


def syserr() -> Fault:
    return Fault(SYSERR, Status.ESME_RSYSERR)


def slow(delay: float) -> Fault:
    return Fault(SLOW, 0, delay)


def drop() -> Fault:
    return Fault(DROP)


def disconnect() -> Fault:
    return Fault(DISCONNECT)


_PROBABILITIES = ("throttle", "reject", "syserr", "slow", "drop")
_RECOMPUTE = frozenset(_PROBABILITIES) | {"reject_status", "slow_delay", "disconnect_after"}


class Faults:
    """The faults in force. Set attributes at any time; the next submit sees them.

    Probabilities are per submit and must add up to at most 1. ``disconnect_after = N``
    answers N more submits and then drops the connection that carried the Nth (once; set it
    again for another). ``reject_destinations`` maps a destination prefix to the status
    every submit to it is answered with (a permanent route error). Binds are refused with
    ``bind_refusal_status`` while the clock is before ``refuse_binds_until`` (see
    ``UpstreamSimulator.refuse_binds``).
    """

    def __init__(self) -> None:
        self._ready = False
        self.throttle = 0.0
        self.reject = 0.0
        self.reject_status: int = Status.ESME_RINVDSTADR
        self.syserr = 0.0
        self.slow = 0.0
        self.slow_delay = 2.0
        self.drop = 0.0
        self.disconnect_after: int | None = None
        self.reject_destinations: dict[str, int] = {}
        self.refuse_binds_until = 0.0
        self.bind_refusal_status: int = Status.ESME_RBINDFAIL
        self.script: deque[Fault] = deque()
        self._ready = True
        self._recompute()

    def __setattr__(self, name: str, value: object) -> None:
        if name in _PROBABILITIES:
            value = float(value)  # type: ignore[arg-type]
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault probability {name} must be within 0..1, not {value}")
        elif name == "disconnect_after" and value is not None:
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"disconnect_after must be a positive integer or None, "
                                 f"not {value!r}")
        elif name == "slow_delay" and float(value) < 0:  # type: ignore[arg-type]
            raise ValueError(f"slow_delay must be >= 0, not {value}")
        object.__setattr__(self, name, value)
        if name in _RECOMPUTE and self._ready:
            self._recompute()

    def _recompute(self) -> None:
        table: list[tuple[float, Fault]] = []
        total = 0.0
        for name, fault in (("throttle", throttle()), ("reject", reject(self.reject_status)),
                            ("syserr", syserr()), ("slow", slow(self.slow_delay)),
                            ("drop", drop())):
            p = getattr(self, name)
            if p > 0:
                total += p
                table.append((total, fault))
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {total:g}, more than 1")
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_quiet", not table and self.disconnect_after is None)

    def clear(self) -> None:
        """No faults at all (binds accepted again too)."""
        for name in _PROBABILITIES:
            setattr(self, name, 0.0)
        self.disconnect_after = None
        self.reject_destinations = {}
        self.refuse_binds_until = 0.0
        self.script.clear()

    def scripted(self, faults: Iterable[Fault | str]) -> None:
        """Queue decisions for the next submits, in order (a str is a kind: "throttle")."""
        for f in faults:
            if isinstance(f, str):
                f = {THROTTLE: throttle(), SYSERR: syserr(), REJECT: reject(self.reject_status),
                     SLOW: slow(self.slow_delay)}.get(f) or Fault(f)
            self.script.append(f)

    @property
    def active(self) -> bool:
        # reject_destinations is tested directly: it may be changed in place
        return bool(self.script) or not self._quiet or bool(  # type: ignore[attr-defined]
            self.reject_destinations)

    def pick(self, rng: Random, destination: str) -> Fault | None:
        """The fault for one submit to ``destination``, or None to answer normally."""
        if self.script:
            fault = self.script.popleft()
            return None if fault.kind == OK else fault
        if self.reject_destinations:
            for prefix, status in self.reject_destinations.items():
                if destination.startswith(prefix):
                    return reject(status)
        if self._quiet:  # type: ignore[attr-defined]
            return None
        table = self._table  # type: ignore[attr-defined]
        if table:
            r = rng.random()
            for bound, fault in table:
                if r < bound:
                    return fault
        if self.disconnect_after is not None:
            left = self.disconnect_after - 1
            if left <= 0:
                self.disconnect_after = None
                return Fault(DISCONNECT_AFTER)
            object.__setattr__(self, "disconnect_after", left)
        return None

    def destination_status(self, destination: str) -> int:
        """The status ``reject_destinations`` gives ``destination`` (0 when none)."""
        for prefix, status in self.reject_destinations.items():
            if destination.startswith(prefix):
                return status
        return 0
