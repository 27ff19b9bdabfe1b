"""The router: message facts -> which upstream, and why. Pure: no I/O, no clock, no wire formats.

Behaviour:

- Routes are tried **in order**; the first route whose filters all match decides. A route with
  ``fallthrough=True`` hands over to the next matching route when none of its upstreams is usable
  (a catch-all backup route at the end, say); by default a matching route is final, so bulk
  traffic never spills onto a premium route by accident.
- Filters (each empty/None filter matches anything): destination prefixes (compared without a
  leading ``+``), a destination regex (``re.search``: anchor it yourself), submitting accounts,
  exact source addresses, message class (``transactional``/``bulk``), a weekly time window in a
  named time zone (windows may cross midnight: ``22:00-06:00`` on ``fri`` covers Saturday 03:00).
- Upstreams that are unknown, not usable (unbound, unhealthy), drained (weight 0) or excluded by
  the caller are skipped, each with a reason. ``exclude`` is how the dispatcher asks for "the next
  upstream after this one failed permanently".
- Strategies: ``weighted`` is smooth weighted round-robin (nginx's credits, with an
  earliest-deadline pick, see ``_swrr``: deterministic; over any N picks an upstream gets its
  weight share of N within +-1, and picks are interleaved, not bunched);
  ``failover`` takes the first usable upstream in list order; ``least_outstanding`` takes the
  lowest ``load`` and breaks ties by smooth weighted round-robin among the tied ones.
- No usable route -> a decision with ``upstream=None`` and a reason; the caller waits or rejects.

The round-robin state lives in the Router (one counter per route and upstream); ``explain``
works on a copy, so asking "why" never changes the next answer.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STRATEGIES = ("weighted", "failover", "least_outstanding")
MESSAGE_CLASSES = ("transactional", "bulk")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

HealthFn = Callable[[str], "tuple[bool, float] | None"]


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_days(spec: str) -> frozenset[int]:
    """``"mon-fri"``, ``"sat,sun"``, ``"fri-mon"`` (wraps), ``"*"`` -> weekday numbers, Monday 0."""
    text = spec.strip().lower()
    if text in ("*", "all", "daily"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        first, _, last = part.partition("-")
        try:
            a = DAY_NAMES.index(first.strip()[:3]) if first.strip() else -1
            b = DAY_NAMES.index(last.strip()[:3]) if last else a
        except ValueError:
            a = b = -1
        if a < 0 or len(first.strip()) < 3:
            raise ValueError(f"bad day {part!r} in {spec!r}: use mon..sun, ranges like mon-fri")
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Days of the week plus a local start/end time; ``start == end`` means the whole day."""

    days: frozenset[int]
    start: time
    end: time
    tz: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        if not self.days or not self.days <= set(range(7)):
            raise ValueError(f"days must be a non-empty set of 0 (Monday) .. 6, "
                             f"got {sorted(self.days)}")
        _zone(self.tz)

    @classmethod
    def parse(cls, days: str, start: str, end: str, tz: str = "UTC") -> TimeWindow:
        """From config strings: ``TimeWindow.parse("mon-fri", "08:00", "20:00", "Europe/Paris")``."""
        try:
            t0, t1 = time.fromisoformat(start), time.fromisoformat(end)
        except ValueError as exc:
            raise ValueError(f"bad time in window {start!r}-{end!r}: use HH:MM") from exc
        return cls(parse_days(days), t0, t1, tz)

    def contains(self, now: datetime) -> bool:
        if now.tzinfo is None:
            raise ValueError("the router needs a timezone-aware 'now'")
        local = now.astimezone(_zone(self.tz))
        t, day = local.time().replace(tzinfo=None), local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= t < self.end
        if self.start == self.end:
            return day in self.days
        # Crosses midnight: the early-morning part belongs to the previous day's window.
        return (day in self.days and t >= self.start) or ((day - 1) % 7 in self.days and t < self.end)

    def describe(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


def _strip_plus(addr: str) -> str:
    return addr[1:] if addr.startswith("+") else addr


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One route: filters, then upstreams as ``(name, weight)`` pairs tried by ``strategy``."""

    name: str
    upstreams: tuple[tuple[str, int], ...]
    strategy: str = "weighted"
    dest_prefixes: tuple[str, ...] = ()
    dest_regex: str | None = None
    accounts: frozenset[str] = frozenset()
    source_addrs: frozenset[str] = frozenset()
    message_class: str | None = None
    window: TimeWindow | None = None
    fallthrough: bool = False
    _regex: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        if not self.name:
            raise ValueError("a route needs a name")
        ups = tuple((str(n), w) for n, w in self.upstreams)
        if not ups:
            raise ValueError(f"route {self.name!r} has no upstreams")
        names = [n for n, _ in ups]
        if len(set(names)) != len(names):
            raise ValueError(f"route {self.name!r} lists an upstream twice: {names}")
        for n, w in ups:
            if not isinstance(w, int) or isinstance(w, bool) or w < 0:
                raise ValueError(f"route {self.name!r}: weight of {n!r} must be an integer >= 0, "
                                 f"got {w!r}")
        set_("upstreams", ups)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"route {self.name!r}: strategy {self.strategy!r} "
                             f"is not one of {STRATEGIES}")
        if self.message_class not in (None, *MESSAGE_CLASSES):
            raise ValueError(f"route {self.name!r}: message_class {self.message_class!r} "
                             f"is not one of {MESSAGE_CLASSES}")
        set_("dest_prefixes", tuple(_strip_plus(p) for p in self.dest_prefixes))
        set_("accounts", frozenset(self.accounts))
        set_("source_addrs", frozenset(self.source_addrs))
        if self.dest_regex is not None:
            try:
                set_("_regex", re.compile(self.dest_regex))
            except re.error as exc:
                raise ValueError(f"route {self.name!r}: bad dest_regex {self.dest_regex!r}: "
                                 f"{exc}") from exc

    def matches(self, facts: MessageFacts, now: datetime) -> bool:
        """The fast path of :meth:`mismatch` (no reason text built): True if every filter matches."""
        if self.dest_prefixes or self._regex is not None:
            dest = _strip_plus(facts.dest_addr)
            if self.dest_prefixes and not dest.startswith(self.dest_prefixes):
                return False
            if self._regex is not None and self._regex.search(dest) is None:
                return False
        return ((not self.accounts or facts.account in self.accounts)
                and (not self.source_addrs or facts.source_addr in self.source_addrs)
                and (self.message_class is None or facts.message_class == self.message_class)
                and (self.window is None or self.window.contains(now)))

    def mismatch(self, facts: MessageFacts, now: datetime) -> str | None:
        """None if the message matches every filter, else the first filter that fails, in words."""
        dest = _strip_plus(facts.dest_addr)
        if self.dest_prefixes and not dest.startswith(self.dest_prefixes):
            return f"destination does not start with {', '.join(self.dest_prefixes)}"
        if self._regex is not None and self._regex.search(dest) is None:
            return f"destination does not match /{self.dest_regex}/"
        if self.accounts and facts.account not in self.accounts:
            if not facts.account:
                return f"no account given; the route takes {', '.join(sorted(self.accounts))}"
            return f"account {facts.account!r} is not one of {', '.join(sorted(self.accounts))}"
        if self.source_addrs and facts.source_addr not in self.source_addrs:
            if not facts.source_addr:
                return f"no source given; the route takes {', '.join(sorted(self.source_addrs))}"
            return f"source {facts.source_addr!r} is not one of {', '.join(sorted(self.source_addrs))}"
        if self.message_class is not None and facts.message_class != self.message_class:
            return (f"message class is {facts.message_class or 'unset'}, "
                    f"route takes {self.message_class}")
        if self.window is not None and not self.window.contains(now):
            return f"outside time window {self.window.describe()}"
        return None

    def describe_filters(self) -> str:
        parts = []
        if self.dest_prefixes:
            parts.append(f"prefixes {', '.join(self.dest_prefixes)}")
        if self.dest_regex is not None:
            parts.append(f"regex /{self.dest_regex}/")
        if self.accounts:
            parts.append(f"accounts {', '.join(sorted(self.accounts))}")
        if self.source_addrs:
            parts.append(f"sources {', '.join(sorted(self.source_addrs))}")
        if self.message_class:
            parts.append(f"class {self.message_class}")
        if self.window:
            parts.append(f"window {self.window.describe()}")
        return "; ".join(parts) or "any message"


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the router may look at: no text, no wire fields."""

    dest_addr: str
    account: str | None = None
    source_addr: str | None = None
    message_class: str | None = None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    upstream: str | None
    route: str | None
    reason: str
    candidates: tuple[str, ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.upstream is not None


def _swrr(weights: Sequence[int], current: list[int], indices: Sequence[int]) -> int:
    """Smooth weighted round-robin over ``indices``, deterministic.

    nginx's credit scheme: every upstream gains its weight, the chosen one pays back the total,
    so ``current[i] = picks_due[i] * total - picks[i] * total`` measures how far behind its share
    an upstream is. nginx then takes the largest credit; that can drift more than one pick from
    the exact share (weights 1,1,1,14,14 after 20 picks: 1.03; 35,11,1,35,1,1,1,1,35: 1.27).
    Here the pick is earliest-deadline-first among upstreams not ahead of their share (credit
    >= 0): the deadline of an upstream's next pick is ``(total - credit) // weight`` slots away.
    That keeps every upstream within +-1 of ``N * weight / total`` for every N (Tijdeman's
    chairman-assignment bound), and stays interleaved. Ties: larger credit, then list order.
    """
    total = 0
    for i in indices:
        current[i] += weights[i]
        total += weights[i]
    best, best_deadline = -1, 0
    for i in indices:
        credit = current[i]
        if credit >= 0:
            deadline = (total - credit) // weights[i]
            if best < 0 or deadline < best_deadline or (
                    deadline == best_deadline and credit > current[best]):
                best, best_deadline = i, deadline
    if best < 0:  # only after the usable set changed: fall back to nginx's largest credit
        best = max(indices, key=lambda i: (current[i], -i))
    current[best] -= total
    return best


class Router:
    """Ordered routes plus live health; ``route`` picks, ``explain`` says why in words."""

    def __init__(self, routes: Iterable[RouteSpec], upstream_health: HealthFn) -> None:
        self.routes = tuple(routes)
        seen: set[str] = set()
        for r in self.routes:
            if r.name in seen:
                raise ValueError(f"two routes are named {r.name!r}")
            seen.add(r.name)
        self._health = upstream_health
        # name -> usable or None (unknown), when the health source offers it (health_of does):
        # routing with a strategy that ignores the load then skips computing it per upstream
        self._usable: Callable[[str], bool | None] | None = getattr(upstream_health, "usable", None)
        self._current: dict[str, list[int]] = {r.name: [0] * len(r.upstreams) for r in self.routes}
        self._weights: dict[str, list[int]] = {r.name: [w for _, w in r.upstreams] for r in self.routes}
        # route's pick -> its decision when every upstream of the route is usable (see _route_fast)
        self._all_usable: dict[tuple[str, int], RouteDecision] = {}

    def unknown_upstreams(self, known: Collection[str]) -> list[str]:
        """Problems for ``smsc config check``: routes naming upstreams that are not configured."""
        return [f"route {r.name!r} names unknown upstream {n!r}"
                for r in self.routes for n, _ in r.upstreams if n not in known]

    def route(self, facts: MessageFacts, now: datetime,
              exclude: Collection[str] = ()) -> RouteDecision:
        """Pick an upstream for one message and advance the round-robin state."""
        decision = self._route_fast(facts, now, exclude)
        if decision is None:
            decision = self._evaluate(facts, now, exclude, self._current, None)
        return decision

    def _route_fast(self, facts: MessageFacts, now: datetime, exclude: Collection[str]) -> RouteDecision | None:
        """The usual case, asked per message: the first matching route has every upstream usable
        and none excluded, and its strategy ignores the load. Its decision then depends only on
        the pick, so it is built once and reused (route() 2.7 -> 1.0 µs). None for anything else:
        _evaluate decides, from the same state (nothing was advanced here)."""
        usable_of = self._usable
        if usable_of is None:
            return None
        for spec in self.routes:
            if not spec.matches(facts, now):
                continue
            if spec.strategy == "least_outstanding":
                return None
            try:
                for name, weight in spec.upstreams:
                    if not weight or name in exclude or not usable_of(name):
                        return None
            except Exception:  # noqa: BLE001 - _evaluate reports the broken probe
                return None
            if spec.strategy == "failover":
                pick = 0
            else:
                weights = self._weights[spec.name]
                pick = _swrr(weights, self._current[spec.name], range(len(weights)))
            decision = self._all_usable.get((spec.name, pick))
            if decision is None:
                how = "first usable in failover order" if spec.strategy == "failover" else "weighted round-robin"
                names = tuple(name for name, _ in spec.upstreams)
                decision = RouteDecision(names[pick], spec.name, f"{how} among {', '.join(names)}", names, ())
                self._all_usable[spec.name, pick] = decision
            return decision
        return None

    def explain(self, facts: MessageFacts, now: datetime,
                exclude: Collection[str] = ()) -> list[str]:
        """Lines for ``smsc route test``; does not advance the round-robin state."""
        lines = [
            f"message: destination {facts.dest_addr}, account {facts.account or '-'}, "
            f"source {facts.source_addr or '-'}, class {facts.message_class or '-'}, "
            f"at {now.isoformat()}"
        ]
        if exclude:
            lines.append(f"excluding: {', '.join(sorted(exclude))}")
        state = {k: list(v) for k, v in self._current.items()}
        decision = self._evaluate(facts, now, exclude, state, lines)
        if decision.ok:
            lines.append(f"decision: {decision.upstream} via route {decision.route!r}: "
                         f"{decision.reason}")
        else:
            lines.append(f"decision: no upstream: {decision.reason}")
        return lines

    def _check(self, name: str, weight: int, exclude: Collection[str],
               need_load: bool = True) -> tuple[str | None, float]:
        """(why it is skipped or None, load); the load is 0.0 unless ``need_load``."""
        if name in exclude:
            return "excluded by caller (already failed)", 0.0
        if weight == 0:
            return "weight 0 (drained)", 0.0
        try:
            if not need_load and self._usable is not None:
                usable = self._usable(name)
                if usable is None:
                    return "unknown upstream", 0.0
                return (None if usable else "not usable (unbound or unhealthy)"), 0.0
            health = self._health(name)
        except Exception as exc:  # a broken health probe must not break routing
            return f"health check failed: {exc!r}", 0.0
        if health is None:
            return "unknown upstream", 0.0
        usable, load = health
        if not usable:
            return "not usable (unbound or unhealthy)", 0.0
        return None, (1.0 if math.isnan(load) else float(load))

    def _evaluate(self, facts: MessageFacts, now: datetime, exclude: Collection[str],
                  state: dict[str, list[int]], trace: list[str] | None) -> RouteDecision:
        excluded: list[tuple[str, str]] = []
        candidates: list[str] = []
        matched: list[str] = []
        for spec in self.routes:
            if trace is None:
                if not spec.matches(facts, now):
                    continue
            else:
                why_not = spec.mismatch(facts, now)
                if why_not is not None:
                    trace.append(f"route {spec.name!r}: no match: {why_not}")
                    continue
            matched.append(spec.name)
            if trace is not None:
                trace.append(f"route {spec.name!r}: match ({spec.describe_filters()}), "
                             f"strategy {spec.strategy}")
            usable: list[int] = []
            loads: list[float] = []
            # only least_outstanding picks by load; explain() shows it for every strategy
            need_load = trace is not None or spec.strategy == "least_outstanding"
            for i, (name, weight) in enumerate(spec.upstreams):
                skip, load = self._check(name, weight, exclude, need_load)
                if skip is not None:
                    excluded.append((name, skip))
                else:
                    usable.append(i)
                    loads.append(load)
                    candidates.append(name)
                if trace is not None:
                    status = f"skipped: {skip}" if skip else f"usable, load {load:.2f}"
                    trace.append(f"  {name}: weight {weight}, {status}")
            if usable:
                pick, how = self._pick(spec, usable, loads, state[spec.name])
                name = spec.upstreams[pick][0]
                names = ", ".join(spec.upstreams[i][0] for i in usable)
                return RouteDecision(name, spec.name, f"{how} among {names}",
                                     tuple(candidates), tuple(excluded))
            if not spec.fallthrough:
                return RouteDecision(
                    None, spec.name, f"route {spec.name!r} matched but none of its upstreams is usable: "
                    + "; ".join(f"{n} {w}" for n, w in excluded), tuple(candidates), tuple(excluded))
            if trace is not None:
                trace.append(f"route {spec.name!r}: nothing usable, falls through to the next route")
        if matched:
            reason = f"routes {', '.join(matched)} matched but no upstream is usable: " + "; ".join(
                f"{n} {w}" for n, w in excluded)
            return RouteDecision(None, matched[-1], reason, tuple(candidates), tuple(excluded))
        return RouteDecision(None, None, f"no route matches destination {facts.dest_addr}, account "
                             f"{facts.account or '-'}, source {facts.source_addr or '-'}, class "
                             f"{facts.message_class or '-'}", (), ())

    @staticmethod
    def _pick(spec: RouteSpec, usable: list[int], loads: list[float],
              current: list[int]) -> tuple[int, str]:
        weights = [w for _, w in spec.upstreams]  # not per message: see _route_fast
        if spec.strategy == "failover":
            return usable[0], "first usable in failover order"
        if spec.strategy == "least_outstanding":
            low = min(loads)
            tied = [i for i, load in zip(usable, loads) if load - low <= 1e-9]
            if len(tied) == 1:
                return tied[0], f"lowest load ({low:.2f})"
            how = f"lowest load ({low:.2f}), tie broken by weighted round-robin"
            return _swrr(weights, current, tied), how
        return _swrr(weights, current, usable), "weighted round-robin"
