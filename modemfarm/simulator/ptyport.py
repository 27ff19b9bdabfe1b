"""The pseudo-terminal a simulated modem lives on.

The simulator holds the master side, driven by the reactor through `FdTransport`; the driver
opens the slave path with real pyserial. The simulator also keeps its own slave fd open so that
the master never sees a hang-up (and the reactor never spins) while no driver is attached; the
slave is put in raw mode so the line discipline neither echoes nor translates bytes.

`close` is an unplug: both fds are closed at once, the driver's reads end (EOF/EIO) and its
reactor reports connectionLost; symlinks are removed.
"""

from __future__ import annotations

import os
import tty
from collections.abc import Callable

from twisted.internet import error
from twisted.internet.interfaces import IReactorFDSet
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from modemfarm.serialport import FdTransport


MAX_BACKLOG = 65536


class _Master(Protocol):
    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        self.on_data = on_data

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        self.on_data(data)


class PtyPort:
    """One pty pair; ``path`` is what a driver opens (a symlink if ``links`` were given)."""

    def __init__(self, reactor: IReactorFDSet, on_data: Callable[[bytes], None],
                 links: list[str] | None = None) -> None:
        self.reactor = reactor
        self.on_data = on_data
        self.links = list(links or [])
        self.slave_fd = -1
        self.device = ""
        self.transport: FdTransport | None = None
        self.dropped = 0

    @property
    def path(self) -> str:
        return self.links[0] if self.links else self.device

    def open(self) -> str:
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            self.device = os.ttyname(slave)
            for link in self.links:
                os.makedirs(os.path.dirname(link) or ".", exist_ok=True)
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink(self.device, link)
        except OSError:
            os.close(master)
            os.close(slave)
            raise
        self.slave_fd = slave
        self.transport = FdTransport(master, _Master(self.on_data), self.reactor, name=self.device)
        return self.path

    def write(self, data: bytes) -> None:
        """Send to the driver; like a real modem, drop output nobody reads beyond 64 KiB."""
        transport = self.transport
        if transport is not None and transport.connected:
            if transport.pending_bytes() + len(data) > MAX_BACKLOG:
                self.dropped += len(data)
                return
            transport.write(data)

    def close(self) -> None:
        """Unplug: close master and our slave now, remove the links."""
        transport, self.transport = self.transport, None
        if transport is not None and transport.connected:
            transport.connectionLost(Failure(error.ConnectionDone("unplugged")))
        if self.slave_fd >= 0:
            os.close(self.slave_fd)
            self.slave_fd = -1
        for link in self.links:
            if os.path.islink(link):
                os.unlink(link)
