"""Exceptions of the SMPP session layer (framing, session, server, client).

Connection loss is reported with Twisted's own ``twisted.internet.error.ConnectionLost`` so
callers can treat every transport failure alike.
"""

from __future__ import annotations

from protocols.smpp.constants import status_name


class SmppError(Exception):
    """An SMPP command_status other than ESME_ROK.

    A delegate raises (or errbacks with) it to answer a request with that status; the client
    errbacks a bind with it when the bind_resp carries a non-zero status.
    """

    def __init__(self, status: int, message: str = "") -> None:
        self.status = int(status)
        self.message = message
        super().__init__(f"{status_name(self.status)}" + (f": {message}" if message else ""))


class ResponseTimeout(Exception):
    """No response arrived for an outgoing request within the session's response_timeout."""

    def __init__(self, command: str, sequence: int, timeout: float) -> None:
        self.command = command
        self.sequence = sequence
        self.timeout = timeout
        super().__init__(f"no response to {command} #{sequence} within {timeout:g} s")


class ProtocolError(Exception):
    """The peer answered with a response that cannot be decoded or does not match the
    request that used its sequence number. The outcome of the request is unknown."""
