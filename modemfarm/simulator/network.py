"""The simulated radio network and SMSC: submit latency, status reports, MO traffic.

Figures follow the reference notes (§1.8): a submit takes a few seconds, log-normally distributed
with a tail towards 20 s; status reports may be intermediate (0x20..0x3F, the SC still trying)
before the final one, may be lost, duplicated, or arrive *before* the driver has read +CMGS.
All randomness comes from one seeded ``random.Random`` so that a seed gives the same run.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from modemfarm.simulator import pdu_sim

DELIVERED = 0x00
PENDING_CONGESTION = 0x20
FAILED_PERMANENT = 0x41  # incompatible destination
FAILED_TEMPORARY = 0x60  # congestion, SC gave up


@dataclass
class Latency:
    """A log-normal delay with a median, a spread (sigma) and hard bounds, in seconds."""

    median: float = 3.0
    sigma: float = 0.5
    minimum: float = 0.2
    maximum: float = 20.0

    def sample(self, rng: random.Random) -> float:
        if self.sigma <= 0:
            return min(max(self.median, self.minimum), self.maximum)
        value = rng.lognormvariate(math.log(max(self.median, 1e-6)), self.sigma)
        return min(max(value, self.minimum), self.maximum)


@dataclass
class ReportPolicy:
    """Probabilities that shape the status reports of submits that asked for one."""

    delay: Latency = field(default_factory=lambda: Latency(2.0, 0.5, 0.1, 30.0))
    intermediate: float = 0.0  # a 0x20 report first, then the final one
    failure: float = 0.0  # the final status is a failure (0x41) instead of delivered
    lost: float = 0.0  # no report at all
    duplicate: float = 0.0  # the final report arrives twice
    early: float = 0.0  # the first report arrives before the +CMGS line


@dataclass
class ReportPlan:
    """The reports one submit will produce: statuses with their delays after +CMGS."""

    statuses: list[int]
    delays: list[float]
    early: bool = False

    @classmethod
    def scripted(cls, statuses: list[int], delay: float = 1.0, early: bool = False,
                 duplicate: bool = False) -> ReportPlan:
        """A fixed plan: ``statuses`` one ``delay`` apart (the last repeated if duplicate)."""
        statuses = list(statuses) + ([statuses[-1]] if duplicate and statuses else [])
        return cls(statuses, [delay * (i + 1) for i in range(len(statuses))], early)


class Network:
    """Decides latencies and reports; builds MO PDUs. One per simulated modem (own RNG)."""

    def __init__(self, rng: random.Random, *, submit_latency: Latency | None = None,
                 reports: ReportPolicy | None = None, sca: str = "+15550000000") -> None:
        self.rng = rng
        self.submit_latency = submit_latency or Latency()
        self.reports = reports or ReportPolicy()
        self.sca = sca
        self.scripted_reports: deque[ReportPlan | None] = deque()
        self.next_concat_ref = rng.randrange(256)

    def latency(self) -> float:
        """Seconds between Ctrl-Z and +CMGS."""
        return self.submit_latency.sample(self.rng)

    def plan_reports(self, wants_report: bool) -> ReportPlan | None:
        """The reports for one submit (None: no report). A scripted plan wins over the policy."""
        if self.scripted_reports:
            plan = self.scripted_reports.popleft()
            return plan if wants_report else None
        if not wants_report:
            return None
        policy = self.reports
        if self.rng.random() < policy.lost:
            return None
        final = FAILED_PERMANENT if self.rng.random() < policy.failure else DELIVERED
        statuses = ([PENDING_CONGESTION] if self.rng.random() < policy.intermediate else []) + [final]
        if self.rng.random() < policy.duplicate:
            statuses.append(final)
        delays, elapsed = [], 0.0
        for _ in statuses:
            elapsed += policy.delay.sample(self.rng)
            delays.append(elapsed)
        return ReportPlan(statuses, delays, early=self.rng.random() < policy.early)

    def mo_pdus(self, sender: str, text: str, when_seconds: float, *, sixteen_bit: bool = False,
                order: str | list[int] = "in", duplicate: bool = False,
                drop: list[int] | None = None) -> list[str]:
        """SMS-DELIVER PDUs for an MO, in delivery order.

        ``order``: "in", "reverse", "shuffle" or an explicit list of part numbers (1-based).
        ``drop``: part numbers never delivered (a reassembly timeout case).
        """
        self.next_concat_ref = (self.next_concat_ref + 1) % (65536 if sixteen_bit else 256)
        parts = pdu_sim.encode_deliver(sender, text, pdu_sim.utc(when_seconds), sca=self.sca,
                                       reference=self.next_concat_ref, sixteen_bit=sixteen_bit)
        numbers = list(range(1, len(parts) + 1))
        if order == "reverse":
            numbers.reverse()
        elif order == "shuffle":
            self.rng.shuffle(numbers)
        elif isinstance(order, list):
            numbers = list(order)
        numbers = [n for n in numbers if n not in (drop or [])]
        out = [parts[n - 1] for n in numbers]
        if duplicate and out:
            out.append(out[0])
        return out
