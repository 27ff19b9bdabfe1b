"""Upstreams: where messages leave smsc (SMPP carriers, the modem rack), behind one contract.

Import the contract from here; implementations live in sibling modules.
"""

from smsc.upstreams.base import (
    OUTCOME_TYPES,
    Accepted,
    Cause,
    OutboundSms,
    Outcome,
    Reject,
    Retry,
    Upstream,
    health_of,
    safe_send,
    safe_send_notify,
)

__all__ = [
    "OUTCOME_TYPES",
    "Accepted",
    "Cause",
    "OutboundSms",
    "Outcome",
    "Reject",
    "Retry",
    "Upstream",
    "health_of",
    "safe_send",
    "safe_send_notify",
]
