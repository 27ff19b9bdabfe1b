"""Framing: bytes to whole PDUs, defensive command_length, TCP_NODELAY."""

from __future__ import annotations

import struct

import pytest
from twisted.internet.testing import StringTransport

from protocols.smpp.framing import DEFAULT_MAX_PDU_LENGTH, SmppFraming, set_tcp_nodelay

HDR = struct.Struct(">IIII")


def pdu(sequence: int, body: bytes = b"", command_id: int = 0x15) -> bytes:
    return HDR.pack(16 + len(body), command_id, 0, sequence) + body


class Recorder(SmppFraming):
    def __init__(self, max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH) -> None:
        super().__init__()
        self.max_pdu_length = max_pdu_length
        self.pdus: list[bytes] = []
        self.errors: list[int] = []

    def pdu_received(self, data: bytes) -> None:
        self.pdus.append(data)

    def framing_error(self, length: int) -> None:
        self.errors.append(length)


class NoDelayTransport(StringTransport):
    def __init__(self) -> None:
        super().__init__()
        self.nodelay: bool | None = None

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.nodelay = enabled


def connected(max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH) -> tuple[Recorder, NoDelayTransport]:
    proto = Recorder(max_pdu_length)
    transport = NoDelayTransport()
    proto.makeConnection(transport)
    return proto, transport


def test_nodelay_on_connect() -> None:
    """When a connection is made, TCP_NODELAY is switched on (LESSONS row 1)."""
    _, transport = connected()
    assert transport.nodelay is True


def test_nodelay_helper_on_non_tcp_transport() -> None:
    """When the transport is not TCP (no setTcpNoDelay, no socket), nothing breaks."""
    assert set_tcp_nodelay(StringTransport()) is False


def test_many_pdus_in_one_chunk() -> None:
    """When one chunk holds many PDUs, each is delivered whole and in order."""
    proto, _ = connected()
    chunk = b"".join(pdu(i, bytes(i % 7)) for i in range(1, 2001))
    proto.dataReceived(chunk)
    assert [HDR.unpack_from(p)[3] for p in proto.pdus] == list(range(1, 2001))
    assert proto.pdus[6] == pdu(7, bytes(0))
    assert proto.pdus[5] == pdu(6, bytes(6))


@pytest.mark.parametrize("size", [1, 3, 4, 5, 15, 16, 17, 29], ids=lambda n: f"chunks-of-{n}")
def test_split_at_every_boundary(size: int) -> None:
    """When PDUs arrive cut at arbitrary places, they are reassembled exactly."""
    proto, _ = connected()
    stream = pdu(1, b"abc") + pdu(2) + pdu(3, b"x" * 40) + pdu(4, b"z")
    for i in range(0, len(stream), size):
        proto.dataReceived(stream[i:i + size])
    assert proto.pdus == [pdu(1, b"abc"), pdu(2), pdu(3, b"x" * 40), pdu(4, b"z")]


def test_one_octet_at_a_time_of_a_large_pdu() -> None:
    """When a maximum-size PDU arrives one octet at a time, it is delivered once, intact."""
    proto, _ = connected()
    big = pdu(9, bytes(range(256)) * 63)
    for i in range(len(big)):
        proto.dataReceived(big[i:i + 1])
    assert proto.pdus == [big]


@pytest.mark.parametrize("length", [0, 1, 15], ids=lambda n: f"length-{n}")
def test_length_below_header_closes_with_generic_nack(length: int) -> None:
    """When command_length is below 16, a generic_nack ESME_RINVCMDLEN is sent and the
    connection closed; the PDUs before it were delivered, nothing after it is."""
    proto, transport = connected()
    bad = struct.pack(">IIII", length, 4, 0, 77)
    proto.dataReceived(pdu(1) + bad + pdu(2))
    assert proto.pdus == [pdu(1)]
    assert transport.value() == HDR.pack(16, 0x80000000, 0x02, 77)
    assert transport.disconnecting
    assert proto.errors == [length]
    proto.dataReceived(pdu(3))
    assert proto.pdus == [pdu(1)]


def test_length_above_maximum_closes_with_generic_nack() -> None:
    """When command_length exceeds max_pdu_length, generic_nack (with that PDU's sequence)
    and close, without waiting for (or buffering) the announced body."""
    proto, transport = connected(max_pdu_length=1024)
    proto.dataReceived(HDR.pack(1025, 4, 0, 5))
    assert transport.value() == HDR.pack(16, 0x80000000, 0x02, 5)
    assert transport.disconnecting and proto.pdus == []


def test_length_above_maximum_with_partial_header_uses_sequence_zero() -> None:
    """When only the command_length octets of an over-long PDU arrived, the generic_nack
    carries sequence 0 (the sequence is not known yet)."""
    proto, transport = connected()
    proto.dataReceived(struct.pack(">I", 0x7FFFFFFF))
    assert transport.value() == HDR.pack(16, 0x80000000, 0x02, 0)


def test_exactly_maximum_is_accepted() -> None:
    """When command_length equals max_pdu_length, the PDU is accepted."""
    proto, transport = connected(max_pdu_length=64)
    proto.dataReceived(pdu(1, b"x" * 48))
    assert len(proto.pdus) == 1 and not transport.disconnecting


def test_default_maximum_is_small() -> None:
    """The default cap fits a full submit_multi and stays well below 64 KiB."""
    assert 8 * 1024 <= DEFAULT_MAX_PDU_LENGTH <= 64 * 1024


def test_partial_header_waits() -> None:
    """When fewer than 4 octets are buffered, nothing is delivered and nothing is sent."""
    proto, transport = connected()
    proto.dataReceived(b"\x00\x00")
    assert proto.pdus == [] and transport.value() == b"" and not transport.disconnecting
    proto.dataReceived(pdu(1)[2:])
    assert proto.pdus == [pdu(1)]
