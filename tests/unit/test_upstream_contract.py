"""The upstream contract: OutboundSms/outcome shapes, safe_send's "never errbacks", health_of,
and the purity of the modules everything plugs into.

``assert_meets_contract(upstream)`` is meant to be reused by the tests of every implementation
(SMPP connector, modem pool adapter) on a started instance.
"""

from __future__ import annotations

import ast
from collections import Counter
import dataclasses
import pathlib
from datetime import datetime, timezone

import pytest
from twisted.application.service import IService, Service
from twisted.internet import defer
from twisted.python.failure import Failure

from smsc.router import MessageFacts, Router, RouteSpec
from smsc.upstreams import (
    OUTCOME_TYPES,
    Accepted,
    OutboundSms,
    Outcome,
    Reject,
    Retry,
    Upstream,
    health_of,
    safe_send,
    safe_send_notify,
)
from smsc.upstreams.base import fast_constructor, new_accepted, new_outbound_sms

ROOT = pathlib.Path(__file__).resolve().parents[2]


def assert_meets_contract(upstream: object) -> None:
    """Shape checks any Upstream implementation must pass (call it on a started instance)."""
    assert isinstance(upstream, Upstream), "missing one of name/send/is_usable/load/capacity/start/stop"
    assert IService.providedBy(upstream), "an upstream is a twisted Service"
    assert isinstance(upstream.name, str) and upstream.name
    assert isinstance(upstream.is_usable(), bool)
    load = upstream.load()
    assert isinstance(load, float) and 0.0 <= load <= 1.0, load
    capacity = upstream.capacity()
    assert isinstance(capacity, int) and capacity >= 0, capacity


def sms(build=OutboundSms, **changes) -> OutboundSms:  # noqa: ANN001
    fields = dict(
        message_id=7, segment=1, total_segments=1, source_addr="ACME", source_ton=5, source_npi=0,
        dest_addr="447700900123", dest_ton=1, dest_npi=1, data_coding=0, esm_class=0, udh=b"",
        payload=b"hello", registered_delivery=1, priority=0, validity_at=None, text="hello",
    )
    fields.update(changes)
    return build(**fields)


# the dispatch path's constructor must build and refuse exactly what OutboundSms does
BUILDERS = pytest.mark.parametrize("build", [OutboundSms, new_outbound_sms], ids=["OutboundSms", "new_outbound_sms"])


class ScriptedUpstream(Service):
    """A test double that answers each send() with the next scripted behaviour."""

    def __init__(self, name: str, script: list) -> None:
        self.name = name
        self.script = list(script)
        self.sent: list[OutboundSms] = []
        self.usable = True

    def send(self, sms: OutboundSms):
        self.sent.append(sms)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step() if callable(step) else step

    def is_usable(self) -> bool:
        return self.usable

    def load(self) -> float:
        return len(self.sent) / 10

    def capacity(self) -> int:
        return max(0, 10 - len(self.sent))


def fired(d: defer.Deferred) -> object:
    """The result of an already-fired Deferred; fails the test if it errbacked or is pending."""
    results: list = []
    d.addBoth(results.append)
    assert results, "Deferred has not fired"
    assert not isinstance(results[0], Failure), results[0]
    return results[0]


# --- data shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label, changes, error",
    [
        ("segment 0", {"segment": 0}, "segment"),
        ("segment past total", {"segment": 3, "total_segments": 2}, "segment"),
        ("more than 255 parts", {"total_segments": 256, "segment": 1}, "segment"),
        ("empty destination", {"dest_addr": ""}, "dest_addr"),
        ("payload as str", {"payload": "hello"}, "bytes"),
        ("ton out of range", {"dest_ton": 256}, "dest_ton"),
        ("negative data_coding", {"data_coding": -1}, "data_coding"),
        ("naive validity", {"validity_at": datetime(2026, 1, 1)}, "timezone"),
    ],
)
@BUILDERS
def test_outbound_sms_refuses_malformed_segments(label, changes, error, build):
    """When the dispatcher builds a bad segment, it fails at construction with the field named."""
    with pytest.raises((ValueError, TypeError), match=error):
        sms(build, **changes)


@pytest.mark.parametrize("field", ["source_ton", "source_npi", "dest_ton", "dest_npi", "data_coding",
                                   "esm_class", "registered_delivery", "priority"])
