"""RetryPolicy: the status table, vendor/unknown defaults, backoff with jitter, overrides, outcomes."""

from __future__ import annotations

import random

import pytest

from smsc.retry import (
    DEFAULT_RULES,
    FAIL,
    PSEUDO_CAUSES,
    RETRY,
    STATUS_NAMES,
    Backoff,
    Overrides,
    RetryPolicy,
    Rule,
    describe_cause,
    parse_cause,
)
from smsc.upstreams import Accepted, Reject, Retry


def mid_random() -> float:
    """u = 0.5: jitter of exactly zero, so delays are the bare backoff."""
    return 0.5


def policy(**kwargs) -> RetryPolicy:
    kwargs.setdefault("random", mid_random)
    return RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    "label, cause, expect_retry, expect_other, expect_in_reason",
    [
        ("throttled: retry on the same upstream", 0x58, True, False, "ESME_RTHROTTLED (0x58)"),
        ("message queue full: retry", 0x14, True, False, "ESME_RMSGQFUL"),
        ("system error: retry, elsewhere if possible", 0x08, True, True, "ESME_RSYSERR"),
        ("temporary app error: retry", 0x64, True, False, "ESME_RX_T_APPN"),
        ("bind state race: retry elsewhere", 0x04, True, True, "ESME_RINVBNDSTS"),
        ("invalid destination: fail, next failover upstream first", 0x0B, False, True, "permanent"),
        ("invalid source: fail, other carrier may allow it", 0x0A, False, True, "ESME_RINVSRCADR"),
        ("permanent app error: fail", 0x65, False, True, "ESME_RX_P_APPN"),
        ("submit failed: fail", 0x45, False, True, "ESME_RSUBMITFAIL"),
        ("vendor status: default rule (retry)", 0x420, True, True, "vendor status 0x420"),
        ("unknown status outside every range", 0x9999, True, True, "status 0x9999"),
        ("RUNKNOWNERR uses the unknown default", 0xFF, True, True, "default for unknown causes"),
        ("timeout: outcome unknown, retry", "timeout", True, True, "timeout"),
        ("connection lost: retry elsewhere", "connection_lost", True, True, "connection_lost"),
        ("no route: wait and retry", "no_route", True, False, "no_route"),
        ("pseudo-causes are case-insensitive", "TIMEOUT", True, True, "TIMEOUT"),
        ("modem: retry same modem later", "retry_same_later", True, False, "retry_same_later"),
        ("modem: network trouble, any modem", "retry_other_modem", True, True, "retry_other_modem"),
        ("modem: message refused", "fail_message", False, True, "permanent"),
        ("modem out of service: message goes elsewhere", "modem_out_of_service", True, True, "modem"),
        ("no cause at all: unknown default", None, True, True, "unspecified"),
    ],
)
def test_default_table(label, cause, expect_retry, expect_other, expect_in_reason):
    """When a cause comes in on the first attempt, the default table decides retry or fail, and says why."""
    decision = policy().decide(cause, 1)
    assert decision.retry is expect_retry, label
    assert decision.try_other_upstream is expect_other, label
    assert expect_in_reason in decision.reason, label
    assert (decision.after > 0) is expect_retry, label


@pytest.mark.parametrize(
    "label, cause, attempts, expect_after",
    [
        ("throttle first retry: base 1 s", 0x58, 1, 1.0),
        ("throttle doubles: 2 s", 0x58, 2, 2.0),
        ("throttle 5th attempt: 16 s", 0x58, 5, 16.0),
        ("msgqful base 5 s", 0x14, 1, 5.0),
        ("msgqful 3rd attempt: 20 s", 0x14, 3, 20.0),
        ("capped at max_delay", "no_route", 9, 600.0),
    ],
)
def test_exponential_backoff_table(label, cause, attempts, expect_after):
    """When the same cause repeats, the delay doubles per attempt up to max_delay (jitter at zero here)."""
    decision = policy(max_attempts=50).decide(cause, attempts)
    assert decision.retry, label
    assert decision.after == pytest.approx(expect_after), label


@pytest.mark.parametrize(
    "label, u, expect_after",
    [
        ("lowest draw: -20%", 0.0, 8.0),
        ("middle draw: no jitter", 0.5, 10.0),
        ("high draw: +19.6%", 0.99, 11.96),
    ],
)
def test_jitter_comes_from_the_injected_random_source(label, u, expect_after):
    """When the random source returns u, the delay is base * (1 + jitter * (2u - 1))."""
    p = RetryPolicy({"no_route": Rule(RETRY, 10.0)}, random=lambda: u)
    assert p.decide("no_route", 1).after == pytest.approx(expect_after), label


