"""Byte transcripts of a simulated modem: every chunk, both directions, timestamped.

Same layout as the reference captures (``modem-transcripts/*.wire.txt``): seconds since the
modem started, ``->`` for DTE to modem, ``<-`` for modem to DTE, bytes escaped. Timestamps come
from the injected clock, so a seeded run on a `Clock` gives a byte-identical transcript.
"""

from __future__ import annotations

from typing import IO

from twisted.internet.interfaces import IReactorTime

_ESCAPES = {0x0D: "\\r", 0x0A: "\\n", 0x5C: "\\\\"}


def escape(data: bytes) -> str:
    """Printable ASCII as is; CR, LF and backslash as \\r \\n \\\\; anything else as \\xNN."""
    return "".join(
        _ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in data
    )


class Transcript:
    """Appends one line per chunk to a text file (or any writable text stream)."""

    def __init__(self, stream: IO[str], clock: IReactorTime, label: str = "") -> None:
        self.stream = stream
        self.clock = clock
        self.start = clock.seconds()
        if label:
            stream.write(f"# {label}\n")

    @classmethod
    def open(cls, path: str, clock: IReactorTime, label: str = "") -> Transcript:
        return cls(open(path, "w", encoding="ascii", buffering=1), clock, label)  # noqa: SIM115

    def record(self, direction: str, data: bytes) -> None:
        """``direction`` is "->" (to the modem) or "<-" (from the modem)."""
        if data and not self.stream.closed:
            self.stream.write(f"{self.clock.seconds() - self.start:9.3f} {direction} {escape(data)}\n")

    def note(self, text: str) -> None:
        if not self.stream.closed:
            self.stream.write(f"{self.clock.seconds() - self.start:9.3f} ## {text}\n")

    def close(self) -> None:
        if not self.stream.closed:
            self.stream.close()
