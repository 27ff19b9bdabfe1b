"""Start the real engine (make_service) on loopback ports for system tests, with the real reactor."""

from __future__ import annotations

import os
import socket
import struct
from typing import Any

import smpplib.client
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred

from protocols.smpp.codec import Pdu, decode, encode
from smsc.auth import hash_password
from smsc.config import parse_config
from smsc.service import make_service
from tests.pg import database_in_shared_cluster

PASSWORD = "s3cret"
PASSWORD_HASH = hash_password(PASSWORD)


def engine_config(db_url: str, **overrides: Any) -> dict[str, Any]:
    """An engine with three accounts (app, slow: 2 msgs/s, locked), no upstreams, loopback ports."""
    data: dict[str, Any] = {
        "database": {"url": db_url, "upgrade_on_start": True},
        "smpp_server": {"listen": "tcp:0:interface=127.0.0.1", "auth_failure_delay": 0.2},
        "metrics": {"listen": "tcp:0:interface=127.0.0.1"},
        "logging": {"level": "warn"},
        "accounts": [
            {"system_id": "app", "password_hash": PASSWORD_HASH, "max_binds": 2},
            {"system_id": "slow", "password_hash": PASSWORD_HASH, "throughput": 2.0},
            {"system_id": "locked", "password_hash": PASSWORD_HASH},
        ],
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return data


class RunningEngine:
    """Mixin for trial TestCases: one real engine (make_service) per test, on loopback ports.

    Subclasses say what to run (``config(db_url)``, a dict as in a config file) and may prepare
    it (``before_start``) or wait for it (``after_start``); ``database_url`` picks the backend:
    SQLite here, PostgreSQL with :class:`OnPostgres`.
    """

    timeout = 60

    def config(self, db_url: str) -> dict[str, Any]:
        return engine_config(db_url)

    def database_url(self, tmp: str) -> str:
        return f"sqlite:///{tmp}/smsc.db"

    def before_start(self) -> None:
        """Hook: the engine is built, not started."""

    async def after_start(self) -> None:
        """Hook: the engine is listening."""

    async def _start(self) -> None:
        tmp = self.mktemp()
        os.makedirs(tmp)
        self.engine = make_service(parse_config(self.config(self.database_url(tmp)), "<test>"), reactor)
        self.before_start()
        await self.engine.start()
        self.port = self.engine.smpp_listener.port.getHost().port
        await self.after_start()

    def setUp(self) -> Deferred:
        return ensureDeferred(self._start())

    def tearDown(self) -> Deferred:
        return self.engine.stopService()


class OnPostgres:
    """Put first in the bases: the same tests on a fresh database of the throwaway cluster."""

    def database_url(self, tmp: str) -> str:
        return database_in_shared_cluster()


def esme(port: int, system_id: str = "app", password: str = PASSWORD, bind: str = "transceiver"):
    """A bound third-party client (smpplib); call from a thread, never from the reactor."""
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.connect()
    getattr(client, f"bind_{bind}")(system_id=system_id, password=password)
    return client


def raw_request(client: smpplib.client.Client, pdu: Pdu) -> Pdu:
    """Send one of our PDUs on smpplib's socket and read the answer with our codec
    (smpplib has no cancel_sm / replace_sm)."""
    pdu.sequence = client.next_sequence()
    client._socket.sendall(encode(pdu))  # noqa: SLF001 - the test reaches into the client on purpose
    return read_raw(client._socket)  # noqa: SLF001


def read_raw(sock: socket.socket) -> Pdu:
    header = _recv_exact(sock, 4)
    (length,) = struct.unpack(">L", header)
    return decode(header + _recv_exact(sock, length - 4))


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    return data
