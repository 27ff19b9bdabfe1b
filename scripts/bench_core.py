"""Micro-benchmark of the hot-path pure parts: TokenBucket, AdaptiveRate, Router, RetryPolicy.

Run: .venv/bin/python scripts/bench_core.py  (figures are per call, on whatever else is running).
"""

from __future__ import annotations

import random
import timeit
from datetime import datetime, timezone

from twisted.internet.task import Clock

from smsc.ratelimit import AdaptiveRate, TokenBucket
from smsc.retry import RetryPolicy
from smsc.router import MessageFacts, Router, RouteSpec, TimeWindow


def per_call(label: str, fn, number: int = 200_000) -> None:
    best = min(timeit.repeat(fn, number=number, repeat=5)) / number
    print(f"{label:<58} {best * 1e9:8.0f} ns   ({1 / best:,.0f}/s)")


def main() -> None:
    clock = Clock()
    bucket = TokenBucket(1e12, 10**9, clock)
    per_call("TokenBucket.try_take", bucket.try_take)
    adaptive = AdaptiveRate(1e12, 10**9, clock)
    per_call("AdaptiveRate.try_take (steady)", adaptive.try_take)
    adaptive.throttled()
    clock.advance(2)
    per_call("AdaptiveRate.try_take (recovering)", adaptive.try_take)

    names = ["a", "b", "c"]
    health = {n: (True, 0.1) for n in names}.get
    routes = [RouteSpec(f"p{i}", (("a", 1),), dest_prefixes=(f"{90 + i}",)) for i in range(5)]
    routes.append(RouteSpec("bulk", (("a", 1), ("b", 1)), message_class="bulk",
                            window=TimeWindow.parse("mon-fri", "08:00", "20:00", "Europe/Paris")))
    routes.append(RouteSpec("default", (("a", 3), ("b", 2), ("c", 1))))
    router = Router(routes, health)
    now = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    facts = MessageFacts("447700900123", account="acme", message_class="transactional")
    per_call("Router.route (7 routes, weighted over 3 upstreams)", lambda: router.route(facts, now),
             number=50_000)
    lo = Router([RouteSpec("r", (("a", 1), ("b", 1), ("c", 1)), strategy="least_outstanding")], health)
    per_call("Router.route (least_outstanding, 3 tied)", lambda: lo.route(facts, now), number=50_000)

    policy = RetryPolicy(random=random.Random(1).random)
    per_call("RetryPolicy.decide(0x58, 3)", lambda: policy.decide(0x58, 3), number=50_000)


if __name__ == "__main__":
    main()
