"""Handlers for the general commands: V.250 basics, errors, SIM, identity, radio, power.

Response strings are re-typed from what real modems print (reference notes §2, transcripts):
``+CSQ: 20,99``, ``+CREG: 0,1``, ``+COPS: 0,0,"SIMNET",7``, ``+CPIN: READY``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modemfarm.simulator.interpreter import SimError, handler
from modemfarm.simulator.state import SIM_ABSENT, SIM_PIN, SIM_PUK, SIM_READY

if TYPE_CHECKING:
    from modemfarm.simulator.device import SimModem


def _int(text: str, low: int, high: int) -> int:
    try:
        value = int(text.strip() or "0")
    except ValueError as exc:
        raise SimError("CME", 50) from exc
    if not low <= value <= high:
        raise SimError("CME", 50)
    return value


def _ints(args: str) -> list[int]:
    try:
        return [int(a) if a.strip() else 0 for a in args.split(",")]
    except ValueError as exc:
        raise SimError("CME", 50) from exc


def require_sim(modem: SimModem, sms: bool = False) -> None:
    """Fail like a real modem when the SIM is absent, locked or still busy after boot/PIN."""
    sim = modem.state.sim
    if sim.state == SIM_ABSENT:
        raise SimError("CMS", 310) if sms else SimError("CME", 10)
    if sim.state == SIM_PIN:
        raise SimError("CMS", 311) if sms else SimError("CME", 11)
    if sim.state == SIM_PUK:
        raise SimError("CMS", 312) if sms else SimError("CME", 12)
    if modem.clock.seconds() < sim.busy_until:
        raise SimError("CMS", 314) if sms else SimError("CME", 14)
    if sms and modem.clock.seconds() < modem.faults.sms_ready_at:
        raise SimError("CMS", 500)


def basic(modem: SimModem, name: str, op: str, args: str) -> list[str]:
    """E, V, Z, &F, I, Q, S-registers and the harmless rest (&C, &D, &W, H, X)."""
    state = modem.state
    if name == "E":
        state.echo = _int(args, 0, 1) == 1
    elif name == "V":
        state.verbose = _int(args, 0, 1) == 1
    elif name in ("Z", "&F"):
        state.echo, state.verbose, state.cmee = True, True, 0
    elif name == "I":
        ident = state.identity
        return [ident.manufacturer, ident.model, f"Revision: {ident.revision}"]
    elif name == "S" or name in ("Q", "&C", "&D", "&W", "H", "X", "&K", "L", "M"):
        return ["000"] if op == "?" else []
    else:
        raise SimError("ERROR")
    return []


@handler("+CMEE")
def cmee(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "?":
        return [f"+CMEE: {modem.state.cmee}"]
    if op == "=?":
        return ["+CMEE: (0-2)"]
    modem.state.cmee = _int(args, 0, 2)
    return []


@handler("+CPIN")
def cpin(modem: SimModem, op: str, args: str) -> list[str]:
    sim = modem.state.sim
    if op == "=?":
        return []
    if sim.state == SIM_ABSENT:
        raise SimError("CME", 10)
    if modem.clock.seconds() < sim.busy_until:
        raise SimError("CME", 14)
    if op == "?":
        return [f"+CPIN: {sim.state}"]
    if op != "=":
        raise SimError("CME", 50)
    values = [a.strip().strip('"') for a in args.split(",")]
    if sim.state == SIM_READY:
        raise SimError("CME", 3)
    expected = sim.pin if sim.state == SIM_PIN else sim.puk
    if values[0] != expected:
        sim.pin_attempts -= 1
        if sim.pin_attempts <= 0:
            sim.state = SIM_PUK
        raise SimError("CME", 16)
    if sim.state == SIM_PUK and len(values) > 1:
        sim.pin = values[1]
    sim.state, sim.pin_attempts = SIM_READY, 3
    sim.busy_until = modem.clock.seconds() + modem.sim_busy_after_pin
    modem.schedule_urc(0.1, "+CPIN: READY")
    return []


@handler("+CFUN")
def cfun(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "?":
        return [f"+CFUN: {modem.state.cfun}"]
    if op == "=?":
        return ["+CFUN: (0,1,4),(0-1)"]
    values = _ints(args)
    fun = values[0]
    if fun not in (0, 1, 4):
        raise SimError("CME", 50)
    if len(values) > 1 and values[1] == 1:
        modem.later(0.05, modem.reboot)
        return []
    modem.state.cfun = fun
    return []


def _identity(attribute: str, needs_sim: bool, prefix: str = "") -> None:
    def answer(modem: SimModem, op: str, args: str) -> list[str]:
        if op == "=?":
            return []
        if needs_sim:
            require_sim(modem)
        value = getattr(modem.state.identity, attribute)
        return [f"{prefix}{value}"]

    return answer


handler("+CGSN", "+GSN")(_identity("imei", False))
handler("+CIMI")(_identity("imsi", True))
handler("+CCID")(_identity("iccid", True, "+CCID: "))
handler("^ICCID")(_identity("iccid", True, "^ICCID: "))
handler("+ICCID")(_identity("iccid", True, "+ICCID: "))
handler("+CGMI", "+GMI")(_identity("manufacturer", False))
handler("+CGMM", "+GMM")(_identity("model", False))
handler("+CGMR", "+GMR")(_identity("revision", False))


@handler("+CNUM")
def cnum(modem: SimModem, op: str, args: str) -> list[str]:
    require_sim(modem)
    return [f'+CNUM: "","{modem.state.identity.msisdn}",145']


@handler("+CSQ")
def csq(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "=?":
        return ["+CSQ: (0-31,99),(0-7,99)"]
    state = modem.state
    rssi = state.rssi if state.cfun == 1 else 99
    return [f"+CSQ: {rssi},{state.ber}"]


def _registration(name: str, attribute: str) -> None:
    def answer(modem: SimModem, op: str, args: str) -> list[str]:
        state = modem.state
        if op == "=?":
            return [f"{name}: (0-2)"]
        if op == "=":
            setattr(state, attribute, _int(args, 0, 2))
            return []
        n = getattr(state, attribute)
        stat = modem.registration_stat()
        extra = ',"00A1","0001F2C3"' if n == 2 and stat in (1, 5) else ""
        return [f"{name}: {n},{stat}{extra}"]

    return answer


handler("+CREG")(_registration("+CREG", "creg_n"))
handler("+CEREG")(_registration("+CEREG", "cereg_n"))
handler("+CGREG")(_registration("+CGREG", "creg_n"))


@handler("+COPS")
def cops(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "=?":
        return [f'+COPS: (2,"{modem.state.operator}","{modem.state.operator[:6]}","00101",7),,(0-4),(0-2)']
    if op == "=":
        return []
    require_sim(modem)
    if modem.registration_stat() not in (1, 5):
        return ["+COPS: 0"]
    return [f'+COPS: 0,0,"{modem.state.operator}",7']


@handler("+CSCS")
def cscs(modem: SimModem, op: str, args: str) -> list[str]:
    if op == "?":
        return [f'+CSCS: "{modem.state.cscs}"']
    if op == "=?":
        return ['+CSCS: ("IRA","GSM","UCS2")']
    value = args.strip().strip('"').upper()
    if value not in ("IRA", "GSM", "UCS2"):
        raise SimError("CME", 50)
    modem.state.cscs = value
    return []


@handler("+CLIP", "+CRC", "+CVHU", "+IFC", "+CSMP", "+CMMS", "+COLP", "+CLAC", "+CSDH", "+CPBS")
def accepted(modem: SimModem, op: str, args: str) -> list[str]:
    """Settings we accept and ignore (their effects are irrelevant to SMS)."""
    return []
