"""One AT command in flight per port, URCs recognised anywhere, recovery after a timeout.

`AtChannel` is a Twisted Protocol (or any object fed with ``data_received``): it queues commands,
writes one at a time, splits the reply stream into echo, prompt, information lines, final result
and URCs, and times each command out on an injected clock. A command ends only at its final result
code (the Kannel "+CPIN: READY" mispairing, LESSONS #15); a URC inside a response is handed to
``on_urc`` and never mixed into the response (python-gsmmodem, LESSONS #16).

After a timeout the channel sends ESC, waits for silence, sends ``AT`` and waits for its final and
for silence again (a drain barrier, so a late OK of the timed-out command cannot be paired with the
next one), then continues with the queue. Late ``+CMGS: <mr>`` lines seen while draining are
reported as ``Urc("+CMGS", ..., late=True)`` so the caller can resolve an unknown outcome.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from modemfarm.at import parser

ESC = b"\x1b"
CTRL_Z = b"\x1a"
MAX_LINE = 4096

log = Logger()


@dataclass
class AtResponse:
    """A successful reply: information lines (echo removed) and the final result line."""

    command: str
    lines: list[str]
    final: str = "OK"
    echoed: bool = False  # the modem echoed the command (echo is on: maybe it rebooted)


@dataclass
class Urc:
    """An unsolicited result: ``+CMTI`` with args ``"SM",3``; ``pdu`` for +CMT / +CDS."""

    name: str
    args: str = ""
    pdu: str | None = None
    line: str = ""
    late: bool = False  # a line of a timed-out command, seen while draining


class AtError(Exception):
    """A command ended with an error result: kind is ERROR, CMS or CME; code may be None."""

    def __init__(self, kind: str, code: int | None, text: str, command: str = "",
                 lines: list[str] | None = None) -> None:
        super().__init__(f"{command}: {kind} {code if code is not None else ''} {text}".strip())
        self.kind = kind
        self.code = code
        self.text = text
        self.command = command
        self.lines = lines or []


class AtTimeout(Exception):
    """No final result in time. ``stage`` is "prompt" or "response"; ``payload_sent`` tells
    whether the PDU reached the modem (if so, the outcome of a send is unknown)."""

    def __init__(self, command: str, stage: str, payload_sent: bool, lines: list[str]) -> None:
        super().__init__(f"{command}: timeout waiting for {stage}")
        self.command = command
        self.stage = stage
        self.payload_sent = payload_sent
        self.lines = lines


class AtDisconnected(Exception):
    """The port went away (or was never connected) while the command was queued or in flight."""


@dataclass
class _Pending:
    command: str
    timeout: float
    payload: str | None
    prompt_timeout: float
    deferred: Deferred = field(repr=False)
    prefixes: frozenset[str] = frozenset()
    numeric: bool = False
    lines: list[str] = field(default_factory=list)
    echoed: bool = False
    awaiting_prompt: bool = False
    payload_sent: bool = False
    timer: IDelayedCall | None = None


class AtChannel(Protocol):
    """Command queue and reply splitter for one modem port."""

    def __init__(
        self,
        transport_writer: Any = None,
        clock: IReactorTime | None = None,
        on_urc: Callable[[Urc], None] | None = None,
        *,
        on_lost: Callable[[Failure], None] | None = None,
        drain_quiet: float = 0.2,
        recovery_timeout: float = 3.0,
    ) -> None:
        if clock is None:
            raise TypeError("AtChannel needs a clock (IReactorTime)")
        self._writer = transport_writer
        self.clock = clock
        self.on_urc = on_urc or (lambda urc: None)
        self.on_lost = on_lost
        self.drain_quiet = drain_quiet
        self.recovery_timeout = recovery_timeout
        self._queue: deque[_Pending] = deque()
        self._current: _Pending | None = None
        self._buffer = ""
        self._pdu_urc: tuple[str, str, str] | None = None  # (name, args, line) awaiting its PDU
        self._draining = False
        self._drain_stage = ""
        self._drain_timer: IDelayedCall | None = None
        self._drain_deadline: IDelayedCall | None = None
        self._closed = False
        self.consecutive_timeouts = 0
        self.timeouts = 0
        self.urcs_seen = 0
        self.drain_failures = 0

    # -- transport side ---------------------------------------------------------------------
    def connectionMade(self) -> None:  # noqa: N802 (Twisted API)
        if self._writer is None:
            self._writer = self.transport
        self._pump()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        self.data_received(data)

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: N802
        self.connection_lost(reason)

    def connection_lost(self, reason: Failure | None = None) -> None:
        """Fail everything queued or in flight with AtDisconnected; later commands fail at once."""
        if self._closed:
            return
        self._closed = True
        self._cancel_drain_timers()
        self._draining = False
        pending = ([self._current] if self._current else []) + list(self._queue)
        self._current = None
        self._queue.clear()
        for item in pending:
            self._cancel_timer(item)
            item.deferred.errback(AtDisconnected(f"{item.command}: port lost ({_why(reason)})"))
        if self.on_lost is not None:
            self.on_lost(reason if reason is not None else Failure(AtDisconnected("closed")))

    def _write(self, data: bytes) -> None:
        if self._writer is None:
            raise AtDisconnected("no transport")
        write = getattr(self._writer, "write", self._writer)
        write(data)

    # -- public API -------------------------------------------------------------------------
    def command(self, command: str, timeout: float = 5.0, payload: str | None = None,
                prompt_timeout: float | None = None) -> Deferred:
        """Queue ``command``; fire with AtResponse, or fail with AtError / AtTimeout / AtDisconnected.

        With ``payload`` the channel waits for the ``> `` prompt (``prompt_timeout``, default
        min(timeout, 10 s)), then writes payload + Ctrl-Z and waits ``timeout`` for the final.
        """
        pending = _Pending(
            command=command,
            timeout=timeout,
            payload=payload,
            prompt_timeout=prompt_timeout if prompt_timeout is not None else min(timeout, 10.0),
            deferred=Deferred(lambda d: self._cancel(pending)),
            prefixes=parser.command_prefixes(command),
            numeric=parser.is_basic(command),
        )
        if self._closed:
            pending.deferred.errback(AtDisconnected(f"{command}: port lost"))
            return pending.deferred
        self._queue.append(pending)
        self._pump()
        return pending.deferred

    @property
    def busy(self) -> bool:
        """True while a command is in flight, queued, or the channel is draining."""
        return self._current is not None or bool(self._queue) or self._draining

    def queued(self) -> int:
        return len(self._queue) + (1 if self._current else 0)

    # -- queue ------------------------------------------------------------------------------
    def _pump(self) -> None:
        if self._current is not None or self._draining or self._closed or not self._queue:
            return
        if self._writer is None:  # not connected yet: connectionMade pumps
            return
        pending = self._queue.popleft()
        self._current = pending
        pending.awaiting_prompt = pending.payload is not None
        wait = pending.prompt_timeout if pending.awaiting_prompt else pending.timeout
        pending.timer = self.clock.callLater(wait, self._on_timeout, pending)
        self._write(pending.command.encode("latin-1") + b"\r")

    def _finish(self, pending: _Pending, result: Any) -> None:
        self._cancel_timer(pending)
        if self._current is pending:
            self._current = None
        if isinstance(result, Exception):
            pending.deferred.errback(result)
        else:
            pending.deferred.callback(result)
        self._pump()

    def _cancel(self, pending: _Pending) -> None:
        """Deferred.cancel(): drop a queued command; a command in flight is abandoned and drained."""
        if pending in self._queue:
            self._queue.remove(pending)
            return
        if self._current is pending:
            self._cancel_timer(pending)
            self._current = None
            self._start_drain()
        # the Deferred machinery errbacks with CancelledError itself

    @staticmethod
    def _cancel_timer(pending: _Pending) -> None:
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.timer = None

    # -- timeouts and recovery --------------------------------------------------------------
    def _on_timeout(self, pending: _Pending) -> None:
        pending.timer = None
        if self._current is not pending:
            return
        self.timeouts += 1
        self.consecutive_timeouts += 1
        stage = "prompt" if pending.awaiting_prompt else "response"
        self._current = None
        self._start_drain()
        pending.deferred.errback(
            AtTimeout(pending.command, stage, pending.payload_sent, list(pending.lines))
        )

    def _start_drain(self) -> None:
        """ESC, silence, ``AT``, its final, silence: then the queue goes on."""
        self._draining = True
        self._drain_stage = "quiet-esc"  # the partial line is kept: it may be a URC's first half
        self._write(ESC)
        self._drain_deadline = self.clock.callLater(self.recovery_timeout, self._end_drain)
        self._arm_quiet()

    def _arm_quiet(self) -> None:
        if self._drain_timer is not None and self._drain_timer.active():
            self._drain_timer.cancel()
        self._drain_timer = self.clock.callLater(self.drain_quiet, self._on_quiet)

    def _on_quiet(self) -> None:
        self._drain_timer = None
        if self._drain_stage == "quiet-esc":
            self._drain_stage = "await-final"
            self._write(b"AT\r")
        elif self._drain_stage == "quiet-end":
            self._end_drain()

    def _end_drain(self) -> None:
        if not self._draining:
            return
        if self._drain_stage == "await-final":
            self.drain_failures += 1  # the modem did not even answer AT: the caller escalates
        self._cancel_drain_timers()
        self._draining = False
        self._drain_stage = ""
        self._pump()

    def _cancel_drain_timers(self) -> None:
        for timer in (self._drain_timer, self._drain_deadline):
            if timer is not None and timer.active():
                timer.cancel()
        self._drain_timer = self._drain_deadline = None

    def _drain_line(self, line: str) -> None:
        final = parser.classify_final(line, numeric=True)
        if final is not None and self._drain_stage == "await-final":
            self._drain_stage = "quiet-end"
        elif parser.line_prefix(line) == "+CMGS":
            self._emit(Urc("+CMGS", parser.urc_args(line), None, line, late=True))
        if self._drain_stage != "await-final":
            self._arm_quiet()

    # -- receive side -----------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        """Feed raw bytes from the modem."""
        if self._closed:
            return
        self._buffer += data.decode("latin-1")
        while True:
            cut = _first_eol(self._buffer)
            if cut < 0:
                break
            line, self._buffer = self._buffer[:cut], self._buffer[cut + 1:]
            if line.strip(" \x00"):
                self._line(line.strip(" \x00"))
        if len(self._buffer) > MAX_LINE:
            log.warn("AT line longer than {n} bytes dropped", n=MAX_LINE)
            self._buffer = ""
        current = self._current
        if current is not None and current.awaiting_prompt and parser.is_prompt(self._buffer):
            self._buffer = ""
            self._on_prompt(current)
        elif self._draining and self._drain_stage != "await-final" and data:
            self._arm_quiet()

    def _line(self, line: str) -> None:
        if self._pdu_urc is not None:
            name, args, header = self._pdu_urc
            self._pdu_urc = None
            if parser.is_hex(line):
                self._emit(Urc(name, args, line.strip(), header))
                return
            self._emit(Urc(name, args, None, header))
        current = self._current
        if parser.is_prompt(line):
            if current is not None and current.awaiting_prompt:
                self._on_prompt(current)
            return
        urc = parser.urc_name(line, current.prefixes if current else frozenset())
        if urc is not None:
            if urc in parser.PDU_URCS:
                self._pdu_urc = (urc, parser.urc_args(line), line)
            else:
                self._emit(Urc(urc, parser.urc_args(line), None, line))
            return
        if self._draining:
            self._drain_line(line)
            return
        if current is None:
            self._unsolicited(line)
            return
        if _is_echo(line, current):
            current.echoed = True
            return
        final = parser.classify_final(line, numeric=current.numeric)
        if final is None:
            current.lines.append(line)
            return
        self._on_final(current, final)

    def _on_final(self, current: _Pending, final: parser.Final) -> None:
        self.consecutive_timeouts = 0
        if final.ok and not current.awaiting_prompt:
            response = AtResponse(current.command, current.lines, final.line, current.echoed)
            self._finish(current, response)
            return
        if final.ok:  # OK before the prompt: the payload was never taken
            self._finish(current, AtError("ERROR", None, f"{final.line} before prompt",
                                          current.command, current.lines))
            return
        self._finish(current, AtError(final.kind, final.code, final.text, current.command,
                                      current.lines))

    def _on_prompt(self, current: _Pending) -> None:
        current.awaiting_prompt = False
        self._cancel_timer(current)
        current.timer = self.clock.callLater(current.timeout, self._on_timeout, current)
        current.payload_sent = True
        assert current.payload is not None
        self._write(current.payload.encode("latin-1") + CTRL_Z)

    def _unsolicited(self, line: str) -> None:
        """A line while nothing is pending: stray finals are dropped, anything else is reported."""
        if parser.classify_final(line, numeric=True) is not None:
            log.debug("stray final result {line!r}", line=line)
            return
        name = parser.line_prefix(line) or line
        self._emit(Urc(name, parser.urc_args(line) if name != line else "", None, line))

    def _emit(self, urc: Urc) -> None:
        self.urcs_seen += 1
        try:
            self.on_urc(urc)
        except Exception:  # a faulty handler must not kill the port
            log.failure("on_urc handler failed for {urc!r}", urc=urc)


def _first_eol(text: str) -> int:
    cr, lf = text.find("\r"), text.find("\n")
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)


def _is_echo(line: str, pending: _Pending) -> bool:
    cleaned = line.replace("\x1a", "").strip().upper()
    if not cleaned:
        return False
    command = pending.command.strip().upper()
    if cleaned == command or cleaned == command * 2:  # some firmware echoes twice (Q1)
        return True
    return pending.payload is not None and cleaned == pending.payload.strip().upper()


def _why(reason: Failure | None) -> str:
    if reason is None:
        return "closed"
    return reason.getErrorMessage()
