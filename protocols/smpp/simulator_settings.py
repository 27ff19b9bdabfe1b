"""The upstream simulator's settings, message ids, counters and MO encoding.

Kept apart from the simulator's behaviour (simulator.py) so the CLI and the engine's config
can build settings without pulling in the session machinery.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from random import Random
from typing import Any, Mapping

from protocols.smpp.constants import MessageState
from protocols.smpp.receipts import STAT_TO_STATE, state_to_stat
from protocols.sms import gsm7, ucs2
from protocols.sms.plan import TextProfile, plan
from protocols.sms.udh import build_udh, concat_head

ID_FLAVOURS = ("dec", "hex", "uuid")
RECEIPT_FORMATS = ("text", "tlv", "both")
DELAY_DISTRIBUTIONS = ("fixed", "uniform", "exponential")
RECORD_MODES = ("counters", "arrivals", "full")
FINAL_STATS = ("DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN")
INTERMEDIATE_STATS = ("ENROUTE", "ACCEPTD")
# err: written in the receipt text for each final state (GSM-ish causes: 1 unknown
# subscriber, 27 absent subscriber / expired, 11 rejected by the network)
ERR_FOR_STATE = {MessageState.DELIVERED: 0, MessageState.UNDELIVERABLE: 1,
                 MessageState.EXPIRED: 27, MessageState.REJECTED: 11,
                 MessageState.DELETED: 0, MessageState.UNKNOWN: 0}


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """What kind of carrier the simulator plays. Durations are seconds."""

    system_id: str = "upstream"
    password: str = "secret"
    accept_any: bool = False            # accept every system_id / password
    server_system_id: str = "SIMSMSC"   # our system_id in bind_resp
    id_flavour: str = "dec"             # message_id in submit_sm_resp: dec | hex | uuid
    receipt_id_flavour: str | None = None  # id in receipts; None = same as id_flavour
    id_start: int = 1
    id_width: int = 0                   # zero-pad ids to this many digits
    receipt_delay: float = 1.0          # fixed delay, uniform upper bound, or exponential mean
    receipt_delay_min: float = 0.0      # uniform lower bound
    receipt_delay_distribution: str = "fixed"
    outcomes: Mapping[str, float] = field(default_factory=lambda: {"DELIVRD": 1.0})
    receipt_format: str = "both"        # text | tlv | both
    receipt_date_seconds: bool = False  # YYMMDDhhmmss dates, as some carriers write
    intermediate_stat: str = "ENROUTE"  # intermediate notification (registered_delivery 0x10)
    intermediate_esm_class: int = 0x20
    early_receipt: float = 0.0          # probability the receipt precedes the submit_sm_resp
    early_receipt_lag: float = 0.0      # hold the submit_sm_resp this long after it
    tick: float = 0.05                  # receipts due are sent in batches on this timer
    retry_interval: float = 5.0         # re-push held receipts/MO while a receiver is bound
    max_held: int = 1_000_000           # receipts/MO kept for an absent receiver (then dropped)
    record: str = "arrivals"            # counters | arrivals ((dest, text) -> n) | full
    query_memory: int = 10_000          # recent ids query_sm can answer (0: none)
    mo_interval: float = 0.0            # a random MO every this many seconds (0: off)
    mo_destination: str = "12345"
    mo_source_prefix: str = "4477009"
    deliver_window: int = 100           # deliver_sm in flight per receiver bind
    deliver_timeout: float = 10.0       # wait for a deliver_sm_resp
    enquire_link_interval: float = 30.0
    inactivity_timeout: float = 300.0

    def __post_init__(self) -> None:
        for name, value, allowed in (
                ("id_flavour", self.id_flavour, ID_FLAVOURS),
                ("receipt_id_flavour", self.receipt_flavour, ID_FLAVOURS),
                ("receipt_format", self.receipt_format, RECEIPT_FORMATS),
                ("receipt_delay_distribution", self.receipt_delay_distribution,
                 DELAY_DISTRIBUTIONS),
                ("record", self.record, RECORD_MODES),
                ("intermediate_stat", self.intermediate_stat, INTERMEDIATE_STATS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if (self.id_flavour == "uuid") != (self.receipt_flavour == "uuid"):
            raise ValueError("a uuid id has no other flavour: set both id flavours to uuid")
        for name in ("receipt_delay", "receipt_delay_min", "early_receipt_lag",
                     "retry_interval", "mo_interval"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.receipt_delay_min > self.receipt_delay:
            raise ValueError("receipt_delay_min is more than receipt_delay")
        if not 0.0 <= self.early_receipt <= 1.0:
            raise ValueError(f"early_receipt is a probability (0..1), not {self.early_receipt}")
        if self.tick <= 0 or self.deliver_timeout <= 0 or self.deliver_window < 1:
            raise ValueError("tick and deliver_timeout must be > 0, deliver_window >= 1")
        if self.id_start < 0 or self.id_width < 0 or self.max_held < 0 \
                or self.query_memory < 0:
            raise ValueError("id_start, id_width, max_held and query_memory must be >= 0")
        if not self.outcomes or any(w < 0 for w in self.outcomes.values()) \
                or sum(self.outcomes.values()) <= 0:
            raise ValueError("outcomes needs at least one positive weight")
        for stat in self.outcomes:
            if stat not in FINAL_STATS:
                raise ValueError(f"outcome {stat!r} is not a final stat ({', '.join(FINAL_STATS)})")

    @property
    def receipt_flavour(self) -> str:
        return self.receipt_id_flavour or self.id_flavour

    def outcome_table(self) -> list[tuple[float, MessageState]]:
        """Cumulative weights (normalised to 1) for drawing a final state."""
        total = sum(self.outcomes.values())
        table, acc = [], 0.0
        for stat, weight in self.outcomes.items():
            if weight > 0:
                acc += weight / total
                table.append((acc, STAT_TO_STATE[stat]))
        table[-1] = (math.inf, table[-1][1])
        return table


class IdMaker:
    """Message ids from a counter: (id for submit_sm_resp, the same id as receipts write it)."""

    def __init__(self, settings: SimulatorSettings, rng: Random) -> None:
        self.width = settings.id_width
        self.resp = settings.id_flavour
        self.receipt = settings.receipt_flavour
        prefix = format(rng.getrandbits(64), "016x")
        self._uuid_head = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[12:15]}-8{prefix[13:16]}-"

    def _one(self, n: int, flavour: str) -> str:
        if flavour == "dec":
            return str(n).zfill(self.width)
        if flavour == "hex":
            return format(n, "x").zfill(self.width)
        return f"{self._uuid_head}{n:012x}"

    def __call__(self, n: int) -> tuple[str, str]:
        resp = self._one(n, self.resp)
        return resp, (resp if self.receipt == self.resp else self._one(n, self.receipt))


class Counters:
    """What the simulator saw and did, readable by tests and the benchmark."""

    def __init__(self) -> None:
        self.submits = 0                       # submit_sm + data_sm + submit_multi received
        self.by_status: Counter[int] = Counter()  # answered command_status -> count
        self.by_command: Counter[str] = Counter()
        self.unanswered = 0                    # dropped on purpose (DROP fault)
        self.disconnects = 0                   # connections dropped by a fault
        self.binds = 0
        self.binds_refused = 0
        self.receipts_scheduled = 0
        self.receipts_sent = 0                 # acknowledged with ESME_ROK
        self.intermediate_sent = 0
        self.receipts_by_state: Counter[str] = Counter()  # stat word, acknowledged
        self.push_failures = 0                 # deliver_sm nacked, timed out or cut off
        self.dropped = 0                       # held receipts/MO discarded past max_held
        self.mo_sent = 0
        self.arrivals: Counter[tuple[str, str]] = Counter()  # (destination, text) -> count
        self.log: list[dict[str, Any]] = []    # record="full": one entry per destination

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(destination, text) that arrived more than once -> extra copies."""
        return {key: n - 1 for key, n in self.arrivals.items() if n > 1}

    def snapshot(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in vars(self).items()
                if k not in ("arrivals", "log")}