@pytest.mark.parametrize("value", [256, -1])
@BUILDERS
def test_every_octet_field_is_checked(field, value, build):
    """When any one-octet field is out of range, construction fails naming that field."""
    with pytest.raises(ValueError, match=f"{field}={value}"):
        sms(build, **{field: value})


@BUILDERS
def test_outbound_sms_is_frozen_with_slots(build):
    """When built, an OutboundSms cannot be changed and carries no per-instance dict (memory)."""
    message = sms(build, validity_at=datetime(2026, 1, 1, tzinfo=timezone.utc), extra_tlvs=((0x1403, b"x"),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.payload = b"other"
    assert not hasattr(message, "__dict__")
    assert dataclasses.replace(message, segment=1).extra_tlvs == ((0x1403, b"x"),)


@pytest.mark.parametrize(
    "label, cls, fast, args",
    [
        ("OutboundSms, the default extra_tlvs", OutboundSms, new_outbound_sms,
         (7, 2, 3, "ACME", 5, 0, "4477", 1, 1, 0, 0x40, b"\x05\x00\x03\x07\x03\x02", b"hi", 1, 0, None, "hi")),
        ("Accepted", Accepted, new_accepted, ("0000002a",)),
        ("MessageFacts, defaults", MessageFacts, fast_constructor(MessageFacts), ("447700900123",)),
        ("MessageFacts, all fields", MessageFacts, fast_constructor(MessageFacts),
         ("447700900123", "acme", "BRAND", "bulk")),
    ],
)
def test_fast_constructor_builds_what_the_class_builds(label, cls, fast, args):
    """When a hot path builds a frozen dataclass with its fast constructor, it gets an instance
    of that very class, equal to (same hash, same repr as) the one the class builds, still frozen."""
    built, reference = fast(*args), cls(*args)
    assert type(built) is cls, label
    assert built == reference and hash(built) == hash(reference) and repr(built) == repr(reference), label
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.__setattr__(dataclasses.fields(cls)[0].name, None)


@pytest.mark.parametrize(
    "label, cls",
    [
        ("not frozen", dataclasses.make_dataclass("Loose", [("a", int)], slots=True)),
        ("no slots", dataclasses.make_dataclass("Roomy", [("a", int)], frozen=True)),
        ("a field outside __init__ (RouteSpec._regex)", RouteSpec),
    ],
)
def test_fast_constructor_refuses_what_it_cannot_copy(label, cls):
    """When a class is not a frozen slots dataclass of plain fields, no fast constructor is made
    (the slot swap would be wrong or lose its immutability): it fails at import, not later."""
    with pytest.raises(TypeError, match="frozen slots dataclass"):
        fast_constructor(cls)


@pytest.mark.parametrize("remote_id", ["", None, 12])
def test_new_accepted_refuses_what_accepted_refuses(remote_id):
    """When the fast Accepted gets no usable id, it fails as Accepted does (no empty DLR key)."""
    with pytest.raises(ValueError, match="non-empty remote_id"):
        new_accepted(remote_id)


@pytest.mark.parametrize("remote_id", ["", None, 12])
def test_accepted_needs_a_real_remote_id(remote_id):
    """When an upstream has no id for an accepted message, Accepted refuses it (receipts could not match)."""
    with pytest.raises(ValueError, match="remote_id"):
        Accepted(remote_id)


def test_reject_status_is_the_cause_unless_a_cause_is_given():
    """When a Reject carries only an SMPP status, that status is what the retry table looks up."""
    assert Reject("x", status=0x0B).effective_cause == 0x0B
    assert Reject("x", status=0x0B, cause="fail_message").effective_cause == "fail_message"
    assert Reject("x").effective_cause is None
    assert isinstance(Retry("x"), Outcome) and isinstance(Accepted("1"), OUTCOME_TYPES)


# --- safe_send -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label, behaviour, expect_type, expect_cause",
    [
        ("accepted passes through", defer.succeed(Accepted("abc")), Accepted, None),
        ("retry passes through", defer.succeed(Retry("throttled", cause=0x58)), Retry, 0x58),
        ("reject passes through", defer.succeed(Reject("bad", status=0x0B)), Reject, None),
        ("a raise inside send becomes a retry", RuntimeError("boom"), Retry, "internal_error"),
        ("an errback becomes a retry", lambda: defer.fail(KeyError("lost")), Retry, "internal_error"),
        ("a plain outcome (no Deferred) is accepted", Accepted("xyz"), Accepted, None),
        ("a wrong result type becomes a retry", defer.succeed("OK"), Retry, "internal_error"),
        ("None becomes a retry", None, Retry, "internal_error"),
    ],
)
def test_safe_send_never_errbacks(label, behaviour, expect_type, expect_cause):
    """When an implementation misbehaves in any way, the dispatcher still gets an outcome, never a failure."""
    upstream = ScriptedUpstream("up", [behaviour])
    result = fired(safe_send(upstream, sms()))
    assert type(result) is expect_type, label
    assert getattr(result, "cause", None) == expect_cause, label
    if expect_cause == "internal_error":
        assert result.try_other_upstream and "up" in result.reason, label


def test_safe_send_later_result_and_cancellation():
    """When a send is pending, its outcome arrives later; cancelling it yields Retry(cancelled)."""
    pending: defer.Deferred = defer.Deferred()
    upstream = ScriptedUpstream("up", [pending, defer.Deferred()])
    d = safe_send(upstream, sms())
    results: list = []
    d.addBoth(results.append)
    assert results == []
    pending.callback(Accepted("r1"))
    assert results == [Accepted("r1")]
    cancelled = safe_send(upstream, sms(message_id=8))
    cancelled.cancel()
    outcome = fired(cancelled)
    assert isinstance(outcome, Retry) and outcome.cause == "cancelled"


class NotifyingUpstream:
    """An upstream with send_notify, scripted: notify now (once or twice), raise, or wait."""

    name = "up"

    def __init__(self, behaviour) -> None:  # noqa: ANN001
        self.behaviour = behaviour

    def send_notify(self, message, notify, arg):  # noqa: ANN001
        kind, value = self.behaviour
        if kind == "raise":
            raise value
        if kind == "wait":
            return value
        for _ in range(2 if kind == "twice" else 1):
            notify(value, arg)
        return None


@pytest.mark.parametrize(
    "label, behaviour, expect_type, expect_cause",
    [
        ("outcome passes through", ("notify", Accepted("abc")), Accepted, None),
        ("a second notify is ignored", ("twice", Reject("bad", status=0x0B)), Reject, None),
        ("a raise becomes a retry", ("raise", RuntimeError("boom")), Retry, "internal_error"),
        ("a wrong result type becomes a retry", ("notify", "OK"), Retry, "internal_error"),
        ("a waiting segment's outcome", ("wait", defer.succeed(Retry("later", cause=0x58))), Retry, 0x58),
        ("a waiting segment's errback becomes a retry", ("wait", defer.fail(KeyError("lost"))), Retry, "internal_error"),
    ],
)
def test_safe_send_notify_calls_back_exactly_once_with_an_outcome(label, behaviour, expect_type, expect_cause):
    """When the dispatcher sends through send_notify, it is told exactly once, with an outcome,
    whatever the upstream does."""
    from twisted.logger import Logger

    import smsc.upstreams.base as base

    told: list = []
    quiet = Logger(observer=lambda event: None)
    original, base.log = base.log, quiet
    try:
        safe_send_notify(NotifyingUpstream(behaviour), sms(), lambda outcome, arg: told.append((outcome, arg)), "ctx")
    finally:
        base.log = original
    assert len(told) == 1, label
    outcome, arg = told[0]
    assert arg == "ctx" and type(outcome) is expect_type, label
    assert getattr(outcome, "cause", None) == expect_cause, label


# --- health_of + router + contract shape ---------------------------------------------------------


def test_health_of_feeds_the_router_from_live_upstreams():
    """When an upstream becomes unusable, the router built on health_of stops picking it at once."""
    a, b = ScriptedUpstream("a", []), ScriptedUpstream("b", [])
    router = Router([RouteSpec("r", (("a", 1), ("b", 1), ("ghost", 1)))], health_of({"a": a, "b": b}))
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert {router.route(MessageFacts("1"), now).upstream for _ in range(4)} == {"a", "b"}
    a.usable = False
    decision = router.route(MessageFacts("1"), now)
    assert decision.upstream == "b"
    assert dict(decision.excluded) == {"a": "not usable (unbound or unhealthy)", "ghost": "unknown upstream"}


def test_router_on_health_of_decides_as_on_a_plain_health_function():
    """When the router uses health_of's usable-only probe (weighted and failover never read the
    load), every decision, reason, candidate list and exclusion is the one a plain (usable, load)
    health function gives, and the load is only asked for by least_outstanding and explain."""
    import random

    ups = {n: ScriptedUpstream(n, []) for n in ("a", "b", "c")}
    load_calls = Counter()
    for name, upstream in ups.items():
        upstream.load = lambda name=name: load_calls.update([name]) or 0.25

    def plain(name):
        upstream = ups.get(name)
        return None if upstream is None else (upstream.is_usable(), upstream.load())

    routes = [RouteSpec("w", (("a", 3), ("b", 1), ("ghost", 1), ("c", 0)), dest_prefixes=("1",), fallthrough=True),
              RouteSpec("f", (("c", 1), ("a", 1)), strategy="failover", dest_prefixes=("2",)),
              RouteSpec("lo", (("a", 1), ("b", 2)), strategy="least_outstanding")]
    fast, reference = Router(routes, health_of(ups)), Router(routes, plain)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    draw = random.Random(7)
    for _ in range(300):
        for upstream in ups.values():
            upstream.usable = draw.random() < 0.7
        facts, exclude = MessageFacts(draw.choice("123")), tuple(draw.sample("abc", draw.randrange(2)))
        load_calls.clear()
        got = fast.route(facts, now, exclude)
        from_fast = sum(load_calls.values())
        assert got == reference.route(facts, now, exclude)
        if got.route != "lo":
            assert from_fast == 0, "the load is not computed for a strategy that ignores it"
    assert fast.explain(MessageFacts("1"), now) == reference.explain(MessageFacts("1"), now)


def test_contract_checker_accepts_a_conforming_upstream_and_rejects_a_partial_one():
    """When an object lacks part of the contract, assert_meets_contract catches it."""
    good = ScriptedUpstream("up", [])
    good.startService()
    assert_meets_contract(good)

    class NoCapacity(Service):
        name = "half"

        def send(self, sms):
            return defer.succeed(Accepted("1"))

        def is_usable(self):
            return True

        def load(self):
            return 0.0

    with pytest.raises(AssertionError):
        assert_meets_contract(NoCapacity())


# --- purity --------------------------------------------------------------------------------------

PURE_MODULES = ["smsc/router.py", "smsc/retry.py", "smsc/ratelimit.py", "smsc/upstreams/base.py",
                "smsc/upstreams/__init__.py"]
BANNED = ("sqlalchemy", "protocols", "modemfarm", "smsc.store", "twisted.internet.reactor")


@pytest.mark.parametrize("path", PURE_MODULES)
def test_core_modules_import_no_sql_reactor_or_wire_format(path):
    """When the router, retry, rate limit or contract modules import, they pull in no SQL, global
    reactor or wire format: they stay pure and testable with a Clock."""
    tree = ast.parse((ROOT / path).read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
            if node.module == "twisted.internet":
                imported += [f"twisted.internet.{a.name}" for a in node.names]
    offending = [m for m in imported if any(m == b or m.startswith(b + ".") for b in BANNED)]
    assert offending == [], f"{path} imports {offending}"


@pytest.mark.parametrize("behaviour, expect_type", [
    (defer.succeed(Accepted("abc")), Accepted), (RuntimeError("boom"), Retry), (defer.succeed("OK"), Retry),
], ids=["outcome", "a raise", "a wrong type"])
def test_safe_send_notify_serves_upstreams_with_only_send(behaviour, expect_type):
    """When an upstream has no send_notify (the modem rack), safe_send_notify goes through
    send with safe_send's guarantees and still tells the outcome exactly once."""
    from twisted.logger import Logger

    import smsc.upstreams.base as base

    told: list = []
    original, base.log = base.log, Logger(observer=lambda event: None)
    try:
        safe_send_notify(ScriptedUpstream("up", [behaviour]), sms(), lambda outcome, arg: told.append((outcome, arg)), 7)
    finally:
        base.log = original
    assert len(told) == 1 and told[0][1] == 7 and type(told[0][0]) is expect_type
