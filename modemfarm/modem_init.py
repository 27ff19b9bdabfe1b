"""Bringing one modem to a known state: reply parsers and the init sequence (modem-at.md §1.1).

The sequence is ours, not any vendor's: AT, ATE0, ATV1, AT+CMEE=1, AT+CPIN? (PIN from config,
tried at most once: three wrong PINs lock the SIM), identity (AT+CGSN, AT+CIMI, AT+CCID),
AT+CMGF=0, AT+CPMS, AT+CSCA? (set when empty and configured), AT+CNMI (store and notify, with
status reports), then a first health reading. SIM busy and "SMS not ready" are waited out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twisted.internet import task
from twisted.internet.interfaces import IReactorTime

from modemfarm.at.channel import AtError, AtTimeout
from modemfarm.at.parser import info_params, line_prefix

_DIGITS_RE = re.compile(r"(\d{6,20})")
_ICCID_RE = re.compile(r"([0-9A-Fa-f]{18,22})")


class InitError(Exception):
    """Init could not finish. ``permanent`` errors need a person (PIN rejected, PUK, no SIM);
    the lifecycle quarantines instead of climbing the recovery ladder."""

    def __init__(self, reason: str, *, permanent: bool = False, wrong_pin: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.wrong_pin = wrong_pin


@dataclass
class Identity:
    imei: str
    imsi: str | None = None
    iccid: str | None = None


@dataclass
class Health:
    """Last health reading. ``usable`` = some signal and registered (home or roaming)."""

    rssi: int | None = None
    ber: int | None = None
    creg: int | None = None
    cereg: int | None = None
    operator: str | None = None
    checked_at: float | None = None

    @property
    def has_signal(self) -> bool:
        return self.rssi is not None and 0 < self.rssi <= 31

    @property
    def registered(self) -> bool:
        return self.creg in (1, 5) or self.cereg in (1, 5)

    @property
    def usable(self) -> bool:
        return self.has_signal and self.registered


# -- pure reply parsers ----------------------------------------------------------------------
def _lines_with(lines: list[str], prefix: str) -> list[str]:
    return [line for line in lines if line_prefix(line) == prefix]


def parse_cpin(lines: list[str]) -> str | None:
    """``+CPIN: SIM PIN`` -> "SIM PIN"."""
    found = _lines_with(lines, "+CPIN")
    return found[0].split(":", 1)[1].strip().strip('"').upper() if found else None


def parse_csq(lines: list[str]) -> tuple[int | None, int | None]:
    for line in _lines_with(lines, "+CSQ"):
        params = info_params(line)
        try:
            return int(params[0]), int(params[1]) if len(params) > 1 and params[1] else None
        except ValueError:
            return None, None
    return None, None


def parse_reg(lines: list[str], prefix: str) -> int | None:
    """Registration stat from a solicited ``+CREG: <n>,<stat>[,...]`` (or a bare ``+CREG: <stat>``)."""
    for line in _lines_with(lines, prefix):
        params = info_params(line)
        candidate = params[1] if len(params) >= 2 and params[1].isdigit() else params[0]
        return int(candidate) if candidate.isdigit() else None
    return None


def parse_reg_urc(args: str) -> int | None:
    """Registration stat from an unsolicited ``+CREG: <stat>[,<lac>,<ci>]``."""
    first = args.split(",", 1)[0].strip()
    return int(first) if first.isdigit() else None


def parse_cops(lines: list[str]) -> str | None:
    for line in _lines_with(lines, "+COPS"):
        params = info_params(line)
        return params[2] if len(params) >= 3 and params[2] else None
    return None


def parse_csca(lines: list[str]) -> str | None:
    for line in _lines_with(lines, "+CSCA"):
        value = info_params(line)[0]
        return value or None
    return None


def parse_cpms(lines: list[str]) -> tuple[int, int] | None:
    """(used, total) of the first memory in a ``+CPMS:`` reply (set or query form)."""
    for line in _lines_with(lines, "+CPMS"):
        numbers = [int(p) for p in info_params(line) if p.isdigit()]
        if len(numbers) >= 2:
            return numbers[0], numbers[1]
    return None


def parse_identity(lines: list[str], pattern: re.Pattern = _DIGITS_RE) -> str | None:
    """First run of digits (IMEI/IMSI) in a reply, tolerating ``+CGSN: "…"`` style prefixes."""
    for line in lines:
        match = pattern.search(line)
        if match:
            return match.group(1)
    return None


def parse_stored(lines: list[str], prefix: str) -> list[tuple[int | None, int, str]]:
    """``+CMGL: <index>,<stat>,[alpha],<len>`` / ``+CMGR: <stat>,[alpha],<len>`` headers each
    followed by a PDU line -> [(index or None, stat, pdu)]. Malformed pairs are skipped."""
    out: list[tuple[int | None, int, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line_prefix(line) == prefix and i + 1 < len(lines):
            params = info_params(line)
            pdu = lines[i + 1].strip()
            try:
                if prefix == "+CMGL":
                    out.append((int(params[0]), int(params[1]), pdu))
                else:
                    out.append((None, int(params[0]), pdu))
            except (ValueError, IndexError):
                pass
            i += 2
            continue
        i += 1
    return out


# -- the sequence ----------------------------------------------------------------------------
_BUSY_CME = {14, 515}
_NOT_READY_CMS = {302, 314, 500, 512}


def _busy(err: Exception) -> bool:
    if isinstance(err, AtError):
        if err.kind == "CME" and err.code in _BUSY_CME:
            return True
        if err.kind == "CMS" and err.code in _NOT_READY_CMS:
            return True
        return err.kind == "ERROR" or "BUSY" in (err.text or "").upper()
    return False


async def patient(ch, command: str, clock: IReactorTime, *, timeout: float, tries: int,
                  delay: float, **kw):
    """Run ``command``, retrying while the modem says it is busy / not ready (quirk Q8)."""
    for attempt in range(tries):
        try:
            return await ch.command(command, timeout=timeout, **kw)
        except AtError as err:
            if attempt + 1 >= tries or not _busy(err):
                raise
        await task.deferLater(clock, delay)
    raise AssertionError("unreachable")


async def wake(ch, clock: IReactorTime, tries: int = 4) -> None:
    """``AT`` until the modem answers; a stuck prompt or garbage is drained by the channel."""
    for attempt in range(tries):
        try:
            await ch.command("AT", timeout=2.0)
            return
        except AtError:
            return  # it answered: alive
        except AtTimeout:
            if attempt + 1 >= tries:
                raise InitError("no answer to AT") from None
            await task.deferLater(clock, 0.5)


async def unlock_sim(ch, cfg, clock: IReactorTime) -> None:
    """Wait for ``+CPIN: READY``, entering the configured PIN once when asked for it."""
    pin_sent = False
    for _ in range(cfg.sim_busy_tries):
        try:
            resp = await ch.command("AT+CPIN?", timeout=15.0)
            state = parse_cpin(resp.lines) or "READY"
        except AtError as err:
            if err.kind == "CME" and err.code == 10:
                raise InitError("SIM not inserted", permanent=True) from None
            if err.kind == "CME" and err.code == 13:
                raise InitError("SIM failure", permanent=True) from None
            if not _busy(err):
                raise
            state = "BUSY"
        if state == "READY":
            return
        if state == "SIM PIN":
            if pin_sent:
                raise InitError("SIM still asks for its PIN after the configured one",
                                permanent=True, wrong_pin=True)
            if not cfg.pin:
                raise InitError("SIM PIN required and none configured", permanent=True)
            try:
                await ch.command(f'AT+CPIN="{cfg.pin}"', timeout=15.0)
            except AtError as err:
                if err.kind == "CME" and err.code == 16:
                    raise InitError("SIM PIN rejected", permanent=True, wrong_pin=True) from None
                raise
            pin_sent = True
            continue
        if state in ("SIM PUK", "SIM PUK2", "PH-SIM PIN"):
            raise InitError(f"SIM asks for {state}", permanent=True)
        await task.deferLater(clock, cfg.sim_busy_delay)
    raise InitError("SIM stayed busy")


async def read_identity(ch) -> Identity:
    imei = parse_identity((await ch.command("AT+CGSN", timeout=5.0)).lines)
    if imei is None:
        raise InitError("AT+CGSN gave no IMEI")
    identity = Identity(imei)
    identity.imsi = parse_identity((await ch.command("AT+CIMI", timeout=5.0)).lines)
    try:
        identity.iccid = parse_identity((await ch.command("AT+CCID", timeout=5.0)).lines,
                                        _ICCID_RE)
    except AtError:
        identity.iccid = None  # not every modem has +CCID; the IMSI still names the SIM
    return identity


async def read_health(ch, now: float) -> tuple[Health, bool]:
    """CSQ, CREG?, CEREG? (may be unsupported), COPS?. Returns (health, echo_seen)."""
    health = Health(checked_at=now)
    resp = await ch.command("AT+CSQ", timeout=5.0)
    echoed = resp.echoed
    health.rssi, health.ber = parse_csq(resp.lines)
    health.creg = parse_reg((await ch.command("AT+CREG?", timeout=5.0)).lines, "+CREG")
    try:
        health.cereg = parse_reg((await ch.command("AT+CEREG?", timeout=5.0)).lines, "+CEREG")
    except AtError:
        health.cereg = None
    try:
        health.operator = parse_cops((await ch.command("AT+COPS?", timeout=10.0)).lines)
    except AtError:
        health.operator = None
    return health, echoed


async def initialise(ch, cfg, clock: IReactorTime) -> tuple[Identity, Health, tuple[int, int] | None]:
    """Run the whole sequence; returns identity, a first health reading and SM usage."""
    await wake(ch, clock)
    await ch.command("ATE0", timeout=2.0)
    try:
        await ch.command("ATV1", timeout=2.0)
    except AtError:
        pass
    await ch.command("AT+CMEE=1", timeout=5.0)
    await unlock_sim(ch, cfg, clock)
    identity = await read_identity(ch)
    slow = {"clock": clock, "tries": cfg.sim_busy_tries, "delay": cfg.sim_busy_delay}
    await patient(ch, "AT+CMGF=0", timeout=5.0, **slow)
    mem = cfg.storage
    usage = parse_cpms((await patient(ch, f'AT+CPMS="{mem}","{mem}","{mem}"', timeout=15.0,
                                      **slow)).lines)
    smsc = parse_csca((await patient(ch, "AT+CSCA?", timeout=5.0, **slow)).lines)
    if not smsc and cfg.smsc:
        await ch.command(f'AT+CSCA="{cfg.smsc}",145', timeout=5.0)
    for cnmi in (cfg.cnmi, *cfg.cnmi_fallbacks):
        try:
            await ch.command(f"AT+CNMI={cnmi}", timeout=5.0)
            break
        except AtError:
            continue
    else:
        raise InitError("the modem refused every AT+CNMI setting")
    health, _ = await read_health(ch, clock.seconds())
    return identity, health, usage
