"""TokenBucket and AdaptiveRate on an injected Clock: bursts, refills, throttle halving, recovery."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from smsc.ratelimit import AdaptiveRate, TokenBucket


def takes(bucket, count: int) -> int:
    """How many of ``count`` single-token takes succeed right now."""
    return sum(bucket.try_take() for _ in range(count))


@pytest.mark.parametrize(
    "label, rate, burst, advance, expect_ok",
    [
        ("full bucket allows the whole burst at once", 10, 5, 0.0, 5),
        ("burst of 1 is a strict rate", 10, 1, 0.0, 1),
        ("refill after 0.3 s at 10/s gives 3 more", 10, 5, 0.3, 3),
        ("refill never exceeds the burst", 10, 5, 100.0, 5),
        ("fractional rate: 0.5/s needs 2 s per token", 0.5, 1, 1.0, 0),
        ("fractional rate after 2 s gives one token", 0.5, 1, 2.0, 1),
    ],
)
def test_token_bucket_table(label, rate, burst, advance, expect_ok):
    """When a bucket is emptied and time advances, exactly rate*elapsed tokens (capped at burst) come back."""
    clock = Clock()
    bucket = TokenBucket(rate, burst, clock)
    if advance:
        assert takes(bucket, burst) == burst, label
        clock.advance(advance)
    assert takes(bucket, burst + 5) == expect_ok, label


def test_many_small_advances_do_not_lose_a_token_to_rounding():
    """When 0.1 s passes ten times at 10/s, ten tokens come back despite float rounding."""
    clock = Clock()
    bucket = TokenBucket(10, 1, clock)
    assert bucket.try_take()
    granted = 0
    for _ in range(30):
        clock.advance(0.1)
        granted += bucket.try_take()
    assert granted == 30


def test_take_n_is_all_or_nothing():
    """When n tokens are asked and fewer are there, none are taken."""
    clock = Clock()
    bucket = TokenBucket(10, 5, clock)
    assert bucket.try_take(3)
    assert not bucket.try_take(3)
    assert bucket.available() == pytest.approx(2)
    assert bucket.try_take(2)


@pytest.mark.parametrize(
    "label, rate, burst, take_first, n, expect_delay",
    [
        ("full bucket: no wait", 10, 5, 0, 1, 0.0),
        ("empty bucket: one token at 10/s is 0.1 s away", 10, 5, 5, 1, 0.1),
        ("empty bucket: three tokens at 10/s are 0.3 s away", 10, 5, 5, 3, 0.3),
        ("slow rate: one token at 0.25/s is 4 s away", 0.25, 2, 2, 1, 4.0),
        ("partly full: 2 left, asking 4 at 2/s is 1 s away", 2, 4, 2, 4, 1.0),
    ],
)
def test_delay_until_available_table(label, rate, burst, take_first, n, expect_delay):
    """When a caller asks how long to wait, the answer is the exact time after which try_take succeeds."""
    clock = Clock()
    bucket = TokenBucket(rate, burst, clock)
    assert takes(bucket, take_first) == take_first
    delay = bucket.delay_until_available(n)
    assert delay == pytest.approx(expect_delay), label
    if delay:
        clock.advance(delay * 0.99)
        assert not bucket.try_take(n), label
    clock.advance(delay * 0.011 + 1e-12)
    assert bucket.try_take(n), label


@pytest.mark.parametrize(
    "label, rate, burst",
    [
        ("zero rate", 0, 1),
        ("negative rate", -1, 1),
        ("infinite rate", float("inf"), 1),
        ("nan rate", float("nan"), 1),
        ("zero burst", 1, 0),
        ("float burst", 1, 2.5),
        ("bool burst", 1, True),
    ],
)
def test_bad_configuration_is_refused_clearly(label, rate, burst):
    """When rate or burst make no sense, construction fails with a ValueError naming the field."""
    with pytest.raises(ValueError, match="rate|burst"):
        TokenBucket(rate, burst, Clock())


def test_asking_more_than_burst_goes_into_debt_instead_of_waiting_forever():
    """When n exceeds the burst, a full bucket grants it and the debt is paid back at the rate."""
    clock = Clock()
    bucket = TokenBucket(2, 2, clock)
    assert bucket.try_take()
    assert not bucket.try_take(5), "not full: an oversized take waits for a full bucket"
    assert bucket.delay_until_available(5) == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.try_take(5)
    assert bucket.available() == pytest.approx(-3)
    # 3 tokens of debt + 1 to take at 2/s: the next message is 2 s away.
    assert bucket.delay_until_available() == pytest.approx(2.0)
    clock.advance(1.99)
    assert not bucket.try_take()
    clock.advance(0.01)
    assert bucket.try_take()


def test_clock_stepping_backwards_neither_adds_nor_crashes():
    """When the clock goes backwards (wall-clock step), the bucket keeps its tokens and works on."""

    class SteppingClock(Clock):
        def step_back(self, seconds: float) -> None:
            self.rightNow -= seconds

    clock = SteppingClock()
    clock.advance(100)
    bucket = TokenBucket(1, 2, clock)
    assert takes(bucket, 2) == 2
    clock.step_back(50)
    assert not bucket.try_take()
    clock.advance(1)
    assert bucket.try_take()


def test_set_rate_keeps_tokens_earned_at_the_old_rate():
    """When the rate changes, tokens already earned stay; later ones come at the new rate."""
    clock = Clock()
    bucket = TokenBucket(10, 10, clock)
    takes(bucket, 10)
    clock.advance(0.2)  # 2 tokens at 10/s
    bucket.set_rate(1)
    clock.advance(1)  # +1 token at 1/s
    assert takes(bucket, 10) == 3


# --- AdaptiveRate -------------------------------------------------------------------------------


def test_throttle_halves_the_rate_and_stops_the_burst():
    """When an upstream answers throttled, its rate halves and the bucket empties at once."""
    clock = Clock()
    limiter = AdaptiveRate(100, 50, clock)
    assert takes(limiter, 10) == 10
    assert limiter.throttled() is True
    assert limiter.rate == pytest.approx(50)
    assert not limiter.try_take()
    assert limiter.delay_until_available() == pytest.approx(1 / 50)


def test_a_window_of_throttles_halves_once():
    """When ten responses of one window all say throttled, the rate halves once, not ten times."""
    clock = Clock()
    limiter = AdaptiveRate(100, 10, clock, hold_seconds=1.0)
    results = [limiter.throttled() for _ in range(10)]
    assert results == [True] + [False] * 9
    assert limiter.rate == pytest.approx(50)
    assert limiter.throttle_count == 10
    clock.advance(1.0)
    assert limiter.throttled() is True
    # 1 s after the first halving, the hold just ended: rate was 50, halves to 25.
    assert limiter.rate == pytest.approx(25)


@pytest.mark.parametrize(
    "label, after_seconds, expect_rate",
    [
        ("during the hold the halved rate stays", 0.5, 50.0),
        ("end of hold: still 50", 1.0, 50.0),
        ("linear climb: 6 s into a 30 s recovery adds 20/s", 7.0, 70.0),
        ("fully back once the ramp has run", 16.0, 100.0),
        ("never above max", 1000.0, 100.0),
    ],
)
def test_recovery_after_a_throttle(label, after_seconds, expect_rate):
    """When no more throttles come, the rate climbs back linearly to the configured maximum."""
    clock = Clock()
    limiter = AdaptiveRate(100, 10, clock, hold_seconds=1.0, recovery_seconds=30.0)
    limiter.throttled()
    clock.advance(after_seconds)
    assert limiter.rate == pytest.approx(expect_rate), label


def test_rate_never_falls_below_the_floor():
    """When throttles keep coming, the rate stops at min_rate instead of stalling the link."""
    clock = Clock()
    limiter = AdaptiveRate(8, 1, clock, min_rate=1.0, hold_seconds=0.5)
    for _ in range(20):
        limiter.throttled()
        clock.advance(0.5)
    assert limiter.rate >= 1.0
    clock.advance(0.0)
    assert limiter.delay_until_available() <= 1.0


def test_recovered_limiter_allows_the_configured_throughput():
    """When recovery is over, one simulated minute lets through rate*60 (+burst) messages."""
    clock = Clock()
    limiter = AdaptiveRate(20, 5, clock, hold_seconds=1, recovery_seconds=4)
    limiter.throttled()
    clock.advance(10)
    sent = 0
    for _ in range(600):  # 60 s in 0.1 s steps
        clock.advance(0.1)
        while limiter.try_take():
            sent += 1
    assert 20 * 60 <= sent <= 20 * 60 + 5


@pytest.mark.parametrize(
    "label, kwargs",
    [
        ("floor above max", {"min_rate": 200}),
        ("zero floor", {"min_rate": 0}),
        ("negative hold", {"hold_seconds": -1}),
        ("zero recovery", {"recovery_seconds": 0}),
    ],
)
def test_adaptive_bad_configuration(label, kwargs):
    """When the adaptive settings make no sense, construction fails with a ValueError."""
    with pytest.raises(ValueError):
        AdaptiveRate(100, 10, Clock(), **kwargs)
