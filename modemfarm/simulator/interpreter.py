"""Line discipline and command dispatch of a simulated modem (V.250 / 27.007 / 27.005).

Bytes from the driver are echoed (when ATE1), collected up to CR, split into basic commands
(``ATE0V1``) and extended ones chained with ``;``, and handed to handlers registered by name in
`commands` and `sms`. A handler returns information lines, raises `SimError`, or returns
`ASYNC` when it will write the final result itself later (AT+CMGS, AT+CFUN=1,1).
URCs raised while a command is in progress are held (CNMI mode 2 behaviour) and flushed after
its final result, unless the `urc_inside_response` fault pushes them inside the response.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modemfarm.simulator.device import SimModem

ESC, CTRL_Z, BACKSPACE = 0x1B, 0x1A, 0x08
MAX_COMMAND = 1024
MAX_PDU = 2 * 200

ASYNC = object()  # a handler's "I will answer later"

CME_TEXT = {
    3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
    11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 14: "SIM busy",
    16: "incorrect password", 21: "invalid index", 30: "no network service",
    50: "incorrect parameters", 100: "unknown", 515: "please wait, init in progress",
}


class SimError(Exception):
    """A command fails: kind CME / CMS / ERROR, formatted per AT+CMEE like a real modem."""

    def __init__(self, kind: str, code: int | None = None) -> None:
        super().__init__(f"{kind} {code}")
        self.kind = kind
        self.code = code


Handler = Callable[["SimModem", str, str], Any]
HANDLERS: dict[str, Handler] = {}


def handler(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler for extended command names such as ``+CSQ``."""

    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name.upper()] = fn
        return fn

    return register


_EXTENDED_RE = re.compile(r"^([+^#$%][A-Za-z0-9_]+)(=\?|\?|=)?")
_BASIC_RE = re.compile(r"^(&?[A-Za-z])(\d*)(=\d*|\?)?")


def split_commands(body: str) -> list[tuple[str, str, str]]:
    """``E0V1+CMEE=1;+CPIN?`` -> [("E","","0"), ("V","","1"), ("+CMEE","=","1"), ("+CPIN","?","")].

    Returns (name, op, args); raises SimError("ERROR") on syntax it does not understand.
    """
    out: list[tuple[str, str, str]] = []
    rest = body
    while rest:
        if rest[0] == ";":
            rest = rest[1:]
            continue
        match = _EXTENDED_RE.match(rest)
        if match:
            name, op = match.group(1).upper(), match.group(2) or ""
            rest = rest[match.end():]
            args, rest = _take_args(rest) if op == "=" else ("", rest)
            out.append((name, op, args))
            continue
        match = _BASIC_RE.match(rest)
        if match:
            name, digits, tail = match.group(1).upper(), match.group(2), match.group(3) or ""
            out.append((name, tail[:1] if tail else "", digits + tail[1:]))
            rest = rest[match.end():]
            continue
        raise SimError("ERROR")
    return out


def _take_args(text: str) -> tuple[str, str]:
    quoted = False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return text[:i], text[i:]
    return text, ""


