"""Status reports: TP-ST meaning and matching a report to the submission it is about.

The key is (modem IMEI, TP-MR, recipient). TP-MR is 8 bits and wraps every 256 submits per
modem, so several submissions can share a key; the *newest* one within the window is the one
the report is about (an older one with the same key is at least 256 sends stale). A report for a
submission that is already final is a duplicate and changes nothing. A report that matches
nothing yet is returned as unmatched so the caller can keep it and match it again when the MR
lands (LESSONS #3: never drop an early receipt).

`SubmissionIndex` is an in-memory reference implementation of the lookup; the engine does the
same query in SQL (``WHERE modem=? AND mr=? AND recipient=? ORDER BY submitted_at DESC``).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field


class DeliveryState(enum.Enum):
    ENROUTE = "ENROUTE"  # intermediate: the SC is still trying
    DELIVERED = "DELIVERED"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    UNDELIVERABLE = "UNDELIVERABLE"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class StatusMeaning:
    status: int
    state: DeliveryState
    final: bool
    text: str


# TS 23.040 §9.2.3.15: named values; the rest of each range is "reserved" or SC-specific.
_NAMED = {
    0x00: "short message received by the SME",
    0x01: "forwarded by the SC to the SME, delivery not confirmed",
    0x02: "replaced by the SC",
    0x20: "congestion (SC still trying)",
    0x21: "SME busy (SC still trying)",
    0x22: "no response from SME (SC still trying)",
    0x23: "service rejected (SC still trying)",
    0x24: "quality of service not available (SC still trying)",
    0x25: "error in SME (SC still trying)",
    0x40: "remote procedure error",
    0x41: "incompatible destination",
    0x42: "connection rejected by SME",
    0x43: "not obtainable",
    0x44: "quality of service not available",
    0x45: "no interworking available",
    0x46: "SM validity period expired",
    0x47: "SM deleted by originating SME",
    0x48: "SM deleted by SC administration",
    0x49: "SM does not exist",
    0x60: "congestion (SC gave up)",
    0x61: "SME busy (SC gave up)",
    0x62: "no response from SME (SC gave up)",
    0x63: "service rejected (SC gave up)",
    0x64: "quality of service not available (SC gave up)",
    0x65: "error in SME (SC gave up)",
}


def status_meaning(status: int) -> StatusMeaning:
    """Map TP-ST to a delivery state. 0x00-0x1F delivered; 0x20-0x3F intermediate (not final);
    0x40-0x7F permanent failure; 0x80+ reserved, treated as a final UNKNOWN."""
    text = _NAMED.get(status, f"TP-ST {status:#04x}")
    if status < 0x20:
        return StatusMeaning(status, DeliveryState.DELIVERED, True, text)
    if status < 0x40:
        return StatusMeaning(status, DeliveryState.ENROUTE, False, text)
    if status == 0x46:
        return StatusMeaning(status, DeliveryState.EXPIRED, True, text)
    if status in (0x47, 0x48):
        return StatusMeaning(status, DeliveryState.DELETED, True, text)
    if status in (0x42, 0x63):
        return StatusMeaning(status, DeliveryState.REJECTED, True, text)
    if status < 0x80:
        return StatusMeaning(status, DeliveryState.UNDELIVERABLE, True, text)
    return StatusMeaning(status, DeliveryState.UNKNOWN, True, text)


def normalise_number(number: str) -> str:
    """Digits only: "+1 555-123" and "1555123" compare equal."""
    return "".join(c for c in number if c.isdigit())


def same_recipient(a: str, b: str, min_suffix: int = 7) -> bool:
    """Equal digits, or one a suffix of the other (national vs international form) when the
    shorter has at least ``min_suffix`` digits."""
    x, y = normalise_number(a), normalise_number(b)
    if x == y:
        return bool(x)
    short, long_ = sorted((x, y), key=len)
    return len(short) >= min_suffix and long_.endswith(short)


@dataclass
class Submission:
    """One submitted part as the matcher sees it."""

    message_ref: object  # the engine's id for the message
    modem_id: str
    mr: int
    recipient: str
    submitted_at: float
    part: int = 0
    state: DeliveryState = DeliveryState.ENROUTE
    final: bool = False
    history: list[int] = field(default_factory=list)  # every TP-ST seen, in order


@dataclass(frozen=True)
class MatchResult:
    submission: Submission | None
    meaning: StatusMeaning
    duplicate: bool = False  # the submission was already final: nothing changed

    @property
    def matched(self) -> bool:
        return self.submission is not None


def pick_submission(candidates: list[Submission], recipient: str, at: float,
                    window: float) -> Submission | None:
    """The newest candidate for ``recipient`` submitted within ``window`` seconds before ``at``
    (a small negative skew is allowed: a report's clock can run ahead of ours)."""
    best: Submission | None = None
    for sub in candidates:
        if not same_recipient(sub.recipient, recipient):
            continue
        if at - sub.submitted_at > window:
            continue
        if best is None or sub.submitted_at >= best.submitted_at:
            best = sub
    return best


class SubmissionIndex:
    """Submissions keyed by (modem, MR), newest wins; applies reports idempotently."""

    def __init__(self, window: float = 7 * 86400) -> None:
        self.window = window
        self._by_key: dict[tuple[str, int], list[Submission]] = defaultdict(list)

    def add(self, submission: Submission) -> None:
        if not 0 <= submission.mr <= 255:
            raise ValueError(f"TP-MR {submission.mr} is not 0..255")
        bucket = self._by_key[(submission.modem_id, submission.mr)]
        bucket.append(submission)
        if len(bucket) > 16:  # after many wraps only the recent ones can still match
            del bucket[:-16]

    def apply(self, modem_id: str, mr: int, recipient: str, status: int, at: float) -> MatchResult:
        """Match one report and record its status. Intermediate statuses are appended to the
        history; the first final status fixes the state; later ones are duplicates."""
        meaning = status_meaning(status)
        sub = pick_submission(self._by_key.get((modem_id, mr), []), recipient, at, self.window)
        if sub is None:
            return MatchResult(None, meaning)
        if sub.final:
            return MatchResult(sub, meaning, duplicate=True)
        sub.history.append(status)
        sub.state = meaning.state
        sub.final = meaning.final
        return MatchResult(sub, meaning)


def aggregate(parts: list[Submission]) -> DeliveryState | None:
    """State of a multipart message: None while any part is not final; any failed part makes
    the whole fail (its state); all delivered makes DELIVERED."""
    if not parts or not all(p.final for p in parts):
        return None
    for p in parts:
        if p.state is not DeliveryState.DELIVERED:
            return p.state
    return DeliveryState.DELIVERED
