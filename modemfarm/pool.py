"""The rack as one upstream: ``send(sms) -> Deferred[Sent | RetryLater | Failed]``, start/stop, load().

A send waits (up to ``queue_timeout``) in a FIFO for a modem that is READY and idle, has a
throughput token (token bucket per modem, default 10/min with a small burst, LESSONS #9), and
whose SIM is under its daily and monthly caps. With ``sticky`` the same recipient keeps the
same SIM while that modem is healthy. Per-SIM counters are loaded from and written through the
delegate (``load_usage`` / ``add_usage``) so that the engine keeps them in its database.

Modems are listed by stable path (/dev/serial/by-id/...) or discovered by globbing; when a
modem comes back under a new path, the IMEI says it is the same one and the stale entry goes.
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import itertools
from collections import OrderedDict, deque
from dataclasses import dataclass, replace

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from modemfarm.modem import Modem, ModemConfig, ModemState, Opener
from modemfarm.modem_send import Failed, OutgoingSms, RetryLater, Sent, settle
from modemfarm.pdu import PduError, encode_message

log = Logger()
IDLE_RECHECK = 0.5  # seconds between looks for a free modem while sends wait


@dataclass
class PoolConfig:
    rate_per_minute: float = 10.0
    burst: int = 2
    daily_cap: int | None = None
    monthly_cap: int | None = None
    sticky: bool = False
    sticky_size: int = 100_000
    queue_timeout: float = 60.0
    max_waiting: int = 1000
    retry_after: float = 30.0
    rescan_interval: float = 30.0
    profile: object | None = None  # protocols.sms.TextProfile; None = gsm7/ucs2, udh8
    sca: str | None = None  # None: the modem's own SMSC ("00")
    validity_s: float | None = None
    concat_bits: int = 8


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; a take may leave a debt (multipart)."""

    def __init__(self, clock: IReactorTime, rate: float, burst: float) -> None:
        self.clock, self.rate, self.burst = clock, rate, max(burst, 1.0)
        self.tokens = self.burst
        self.stamp = clock.seconds()

    def _refill(self) -> None:
        now = self.clock.seconds()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def ready(self) -> bool:
        self._refill()
        return self.tokens >= 1.0 - 1e-9

    def take(self, count: int) -> None:
        self._refill()
        self.tokens -= count

    def wait_time(self) -> float:
        self._refill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass
class _Usage:
    day_key: str
    month_key: str
    day: int = 0
    month: int = 0
    loaded: bool = False


class _Waiter:
    __slots__ = ("sms", "pdus", "deferred", "timer")

    def __init__(self, sms: OutgoingSms, pdus: list, deferred: Deferred) -> None:
        self.sms, self.pdus, self.deferred, self.timer = sms, pdus, deferred, None


