"""SMPP framing: split a TCP byte stream into whole PDUs by their command_length.

Defensive in the shape of ``IntNStringReceiver.lengthLimitExceeded``: a command_length below
the 16-octet header or above ``max_pdu_length`` cannot be resynchronised (there is no other
frame marker in SMPP), so the connection is answered with one generic_nack
(ESME_RINVCMDLEN) and closed.

Why 16 KiB by default: the largest PDU a sane peer sends is a submit_multi with 254
destinations (254 x 24 octets = 6.1 KB) plus a 254-octet short_message and a few TLVs, or a
message_payload of about 60 concatenated parts. Anything larger is a broken or hostile peer,
and the cap bounds what one connection can make us buffer. ``SessionSettings`` can raise it
(up to the 64 KiB a message_payload TLV can carry) for carriers that need it.
"""

from __future__ import annotations

import socket
import struct

from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from protocols.smpp.constants import HEADER_LENGTH, CommandId, Status

DEFAULT_MAX_PDU_LENGTH = 16 * 1024

_LENGTH = struct.Struct(">I")
_HEADER = struct.Struct(">IIII")


def header_only(command_id: int, status: int, sequence: int) -> bytes:
    """A body-less PDU: generic_nack, or any response with a non-zero status (SMPP 3.4
    returns no body with an error status)."""
    return _HEADER.pack(HEADER_LENGTH, command_id, status, sequence)


def set_tcp_nodelay(transport: object) -> bool:
    """Disable Nagle on a TCP (or TLS-over-TCP) transport; LESSONS row 1: without it SMPP
    stalls ~40 ms between PDUs. Returns False for transports that are not TCP."""
    setter = getattr(transport, "setTcpNoDelay", None)
    if setter is not None:
        try:
            setter(True)
            return True
        except (OSError, AttributeError):
            return False
    handle = getattr(transport, "getHandle", None)
    if handle is not None:
        try:
            handle().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return True
        except (OSError, AttributeError, TypeError):
            return False
    return False


class SmppFraming(Protocol):
    """Buffers received bytes and calls :meth:`pdu_received` once per whole PDU.

    A chunk is parsed in place (one slice per PDU); only a trailing partial PDU is kept, in a
    bytearray that grows in place and is parsed again only once it holds the octets that PDU
    needs. A chunk holding thousands of PDUs, or a PDU arriving one octet at a time, both
    cost linear time.
    """

    max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH
    _log = Logger()

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._needed = 4  # octets the buffered partial PDU needs before it can be parsed
        self._framing_closed = False

    def connectionMade(self) -> None:
        set_tcp_nodelay(self.transport)

    def dataReceived(self, data: bytes) -> None:
        if self._framing_closed:
            return
        if self._buffer:
            buf = self._buffer
            buf += data
            if len(buf) < self._needed:
                return
            data = bytes(buf)
            self._buffer = bytearray()
        size = len(data)
        offset = 0
        unpack_length = _LENGTH.unpack_from
        limit = self.max_pdu_length
        needed = 4
        while size - offset >= 4:
            (length,) = unpack_length(data, offset)
            if length < HEADER_LENGTH or length > limit:
                self._bad_length(data, offset, length)
                return
            end = offset + length
            if end > size:
                needed = length
                break
            self.pdu_received(data[offset:end])
            offset = end
            if self._framing_closed:
                return
        if offset < size:
            self._buffer = bytearray(data[offset:] if offset else data)
            self._needed = needed

    def _bad_length(self, data: bytes, offset: int, length: int) -> None:
        sequence = 0
        if len(data) - offset >= HEADER_LENGTH:
            sequence = _HEADER.unpack_from(data, offset)[3]
        peer = self.transport.getPeer() if self.transport else None
        self._log.warn(
            "SMPP command_length {length} outside 16..{limit} from {peer}: closing",
            length=length, limit=self.max_pdu_length, peer=peer,
        )
        self.transport.write(
            header_only(CommandId.GENERIC_NACK, Status.ESME_RINVCMDLEN, sequence)
        )
        self.stop_framing()
        self.framing_error(length)
        self.transport.loseConnection()

    def stop_framing(self) -> None:
        """Ignore every byte received from now on (the connection is being closed)."""
        self._framing_closed = True
        self._buffer = bytearray()

    def framing_error(self, length: int) -> None:
        """Hook: a command_length out of range was received (the connection is closing)."""

    def pdu_received(self, data: bytes) -> None:
        """One whole PDU (header included)."""
        raise NotImplementedError
