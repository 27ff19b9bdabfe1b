"""Retry policy: what went wrong (a cause) + how many attempts so far -> retry after N s, or fail.

A cause is an SMPP command_status (plain int: this module imports no wire format), or a
pseudo-cause string: ``timeout`` (no response: outcome unknown), ``connection_lost``,
``no_route``, ``cancelled``, ``internal_error``, ``upstream_retry`` / ``upstream_reject`` (an
upstream's Retry/Reject that named no cause), or a modem class: the value of
``modemfarm.cms.CmsClass`` (``retry_same_later``, ``retry_other_modem``, ``fail_message``,
``modem_out_of_service``), passed as a plain string.

Defaults (override any of them, globally or per upstream):

- RETRY with backoff: ESME_RTHROTTLED 0x58, ESME_RMSGQFUL 0x14, ESME_RSYSERR 0x08,
  ESME_RX_T_APPN 0x64, ESME_RINVBNDSTS 0x04, timeouts, connection loss, no route, modem trouble.
- FAIL: ESME_RINVDSTADR 0x0B and the other permanent statuses. A permanent failure carries
  ``try_other_upstream=True``: the dispatcher first sends the message to the next upstream of a
  failover route (router ``exclude=``) and fails it only when none is left.
- Vendor statuses 0x400-0x4FF and anything not in the table (ESME_RUNKNOWNERR included) follow
  the configurable ``vendor`` / ``unknown`` rule: by default a bounded retry, elsewhere if possible,
  because a status we cannot read must not lose a message nor kill the link (LESSONS 10).

Backoff: ``delay * multiplier ** (attempts - 1)``, capped at ``max_delay``, then spread by
+-``jitter`` using the injected ``random`` source (tests pass a seeded one). At ``max_attempts``
a retryable cause becomes a failure.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smsc.upstreams.base import Reject, Retry

RETRY, FAIL = "retry", "fail"

STATUS_NAMES: dict[int, str] = {
    0x00: "ESME_ROK", 0x01: "ESME_RINVMSGLEN", 0x02: "ESME_RINVCMDLEN", 0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS", 0x05: "ESME_RALYBND", 0x06: "ESME_RINVPRTFLG",
    0x07: "ESME_RINVREGDLVFLG", 0x08: "ESME_RSYSERR", 0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR", 0x0C: "ESME_RINVMSGID", 0x0D: "ESME_RBINDFAIL", 0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID", 0x11: "ESME_RCANCELFAIL", 0x13: "ESME_RREPLACEFAIL",
    0x14: "ESME_RMSGQFUL", 0x15: "ESME_RINVSERTYP", 0x33: "ESME_RINVNUMDESTS",
    0x34: "ESME_RINVDLNAME", 0x40: "ESME_RINVDESTFLAG", 0x42: "ESME_RINVSUBREP",
    0x43: "ESME_RINVESMCLASS", 0x44: "ESME_RCNTSUBDL", 0x45: "ESME_RSUBMITFAIL",
    0x48: "ESME_RINVSRCTON", 0x49: "ESME_RINVSRCNPI", 0x50: "ESME_RINVDSTTON",
    0x51: "ESME_RINVDSTNPI", 0x53: "ESME_RINVSYSTYP", 0x54: "ESME_RINVREPFLAG",
    0x55: "ESME_RINVNUMMSGS", 0x58: "ESME_RTHROTTLED", 0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY", 0x63: "ESME_RINVDFTMSGID", 0x64: "ESME_RX_T_APPN",
    0x65: "ESME_RX_P_APPN", 0x66: "ESME_RX_R_APPN", 0x67: "ESME_RQUERYFAIL",
    0xC0: "ESME_RINVOPTPARSTREAM", 0xC1: "ESME_ROPTPARNOTALLWD", 0xC2: "ESME_RINVPARLEN",
    0xC3: "ESME_RMISSINGOPTPARAM", 0xC4: "ESME_RINVOPTPARAMVAL", 0xFE: "ESME_RDELIVERYFAILURE",
    0xFF: "ESME_RUNKNOWNERR",
}
STATUS_BY_NAME = {name: value for value, name in STATUS_NAMES.items()}
VENDOR_RANGE = range(0x400, 0x500)
PSEUDO_CAUSES = (
    "timeout", "connection_lost", "not_bound", "no_route", "cancelled", "internal_error", "upstream_retry",
    "upstream_reject", "retry_same_later", "retry_other_modem", "fail_message",
    "modem_out_of_service",
)

Cause = int | str


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: retry (with base ``delay`` for the backoff) or fail."""

    action: str
    delay: float = 0.0
    try_other_upstream: bool = False

    def __post_init__(self) -> None:
        if self.action not in (RETRY, FAIL):
            raise ValueError(f"retry rule action must be {RETRY!r} or {FAIL!r}, got {self.action!r}")
        if not self.delay >= 0:
            raise ValueError(f"retry delay must be >= 0 seconds, got {self.delay!r}")


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """``retry``: queue again in ``after`` seconds; otherwise fail the message. In both cases
    ``try_other_upstream`` asks the dispatcher to re-route now with this upstream in the router's
    ``exclude``; only when no other upstream is usable does the decision apply as is."""

    retry: bool
    after: float
    try_other_upstream: bool
    reason: str