def stat_word(state: int) -> str:
    return state_to_stat(state)


# ---------------------------------------------------------------- MO encoding

_ENCODERS = {0: gsm7.encode, 1: gsm7.encode, 3: lambda t: t.encode("latin-1"),
             4: lambda t: t.encode("utf-8"), 8: ucs2.encode}
_CAPS = {"udh8": (153, 134), "udh16": (152, 133)}  # per part: septets, octets


def mo_parts(text: str, data_coding: int | None = None, parts: int | None = None,
             reference: int = 0, concat: str = "udh8") -> list[tuple[int, int, bytes]]:
    """(esm_class, data_coding, short_message) for each part of an MO. ``parts`` forces
    the number of parts (text cut in equal runs of characters); by default the text is
    split as a phone would. ValueError when the text does not fit the encoding or parts."""
    if data_coding is None:
        data_coding = 0 if gsm7.is_gsm7(text) else 8
    encoder = _ENCODERS.get(data_coding)
    if encoder is None:
        raise ValueError(f"MO data_coding {data_coding} is not one of {sorted(_ENCODERS)}")
    if concat not in _CAPS:
        raise ValueError(f"concat must be udh8 or udh16, not {concat!r}")
    if parts is None:
        if data_coding in (0, 1, 8):
            profile = TextProfile(encodings=("gsm7" if data_coding < 2 else "ucs2",),
                                  concat=concat, max_parts=255)
            message = plan(text, profile, reference)
            return [(0x40 if p.udh else 0, data_coding, p.udh + p.payload)
                    for p in message.parts]
        encoded = encoder(text)
        parts = max(1, math.ceil(len(encoded) / (140 if len(encoded) <= 140
                                                 else _CAPS[concat][1])))
    if not 1 <= parts <= 255:
        raise ValueError(f"parts must be 1..255, not {parts}")
    if parts == 1:
        body = encoder(text)
        if len(body) > (160 if data_coding in (0, 1) else 140):
            raise ValueError(f"{len(body)} units do not fit one SMS")
        return [(0, data_coding, body)]
    if len(text) < parts:
        raise ValueError(f"{len(text)} characters cannot make {parts} parts")
    step = math.ceil(len(text) / parts)
    chunks = [text[i * step:(i + 1) * step] for i in range(parts)]
    if not chunks[-1]:
        raise ValueError(f"{len(text)} characters cannot make {parts} parts")
    cap = _CAPS[concat][0 if data_coding in (0, 1) else 1]
    out = []
    head = concat_head(concat, reference, parts)
    for seq, chunk in enumerate(chunks, 1):
        body = encoder(chunk)
        if len(body) > cap:
            raise ValueError(f"part {seq} needs {len(body)} units, at most {cap} fit")
        out.append((0x40, data_coding, build_udh(head + bytes((seq,))) + body))
    return out
