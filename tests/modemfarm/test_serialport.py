"""modemfarm.serialport: real pyserial over a pty, driven by the real reactor (bounded in time)."""

from __future__ import annotations

import errno
import os
import threading
import tty

import serial
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.trial import unittest

from modemfarm.serialport import is_gone, open_serial


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@inlineCallbacks
def wait_until(predicate, limit: float = 3.0):
    """Poll ``predicate`` every 10 ms on the real reactor, fail after ``limit`` seconds."""
    waited = 0.0
    while not predicate():
        if waited >= limit:
            raise AssertionError("condition not reached in time")
        yield deferLater(reactor, 0.01, lambda: None)
        waited += 0.01


class Recorder(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.lost: Deferred = Deferred()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.data += data

    def connectionLost(self, reason) -> None:  # noqa: N802
        self.reason = reason
        self.lost.callback(None)


class SerialPortTests(unittest.TestCase):
    timeout = 10

    def setUp(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def tearDown(self) -> None:
        for fd in (self.master, self.slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = -1

    @inlineCallbacks
    def test_bytes_flow_both_ways(self):
        """When the port is open, bytes from the device reach the protocol and writes reach the device."""
        proto = Recorder()
        transport = open_serial(self.path, proto, reactor)
        os.write(self.master, b"\r\nRDY\r\n")
        yield wait_until(lambda: proto.data == b"\r\nRDY\r\n")
        transport.write(b"AT\r")
        got = b""
        while got != b"AT\r":
            yield deferLater(reactor, 0.01, lambda: None)
            try:
                got += os.read(self.master, 100)
            except BlockingIOError:
                pass
            except OSError:
                pass
        transport.loseConnection()
        yield proto.lost

    @inlineCallbacks
    def test_device_disappearing_reports_connection_lost_without_leaks(self):
        """When the device vanishes, connectionLost fires once and every fd pyserial opened
        (port and internal pipes) is closed; no thread is started."""
        before, threads = open_fds(), threading.active_count()
        proto = Recorder()
        open_serial(self.path, proto, reactor)
        assert len(open_fds()) > len(before)
        self.unplug()
        before -= {str(self.master), str(self.slave)}
        yield proto.lost
        yield deferLater(reactor, 0.05, lambda: None)
        assert open_fds() - before == set(), open_fds() - before
        assert proto.reason.check(ConnectionLost)
        assert threading.active_count() == threads

    @inlineCallbacks
    def test_lose_connection_closes_the_port(self):
        """When the protocol drops the port, the fd is released and the device can be reopened."""
        yield deferLater(reactor, 0.01, lambda: None)  # let the reactor create its own fds first
        before = open_fds()
        proto = Recorder()
        transport = open_serial(self.path, proto, reactor)
        transport.write(b"AT\r")
        transport.loseConnection()
        yield proto.lost
        assert open_fds() == before, {f: os.readlink('/proc/self/fd/'+f) for f in open_fds() - before}
        again = Recorder()
        open_serial(self.path, again, reactor).loseConnection()
        yield again.lost

    @inlineCallbacks
    def test_exclusive_open_refuses_a_second_driver(self):
        """When a port is already open (exclusive), a second open fails with a clear error."""
        proto = Recorder()
        transport = open_serial(self.path, proto, reactor)
        before = open_fds()
        with self.assertRaises(serial.SerialException):
            open_serial(self.path, Recorder(), reactor)
        assert open_fds() == before  # the failed attempt leaked nothing
        transport.loseConnection()
        yield proto.lost

    def test_missing_device_is_a_clear_error(self):
        """When the path does not exist, SerialException with ENOENT is raised, nothing leaks."""
        before = open_fds()
        with self.assertRaises(serial.SerialException) as ctx:
            open_serial("/dev/does-not-exist-smsc", Recorder(), reactor)
        assert ctx.exception.errno == errno.ENOENT
        assert open_fds() == before

    def test_is_gone(self):
        """When an error means the device vanished (EIO, ENXIO, ENODEV), is_gone says so."""
        assert is_gone(OSError(errno.EIO, "x")) and is_gone(OSError(errno.ENXIO, "x"))
        assert not is_gone(OSError(errno.EAGAIN, "x"))
