"""GroupCommitter: batching, answers after the commit, the Deferred and the notify forms.

The transaction runner is a fake that records each batch and returns a Deferred the test
fires, so "before the commit" and "after the commit" are explicit steps.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure

from smsc.group_commit import GroupCommitter


class Runner:
    """run_interaction that keeps (desc, rows, deferred) for every batch."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[Any], Deferred]] = []

    def __call__(self, desc: str, txn: Any, rows: list[Any]) -> Deferred:
        d: Deferred = Deferred()
        self.batches.append((desc, list(rows), d))
        return d


def committer(**kwargs: Any) -> tuple[GroupCommitter, Runner, Clock]:
    runner, clock = Runner(), Clock()
    return GroupCommitter(runner, clock, txn=lambda conn, rows: None, desc="t", **kwargs), runner, clock


def test_items_of_one_turn_commit_together_then_notify_in_order() -> None:
    """When items arrive in one reactor turn, one batch commits them; notify runs per item, in order."""
    gc, runner, clock = committer()
    calls: list[tuple[Any, Any]] = []
    for i in range(3):
        gc.add_notify(f"row{i}", lambda result, arg: calls.append((result, arg)), i)
    assert runner.batches == []
    clock.advance(0)
    ((desc, rows, d),) = runner.batches
    assert (desc, rows, calls) == ("t", ["row0", "row1", "row2"], [])
    d.callback(3)
    assert calls == [(3, 0), (3, 1), (3, 2)]


def test_deferred_and_notify_forms_mix_in_one_batch() -> None:
    """When add, add_many and add_notify share a batch, each gets its own answer."""
    gc, runner, clock = committer()
    first = gc.add("a", {"message_id": "1"})
    second = gc.add_many(["b", "c"])
    notified: list[Any] = []
    gc.add_notify("d", lambda result, arg: notified.append((result, arg)), "ctx")
    clock.advance(0)
    runner.batches[0][2].callback("txn result")
    assert first.result == {"message_id": "1"}
    assert second.result == "txn result"
    assert notified == [("txn result", "ctx")]
    assert runner.batches[0][1] == ["a", "b", "c", "d"]


def test_failure_reaches_every_form() -> None:
    """When the transaction fails, Deferreds errback and notify gets the Failure."""
    gc, runner, clock = committer()
    d = gc.add("a")
    notified: list[Any] = []
    gc.add_notify("b", lambda result, arg: notified.append(result))
    clock.advance(0)
    runner.batches[0][2].errback(RuntimeError("disk full"))
    assert isinstance(d.result, Failure) and d.result.check(RuntimeError)
    d.addErrback(lambda _: None)
    assert len(notified) == 1 and notified[0].check(RuntimeError)


def test_a_failing_notify_does_not_starve_the_others() -> None:
    """When one notify raises, the others of its batch are still called, and it is logged."""
    gc, runner, clock = committer()
    seen: list[Any] = []

    def bad(result: Any, arg: Any) -> None:
        raise ValueError("bug in a waiter")

    gc.add_notify("a", bad)
    gc.add_notify("b", lambda result, arg: seen.append(arg), "b")
    clock.advance(0)
    with capturedLogs() as events:
        runner.batches[0][2].callback(None)
    assert seen == ["b"]
    (event,) = [e for e in events if "log_failure" in e]
    assert event["log_failure"].check(ValueError)


def test_items_arriving_during_a_commit_join_the_next_batch() -> None:
    """When items arrive while a commit runs, they wait and commit together right after it."""
    gc, runner, clock = committer()
    done: list[str] = []
    gc.add_notify("a", lambda r, arg: done.append(arg), "a")
    clock.advance(0)
    gc.add_notify("b", lambda r, arg: done.append(arg), "b")
    gc.add_notify("c", lambda r, arg: done.append(arg), "c")
    clock.advance(0)
    assert len(runner.batches) == 1  # max_in_flight=1: the second batch waits
    runner.batches[0][2].callback(None)
    assert done == ["a"] and runner.batches[1][1] == ["b", "c"]
    runner.batches[1][2].callback(None)
    assert done == ["a", "b", "c"]


def test_on_committed_and_on_batch_hooks() -> None:
    """When a batch commits, on_batch saw its size and on_committed runs after the answers."""
    order: list[Any] = []
    gc, runner, clock = committer(on_batch=lambda n: order.append(("batch", n)),
                                  on_committed=lambda: order.append("committed"))
    gc.add_notify("a", lambda r, arg: order.append("answered"))
    gc.add_many(["b", "c"]).addCallback(lambda _: order.append("answered"))
    clock.advance(0)
    runner.batches[0][2].callback(None)
    assert order == [("batch", 3), "answered", "answered", "committed"]