def _retry(delay: float, other: bool = False) -> Rule:
    return Rule(RETRY, delay, other)


_PERMANENT = Rule(FAIL, 0.0, True)
DEFAULT_RULES: dict[Cause, Rule] = {
    0x58: _retry(1.0),  # RTHROTTLED: same upstream, slower (AdaptiveRate halves its rate)
    0x14: _retry(5.0),  # RMSGQFUL
    0x08: _retry(2.0, True),  # RSYSERR
    0x64: _retry(2.0),  # RX_T_APPN: temporary by definition
    0x04: _retry(1.0, True),  # RINVBNDSTS: our session raced an unbind
    "timeout": _retry(5.0, True),
    "connection_lost": _retry(1.0, True),
    "not_bound": _retry(1.0, True),  # the upstream lost its binds: another one, or soon
    "cancelled": _retry(1.0, True),
    "internal_error": _retry(5.0, True),
    "no_route": _retry(10.0),
    "upstream_retry": _retry(1.0),
    "upstream_reject": Rule(FAIL),
    # modemfarm.cms.CmsClass values: the modem adapter passes ``verdict.cls.value`` as the cause.
    "retry_same_later": _retry(2.0),
    "retry_other_modem": _retry(5.0, True),
    "fail_message": _PERMANENT,
    "modem_out_of_service": _retry(1.0, True),
}
for _status in (0x01, 0x02, 0x03, 0x06, 0x07, 0x0A, 0x0B, 0x15, 0x33, 0x34, 0x40, 0x42, 0x43, 0x44,
                0x45, 0x48, 0x49, 0x50, 0x51, 0x53, 0x54, 0x55, 0x61, 0x62, 0x63, 0x65, 0x66, 0xC0,
                0xC1, 0xC2, 0xC3, 0xC4, 0xFE):
    DEFAULT_RULES[_status] = _PERMANENT
DEFAULT_UNKNOWN = _retry(5.0, True)


def describe_cause(cause: Cause | None) -> str:
    if isinstance(cause, int):
        if cause in STATUS_NAMES:
            return f"{STATUS_NAMES[cause]} (0x{cause:02X})"
        kind = "vendor status" if cause in VENDOR_RANGE else "status"
        return f"{kind} 0x{cause:X}"
    return cause or "unspecified"


def parse_cause(value: int | str) -> Cause:
    """A config key -> cause: ``88``, ``"0x58"``, ``"ESME_RTHROTTLED"`` or a pseudo-cause name."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"command_status {value} is outside 0..0xFFFFFFFF")
        return value
    text = str(value).strip()
    if text.upper() in STATUS_BY_NAME:
        return STATUS_BY_NAME[text.upper()]
    if text.lower() in PSEUDO_CAUSES:
        return text.lower()
    try:
        return parse_cause(int(text, 0))
    except ValueError:
        raise ValueError(
            f"unknown retry cause {value!r}: use a command_status (88, 0x58, ESME_RTHROTTLED) "
            f"or one of {', '.join(PSEUDO_CAUSES)}") from None


@dataclass(frozen=True, slots=True)
class Backoff:
    multiplier: float = 2.0
    max_delay: float = 600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.multiplier < 1 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("backoff needs multiplier >= 1, max_delay >= 0, 0 <= jitter <= 1")

    def delay(self, base: float, attempts: int, u: float) -> float:
        """``u`` is a uniform draw in [0, 1)."""
        raw = base * self.multiplier ** min(attempts - 1, 64)
        capped = raw if raw < self.max_delay else self.max_delay
        return capped * (1.0 + self.jitter * (2.0 * u - 1.0))


@dataclass(frozen=True)
class Overrides:
    """Per-upstream changes; None inherits the policy's value."""

    rules: Mapping[Cause, Rule] = field(default_factory=dict)
    unknown: Rule | None = None
    vendor: Rule | None = None
    max_attempts: int | None = None


