"""One status map between our message states and SMPP 3.4 message_state (receipts, query_sm)."""

from __future__ import annotations

from smsc.store.schema import CANCELLED, DELIVERED, EXPIRED, FAILED, REJECTED, UNDELIVERABLE

ENROUTE, ACCEPTED = 1, 6  # SMPP message_state values that are not final

# our state -> SMPP message_state (what query_sm_resp and our receipts to ESMEs say)
TO_SMPP = {
    "QUEUED": 1, "SENDING": 1, "SUBMITTED": 1,  # ENROUTE
    DELIVERED: 2, EXPIRED: 3, CANCELLED: 4, UNDELIVERABLE: 5, REJECTED: 8, FAILED: 5,
}

# SMPP message_state in an upstream's receipt -> our final state (None: not final)
FROM_SMPP: dict[int, str | None] = {
    1: None,  # ENROUTE
    2: DELIVERED,
    3: EXPIRED,
    4: CANCELLED,  # DELETED by the SMSC
    5: UNDELIVERABLE,
    6: None,  # ACCEPTED (read on the subscriber's behalf): the final word comes later
    7: UNDELIVERABLE,  # UNKNOWN: final, and not a delivery
    8: REJECTED,
    9: REJECTED,  # SKIPPED (SMPP 5.0)
}


def final_state(smpp_state: int) -> str | None:
    """Our final state for an upstream receipt's message_state; unknown values count as final
    failures rather than leaving the message waiting forever."""
    return FROM_SMPP.get(smpp_state, UNDELIVERABLE)


def wants_receipt(registered_delivery: int, state: str | None) -> bool:
    """Does the ESME want a receipt for this outcome? (SMPP 3.4 5.2.17: bits 0-1 = SMSC receipt
    on final outcome (1) or on failure only (2); bit 4 = intermediate notifications)."""
    if state is None:
        return bool(registered_delivery & 0x10)
    wanted = registered_delivery & 0x03
    return wanted == 1 or (wanted == 2 and state != DELIVERED)
