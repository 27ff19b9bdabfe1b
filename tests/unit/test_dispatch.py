"""The dispatcher with a fake store and scripted upstreams: what it sends, what it records, when.

The store is a dict of canned answers per transaction ``desc``; outcomes are captured as the
group commit hands them over, so each test can see the batches and fire their commits itself.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from smsc.dispatch import Dispatcher
from smsc.retry import RetryPolicy
from smsc.router import Router, RouteSpec
from smsc.store.queue import Failed, Requeue, Sent
from smsc.upstreams.base import Accepted, Reject, health_of
from tests.unit.test_upstream_contract import ScriptedUpstream

NOW = 1_800_000_000.0


def row(message_id: int, **over: Any) -> dict[str, Any]:
    base = {
        "id": message_id, "account_id": 1, "multi_id": None, "service_type": "", "source_addr": "Shop",
        "source_ton": 5, "source_npi": 0, "dest_addr": f"4917{message_id:08d}", "dest_ton": 1, "dest_npi": 1,
        "esm_class": 0, "protocol_id": 0, "priority": 0, "registered_delivery": 1, "data_coding": 0,
        "body": b"hello", "text": "hello", "segments": 1, "tlvs": None, "created_at": NOW,
        "expires_at": NOW + 3600, "attempts": 1, "parts_sent": 0, "upstream": None, "system_id": "app",
    }
    base.update(over)
    return base


class Store:
    """run_interaction: claims answer from ``claims``; outcome batches wait in ``commits``."""

    def __init__(self, claims: list[list[dict]]) -> None:
        self.claims = claims
        self.claim_limits: list[int] = []
        self.batches: list[list[tuple[dict, Any]]] = []
        self.commits: list[Deferred] = []

    def __call__(self, desc: str, txn: Any, *args: Any) -> Deferred:
        if desc == "requeue_sending":
            return succeed(0)
        if desc == "claim_due":
            self.claim_limits.append(args[2])
            return succeed((self.claims.pop(0) if self.claims else [], 0))
        assert desc == "record_outcomes", desc
        self.batches.append(list(args[0]))
        self.commits.append(Deferred())
        return self.commits[-1]


def accepting(name: str, count: int) -> ScriptedUpstream:
    return ScriptedUpstream(name, [succeed(Accepted(f"{name}-{n}")) for n in range(count)])


def dispatcher(store: Store, upstreams: dict[str, ScriptedUpstream], clock: Clock) -> Dispatcher:
    router = Router([RouteSpec("all", tuple((name, 1) for name in upstreams))], health_of(upstreams))
    return Dispatcher(run_interaction=store, clock=clock, node_id=1, router=router, upstreams=upstreams,
                      policy=RetryPolicy(random=lambda: 0.5), interval=0.2)


def outcomes(batch: list[tuple[dict, Any]]) -> list[Any]:
    return [outcome for _, outcome in batch]


def test_outcomes_of_one_turn_are_one_commit_and_the_commit_wakes_a_claim():
    """When claimed messages are all accepted in one reactor turn, their outcomes go to the store
    as one batch; the dispatcher claims again only once that batch is committed."""
    clock = Clock()
    store = Store([[row(1), row(2), row(3)], []])
    ups = {"a": accepting("a", 5), "b": accepting("b", 5)}
    d = dispatcher(store, ups, clock)
    d.start()
    clock.advance(0)
    [batch] = store.batches
    assert outcomes(batch) == [Sent(1, "a", "all", ((1, "a-0"),)), Sent(2, "b", "all", ((1, "b-0"),)),
                               Sent(3, "a", "all", ((1, "a-1"),))]
    assert store.claim_limits == [20]
    clock.advance(0)
    assert store.claim_limits == [20], "no claim before the outcomes are durable"
    store.commits[0].callback(None)
    clock.advance(0)
    assert store.claim_limits == [20, 17], "woken by the commit; free windows are the limit"


def test_first_part_refused_goes_to_the_next_upstream_of_the_route():
    """When an upstream refuses a message's first part and says another may take it, the same
    attempt goes to the next upstream and only that outcome is recorded."""
    clock = Clock()
    store = Store([[row(1)]])
    ups = {"a": ScriptedUpstream("a", [succeed(Reject("no", try_other_upstream=True))]), "b": accepting("b", 1)}
    d = dispatcher(store, ups, clock)
    d.start()
    clock.advance(0)
    assert [s.message_id for s in ups["a"].sent] == [1] and [s.message_id for s in ups["b"].sent] == [1]
    assert outcomes(store.batches[0]) == [Sent(1, "b", "all", ((1, "b-0"),))]


def test_full_upstream_is_skipped_and_busy_everywhere_requeues_without_an_attempt():
    """When one upstream's window is full the router picks the other; when every window is full
    the message is requeued for the next tick and the claim's attempt is given back."""
    clock = Clock()
    store = Store([[row(1), row(2)]])
    ups = {"a": accepting("a", 10), "b": accepting("b", 10)}
    ups["a"].sent.extend([None] * 10)  # capacity 0
    d = dispatcher(store, ups, clock)
    d.start()
    assert [s.message_id for s in ups["b"].sent] == [1, 2]
    ups["b"].sent.extend([None] * 8)
    d._claimed(([row(3)], 0), 1)
    clock.advance(0)
    assert outcomes(store.batches[0])[-1] == Requeue(3, clock.seconds() + 0.2, "upstreams busy", 0, uncount=True)


def test_a_failed_outcome_commit_is_logged_with_its_message_ids():
    """When recording a batch of outcomes fails, the failure is logged once with the ids (the
    rows stay SENDING and a restart re-queues them), and the dispatcher does not wake on it."""
    clock = Clock()
    store = Store([[row(7), row(8, dest_addr="")]])
    ups = {"a": accepting("a", 2)}
    d = dispatcher(store, ups, clock)
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        d.start()
        clock.advance(0)
        assert isinstance(outcomes(store.batches[0])[1], Failed), "an empty destination cannot be encoded"
        store.commits[0].errback(RuntimeError("disk full"))
        clock.advance(0)
    finally:
        globalLogPublisher.removeObserver(logged.append)
    [failure] = [e for e in logged if e.get("log_failure") is not None]
    assert failure["ids"] == [7, 8] and failure["log_failure"].check(RuntimeError)
    assert store.claim_limits == [10]