class RetryPolicy:
    """The table plus backoff. ``decide`` is pure apart from one draw from ``random``."""

    def __init__(
        self,
        rules: Mapping[Cause, Rule] | None = None,
        *,
        unknown: Rule = DEFAULT_UNKNOWN,
        vendor: Rule | None = None,
        max_attempts: int = 10,
        backoff: Backoff = Backoff(),
        overrides: Mapping[str, Overrides] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.rules: dict[Cause, Rule] = {**DEFAULT_RULES}
        self.rules.update((parse_cause(k), v) for k, v in (rules or {}).items())
        self.unknown = unknown
        self.vendor = vendor or unknown
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._random = random or _random.Random().random
        self._overrides: dict[str, tuple[dict[Cause, Rule], Rule, Rule, int]] = {}
        for name, o in (overrides or {}).items():
            if o.max_attempts is not None and o.max_attempts < 1:
                raise ValueError(f"upstream {name!r}: max_attempts must be >= 1")
            self._overrides[name] = (
                {**self.rules, **{parse_cause(k): v for k, v in o.rules.items()}},
                o.unknown or self.unknown,
                o.vendor or o.unknown or self.vendor,
                o.max_attempts or self.max_attempts,
            )

    def rule_for(self, cause: Cause | None, upstream: str | None = None) -> tuple[Rule, str]:
        """The rule that applies and where it came from ("table", "vendor default", ...)."""
        rules, unknown, vendor, _ = self._table(upstream)
        if isinstance(cause, str):
            cause = cause.lower()
        if cause is not None and cause in rules:
            return rules[cause], "table"
        if isinstance(cause, int) and cause in VENDOR_RANGE:
            return vendor, "vendor default"
        return unknown, "default for unknown causes"

    def _table(self, upstream: str | None) -> tuple[dict[Cause, Rule], Rule, Rule, int]:
        if upstream is not None and upstream in self._overrides:
            return self._overrides[upstream]
        return self.rules, self.unknown, self.vendor, self.max_attempts

    def decide(self, cause: Cause | None, attempts: int, *, upstream: str | None = None,
               after_hint: float | None = None) -> RetryDecision:
        """``attempts`` counts the sends made so far, the failed one included (>= 1).
        ``after_hint`` (e.g. from a ``Retry(after=...)``) is a floor for the delay."""
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1 (the failed one counts), got {attempts}")
        if cause == 0:
            raise ValueError("ESME_ROK (0) is a success, not a cause to retry")
        rule, origin = self.rule_for(cause, upstream)
        max_attempts = self._table(upstream)[3]
        what = describe_cause(cause)
        where = f" from {upstream}" if upstream else ""
        if rule.action == FAIL:
            return RetryDecision(False, 0.0, rule.try_other_upstream, f"{what}{where}: permanent ({origin})")
        if attempts >= max_attempts:
            return RetryDecision(False, 0.0, False, f"{what}{where}: gave up after {attempts} attempts")
        after = self.backoff.delay(rule.delay, attempts, self._random())
        if after_hint is not None and after_hint > after:
            after = after_hint
        return RetryDecision(True, after, rule.try_other_upstream,
                             f"{what}{where}: attempt {attempts} of {max_attempts} failed, "
                             f"retry in {after:.1f} s ({origin})")

    def decide_outcome(self, outcome: Retry | Reject, attempts: int, *,
                       upstream: str | None = None) -> RetryDecision:
        """Decide on an upstream's ``Retry``/``Reject``. The policy has the last word when the
        outcome names a cause; the upstream may add "try another upstream" unless the policy
        has given up on the message."""
        if isinstance(outcome, Retry):
            cause = outcome.cause if outcome.cause is not None else "upstream_retry"
            d = self.decide(cause, attempts, upstream=upstream, after_hint=outcome.after)
        elif isinstance(outcome, Reject):
            cause = outcome.effective_cause
            cause = "upstream_reject" if cause is None else cause
            d = self.decide(cause, attempts, upstream=upstream)
        else:
            raise TypeError(f"decide_outcome needs a Retry or Reject, got {outcome!r}")
        other = d.try_other_upstream
        gave_up = not d.retry and self.rule_for(cause, upstream)[0].action == RETRY
        if outcome.try_other_upstream and not other and not gave_up:
            other = True
        reason = f"{d.reason}: {outcome.reason}" if outcome.reason else d.reason
        return RetryDecision(d.retry, d.after, other, reason)
