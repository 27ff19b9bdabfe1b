"""A simulated modem wired to a Protocol in memory, on one clock: fast, deterministic tests.

The pty path (`SimModem.open`) is the real thing; this is its Clock-driven twin for unit tests
of anything that speaks AT (the AT channel, the modem state machine, the pool). Bytes cross the
"wire" with ``callLater(0)`` in both directions, so nothing re-enters and ordering is that of a
serial line. `AtLoopback` adds an `AtChannel` and helpers that advance the clock.
"""

from __future__ import annotations

import random
from typing import Any

from twisted.internet import error
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from modemfarm.at.channel import AtChannel, AtResponse, Urc
from modemfarm.simulator.device import SimModem
from modemfarm.simulator.network import Latency, Network, ReportPolicy


class LoopbackTransport:
    """The protocol's side of the in-memory wire (write / loseConnection like a serial port)."""

    def __init__(self, link: Loopback) -> None:
        self.link = link
        self.connected = True
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        if self.connected:
            self.written.append(data)
            self.link.clock.callLater(0, self.link.modem.feed, data)

    def writeSequence(self, chunks: list[bytes]) -> None:  # noqa: N802 (Twisted API)
        self.write(b"".join(chunks))

    def loseConnection(self) -> None:  # noqa: N802 (Twisted API)
        self.link.disconnect(Failure(error.ConnectionDone()))


class Loopback:
    """Connect ``protocol`` to ``modem``; ``raw`` keeps every chunk the modem wrote."""

    def __init__(self, modem: SimModem, protocol: Protocol, clock: IReactorTime) -> None:
        self.modem = modem
        self.protocol = protocol
        self.clock = clock
        self.raw: list[bytes] = []
        self.transport = LoopbackTransport(self)
        modem.output = self._to_protocol
        protocol.makeConnection(self.transport)

    def _to_protocol(self, data: bytes) -> None:
        self.raw.append(data)
        if self.transport.connected:
            self.clock.callLater(0, self._deliver, data)

    def _deliver(self, data: bytes) -> None:
        if self.transport.connected:
            self.protocol.dataReceived(data)

    def disconnect(self, reason: Failure | None = None) -> None:
        if self.transport.connected:
            self.transport.connected = False
            self.protocol.connectionLost(reason or Failure(error.ConnectionLost("unplugged")))

    def unplug(self) -> None:
        """The device vanishes: the modem goes silent and the protocol sees connectionLost."""
        self.modem.unplug()
        self.disconnect()

    def advance(self, seconds: float, step: float = 0.05) -> None:
        """Move the clock forward in small steps so chained timers fire in order."""
        end = self.clock.seconds() + seconds
        while self.clock.seconds() < end:
            self.clock.advance(min(step, end - self.clock.seconds()))
        self.clock.advance(0)

    def wait(self, d: Deferred, limit: float = 120.0, step: float = 0.05) -> Any:
        """Advance until ``d`` fires; return its result (or Failure). RuntimeError after ``limit``."""
        box: list = []
        d.addBoth(box.append)
        end = self.clock.seconds() + limit
        while not box and self.clock.seconds() < end:
            self.advance(step, step)
        if not box:
            raise RuntimeError(f"nothing fired within {limit} simulated seconds")
        return box[0]


class AtLoopback(Loopback):
    """A SimModem and an AtChannel on a Clock, with command helpers (for tests and demos)."""

    INIT = ("ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,2,0", 'AT+CPMS="SM","SM","SM"')

    def __init__(self, clock: Any = None, *, seed: int = 7, latency: float = 1.0,
                 reports: ReportPolicy | None = None, **modem_kwargs: Any) -> None:
        if clock is None:
            from twisted.internet.task import Clock

            clock = Clock()
            clock.advance(1_700_000_000)  # a real-looking date for SCTS fields
        self.urcs: list[Urc] = []
        network = Network(random.Random(seed), submit_latency=Latency(latency, 0.0),
                          reports=reports)
        modem = SimModem(0, clock, seed=seed, network=network, **modem_kwargs)
        self.channel = AtChannel(None, clock, on_urc=self.urcs.append)
        super().__init__(modem, self.channel, clock)

    def cmd(self, command: str, **kwargs: Any) -> AtResponse | Failure:
        """Run one command to completion on the clock; the AtResponse or the Failure."""
        return self.wait(self.channel.command(command, **kwargs))

    def ok(self, command: str, **kwargs: Any) -> list[str]:
        """Run a command that must succeed; its information lines."""
        result = self.cmd(command, **kwargs)
        if not isinstance(result, AtResponse):
            raise AssertionError(f"{command} failed: {result!r}")
        return result.lines

    def init(self) -> None:
        for command in self.INIT:
            self.ok(command)
