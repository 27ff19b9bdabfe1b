"""27.005 SMS commands (PDU mode) and the message flows of a simulated modem.

Sending: AT+CMGS=<n> -> prompt -> PDU + Ctrl-Z -> (network latency) -> ``+CMGS: <mr>`` with the
MR counter wrapping at 256, status reports scheduled per the network's plan. Receiving: MO and
status reports routed per AT+CNMI (<mt>: store silently / store + +CMTI / +CMT with the PDU;
<ds>: +CDS with the PDU / store in SR + +CDSI), held back by the network while memory is full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modemfarm.simulator import pdu_sim
from modemfarm.simulator.commands import require_sim
from modemfarm.simulator.interpreter import ASYNC, SimError, handler
from modemfarm.simulator.network import ReportPlan
from modemfarm.simulator.state import REC_READ, REC_UNREAD

if TYPE_CHECKING:
    from modemfarm.simulator.device import SimModem

MEMORIES = ("SM", "ME", "SR")


@dataclass
class SentMessage:
    """One submit the simulated network accepted (what the benchmark and tests look at)."""

    imei: str
    mr: int
    destination: str
    text: str
    concat: tuple[int, int, int] | None
    srr: bool
    pdu: str
    at: float
    reports: list[int]


@handler("+CMGF")
def cmgf(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "?":
        return [f"+CMGF: {modem.state.cmgf}"]
    if op == "=?":
        return ["+CMGF: (0,1)"]
    if args.strip() not in ("0", "1"):
        raise SimError("CMS", 302)
    modem.state.cmgf = int(args)
    return []


@handler("+CSMS")
def csms(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "?":
        return [f"+CSMS: {modem.state.csms},1,1,1"]
    if op == "=?":
        return ["+CSMS: (0,1)"]
    if args.strip() not in ("0", "1"):
        raise SimError("CMS", 302)
    modem.state.csms = int(args)
    return ["+CSMS: 1,1,1"]


@handler("+CNMI")
def cnmi(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "?":
        return ["+CNMI: " + ",".join(str(v) for v in modem.state.cnmi)]
    if op == "=?":
        return ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"]
    require_sim(modem, sms=True)
    values = [v.strip() for v in args.split(",")]
    limits = [(0, 2), (0, 3), (0, 2), (0, 2), (0, 1)]
    if not 1 <= len(values) <= 5:
        raise SimError("CMS", 302)
    new = list(modem.state.cnmi)
    for i, text in enumerate(values):
        if not text:
            continue
        if not text.isdigit() or not limits[i][0] <= int(text) <= limits[i][1]:
            raise SimError("CMS", 302)
        new[i] = int(text)
    modem.state.cnmi = new
    return []


@handler("+CPMS")
def cpms(modem: SimModem, op: str, args: str) -> list[str]:
    state = modem.state
    if op == "=?":
        return ['+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")']
    require_sim(modem, sms=True)
    if op == "?":
        parts = [f'"{m}",{state.memories[m].used},{state.memories[m].capacity}' for m in state.cpms]
        return ["+CPMS: " + ",".join(parts)]
    names = [a.strip().strip('"').upper() for a in args.split(",")]
    if not 1 <= len(names) <= 3 or any(n not in MEMORIES for n in names):
        raise SimError("CMS", 302)
    if any(n == "SR" for n in names[1:]):
        raise SimError("CMS", 302)
    for i, name in enumerate(names):
        state.cpms[i] = name
    return ["+CPMS: " + ",".join(f"{state.memories[m].used},{state.memories[m].capacity}"
                                 for m in state.cpms)]


@handler("+CSCA")
def csca(modem: SimModem, op: str, args: str) -> list[str]:
    state = modem.state
    if op == "=?":
        return []
    require_sim(modem, sms=True)
    if op == "?":
        if not state.csca or modem.faults.csca_required:
            return ['+CSCA: "",129']
        return [f'+CSCA: "{state.csca}",145']
    number = args.split(",")[0].strip().strip('"')
    if not number:
        raise SimError("CMS", 304)
    state.csca = number
    modem.faults.csca_required = False
    return []


@handler("+CMGS")
def cmgs(modem: SimModem, op: str, args: str) -> object:
    if op == "=?":
        return []
    if op != "=":
        raise SimError("CMS", 302)
    if modem.state.cmgf != 0:
        raise SimError("CMS", 302)  # this simulator speaks PDU mode only
    require_sim(modem, sms=True)
    try:
        length = int(args.split(",")[0])
    except ValueError as exc:
        raise SimError("CMS", 304) from exc
    if not 7 <= length <= 180:
        raise SimError("CMS", 304)
    modem.sms.start_send(length)
    return ASYNC


def _memory(modem: SimModem, slot: int = 0):
    return modem.state.memories[modem.state.cpms[slot]]


def _index(args: str, capacity: int) -> int:
    try:
        index = int(args.split(",")[0])
    except ValueError as exc:
        raise SimError("CMS", 321) from exc
    if not 1 <= index <= capacity:
        raise SimError("CMS", 321)
    return index


@handler("+CMGR")
def cmgr(modem: SimModem, op: str, args: str) -> list[str]:
    if op != "=":
        return []
    require_sim(modem, sms=True)
    memory = _memory(modem)
    stored = memory.read(_index(args, memory.capacity))
    if stored is None:
        raise SimError("CMS", 321)
    lines = [f"+CMGR: {stored.stat},,{pdu_sim.tpdu_length(stored.pdu)}", stored.pdu]
    if stored.stat == REC_UNREAD:
        stored.stat = REC_READ
    return lines


@handler("+CMGL")
def cmgl(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "=?":
        return ["+CMGL: (0-4)"]
    require_sim(modem, sms=True)
    try:
        wanted = int(args.strip() or "0")
    except ValueError as exc:
        raise SimError("CMS", 302) from exc
    if not 0 <= wanted <= 4:
        raise SimError("CMS", 302)
    lines = []
    for index, stored in _memory(modem).listing(wanted):
        lines += [f"+CMGL: {index},{stored.stat},,{pdu_sim.tpdu_length(stored.pdu)}", stored.pdu]
        if stored.stat == REC_UNREAD:
            stored.stat = REC_READ
    return lines


@handler("+CMGD")
def cmgd(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "=?":
        return ["+CMGD: (1-30),(0-4)"]
    require_sim(modem, sms=True)
    memory = _memory(modem)
    parts = [p.strip() for p in args.split(",")]
    flag = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if flag == 0:
        memory.delete(_index(parts[0], memory.capacity))
    else:
        doomed = {1: {REC_READ}, 2: {REC_READ, 2, 3}, 3: {REC_READ, 2, 3},
                  4: {REC_READ, REC_UNREAD, 2, 3}}.get(flag)
        if doomed is None:
            raise SimError("CMS", 302)
        for index, stored in list(memory.slots.items()):
            if stored.stat in doomed:
                memory.delete(index)
    modem.later(0, modem.sms.flush_waiting)
    return []


@handler("+CNMA")
def cnma(modem: SimModem, op: str, args: str) -> list[str]:
    return []


class SmsService:
    """Submit, status-report and MO flows of one modem."""

    def __init__(self, modem: SimModem) -> None:
        self.modem = modem
        self.sent: list[SentMessage] = []
        self.waiting: list[tuple[str, str]] = []  # (kind, pdu) the network holds: memory full
        self.dropped_reports = 0
        self._prompt_call = None

    # -- sending -------------------------------------------------------------------------------
    def start_send(self, length: int) -> None:
        modem = self.modem
        modem.interpreter.start_pdu(length)
        prompt, delay = modem.faults.prompt, modem.faults.prompt_delay
        if delay > 0:
            self._prompt_call = modem.later(delay, modem.interpreter.write_prompt, prompt)
        else:
            modem.interpreter.write_prompt(prompt)

    def cancel_prompt(self) -> None:
        if self._prompt_call is not None and self._prompt_call.active():
            self._prompt_call.cancel()
        self._prompt_call = None

    def submit_pdu(self, pdu: str, length: int) -> None:
        """Ctrl-Z received: decide the outcome now, answer after the network latency."""
        modem, faults = self.modem, self.modem.faults
        self.cancel_prompt()
        if faults.hang_next_submit:
            faults.hang_next_submit = False
            return  # never answers; the interpreter stays busy until a reboot
        outcome: int | str | None = faults.submit_errors.popleft() if faults.submit_errors else None
        submit = None
        if outcome is None:
            try:
                submit = pdu_sim.decode_submit(pdu, length)
            except pdu_sim.PduError:
                outcome = 304
        if outcome is None:
            if not modem.state.registered:
                outcome = 331
            elif (not modem.state.csca or faults.csca_required) and submit.sca is None:
                outcome = 330
        delay = faults.cmgs_delay if faults.cmgs_delay is not None else modem.network.latency()
        if outcome is not None:
            delay = min(delay, 1.0)
        modem.later(delay, self._complete, submit, outcome, pdu)

    def _complete(self, submit: pdu_sim.Submit | None, outcome: int | str | None, pdu: str) -> None:
        modem = self.modem
        if modem.interpreter.mode != "busy":
            return  # rebooted or unplugged meanwhile
        if outcome is not None:
            kind = "ERROR" if outcome == "ERROR" else "CMS"
            modem.interpreter.final_error(SimError(kind, None if kind == "ERROR" else int(outcome)))
            return
        assert submit is not None
        mr = modem.state.take_mr()
        now = modem.clock.seconds()
        message = SentMessage(modem.state.identity.imei, mr, submit.destination, submit.text,
                              submit.concat, submit.srr, pdu, now, [])
        self.sent.append(message)
        plan = modem.network.plan_reports(submit.srr)
        if plan is not None and plan.early and plan.statuses:
            self._report(message, plan.statuses[0], early=True)
            plan = ReportPlan(plan.statuses[1:], plan.delays[1:])
        if plan is not None:
            for status, after in zip(plan.statuses, plan.delays, strict=True):
                modem.later(after, self._report, message, status)
        if modem.faults.cmgs_without_mr:
            modem.interpreter.final_ok()
        elif modem.faults.cmgs_split_gap > 0:
            modem.write(f"\r\n+CMGS: {mr}\r\n".encode())
            modem.later(modem.faults.cmgs_split_gap, self._late_ok)
        else:
            modem.write(f"\r\n+CMGS: {mr}\r\n".encode())
            modem.interpreter.final_ok()

    def _late_ok(self) -> None:
        if self.modem.interpreter.mode == "busy":
            self.modem.interpreter.final_ok()

    # -- status reports and MO ---------------------------------------------------------------
    def _report(self, message: SentMessage, status: int, early: bool = False) -> None:
        modem = self.modem
        now = modem.clock.seconds()
        pdu = pdu_sim.encode_status_report(message.mr, message.destination,
                                           pdu_sim.utc(message.at), pdu_sim.utc(now), status,
                                           sca=modem.network.sca)
        message.reports.append(status)
        self.deliver("report", pdu, immediate=early)

    def deliver(self, kind: str, pdu: str, immediate: bool = False) -> bool:
        """Route an incoming MO ("mo") or status report ("report") per CNMI. False if held back."""
        modem = self.modem
        if modem.interpreter.mode == "off" or modem.unplugged:
            self.waiting.append((kind, pdu))
            return False
        mt, ds = modem.state.cnmi[1], modem.state.cnmi[3]
        emit = modem.interpreter.urc_now if immediate else modem.interpreter.urc
        length = pdu_sim.tpdu_length(pdu)
        if kind == "report":
            if ds == 1:
                emit(f"+CDS: {length}\r\n{pdu}")
                return True
            if ds == 0:
                self.dropped_reports += 1
                return True
            memory = modem.state.memories[modem.state.sr_memory]
        else:
            if mt in (2, 3):
                emit(f"+CMT: ,{length}\r\n{pdu}")
                return True
            memory = modem.state.memories[modem.state.cpms[2]]
        index = memory.store(pdu)
        if index is None:
            self.waiting.append((kind, pdu))  # the SMSC retries once memory frees up
            return False
        if kind == "report":
            emit(f'+CDSI: "{memory.name}",{index}')
        elif mt == 1:
            emit(f'+CMTI: "{memory.name}",{index}')
        return True

    def flush_waiting(self) -> None:
        """Memory was freed (AT+CMGD) or the modem came back: deliver what the network held."""
        waiting, self.waiting = self.waiting, []
        for position, (kind, pdu) in enumerate(waiting):
            if not self.deliver(kind, pdu):
                self.waiting.extend(waiting[position + 1:])
                break