class Interpreter:
    """The byte-level front end: echo, line editing, PDU entry, response formatting."""

    def __init__(self, modem: SimModem) -> None:
        self.modem = modem
        self.line = bytearray()
        self.mode = "command"  # command | pdu | busy | off
        self.pdu = bytearray()
        self.pdu_length = 0
        self.held_input = bytearray()
        self.held_urcs: list[str] = []
        self.in_command = False

    # -- input ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        modem = self.modem
        if self.mode == "off" or modem.hanging():
            return
        if self.mode == "busy":
            self.held_input += data
            return
        echo = bytearray()
        for i, byte in enumerate(data):
            if self.mode == "busy":  # a Ctrl-Z or ASYNC command switched us mid-chunk
                self.held_input += data[i:]
                break
            if self.mode == "pdu":
                self._pdu_byte(byte, echo)
                continue
            if modem.state.echo:
                echo.append(byte)
            if byte == ESC:
                self.line.clear()
            elif byte == BACKSPACE:
                del self.line[-1:]
            elif byte == 0x0D:
                self._flush_echo(echo)
                line, self.line = self.line.decode("latin-1"), bytearray()
                self._command_line(line)
            elif byte != 0x0A and len(self.line) < MAX_COMMAND:
                self.line.append(byte)
        self._flush_echo(echo)

    def _flush_echo(self, echo: bytearray) -> None:
        if echo:
            twice = self.modem.faults.double_echo and echo.endswith(b"\r") and self.mode == "command"
            self.modem.write(bytes(echo))
            if twice:
                self.modem.write(bytes(echo))
            echo.clear()

    def _pdu_byte(self, byte: int, echo: bytearray) -> None:
        if self.modem.state.echo:
            echo.append(byte)
        if byte == ESC:  # 27.005: ESC cancels the send
            self._flush_echo(echo)
            self.mode = "command"
            self.pdu.clear()
            self.modem.cancel_prompt()
            self.final_ok()
        elif byte == CTRL_Z:
            self._flush_echo(echo)
            pdu, self.pdu = self.pdu.decode("latin-1").strip(), bytearray()
            self.mode = "busy"
            self.modem.submit_pdu(pdu, self.pdu_length)
        elif byte not in (0x0D, 0x0A) and len(self.pdu) < MAX_PDU * 2:
            self.pdu.append(byte)

    def _command_line(self, raw: str) -> None:
        at = raw.upper().find("AT")
        if at < 0:
            return  # modems ignore what does not start with AT
        body = raw[at + 2:].strip()
        self.in_command = True
        lines: list[str] = []
        try:
            for name, op, args in split_commands(body):
                result = self._dispatch(name, op, args)
                if result is ASYNC:
                    self._write_lines(lines)
                    return
                lines.extend(result or [])
        except SimError as exc:
            self._write_lines(lines)
            self.final_error(exc)
            return
        self._write_lines(lines)
        self.final_ok()

    def _dispatch(self, name: str, op: str, args: str) -> Any:
        from modemfarm.simulator import commands  # registers basic handlers

        if name[0] not in "+^#$%":
            return commands.basic(self.modem, name, op, args)
        fn = HANDLERS.get(name)
        if fn is None:
            raise SimError("ERROR")
        return fn(self.modem, op, args)

    # -- output --------------------------------------------------------------------------------
    def _write_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        if self.modem.state.verbose:
            self.modem.write(b"".join(b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines))
        else:
            self.modem.write(b"".join(line.encode("latin-1") + b"\r\n" for line in lines))

    def _final(self, text: str, numeric: str) -> None:
        if self.modem.faults.urc_inside_response and self.held_urcs:
            self._release_urcs()
        if self.modem.state.verbose:
            self.modem.write(b"\r\n" + text.encode("latin-1") + b"\r\n")
        else:
            self.modem.write(numeric.encode() + b"\r")
        self.in_command = False
        if self.mode == "busy":
            self.mode = "command"
        if not self.modem.faults.urc_inside_response:
            self._release_urcs()
        if self.held_input:
            held, self.held_input = bytes(self.held_input), bytearray()
            self.feed(held)

    def final_ok(self) -> None:
        self._final("OK", "0")

    def final_error(self, exc: SimError) -> None:
        state = self.modem.state
        if exc.kind == "CMS" and exc.code is not None:
            text = f"+CMS ERROR: {exc.code}"
        elif exc.kind == "CME" and exc.code is not None and state.cmee == 1:
            text = f"+CME ERROR: {exc.code}"
        elif exc.kind == "CME" and exc.code is not None and state.cmee == 2:
            text = f"+CME ERROR: {CME_TEXT.get(exc.code, 'unknown')}"
        else:
            text = "ERROR"
        self._final(text, "4")

    def start_pdu(self, length: int) -> None:
        """AT+CMGS accepted: from now on bytes are the PDU (the prompt may come later)."""
        self.mode = "pdu"
        self.pdu_length = length
        self.pdu.clear()

    def write_prompt(self, prompt: str) -> None:
        if self.mode == "pdu" and prompt:
            self.modem.write(prompt.encode())

    def urc(self, text: str) -> None:
        """Emit an unsolicited result now, or hold it while a command is in progress."""
        if self.mode == "off":
            return
        if self.in_command or self.mode in ("pdu", "busy") or self.modem.faults.urc_inside_response:
            self.held_urcs.append(text)
            return
        self.modem.write(b"\r\n" + text.encode("latin-1") + b"\r\n")

    def urc_now(self, text: str) -> None:
        """Emit a URC immediately whatever the link state (the early status report race)."""
        if self.mode != "off":
            self.modem.write(b"\r\n" + text.encode("latin-1") + b"\r\n")

    def _release_urcs(self) -> None:
        held, self.held_urcs = self.held_urcs, []
        for text in held:
            self.modem.write(b"\r\n" + text.encode("latin-1") + b"\r\n")

    def reset(self) -> None:
        """Power cycle: forget partial input, held URCs and the PDU being typed."""
        self.line.clear()
        self.pdu.clear()
        self.held_input.clear()
        self.held_urcs.clear()
        self.in_command = False
        self.mode = "command"
