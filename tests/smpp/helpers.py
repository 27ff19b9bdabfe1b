"""PDU helpers shared by the SMPP protocol tests."""

from __future__ import annotations

import struct

from twisted.internet.testing import StringTransport

from protocols.smpp.codec import Pdu, decode, encode


def wire(command: str, sequence: int, status: int = 0, params: dict | None = None,
         tlvs: dict | None = None) -> bytes:
    """One PDU as the peer would send it."""
    return encode(Pdu(command, sequence, status, params, tlvs))


def sent(transport: StringTransport) -> list[Pdu]:
    """Decode and consume everything written to ``transport``."""
    data, out = transport.value(), []
    transport.clear()
    while data:
        (length,) = struct.unpack_from(">I", data)
        out.append(decode(data[:length]))
        data = data[length:]
    return out
