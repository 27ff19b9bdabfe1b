"""Reassembler: MO parts out of order, duplicated or missing, on an injected clock."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from protocols.sms import Reassembler

KEY = ("+905551112233", "4545", "upstream-a")


def make(timeout: float = 60.0, **kwargs):
    clock = Clock()
    expired: list = []
    r = Reassembler(clock, timeout=timeout, on_expire=lambda *a: expired.append(a), **kwargs)
    return clock, r, expired


ORDERS = [
    ("in order", [1, 2, 3]),
    ("reversed", [3, 2, 1]),
    ("middle first", [2, 3, 1]),
    ("with duplicates", [2, 2, 1, 2, 3]),
]


@pytest.mark.parametrize("label,order", ORDERS, ids=[o[0] for o in ORDERS])
def test_parts_in_any_order(label: str, order: list[int]) -> None:
    """When all parts arrive, in any order and even twice, the text comes back exactly once,
    on the last new part."""
    _, r, expired = make()
    texts = {1: "Hello ", 2: "wide ", 3: "world"}
    results = [r.add(KEY, 7, 3, seq, texts[seq]) for seq in order]
    assert [x for x in results if x is not None] == ["Hello wide world"]
    assert results[-1] == "Hello wide world"
    assert r.pending() == 0 and expired == []


def test_duplicate_after_completion_starts_a_new_group() -> None:
    """When a late duplicate arrives after completion, it opens a new group that then expires,
    and the duplicate counter only counts duplicates within a group."""
    clock, r, expired = make()
    r.add(KEY, 1, 2, 1, "a")
    r.add(KEY, 1, 2, 1, "a")
    assert r.duplicates == 1
    assert r.add(KEY, 1, 2, 2, "b") == "ab"
    assert r.add(KEY, 1, 2, 2, "b") is None
    clock.advance(60)
    assert expired == [(KEY, 1, 2, {2: "b"})]


def test_missing_part_expires_with_what_arrived() -> None:
    """When a part never comes, after the timeout the callback gets the parts that did."""
    clock, r, expired = make(timeout=30)
    r.add(KEY, 9, 3, 3, "c")
    r.add(KEY, 9, 3, 1, "a")
    clock.advance(29.9)
    assert expired == []
    clock.advance(0.2)
    assert expired == [(KEY, 9, 3, {1: "a", 3: "c"})]
    assert r.pending() == 0 and r.expired == 1


def test_completion_cancels_the_timer() -> None:
    """When a group completes, no timer is left on the clock."""
    clock, r, _ = make()
    r.add(KEY, 2, 2, 1, "a")
    r.add(KEY, 2, 2, 2, "b")
    assert clock.getDelayedCalls() == []


def test_groups_are_separate_by_key_ref_and_total() -> None:
    """When two senders use the same reference, their parts never mix."""
    _, r, _ = make()
    other = ("+15550000000", "4545", "upstream-a")
    assert r.add(KEY, 5, 2, 1, "A1") is None
    assert r.add(other, 5, 2, 2, "B2") is None
    assert r.add(KEY, 5, 3, 2, "X") is None
    assert r.add(other, 5, 2, 1, "B1") == "B1B2"
    assert r.add(KEY, 5, 2, 2, "A2") == "A1A2"


SINGLES = [
    ("total 1", 1, 1),
    ("seq 0", 3, 0),
    ("seq above total", 2, 3),
    ("total 0", 0, 1),
]


@pytest.mark.parametrize("label,total,seq", SINGLES, ids=[c[0] for c in SINGLES])
def test_unusable_concat_is_a_message_of_its_own(label: str, total: int, seq: int) -> None:
    """When (total, seq) cannot be a concatenation, the text comes straight back."""
    _, r, _ = make()
    assert r.add(KEY, 1, total, seq, "alone") == "alone"
    assert r.pending() == 0


def test_bounded_memory_expires_oldest() -> None:
    """When more groups wait than max_groups, the oldest is expired early, with a callback."""
    _, r, expired = make(max_groups=2)
    r.add(KEY, 1, 2, 1, "a")
    r.add(KEY, 2, 2, 1, "b")
    r.add(KEY, 3, 2, 1, "c")
    assert [e[1] for e in expired] == [1]
    assert r.pending() == 2


def test_stop_cancels_everything() -> None:
    """When the service stops, timers are cancelled and nothing is called back."""
    clock, r, expired = make()
    r.add(KEY, 1, 2, 1, "a")
    r.stop()
    clock.advance(1000)
    assert expired == [] and clock.getDelayedCalls() == []


def test_bad_timeout() -> None:
    """When the timeout is not positive, the constructor refuses it."""
    with pytest.raises(ValueError):
        Reassembler(Clock(), timeout=0)
