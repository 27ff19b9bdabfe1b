"""One modem's state machine on an injected clock.

    NEW -> PROBING/INITIALISING -> READY <-> SENDING
                                   READY <-> DEGRADED (no signal / not registered: not used)
    any failure -> RECOVERING: re-init -> reopen -> AT+CFUN=1,1 -> QUARANTINED (exponential
    backoff) -> again; GONE while the port is lost; FAILED for what needs a person (wrong PIN,
    PUK); DISABLED by the operator.

The modem is named by its IMEI, and its SIM by IMSI/ICCID, never by the device path: a reset
can bring the same modem back as another ttyUSBn. Multi-command jobs (a send, a read + delete,
a health poll, a sweep) run one at a time under a lock, so a status report announced during a
send is read after that send's TP-MR has been committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from twisted.internet import defer, task
from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from modemfarm import modem_receive
from modemfarm.at.channel import AtDisconnected, AtError, AtTimeout, Urc
from modemfarm.cms import CmsClass
from modemfarm.modem_config import ModemConfig, ModemInfo, ModemState, Opener
from modemfarm.modem_init import Health, InitError, initialise, parse_reg_urc, read_health
from modemfarm.modem_send import OutgoingSms, Outcome, RetryLater, send_parts, settle
from modemfarm.pdu import SubmitPdu

log = Logger()

_RECOVERABLE = (AtError, AtTimeout, AtDisconnected, InitError, OSError)


class Modem:
    def __init__(self, path: str, config: ModemConfig, delegate, clock: IReactorTime,
                 opener: Opener) -> None:
        self.path = path
        self.config = config
        self.delegate = delegate
        self.clock = clock
        self.opener = opener
        self.channel = None
        self.state = ModemState.NEW
        self.reason = ""
        self.imei: str | None = None
        self.imsi: str | None = None
        self.iccid: str | None = None
        self.health = Health()
        self.memory = config.storage  # current AT+CPMS mem1
        self.counters: Counter[str] = Counter()
        self.bad_pdus: set = set()
        self.listeners: list[Callable[[Modem], None]] = []
        self.usage_hook: Callable[[Modem, int], Deferred | None] | None = None
        self._lock = DeferredLock()
        self._consecutive = 0
        self._quarantines = 0
        self._bringing_up: Deferred | None = None
        self._timers: dict[str, object] = {}
        self._stopped = False
        self.quarantined_until: float | None = None
        self._generation = 0  # bumps on every (re)open: stale callbacks are ignored

    # -- public ------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Ready, healthy and idle: the pool may give it a message."""
        return self.state is ModemState.READY and not self._lock.locked

    def info(self) -> ModemInfo:
        return ModemInfo(self.path, self.imei, self.imsi, self.iccid, self.state.value,
                         self.health, self.reason, dict(self.counters))

    def start(self) -> None:
        self._stopped = False
        self._bring_up(step=1)

    def stop(self) -> None:
        self._stopped = True
        for name in list(self._timers):
            self._cancel_timer(name)
        if self._bringing_up is not None:
            self._bringing_up.cancel()
        self._close()
        self._set_state(ModemState.STOPPED, "stopped")

    def disable(self) -> None:
        self.stop()
        self._set_state(ModemState.DISABLED, "disabled by the operator")

    def enable(self) -> None:
        """Undo `disable`: start again from a closed port."""
        if self.state is ModemState.DISABLED:
            self._set_state(ModemState.STOPPED, "enabled by the operator")
            self.start()

    def reset(self) -> None:
        """Operator reset: straight to AT+CFUN=1,1 on the ladder."""
        self._bring_up(step=3)

    def send(self, sms: OutgoingSms, pdus: list[SubmitPdu]) -> Deferred:
        """Send all parts (those not in ``sms.done_parts``); fires with an Outcome, never fails."""
        return Deferred.fromCoroutine(self._send(sms, pdus))

    # -- jobs --------------------------------------------------------------------------------
    async def _job(self, fn, *args):
        await self._lock.acquire()
        try:
            return await fn(*args)
        finally:
            self._lock.release()

    async def _send(self, sms: OutgoingSms, pdus: list[SubmitPdu]) -> Outcome:
        if self.state is not ModemState.READY or self.channel is None:
            return RetryLater(f"modem {self.imei} is {self.state.value}", self.config.retry_same_after,
                              sms.modem_id, sms.done_parts, sms.concat_ref)
        self._set_state(ModemState.SENDING)
        try:
            result = await self._job(send_parts, self, sms, pdus)
        finally:
            if self.state is ModemState.SENDING:
                self._set_state(ModemState.READY)
        self.counters["send_" + type(result.outcome).__name__.lower()] += 1
        verdict = result.verdict
        if result.sent_parts and verdict is None and not result.unknown:
            self._consecutive = 0
        if verdict is not None:
            if verdict.cls is CmsClass.MODEM_OUT_OF_SERVICE:
                self._quarantine(verdict.reason)
            elif verdict.check_registration:
                self._later(0, self._poll_health)
            elif verdict.cls is CmsClass.RETRY_SAME_LATER:
                self._trouble(verdict.reason)
        elif result.prompt_timeout or (result.unknown and not result.lost):
            self._trouble(result.outcome.reason)
        return result.outcome

    def _trouble(self, reason: str) -> None:
        """A modem-side failure; repeated ones start recovery."""
        self._consecutive += 1
        if self._consecutive >= self.config.max_consecutive_errors:
            self._consecutive = 0
            self._bring_up(step=0, reason=f"{self.config.max_consecutive_errors} errors: {reason}")

    async def count_usage(self, parts: int) -> None:
        if self.usage_hook is not None:
            await settle(self.usage_hook(self, parts))

    async def select_memory(self, storage: str) -> None:
        if storage != self.memory:
            await self.channel.command(f'AT+CPMS="{storage}"', timeout=10.0)
            self.memory = storage

    async def repair_smsc(self) -> bool:
        """CMS 330: write the configured SMSC address; True if the modem took it."""
        try:
            await self.channel.command(f'AT+CSCA="{self.config.smsc}",145', timeout=5.0)
            self.counters["smsc_repaired"] += 1
            return True
        except (AtError, AtTimeout):
            return False

    # -- lifecycle ---------------------------------------------------------------------------
    def _bring_up(self, step: int, reason: str = "") -> None:
        """Climb the ladder from ``step``: 0 re-init, 1 reopen, 2 reopen again, 3 CFUN reset."""
        if self._stopped or self.state in (ModemState.FAILED, ModemState.DISABLED):
            return
        if self._bringing_up is not None:
            return  # already on the way up
        if reason:
            self.reason = reason
            self.counters["recoveries"] += 1
        self._spawn_up(self._ladder(step))

    def _spawn_up(self, coro) -> None:
        d = Deferred.fromCoroutine(coro)
        d.addErrback(lambda f: f.trap(defer.CancelledError))
        # A coroutine that finished synchronously has already cleared _bringing_up.
        self._bringing_up = None if d.called else d

    async def _ladder(self, step: int) -> None:
        try:
            while not self._stopped:
                self._set_state(ModemState.INITIALISING if step <= 1 and self.state is ModemState.NEW
                                else ModemState.RECOVERING, self.reason)
                try:
                    if step >= 3 and self.channel is not None:
                        await self._cfun_reset()
                    if step >= 1 or self.channel is None:
                        await self._open()
                    await self._job(self._init)
                    self._ready()
                    return
                except InitError as err:
                    if err.wrong_pin:
                        self._close()
                        self._set_state(ModemState.FAILED, err.reason)
                        return
                    if err.permanent:
                        await self._quarantine_wait(err.reason)
                        step = 1
                        continue
                    self.reason = err.reason
                except _RECOVERABLE as err:
                    self.reason = str(err) or type(err).__name__
                step += 1
                if step > 3:
                    await self._quarantine_wait(self.reason)
                    step = 1
        finally:
            self._bringing_up = None

    async def _open(self) -> None:
        self._close()
        self._generation += 1
        gen = self._generation
        result = self.opener(self.path, on_urc=lambda urc: self._on_urc(urc, gen),
                             on_lost=lambda reason: self._on_lost(reason, gen))
        if isinstance(result, Deferred):
            result = await result
        self.channel = result
        self.memory = ""

    def _close(self) -> None:
        channel, self.channel = self.channel, None
        self._generation += 1
        if channel is None:
            return
        close = getattr(channel, "close", None)
        transport = getattr(channel, "transport", None)
        if close is not None:
            close()
        elif transport is not None:
            transport.loseConnection()

    async def _cfun_reset(self) -> None:
        self.counters["cfun_resets"] += 1
        try:
            await self.channel.command("AT+CFUN=1,1", timeout=10.0)
        except _RECOVERABLE:
            pass
        self._close()
        await task.deferLater(self.clock, self.config.reset_wait)

    async def _init(self) -> None:
        identity, health, _usage = await initialise(self.channel, self.config, self.clock)
        if self.imei is not None and identity.imei != self.imei:
            log.warn("path {path}: IMEI changed from {old} to {new}", path=self.path,
                     old=self.imei, new=identity.imei)
            self.counters["identity_changes"] += 1
        if self.imsi is not None and identity.imsi != self.imsi:
            self.counters["sim_changes"] += 1
        self.imei, self.imsi, self.iccid = identity.imei, identity.imsi, identity.iccid
        self.memory = self.config.storage
        self.health = health

    def _ready(self) -> None:
        self._consecutive = 0
        self._quarantines = 0
        self._set_state(ModemState.READY if self.health.usable else ModemState.DEGRADED,
                        "" if self.health.usable else "no signal or not registered")
        self._later(self.config.health_interval, self._poll_health)
        self._later(0, self._sweep)

    async def _quarantine_wait(self, reason: str) -> None:
        delay = min(self.config.quarantine_base * 2 ** self._quarantines, self.config.quarantine_max)
        self._quarantines += 1
        self.counters["quarantines"] += 1
        self._close()
        self._set_state(ModemState.QUARANTINED, f"{reason} (retry in {delay:.0f}s)")
        self.quarantined_until = self.clock.seconds() + delay
        await task.deferLater(self.clock, delay)

    def _quarantine(self, reason: str) -> None:
        if self._bringing_up is None and not self._stopped:
            self._spawn_up(self._quarantine_then_up(reason))

    async def _quarantine_then_up(self, reason: str) -> None:
        try:
            await self._quarantine_wait(reason)
        finally:
            self._bringing_up = None
        self._bring_up(step=1)

    # -- periodic work -----------------------------------------------------------------------
    def _later(self, delay: float, fn) -> None:
        name = fn.__name__
        self._cancel_timer(name)
        self._timers[name] = self.clock.callLater(delay, self._run_periodic, fn)

    def _cancel_timer(self, name: str) -> None:
        call = self._timers.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    def _run_periodic(self, fn) -> None:
        self._timers.pop(fn.__name__, None)
        if self._stopped or self.channel is None or self._bringing_up is not None:
            return
        d = Deferred.fromCoroutine(fn())
        d.addErrback(self._periodic_failed, fn.__name__)

    def _periodic_failed(self, failure, what: str) -> None:
        if failure.check(*_RECOVERABLE):
            self._bring_up(step=0 if failure.check(AtError) else 1,
                           reason=f"{what}: {failure.getErrorMessage()}")
        else:
            log.failure("modem {imei}: {what} failed", failure, imei=self.imei, what=what)

    async def _poll_health(self) -> None:
        health, echoed = await self._job(lambda: read_health(self.channel, self.clock.seconds()))
        self.health = health
        if echoed:
            self._bring_up(step=0, reason="echo came back on: the modem rebooted")
            return
        if self.state is ModemState.READY and not health.usable:
            self._set_state(ModemState.DEGRADED, "no signal or not registered")
        elif self.state is ModemState.DEGRADED and health.usable:
            self._set_state(ModemState.READY, "")
        self._later(self.config.health_interval, self._poll_health)

    async def _sweep(self) -> None:
        await self._job(modem_receive.sweep, self)
        self._later(self.config.sweep_interval, self._sweep)

    # -- unsolicited -------------------------------------------------------------------------
    def _on_urc(self, urc: Urc, gen: int) -> None:
        if gen != self._generation or self._stopped:
            return
        self.counters["urcs"] += 1
        name = urc.name.upper()
        if name in ("+CMTI", "+CDSI"):
            slot = modem_receive.parse_slot(urc.args)
            if slot is not None:
                self._background(self._job(modem_receive.read_slot, self, *slot), name)
        elif name in ("+CMT", "+CDS") and urc.pdu:
            self._background(self._job(modem_receive.direct, self, urc.pdu), name)
        elif name in ("+CREG", "+CEREG"):
            stat = parse_reg_urc(urc.args)
            setattr(self.health, name[1:].lower(), stat)
        elif name == "+CMGS" and urc.late:
            self.counters["late_mr"] += 1
            log.warn("modem {imei}: late +CMGS {args} after a timeout", imei=self.imei,
                     args=urc.args)
        elif name in self.config.reboot_urcs:
            if name == "+CPIN" and "READY" not in urc.args.upper():
                return
            if self.state in (ModemState.READY, ModemState.SENDING, ModemState.DEGRADED):
                self.counters["reboots"] += 1
                self._bring_up(step=0, reason=f"spontaneous {urc.name}: the modem rebooted")

    def _background(self, coro, what: str) -> None:
        d = Deferred.fromCoroutine(coro)
        d.addErrback(self._periodic_failed, what)

    def _on_lost(self, reason, gen: int) -> None:
        if gen != self._generation or self._stopped:
            return
        self.channel = None
        self._set_state(ModemState.GONE, f"port lost: {reason.getErrorMessage()}")
        self._bring_up(step=1, reason="port lost")

    def _set_state(self, state: ModemState, reason: str | None = None) -> None:
        changed = state is not self.state
        self.state = state
        if reason is not None:
            self.reason = reason
        if changed:
            for listener in list(self.listeners):
                listener(self)


def serial_opener(reactor, clock: IReactorTime, **serial_options) -> Opener:
    """The production opener: an `AtChannel` on a real pyserial port (non-blocking)."""
    from modemfarm.at.channel import AtChannel
    from modemfarm.serialport import open_serial

    def open_port(path: str, *, on_urc, on_lost):
        channel = AtChannel(clock=clock, on_urc=on_urc, on_lost=on_lost)
        open_serial(path, channel, reactor, **serial_options)
        return channel

    return open_port


__all__ = ["Modem", "ModemConfig", "ModemInfo", "ModemState", "Opener", "serial_opener"]
