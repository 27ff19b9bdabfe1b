"""A small in-process modem behind the AtChannel API (command / on_urc / on_lost), for
state-machine tests on a Clock. The pty simulator (modemfarm/simulator) is the faithful one;
this fake only models what the tests below need, and records every command."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from modemfarm.at.channel import AtDisconnected, AtError, AtResponse, AtTimeout, Urc


class FakeModem:
    def __init__(self, clock: Clock, imei: str = "356938035643809", imsi: str = "001010123456789",
                 iccid: str = "8901260123456789012") -> None:
        self.clock = clock
        self.imei, self.imsi, self.iccid = imei, imsi, iccid
        self.echo = True
        self.sim = "READY"  # READY | SIM PIN | SIM PUK | ABSENT
        self.pin = "1234"
        self.busy_answers = 0  # AT+CPIN? answers CME 14 this many times
        self.csq = (21, 99)
        self.creg = 1
        self.mr = 41
        self.cmgs_script: list = []  # per send: None (ok), ("CMS", code), "hang", "noprompt", "ERROR"
        self.cmgs_delay = 0.0
        self.csca = '"+15550000000",145'
        self.memory: dict[str, dict[int, str]] = {"SM": {}, "SR": {}}
        self.mem1 = "SM"
        self.dead = False  # no answers at all
        self.commands: list[str] = []
        self.payloads: list[str] = []
        self.on_urc = None
        self.on_lost = None
        self.opens = 0
        self.closed = 0
        self.pending: list[Deferred] = []

    # -- opener / channel API ----------------------------------------------------------------
    def opener(self, path: str, *, on_urc, on_lost):
        self.opens += 1
        self.on_urc, self.on_lost = on_urc, on_lost
        return self

    def close(self) -> None:
        self.closed += 1

    def urc(self, name: str, args: str = "", pdu: str | None = None, late: bool = False) -> None:
        self.on_urc(Urc(name, args, pdu, late=late))

    def lose(self) -> None:
        for d in self.pending:
            if not d.called:
                d.errback(AtDisconnected("port lost"))
        self.on_lost(Failure(AtDisconnected("gone")))

    def reboot(self) -> None:
        self.echo = True
        self.mem1 = "SM"

    def command(self, command: str, timeout: float = 5.0, payload: str | None = None,
                prompt_timeout: float | None = None) -> Deferred:
        self.commands.append(command)
        d: Deferred = Deferred()
        self.pending.append(d)
        if self.dead:
            self.clock.callLater(timeout, d.errback, AtTimeout(command, "response", False, []))
            return d
        try:
            result = self._answer(command.upper(), command, payload)
        except AtError as err:
            d.errback(err)
            return d
        if result == "hang":
            self.clock.callLater(timeout, d.errback, AtTimeout(command, "response", True, []))
        elif result == "noprompt":
            self.clock.callLater(prompt_timeout or 10.0, d.errback,
                                 AtTimeout(command, "prompt", False, []))
        elif isinstance(result, tuple):  # (delay, response)
            self.clock.callLater(result[0], d.callback, result[1])
        else:
            d.callback(result)
        return d

    def _ok(self, command: str, lines: list[str] | None = None) -> AtResponse:
        return AtResponse(command, lines or [], "OK", echoed=self.echo)

    def _answer(self, up: str, command: str, payload: str | None):
        if up == "ATE0":
            self.echo = False
            return self._ok(command)
        if up in ("AT", "ATV1", "AT+CMEE=1", "AT+CMGF=0") or up.startswith("AT+CNMI="):
            return self._ok(command)
        if up == "AT+CPIN?":
            if self.busy_answers:
                self.busy_answers -= 1
                raise AtError("CME", 14, "SIM busy", command)
            if self.sim == "ABSENT":
                raise AtError("CME", 10, "SIM not inserted", command)
            return self._ok(command, [f"+CPIN: {self.sim}"])
        if up.startswith("AT+CPIN="):
            if command.split("=", 1)[1].strip('"') != self.pin:
                raise AtError("CME", 16, "incorrect password", command)
            self.sim = "READY"
            return self._ok(command)
        if up == "AT+CGSN":
            return self._ok(command, [self.imei])
        if up == "AT+CIMI":
            return self._ok(command, [self.imsi])
        if up == "AT+CCID":
            return self._ok(command, [f"+CCID: {self.iccid}"])
        if up.startswith("AT+CPMS="):
            self.mem1 = command.split("=", 1)[1].split(",")[0].strip('"')
            used = len(self.memory.get(self.mem1, {}))
            return self._ok(command, [f"+CPMS: {used},30,{used},30,{used},30"])
        if up == "AT+CSCA?":
            return self._ok(command, [f"+CSCA: {self.csca}"])
        if up.startswith("AT+CSCA="):
            self.csca = command.split("=", 1)[1]
            return self._ok(command)
        if up == "AT+CSQ":
            return self._ok(command, [f"+CSQ: {self.csq[0]},{self.csq[1]}"])
        if up == "AT+CREG?":
            return self._ok(command, [f"+CREG: 0,{self.creg}"])
        if up == "AT+CEREG?":
            raise AtError("ERROR", None, "ERROR", command)
        if up == "AT+COPS?":
            return self._ok(command, ['+COPS: 0,0,"Test Net",7'])
        if up.startswith("AT+CMGR="):
            index = int(up.split("=")[1])
            pdu = self.memory[self.mem1].get(index)
            if pdu is None:
                raise AtError("CMS", 321, "invalid memory index", command)
            return self._ok(command, [f"+CMGR: 0,,{len(pdu) // 2 - 8}", pdu])
        if up == "AT+CMGL=4":
            lines = []
            for index, pdu in sorted(self.memory[self.mem1].items()):
                lines += [f"+CMGL: {index},0,,{len(pdu) // 2 - 8}", pdu]
            return self._ok(command, lines)
        if up.startswith("AT+CMGD="):
            self.memory[self.mem1].pop(int(up.split("=")[1]), None)
            return self._ok(command)
        if up == "AT+CFUN=1,1":
            self.reboot()
            return self._ok(command)
        if up.startswith("AT+CMGS="):
            return self._cmgs(command, payload)
        raise AtError("ERROR", None, "ERROR", command)

    def _cmgs(self, command: str, payload: str | None):
        step = self.cmgs_script.pop(0) if self.cmgs_script else None
        if step in ("hang", "noprompt"):
            if step == "hang":
                self.payloads.append(payload)
            return step
        self.payloads.append(payload)
        if step == "ERROR":
            raise AtError("ERROR", None, "ERROR", command)
        if isinstance(step, tuple):
            raise AtError(step[0], step[1], "", command)
        self.mr = (self.mr + 1) & 0xFF
        response = self._ok(command, [f"+CMGS: {self.mr}"])
        return (self.cmgs_delay, response) if self.cmgs_delay else response


class RecordingDelegate:
    """Records calls; ``hold`` makes the persistence callbacks return unfired Deferreds."""

    def __init__(self, hold: bool = False) -> None:
        self.hold = hold
        self.events: list[tuple] = []
        self.held: list[Deferred] = []
        self.usage_loaded: dict[str, tuple[int, int]] = {}
        self.usage_added: list[tuple] = []

    def _answer(self) -> Deferred:
        d: Deferred = Deferred()
        if self.hold:
            self.held.append(d)
        else:
            d.callback(None)
        return d

    def mr_assigned(self, message_ref, modem_id, mr, **kw) -> Deferred:
        self.events.append(("mr", message_ref, modem_id, mr, kw))
        return self._answer()

    def mo_received(self, received) -> Deferred:
        self.events.append(("mo", received))
        return self._answer()

    def status_report(self, event) -> Deferred:
        self.events.append(("report", event))
        return self._answer()

    def load_usage(self, sim, day_key, month_key):
        return self.usage_loaded.get(sim, (0, 0))

    def add_usage(self, sim, day_key, month_key, count):
        self.usage_added.append((sim, day_key, month_key, count))
        return None

    def of(self, kind: str) -> list[tuple]:
        return [e for e in self.events if e[0] == kind]