def test_jitter_spreads_delays_and_stays_in_bounds():
    """When many messages back off at once, seeded jitter spreads them over +-20% (no thundering herd)."""
    p = RetryPolicy(random=random.Random(42).random)
    delays = [p.decide(0x14, 2).after for _ in range(500)]
    assert all(8.0 <= d <= 12.0 for d in delays)
    assert max(delays) - min(delays) > 3.0
    again = RetryPolicy(random=random.Random(42).random)
    assert [again.decide(0x14, 2).after for _ in range(500)] == delays


def test_huge_attempt_count_does_not_overflow():
    """When attempts is absurdly high, the backoff stays at max_delay instead of overflowing."""
    assert policy(max_attempts=10**9).decide(0x58, 10**6).after == pytest.approx(600.0)


@pytest.mark.parametrize(
    "label, max_attempts, attempts, expect_retry",
    [
        ("below the limit", 3, 2, True),
        ("at the limit: give up", 3, 3, False),
        ("past the limit", 3, 7, False),
        ("max 1: never retried", 1, 1, False),
    ],
)
def test_max_attempts_table(label, max_attempts, attempts, expect_retry):
    """When a retryable cause reaches max_attempts, the message fails and is not sent elsewhere."""
    decision = policy(max_attempts=max_attempts).decide("timeout", attempts)
    assert decision.retry is expect_retry, label
    if not expect_retry:
        assert not decision.try_other_upstream and "gave up" in decision.reason, label


def test_per_upstream_overrides():
    """When an upstream overrides a status, only that upstream's decisions change."""
    p = policy(overrides={
        "picky": Overrides(rules={"ESME_RINVDSTADR": Rule(RETRY, 30.0)},
                           vendor=Rule(FAIL), max_attempts=2),
        "lenient": Overrides(unknown=Rule(FAIL, try_other_upstream=True)),
    })
    assert p.decide(0x0B, 1, upstream="picky").retry
    assert p.decide(0x0B, 1, upstream="picky").after == pytest.approx(30.0)
    assert not p.decide(0x0B, 1, upstream="other").retry
    assert not p.decide(0x0B, 1).retry
    assert not p.decide(0x410, 1, upstream="picky").retry, "vendor override"
    assert p.decide(0x410, 1, upstream="other").retry
    assert not p.decide(0x58, 2, upstream="picky").retry, "per-upstream max_attempts"
    assert p.decide(0x58, 2).retry
    assert not p.decide(0x9999, 1, upstream="lenient").retry
    assert p.decide(0x410, 1, upstream="lenient").retry is False, "vendor follows the upstream's unknown"
    assert "from picky" in p.decide(0x0B, 1, upstream="picky").reason


def test_global_rules_and_defaults_are_configurable():
    """When the config changes a status or the vendor default, decide follows it (LESSONS 10)."""
    p = policy(rules={"0x0B": Rule(RETRY, 3.0), 0x420: Rule(FAIL)}, vendor=Rule(FAIL, try_other_upstream=True),
               unknown=Rule(FAIL))
    assert p.decide(0x0B, 1).retry
    assert not p.decide(0x420, 1).retry
    assert p.decide(0x421, 1).try_other_upstream and not p.decide(0x421, 1).retry
    assert not p.decide(0x9999, 1).retry and not p.decide(0x9999, 1).try_other_upstream
    assert p.decide(0x58, 1).retry, "defaults not overridden stay"


def test_after_hint_is_a_floor():
    """When the upstream asks to wait longer than the backoff, its wait wins; a shorter hint does not shorten."""
    p = policy()
    assert p.decide(0x58, 1, after_hint=30.0).after == pytest.approx(30.0)
    assert p.decide(0x58, 1, after_hint=0.1).after == pytest.approx(1.0)


