"""Replay the real AT dialogues captured from gammu, smstools and python-gsmmodem into AtChannel.

The captures (../shared/reference/modem-transcripts/*.wire.txt) record every chunk both ways.
Replaying the modem's bytes, chunk by chunk, against the same commands must give every command
exactly one result, in order, and deliver every URC the modem sent (python-gsmmodem lost the
+CMTI inside the AT+CSQ response in one of these very dialogues).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from modemfarm.at.channel import AtChannel, AtError, AtResponse

TRANSCRIPTS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "modem-transcripts"
if not TRANSCRIPTS.is_dir():
    TRANSCRIPTS = Path("/work/shared/reference/modem-transcripts")
WIRE = sorted(TRANSCRIPTS.glob("*.wire.txt")) if TRANSCRIPTS.is_dir() else []
_LINE = re.compile(r"^\s*[\d.]+ (->|<-) (.*)$")
URC_RE = re.compile(rb"\r\n(\+CMTI|\+CDSI|\+CMT|\+CDS):")


def unescape(text: str) -> bytes:
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


def parse(path: Path) -> list[tuple[str, bytes]]:
    out = []
    for line in path.read_text(encoding="latin-1").splitlines():
        match = _LINE.match(line)
        if match:
            out.append((match.group(1), unescape(match.group(2))))
    return out


def commands_of(events: list[tuple[str, bytes]]) -> list[tuple[int, str, str | None]]:
    """(event index, command, payload) for each AT command the driver wrote."""
    found, pending = [], b""
    for i, (direction, data) in enumerate(events):
        if direction != "->":
            continue
        pending += data
        if b"\x1a" in pending and found and found[-1][1].upper().startswith("AT+CMGS"):
            index, command, _ = found[-1]
            found[-1] = (index, command, pending.split(b"\x1a")[0].decode().strip())
            pending = b""
            continue
        while b"\r" in pending:
            line, pending = pending.split(b"\r", 1)
            line = line.replace(b"\x1b", b"").strip()
            if line.upper().startswith(b"AT"):
                found.append((i, line.decode("latin-1"), None))
    return found


@pytest.mark.skipif(not WIRE, reason="reference transcripts not available")
@pytest.mark.parametrize("path", WIRE, ids=[p.name for p in WIRE])
def test_replayed_dialogue_pairs_every_command_with_its_result(path):
    """When a real modem dialogue is replayed, each command gets one result (no mispairing,
    no timeout) and every +CMTI/+CDSI/+CMT/+CDS the modem sent reaches on_urc."""
    events = parse(path)
    commands = commands_of(events)
    clock, urcs, results = Clock(), [], []
    channel = AtChannel(lambda data: None, clock, on_urc=urcs.append)
    issued = 0
    for i, (direction, data) in enumerate(events):
        while issued < len(commands) and commands[issued][0] <= i:
            _, command, payload = commands[issued]
            if command.upper().startswith("AT+CMGS") and payload is None:
                payload = ""  # the capture ended before the PDU was written
            channel.command(command, timeout=1e6, payload=payload,
                            prompt_timeout=1e6).addBoth(results.append)
            issued += 1
        if direction == "<-":
            channel.data_received(data)
    modem_bytes = b"".join(d for direction, d in events if direction == "<-")
    assert all(isinstance(r, AtResponse) or r.check(AtError) for r in results)
    assert len(results) == len(commands) - (1 if channel.busy else 0), path.name
    assert len([u for u in urcs if u.name in ("+CMTI", "+CDSI", "+CMT", "+CDS")]) == \
        len(URC_RE.findall(modem_bytes))
    mrs = [line for r in results if isinstance(r, AtResponse) for line in r.lines
           if line.startswith("+CMGS: ")]
    assert len(mrs) == modem_bytes.count(b"+CMGS: ")
