"""Rate limits: a token bucket (per ESME account, per upstream) and an adaptive rate for upstreams.

Why a token bucket: "throughput" as a minimum gap between submits refuses every burst (LESSONS 9).
A bucket of ``burst`` tokens refilled at ``rate`` tokens/second lets a client send ``burst``
messages at once and then ``rate`` per second on average.

Why an adaptive rate: one ESME_RTHROTTLED must not freeze a whole connector for 30 s (LESSONS 8).
:class:`AdaptiveRate` halves the rate of that one upstream when it answers "throttled" and brings it
back linearly over ``recovery_seconds``; the other upstreams are untouched.

Both read time only from the injected ``clock`` (``IReactorTime``: the reactor in production,
``twisted.internet.task.Clock`` in tests). Nothing here schedules calls: callers ask
:meth:`TokenBucket.delay_until_available` and arm their own timer.
"""

from __future__ import annotations

import math

from twisted.internet.interfaces import IReactorTime

# Tokens are floats; after many refills 0.1 * 10 may come out as 0.9999999999999998. A token that
# is short by less than this counts as whole, so a bucket never refuses what it should allow.
_EPSILON = 1e-9


class TokenBucket:
    """``burst`` tokens, refilled continuously at ``rate`` per second; starts full.

    ``try_take`` is on the ingress hot path: one clock read and a few float operations.
    """

    __slots__ = ("_rate", "_burst", "_tokens", "_last", "_clock")

    def __init__(self, rate: float, burst: int, clock: IReactorTime) -> None:
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of tokens per second, got {rate!r}")
        if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
            raise ValueError(f"burst must be an integer >= 1, got {burst!r}")
        self._rate = float(rate)
        self._burst = burst
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock.seconds()

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    def _refill(self) -> float:
        now = self._clock.seconds()
        elapsed = now - self._last
        if elapsed > 0:  # a wall clock stepping backwards adds nothing (and takes nothing)
            tokens = self._tokens + elapsed * self._rate
            self._tokens = tokens if tokens < self._burst else float(self._burst)
        self._last = now
        return self._tokens

    def try_take(self, n: int = 1) -> bool:
        """Take ``n`` tokens if they are all there now; never takes part of them.

        A request larger than the burst (a long message counted per part, say) is granted when
        the bucket is full and leaves it in debt, so it is slow but never refused forever."""
        tokens = self._refill()
        if tokens + _EPSILON >= n or (n > self._burst and tokens + _EPSILON >= self._burst):
            self._tokens = tokens - n
            return True
        return False

    def delay_until_available(self, n: int = 1) -> float:
        """Seconds until ``try_take(n)`` would succeed (0.0 if it would succeed now)."""
        missing = (n if n < self._burst else self._burst) - self._refill()
        if missing <= _EPSILON:
            return 0.0
        return missing / self._rate

    def available(self) -> float:
        """Tokens in the bucket now (for metrics and `smsc upstream list`)."""
        return self._refill()

    def drain(self) -> None:
        """Empty the bucket: the next token comes 1/rate seconds from now."""
        self._refill()
        self._tokens = 0.0

    def set_rate(self, rate: float) -> None:
        """Change the refill rate; tokens earned so far were earned at the old rate."""
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of tokens per second, got {rate!r}")
        self._refill()
        self._rate = float(rate)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self._rate:g}/s, burst={self._burst}, tokens={self._tokens:.2f})"


class AdaptiveRate:
    """A :class:`TokenBucket` for one upstream whose rate halves on a throttle answer.

    - ``throttled()`` (the upstream said ESME_RTHROTTLED, or a modem said "busy"): the rate drops
      to half the current rate (never below ``min_rate``) and the bucket is emptied, so the burst
      stops at once. Throttles arriving within ``hold_seconds`` of the last halving count as the
      same event: a full window answered "throttled" halves the rate once, not ten times.
    - After ``hold_seconds`` the rate climbs back linearly to ``max_rate`` at
      ``max_rate / recovery_seconds`` per second. Recovery is computed lazily from the clock on
      each call, so there is no timer to cancel.
    """

    __slots__ = (
        "_bucket", "_clock", "max_rate", "min_rate", "hold_seconds", "recovery_seconds",
        "_floor_rate", "_throttled_at", "_recovering", "throttle_count",
    )

    def __init__(
        self,
        max_rate: float,
        burst: int,
        clock: IReactorTime,
        *,
        min_rate: float | None = None,
        hold_seconds: float = 1.0,
        recovery_seconds: float = 30.0,
    ) -> None:
        self._bucket = TokenBucket(max_rate, burst, clock)
        self._clock = clock
        self.max_rate = float(max_rate)
        # Default floor: 1/64 of the configured rate, but at least 0.1 msg/s so a link never stalls.
        self.min_rate = float(min_rate) if min_rate is not None else max(self.max_rate / 64, 0.1)
        if not 0 < self.min_rate <= self.max_rate:
            raise ValueError(f"min_rate must be in (0, max_rate={max_rate}], got {min_rate!r}")
        if hold_seconds < 0 or recovery_seconds <= 0:
            raise ValueError("hold_seconds must be >= 0 and recovery_seconds > 0")
        self.hold_seconds = float(hold_seconds)
        self.recovery_seconds = float(recovery_seconds)
        self._floor_rate = self.max_rate
        self._throttled_at = -math.inf
        self._recovering = False
        self.throttle_count = 0

    def _current_rate(self, now: float) -> float:
        since = now - self._throttled_at - self.hold_seconds
        if since <= 0:
            return self._floor_rate
        rate = self._floor_rate + since * self.max_rate / self.recovery_seconds
        return rate if rate < self.max_rate else self.max_rate

    def _update(self) -> None:
        if self._recovering:
            rate = self._current_rate(self._clock.seconds())
            if rate >= self.max_rate:
                self._recovering = False
            self._bucket.set_rate(rate)

    @property
    def rate(self) -> float:
        """The rate in force now, in messages per second."""
        self._update()
        return self._bucket.rate

    def try_take(self, n: int = 1) -> bool:
        if self._recovering:
            self._update()
        return self._bucket.try_take(n)

    def delay_until_available(self, n: int = 1) -> float:
        """Seconds until ``try_take(n)`` would succeed at the current rate (an upper bound while
        the rate is recovering, since the rate only grows until the next throttle)."""
        if self._recovering:
            self._update()
        return self._bucket.delay_until_available(n)

    def throttled(self) -> bool:
        """Record a throttle answer. Returns True if it halved the rate, False if it fell inside
        the hold period of the previous one."""
        now = self._clock.seconds()
        self.throttle_count += 1
        self._bucket.drain()
        if now - self._throttled_at < self.hold_seconds:
            return False
        current = self._current_rate(now)
        self._floor_rate = max(current / 2, self.min_rate)
        self._throttled_at = now
        self._recovering = True
        self._bucket.set_rate(self._floor_rate)
        return True

    def __repr__(self) -> str:
        return f"AdaptiveRate(rate={self.rate:g}/s of {self.max_rate:g}/s, throttles={self.throttle_count})"