class ModemPool:
    def __init__(self, config: PoolConfig, modem_config: ModemConfig, delegate,
                 clock: IReactorTime, opener: Opener, *, paths: tuple[str, ...] = (),
                 glob: str | None = None) -> None:
        self.config = config
        self.modem_config = modem_config
        self.delegate = delegate
        self.clock = clock
        self.opener = opener
        self.glob = glob
        self.modems: list[Modem] = []
        self._paths = list(paths)
        self._buckets: dict[str, TokenBucket] = {}
        self._usage: dict[str, _Usage] = {}
        self._sticky: OrderedDict[str, str] = OrderedDict()
        self._last_used: dict[str, float] = {}
        self._waiting: deque[_Waiter] = deque()
        self._in_flight = 0
        self._refs = itertools.count(int(clock.seconds()) & 0xFFFF)
        self._pump_call = None
        self._rescan_call = None
        self.running = False

    # -- upstream contract -------------------------------------------------------------------
    def start(self) -> None:
        self.running = True
        for path in self._paths:
            self._add(path)
        if self.glob:
            self.rescan()

    def stop(self) -> None:
        self.running = False
        for call in (self._pump_call, self._rescan_call):
            if call is not None and call.active():
                call.cancel()
        for modem in self.modems:
            modem.stop()
        while self._waiting:
            self._resolve(self._waiting.popleft(), RetryLater("modem pool stopped", self.config.retry_after))

    def ready_now(self) -> int:
        """Modems that could start a send this instant (idle, usable, a throughput token in hand)
        minus sends already waiting: what an engine should hand over now, so that sends do not
        queue here for minutes (and every pump does not scan the rack once per waiting send)."""
        ready = sum(1 for m in self.modems
                    if m.imei and m.available and self._under_cap(m, 1) and self._bucket(m.imei).ready())
        return max(0, ready - len(self._waiting))

    def load(self) -> float:
        """Work per usable modem: (in flight + waiting) / usable; > 1 means a backlog."""
        usable = sum(1 for m in self.modems if m.state in (ModemState.READY, ModemState.SENDING))
        return (self._in_flight + len(self._waiting)) / max(usable, 1)

    def send(self, sms: OutgoingSms) -> Deferred:
        d: Deferred = Deferred()
        if not self.running:
            d.callback(RetryLater("modem pool not running", self.config.retry_after))
            return d
        ref = sms.concat_ref
        if ref is None:
            ref = next(self._refs) & (0xFF if self.config.concat_bits == 8 else 0xFFFF)
            sms = replace(sms, concat_ref=ref)
        try:
            pdus = encode_message(
                sms.destination, sms.text, self.config.profile, reference=ref,
                sca=self.config.sca, status_report=sms.status_report,
                validity=_validity(sms.validity_s if sms.validity_s is not None
                                   else self.config.validity_s))
        except (PduError, ValueError) as exc:
            d.callback(Failed(f"cannot encode: {exc}"))
            return d
        return self.send_encoded(sms, pdus, d)

    def send_encoded(self, sms: OutgoingSms, pdus: list, d: Deferred | None = None) -> Deferred:
        """Queue parts already encoded by the caller (the engine splits per its own text
        profile and hands over one SMS-SUBMIT at a time); same outcomes as `send`."""
        d = Deferred() if d is None else d
        if not self.running:
            d.callback(RetryLater("modem pool not running", self.config.retry_after))
            return d
        if len(self._waiting) >= self.config.max_waiting:
            d.callback(RetryLater("modem pool queue full", self.config.retry_after))
            return d
        waiter = _Waiter(sms, pdus, d)
        waiter.timer = self.clock.callLater(self.config.queue_timeout, self._expire, waiter)
        self._waiting.append(waiter)
        self._pump()
        return d

    # -- picking -----------------------------------------------------------------------------
    def _pump(self) -> None:
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
        next_wake: float | None = None
        ready: set[str] = set()
        for modem in self.modems:
            if modem.imei and modem.available:
                bucket = self._bucket(modem.imei)
                if bucket.ready():
                    ready.add(modem.imei)
                else:
                    wait = bucket.wait_time()
                    next_wake = wait if next_wake is None else min(next_wake, wait)
        # Only a modem free now can take a waiter: a saturated rack (every modem busy or out of
        # tokens, the steady state under load) costs O(modems) per pump, not O(waiters x modems).
        busy: set[str] = set()
        for waiter in list(self._waiting):
            if not ready - busy:
                break
            if waiter not in self._waiting:
                continue  # dispatched by a nested pump (a send that completed at once)
            modem, wake = self._pick(waiter.sms, len(waiter.pdus), busy)
            if modem is None:
                if wake is not None:
                    next_wake = wake if next_wake is None else min(next_wake, wake)
                continue
            self._waiting.remove(waiter)
            busy.add(modem.imei)
            self._dispatch(waiter, modem)
        if self._waiting:
            # A modem busy with a receive job (no state change to wake us) frees up unannounced:
            # look again soon even when no throughput token is what we wait for.
            wake = IDLE_RECHECK if next_wake is None else min(next_wake, IDLE_RECHECK)
            self._pump_call = self.clock.callLater(max(wake, 0.01), self._pump)

    def _pick(self, sms: OutgoingSms, parts: int, busy: set[str]) -> tuple[Modem | None, float | None]:
        """A modem for ``sms`` now, else (None, seconds until a throughput token frees)."""
        candidates = [m for m in self.modems if m.imei and m.imei not in busy]
        if sms.modem_id is not None:
            candidates = [m for m in candidates if m.imei == sms.modem_id]
        elif self.config.sticky:
            owner = self._sticky.get(sms.destination)
            held = [m for m in candidates if m.imei == owner
                    and m.state in (ModemState.READY, ModemState.SENDING)]
            if held:
                candidates = held
        best, wake = None, None
        for modem in candidates:
            if not modem.available or not self._under_cap(modem, parts):
                continue
            bucket = self._bucket(modem.imei)
            if not bucket.ready():
                wait = bucket.wait_time()
                wake = wait if wake is None else min(wake, wait)
                continue
            if best is None or self._last_used.get(modem.imei, 0) < self._last_used.get(best.imei, 0):
                best = modem
        return best, wake

    def _dispatch(self, waiter: _Waiter, modem: Modem) -> None:
        if waiter.timer is not None and waiter.timer.active():
            waiter.timer.cancel()
        todo = len(waiter.pdus) - len(waiter.sms.done_parts)
        self._bucket(modem.imei).take(max(todo, 1))
        self._last_used[modem.imei] = self.clock.seconds()
        self._in_flight += 1
        d = modem.send(waiter.sms, waiter.pdus)
        d.addCallback(self._sent, waiter, modem)
        d.addErrback(lambda f: Failed(f"internal error: {f.getErrorMessage()}"))
        d.addBoth(self._resolve_after, waiter)

    def _sent(self, outcome, waiter: _Waiter, modem: Modem):
        if isinstance(outcome, Sent) and self.config.sticky:
            self._sticky[waiter.sms.destination] = modem.imei
            self._sticky.move_to_end(waiter.sms.destination)
            while len(self._sticky) > self.config.sticky_size:
                self._sticky.popitem(last=False)
        return outcome

    def _resolve_after(self, outcome, waiter: _Waiter):
        self._in_flight -= 1
        self._resolve(waiter, outcome)
        self._pump()

    def _resolve(self, waiter: _Waiter, outcome) -> None:
        if waiter.timer is not None and waiter.timer.active():
            waiter.timer.cancel()
        if not waiter.deferred.called:
            waiter.deferred.callback(outcome)

    def _expire(self, waiter: _Waiter) -> None:
        if waiter in self._waiting:
            self._waiting.remove(waiter)
            self._resolve(waiter, RetryLater("no modem free in time", self.config.retry_after,
                                             waiter.sms.modem_id, waiter.sms.done_parts,
                                             waiter.sms.concat_ref))

    def _bucket(self, imei: str) -> TokenBucket:
        bucket = self._buckets.get(imei)
        if bucket is None:
            bucket = TokenBucket(self.clock, self.config.rate_per_minute / 60.0, self.config.burst)
            self._buckets[imei] = bucket
        return bucket

    # -- per-SIM caps ------------------------------------------------------------------------
    def _keys(self) -> tuple[str, str]:
        today = dt.datetime.fromtimestamp(self.clock.seconds(), dt.timezone.utc)
        return today.strftime("%Y-%m-%d"), today.strftime("%Y-%m")

    def _usage_for(self, modem: Modem) -> _Usage:
        sim = modem.imsi or modem.imei
        day, month = self._keys()
        usage = self._usage.get(sim)
        if usage is None or usage.month_key != month:
            usage = self._usage[sim] = _Usage(day, month)
        elif usage.day_key != day:
            usage.day_key, usage.day = day, 0
        return usage

    def _under_cap(self, modem: Modem, parts: int) -> bool:
        cfg = self.config
        if cfg.daily_cap is None and cfg.monthly_cap is None:
            return True
        usage = self._usage_for(modem)
        if not usage.loaded:
            return False
        if cfg.daily_cap is not None and usage.day + parts > cfg.daily_cap:
            return False
        return cfg.monthly_cap is None or usage.month + parts <= cfg.monthly_cap

    async def _load_usage(self, modem: Modem) -> None:
        usage = self._usage_for(modem)
        loader = getattr(self.delegate, "load_usage", None)
        if usage.loaded:
            return
        if loader is not None:
            day, month = await settle(loader(modem.imsi or modem.imei, usage.day_key, usage.month_key))
            usage.day, usage.month = int(day), int(month)
        usage.loaded = True
        self._pump()

    def _count(self, modem: Modem, parts: int):
        usage = self._usage_for(modem)
        usage.day += parts
        usage.month += parts
        writer = getattr(self.delegate, "add_usage", None)
        if writer is not None:
            return writer(modem.imsi or modem.imei, usage.day_key, usage.month_key, parts)
        return None

    def usage(self, sim: str) -> tuple[int, int] | None:
        u = self._usage.get(sim)
        return (u.day, u.month) if u else None

    # -- membership --------------------------------------------------------------------------
    def _add(self, path: str) -> Modem:
        modem = Modem(path, self.modem_config, self.delegate, self.clock, self.opener)
        modem.usage_hook = self._count
        modem.listeners.append(self._changed)
        self.modems.append(modem)
        modem.start()
        return modem

    def rescan(self) -> list[str]:
        """Glob for new device paths and start a modem on each; returns the new paths."""
        known = {m.path for m in self.modems}
        new = [p for p in sorted(globmod.glob(self.glob or "")) if p not in known]
        for path in new:
            self._add(path)
        if self.running and self.glob:
            self._rescan_call = self.clock.callLater(self.config.rescan_interval, self.rescan)
        return new

    def _changed(self, modem: Modem) -> None:
        if modem.state is ModemState.READY and modem.imei:
            for other in list(self.modems):
                if other is not modem and other.imei == modem.imei:
                    log.info("modem {imei} moved from {old} to {new}", imei=modem.imei,
                             old=other.path, new=modem.path)
                    other.stop()
                    self.modems.remove(other)
            d = Deferred.fromCoroutine(self._load_usage(modem))
            d.addErrback(lambda f: log.failure("loading SIM usage failed", f))
        self._pump()


def _validity(seconds: float | None) -> dt.timedelta | None:
    return None if seconds is None else dt.timedelta(seconds=seconds)
