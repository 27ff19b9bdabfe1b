"""Serial ports for Twisted: a real pyserial ``Serial``, its fd driven by the reactor.

pyserial opens and configures the port (termios, exclusive lock); the reactor then reads and
writes the non-blocking fd directly, so nothing ever blocks the reactor thread and no thread is
started. A device that disappears (EIO / ENXIO / ENODEV, or a hang-up reported by epoll) ends in
``connectionLost`` on the protocol, and the ``Serial`` object (fd and pyserial's internal pipes)
is closed exactly once.

`FdTransport` is the generic half and is also used by the simulator for the pty master side.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import serial
from twisted.internet import abstract, error, fdesc
from twisted.internet.interfaces import IReactorFDSet
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()

#: errno values that mean "the device is gone" rather than "try again".
GONE_ERRNOS = frozenset({errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF, errno.EPIPE})
READ_SIZE = 4096


class FdTransport(abstract.FileDescriptor):
    """An ITransport over one already-open character-device fd, registered with the reactor."""

    def __init__(self, fd: int, protocol: Protocol, reactor: IReactorFDSet,
                 on_close: Callable[[], None] | None = None, name: str = "") -> None:
        super().__init__(reactor)
        self._fd = fd
        self._on_close = on_close or (lambda: os.close(fd))
        self.name = name
        self.protocol = protocol
        self.bytes_in = 0
        self.bytes_out = 0
        fdesc.setNonBlocking(fd)
        self.connected = 1
        self.protocol.makeConnection(self)
        self.startReading()

    def fileno(self) -> int:
        return self._fd

    def logPrefix(self) -> str:  # noqa: N802 (Twisted API)
        return f"FdTransport({self.name or self._fd})"

    def getHost(self) -> str:  # noqa: N802 (Twisted API)
        return self.name

    def getPeer(self) -> str:  # noqa: N802 (Twisted API)
        return self.name

    def pending_bytes(self) -> int:
        """Bytes written but not yet accepted by the device."""
        return len(self.dataBuffer) - self.offset + self._tempDataLen

    def doRead(self) -> object:  # noqa: N802 (Twisted API)
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return None
        except InterruptedError:
            return None
        except OSError as exc:
            return error.ConnectionLost(f"{self.name}: {os.strerror(exc.errno or 0)}")
        if not data:
            return error.ConnectionLost(f"{self.name}: end of file (hang-up)")
        self.bytes_in += len(data)
        self.protocol.dataReceived(data)
        return None

    def writeSomeData(self, data: bytes) -> object:  # noqa: N802 (Twisted API)
        try:
            written = os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            return error.ConnectionLost(f"{self.name}: {os.strerror(exc.errno or 0)}")
        self.bytes_out += written
        return written

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802 (Twisted API)
        """Unregister, close the device once, then tell the protocol."""
        abstract.FileDescriptor.connectionLost(self, reason)
        if self._fd >= 0:
            self._fd = -1
            try:
                self._on_close()
            except OSError as exc:  # already gone: nothing left to release
                log.debug("close of {name} failed: {exc}", name=self.name, exc=exc)
        protocol, self.protocol = self.protocol, None
        if protocol is not None:
            protocol.connectionLost(reason)

    def abort(self) -> None:
        """Drop the port now, discarding unwritten bytes (used when the device is known gone)."""
        if self.connected:
            self.reactor.callLater(0, self.connectionLost, Failure(error.ConnectionAborted()))
            self.stopReading()
            self.stopWriting()
            self.connected = 0
            self.disconnecting = 1

    abortConnection = abort  # noqa: N815 (ITCPTransport spelling)


class SerialTransport(FdTransport):
    """A pyserial port driven by the reactor. Open it with `open_serial`."""

    def __init__(self, port: serial.Serial, protocol: Protocol, reactor: IReactorFDSet) -> None:
        self.serial = port
        super().__init__(port.fileno(), protocol, reactor, on_close=port.close, name=port.port)


def open_serial(path: str, protocol: Protocol, reactor: IReactorFDSet, *,
                baudrate: int = 115200, exclusive: bool = True, rtscts: bool = False,
                dsrdtr: bool = False) -> SerialTransport:
    """Open ``path`` with real pyserial (non-blocking) and connect ``protocol`` to it.

    Raises ``serial.SerialException`` (an OSError) when the device is missing, busy (another
    process holds the exclusive lock) or not a tty; ``exc.errno`` tells which.
    """
    port = serial.Serial(path, baudrate=baudrate, timeout=0, write_timeout=0,
                         exclusive=exclusive, rtscts=rtscts, dsrdtr=dsrdtr)
    try:
        port.reset_input_buffer()
        return SerialTransport(port, protocol, reactor)
    except Exception:
        port.close()
        raise


def is_gone(exc: BaseException) -> bool:
    """True if an OSError / SerialException means the device vanished (not a transient error)."""
    number = getattr(exc, "errno", None)
    return number in GONE_ERRNOS
