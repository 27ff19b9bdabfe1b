"""Retry rules written in the config file: ``"CAUSE = ACTION"`` strings -> RetryPolicy rules.

One string per rule keeps the TOML flat and greppable::

    retry_rules = ["ESME_RSUBMITFAIL = retry 30s", "0x0B = fail, other upstream first",
                   "vendor = retry 10s", "unknown = fail"]

CAUSE is a command_status (``88``, ``0x58``, ``ESME_RTHROTTLED``), a pseudo-cause (``timeout``,
``connection_lost``, ...; see smsc.retry), or ``unknown`` / ``vendor`` for the two defaults.
ACTION is ``retry DURATION`` or ``fail``, optionally followed by ``, other upstream first``
(re-route to the next upstream of the route before the rule applies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smsc.config_fields import parse_duration
from smsc.retry import FAIL, RETRY, Cause, Overrides, Rule, parse_cause

_RULE = re.compile(r"^\s*(?P<cause>[^=]+?)\s*=\s*(?:(?P<fail>fail)|retry\s+(?P<delay>\S+?))"
                   r"\s*(?P<other>,\s*other upstream first)?\s*$", re.IGNORECASE)
DEFAULTS = ("unknown", "vendor")


@dataclass(frozen=True)
class RuleSet:
    """Parsed ``retry_rules``: the table entries plus the two defaults if given."""

    rules: dict[Cause, Rule]
    unknown: Rule | None = None
    vendor: Rule | None = None

    def overrides(self, max_attempts: int | None = None) -> Overrides:
        return Overrides(rules=self.rules, unknown=self.unknown, vendor=self.vendor, max_attempts=max_attempts)


def parse_rule(text: str) -> tuple[str | Cause, Rule]:
    """``"0x58 = retry 2s"`` -> (0x58, Rule); ValueError says what is wrong with the string."""
    match = _RULE.match(text)
    if not match:
        raise ValueError(f'retry rule "{text}": expected "CAUSE = retry DURATION" or "CAUSE = fail", '
                         f'optionally followed by ", other upstream first"')
    cause_text, delay_text = match["cause"].strip(), match["delay"]
    try:
        cause: str | Cause = cause_text.lower() if cause_text.lower() in DEFAULTS else parse_cause(cause_text)
        delay = parse_duration(delay_text if delay_text[-1].isalpha() else delay_text + "s") if delay_text else 0.0
    except ValueError as exc:
        raise ValueError(f'retry rule "{text}": {exc}') from None
    if cause == 0:
        raise ValueError(f'retry rule "{text}": ESME_ROK is a success, not a cause')
    return cause, Rule(FAIL if match["fail"] else RETRY, delay, bool(match["other"]))


def parse_rules(texts: tuple[str, ...]) -> RuleSet:
    rules: dict[Cause, Rule] = {}
    defaults: dict[str, Rule] = {}
    for text in texts:
        cause, rule = parse_rule(text)
        target = defaults if cause in DEFAULTS else rules
        if cause in target:
            raise ValueError(f'retry rule "{text}": {cause!r} has a rule already')
        target[cause] = rule  # type: ignore[index]
    return RuleSet(rules, defaults.get("unknown"), defaults.get("vendor"))


def check_rules(texts: tuple[str, ...]) -> None:
    """Config check: the strings parse (the error names the offending one)."""
    parse_rules(texts)
