"""Retry rules from the config file: `[dispatcher] retry_rules` changes the built-in table,
`[[upstreams]] retry_rules` changes it for one upstream; a bad rule is one line naming the key."""

from __future__ import annotations

import pytest

from smsc.config import ConfigError, load_config
from smsc.retry import FAIL, RETRY, Rule
from smsc.retry_rules import parse_rule
from smsc.wiring import build_policy

BASE = '[database]\nurl = "sqlite:///var/smsc.db"\n'
UPSTREAM = '[[upstreams]]\nname = "{name}"\nendpoint = "tcp:host=127.0.0.1:port=2775"\nsystem_id = "me"\npassword = "pw"\n'


def policy_of(tmp_path, text: str):
    path = tmp_path / "smsc.toml"
    path.write_text(BASE + text)
    return build_policy(load_config(str(path)))


@pytest.mark.parametrize("text, cause, rule", [
    ("ESME_RSUBMITFAIL = retry 30s", 0x45, Rule(RETRY, 30.0)),
    ("0x0B = fail, other upstream first", 0x0B, Rule(FAIL, 0.0, True)),
    ("88=retry 2", 0x58, Rule(RETRY, 2.0)),
    ("timeout = retry 1m, other upstream first", "timeout", Rule(RETRY, 60.0, True)),
    ("Vendor = retry 10s", "vendor", Rule(RETRY, 10.0)),
    ("unknown = FAIL", "unknown", Rule(FAIL)),
], ids=["by name", "fail elsewhere first", "decimal, bare seconds", "pseudo-cause", "vendor default", "unknown default"])
def test_rule_strings_parse(text, cause, rule):
    assert parse_rule(text) == (cause, rule)


@pytest.mark.parametrize("text, fragment", [
    ("nonsense", 'expected "CAUSE = retry DURATION"'),
    ("0x0B = maybe", 'expected "CAUSE = retry DURATION"'),
    ("ESME_ROK = fail", "ESME_ROK is a success"),
    ("FOO = fail", "unknown retry cause 'FOO'"),
    ("0x58 = retry soon", 'got "soon"'),
])
def test_bad_rule_in_the_config_names_the_key_and_the_rule(tmp_path, text, fragment):
    """When a rule cannot be read, loading the config fails with one line naming the key and the rule."""
    with pytest.raises(ConfigError) as info:
        policy_of(tmp_path, f'[dispatcher]\nretry_rules = ["0x14 = retry 5s", "{text}"]\n')
    message = str(info.value)
    assert "dispatcher.retry_rules: " in message and f'"{text}"' in message and fragment in message


def test_duplicate_cause_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r'upstreams\[0\]\.retry_rules: .*has a rule already'):
        policy_of(tmp_path, UPSTREAM.format(name="a") + 'retry_rules = ["0x58 = fail", "ESME_RTHROTTLED = retry 1s"]\n')


def test_global_and_per_upstream_rules_change_decisions(tmp_path):
    """ESME_RINVDSTADR fails by default; the config makes it a retry everywhere, and a fail again
    (trying another upstream first) on upstream "strict"; "loose" retries even unknown statuses
    without another upstream, and gives up after its own max_attempts."""
    policy = policy_of(tmp_path, '[dispatcher]\nmax_attempts = 10\nretry_rules = ["ESME_RINVDSTADR = retry 30s", "unknown = fail"]\n'
                       + UPSTREAM.format(name="strict") + 'retry_rules = ["0x0B = fail, other upstream first"]\n'
                       + UPSTREAM.format(name="loose") + 'max_attempts = 3\nretry_rules = ["unknown = retry 1s"]\n'
                       + UPSTREAM.format(name="plain"))
    assert policy.decide(0x0B, 1, upstream="plain").retry is True
    assert 24.0 <= policy.decide(0x0B, 1, upstream="plain").after <= 36.0  # 30 s +- jitter
    strict = policy.decide(0x0B, 1, upstream="strict")
    assert (strict.retry, strict.try_other_upstream) == (False, True)
    assert policy.decide(0x4FF, 1, upstream="plain").retry is False  # "unknown = fail" also covers vendor statuses
    assert policy.decide(0x4FF, 1, upstream="loose").retry is True
    assert policy.decide(0x4FF, 3, upstream="loose").retry is False  # its max_attempts = 3
    assert policy.decide(0x58, 1, upstream="loose").retry is True  # the built-in table still applies
