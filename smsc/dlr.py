"""Receipts to ESMEs: a deliver_sm carrying OUR message id, built from the message row.

Pure functions: the store calls them inside the transaction that changes a message's state, so
the state change and the receipt the ESME is owed commit together (never one without the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocols.smpp.receipts import encode_receipt_tlvs, format_receipt_text
from smsc.states import ENROUTE, TO_SMPP, wants_receipt
from smsc.store.schema import PENDING

ESM_CLASS_RECEIPT = 0x04
ESM_CLASS_INTERMEDIATE = 0x20


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    """What an upstream (SMPP carrier or modem) said about one part it accepted."""

    upstream: str
    remote_id: str
    smpp_state: int  # SMPP message_state 1..8
    error_code: int | None = None


def public_id(message: dict[str, Any]) -> str:
    """The id the ESME was given: submit_multi destinations share the first row's id."""
    return str(message["multi_id"] or message["id"])


def esme_receipt(message: dict[str, Any], state: str | None, now: float, error_code: int | None = None) -> dict[str, Any] | None:
    """The outbox row owed to the ESME for ``message`` reaching ``state`` (None: intermediate
    ENROUTE), or None when its registered_delivery does not ask for one."""
    if not wants_receipt(message["registered_delivery"], state):
        return None
    smpp_state = TO_SMPP[state] if state is not None else ENROUTE
    our_id = public_id(message)
    # epoch seconds, not datetimes: the formatted dates are cached per minute
    text = format_receipt_text(our_id, smpp_state, message["created_at"], now, err=error_code or 0,
                               text=(message.get("text") or "")[:20])
    return {
        "account_id": message["account_id"],
        "kind": "receipt",
        "message_id": message["id"],
        "state": PENDING,
        # a receipt goes from the recipient back to the sender
        "source_addr": message["dest_addr"],
        "source_ton": message["dest_ton"],
        "source_npi": message["dest_npi"],
        "dest_addr": message["source_addr"],
        "dest_ton": message["source_ton"],
        "dest_npi": message["source_npi"],
        "esm_class": ESM_CLASS_RECEIPT if state is not None else ESM_CLASS_INTERMEDIATE,
        "data_coding": 0,
        "body": text.encode("ascii", "replace"),
        "tlvs": encode_receipt_tlvs(our_id, smpp_state),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "delivered_at": None,
        "group_key": None,
        "part": None,
    }
