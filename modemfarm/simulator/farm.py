"""A rack of simulated modems, each on its own pty: what the demo, tests and benchmark start.

Every modem gets a deterministic identity and RNG from (seed, index), an optional byte
transcript file, and, with ``link_dir``, udev-like links: ``ttyUSB<n>`` (renumbered when a
device comes back) and ``by-id/sim-modem-<IMEI>`` (stable).
"""

from __future__ import annotations

import itertools
import os
import random
from typing import Any

from twisted.internet.interfaces import IReactorFDSet, IReactorTime

from modemfarm.simulator.device import SimModem
from modemfarm.simulator.network import Latency, Network, ReportPolicy
from modemfarm.simulator.transcript import Transcript


class ModemFarm:
    """N `SimModem` objects sharing a clock and a reactor."""

    def __init__(self, count: int, clock: IReactorTime, reactor: IReactorFDSet | None = None, *,
                 seed: int = 0, link_dir: str | None = None, transcript_dir: str | None = None,
                 submit_latency: Latency | None = None, reports: ReportPolicy | None = None,
                 **modem_kwargs: Any) -> None:
        if count < 1:
            raise ValueError("a farm needs at least one modem")
        self.clock = clock
        self.reactor = reactor
        self.seed = seed
        self._usb = itertools.count()
        self.modems: list[SimModem] = []
        for index in range(count):
            transcript = None
            if transcript_dir:
                os.makedirs(transcript_dir, exist_ok=True)
                transcript = Transcript.open(os.path.join(transcript_dir, f"modem{index}.wire.txt"),
                                             clock, f"simulated modem {index} seed {seed}")
            network = Network(random.Random(f"{seed}:{index}:net"),
                              submit_latency=submit_latency, reports=reports)
            self.modems.append(SimModem(
                index, clock, seed=seed, reactor=reactor, network=network, link_dir=link_dir,
                transcript=transcript, usb_names=lambda: f"ttyUSB{next(self._usb)}",
                **modem_kwargs))

    def start(self) -> list[str]:
        """Open every pty; return the device paths in modem order."""
        return [modem.open() for modem in self.modems]

    def stop(self) -> None:
        for modem in self.modems:
            modem.close()

    @property
    def paths(self) -> list[str | None]:
        return [modem.path for modem in self.modems]

    def by_imei(self, imei: str) -> SimModem:
        for modem in self.modems:
            if modem.imei == imei:
                return modem
        raise KeyError(imei)

    def sent(self) -> list:
        """Every accepted submit across the rack, in time order."""
        return sorted((m for modem in self.modems for m in modem.sent), key=lambda m: m.at)