@pytest.mark.parametrize(
    "label, outcome, attempts, expect_retry, expect_other, expect_after",
    [
        ("Retry with a status: the table decides", Retry("throttled", cause=0x58), 1, True, False, 1.0),
        ("Retry with after: the hint is honoured", Retry("busy", after=30.0), 1, True, False, 30.0),
        ("Retry asking for another upstream", Retry("no modem idle", try_other_upstream=True), 1, True, True, 1.0),
        ("Retry past max attempts: gives up, stays put", Retry("x", try_other_upstream=True), 10, False, False, 0.0),
        ("Reject with a permanent status", Reject("bad number", status=0x0B), 1, False, True, 0.0),
        ("Reject whose status the table retries: the policy wins", Reject("throttled?", status=0x58), 1, True, False, 1.0),
        ("Reject with no cause: fails where it is", Reject("refused"), 1, False, False, 0.0),
        ("Reject with no cause asking for another upstream", Reject("refused", try_other_upstream=True), 1, False, True, 0.0),
        ("Reject with a modem class cause", Reject("CMS 1", cause="fail_message"), 1, False, True, 0.0),
    ],
)
def test_decide_outcome_table(label, outcome, attempts, expect_retry, expect_other, expect_after):
    """When an upstream answers Retry or Reject, the policy turns it into one decision with the upstream's reason."""
    decision = policy().decide_outcome(outcome, attempts, upstream="up")
    assert (decision.retry, decision.try_other_upstream) == (expect_retry, expect_other), label
    assert decision.after == pytest.approx(expect_after), label
    assert decision.reason.endswith(outcome.reason), label


@pytest.mark.parametrize(
    "label, call, match",
    [
        ("attempts must count the failed one", lambda p: p.decide(0x58, 0), "attempts"),
        ("ROK is not a failure", lambda p: p.decide(0, 1), "success"),
        ("Accepted is not a failure", lambda p: p.decide_outcome(Accepted("1"), 1), "Retry or Reject"),
    ],
)
def test_misuse_is_refused_clearly(label, call, match):
    """When the caller passes nonsense, the policy raises a clear error instead of guessing."""
    with pytest.raises((ValueError, TypeError), match=match):
        call(policy())


@pytest.mark.parametrize(
    "label, value, expect",
    [
        ("int", 88, 0x58),
        ("hex string", "0x58", 0x58),
        ("decimal string", "88", 0x58),
        ("name", "ESME_RTHROTTLED", 0x58),
        ("lowercase name", "esme_rinvdstadr", 0x0B),
        ("vendor hex", "0x4A0", 0x4A0),
        ("pseudo-cause", "Connection_Lost", "connection_lost"),
    ],
)
def test_parse_cause_table(label, value, expect):
    """When config names a cause, numbers, hex, status names and pseudo-causes are all understood."""
    assert parse_cause(value) == expect, label


@pytest.mark.parametrize("value", ["ESME_NOPE", "later", -1, 2**32, "0xZZ"])
def test_parse_cause_refuses_nonsense(value):
    """When a config cause is not a status or a known pseudo-cause, the error lists what is allowed."""
    with pytest.raises(ValueError):
        parse_cause(value)


@pytest.mark.parametrize(
    "label, kwargs",
    [
        ("unknown action", {"action": "maybe"}),
        ("negative delay", {"action": RETRY, "delay": -1}),
    ],
)
def test_rule_validation(label, kwargs):
    """When a rule is malformed, it is refused at construction (config load), not at send time."""
    with pytest.raises(ValueError):
        Rule(**kwargs)


@pytest.mark.parametrize(
    "label, kwargs",
    [("multiplier below 1", {"multiplier": 0.5}), ("jitter above 1", {"jitter": 1.5}),
     ("negative cap", {"max_delay": -1})],
)
def test_backoff_validation(label, kwargs):
    """When backoff settings make no sense, they are refused."""
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_table_is_consistent():
    """Every default rule names a known status or pseudo-cause, and permanent ones send elsewhere first."""
    for cause, rule in DEFAULT_RULES.items():
        assert cause in STATUS_NAMES or cause in PSEUDO_CAUSES, cause
        if rule.action == FAIL and cause != "upstream_reject":
            assert rule.try_other_upstream, describe_cause(cause)
    assert 0 not in DEFAULT_RULES


def test_modem_classes_from_modemfarm_all_have_a_rule():
    """When modemfarm adds a CMS class, the retry table must know it (the adapter passes cls.value)."""
    cms = pytest.importorskip("modemfarm.cms")
    for cls in cms.CmsClass:
        assert cls.value in DEFAULT_RULES, cls


def test_status_names_agree_with_the_wire_constants():
    """When the SMPP constants and this module's plain-int copy differ, the table would lie: they agree."""
    constants = pytest.importorskip("protocols.smpp.constants")
    assert STATUS_NAMES == {s.value: s.name for s in constants.Status}
