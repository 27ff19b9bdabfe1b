"""Start the real engine (make_service) on loopback ports for system tests, with the real reactor."""

from __future__ import annotations

import socket
import struct
from typing import Any

import smpplib.client
from twisted.internet import reactor

from protocols.smpp.codec import Pdu, decode, encode
from smsc.auth import hash_password
from smsc.config import parse_config
from smsc.service import make_service

PASSWORD = "s3cret"
PASSWORD_HASH = hash_password(PASSWORD)


def engine_config(db_url: str, **overrides: Any):
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
    return parse_config(data, "<test>")


async def start_engine(db_url: str, **overrides: Any):
    engine = make_service(engine_config(db_url, **overrides), reactor)
    await engine.start()
    return engine


def smpp_port(engine) -> int:
    return engine.smpp_listener.port.getHost().port


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
