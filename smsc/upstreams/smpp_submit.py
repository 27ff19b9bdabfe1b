"""Pure mapping between our contract and SMPP: OutboundSms -> submit_sm fields,
submit_sm_resp / session failures -> Accepted | Retry | Reject, and a receipt deliver_sm ->
what the engine is told. No I/O, so it is tested by table.

The upstream reports the raw cause; :class:`smsc.retry.RetryPolicy` makes the final decision.
The Retry/Reject split here is this upstream's own view: the statuses Kannel and the SMPP
notes treat as temporary are Retry, everything else Reject.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Literal

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.python.failure import Failure

from protocols.smpp.codec import PduError, decode_tlvs
from protocols.smpp.constants import ESM_CLASS_UDHI, TLV_BY_TAG, Status, status_name
from protocols.smpp.errors import ProtocolError, ResponseTimeout, SmppError
from protocols.smpp.receipts import canonical_id, receipt_summary
from protocols.smpp.times import format_smpp_time
from smsc.upstreams.base import OutboundSms, Outcome, Reject, Retry, new_accepted

IdFlavour = Literal["string", "hex", "dec"]
MAX_SHORT_MESSAGE = 254          # octets; more goes in message_payload
MAX_PAYLOAD = 65535              # message_payload TLV limit
TEMPORARY_STATUSES = frozenset({Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL,
                                Status.ESME_RSYSERR, Status.ESME_RX_T_APPN})
_TL = struct.Struct(">HH")


class UnsendableError(ValueError):
    """The segment cannot be expressed as a submit_sm (it would fail the same everywhere)."""


@dataclass(frozen=True, slots=True)
class SourceOverride:
    addr: str
    ton: int | None = None
    npi: int | None = None


def submit_args(sms: OutboundSms, source: SourceOverride | None = None
                ) -> tuple[dict[str, Any], dict[str, Any] | None, list[tuple[int, bytes]] | None]:
    """The submit_sm for one segment, as the session's ``send_request_notify`` takes it (params,
    TLVs or None, vendor TLVs or None): UDH prepended with UDHI set, long bodies in
    message_payload, validity as an absolute SMPP time, extra TLVs decoded by tag."""
    udh = sms.udh
    body = udh + sms.payload if udh else sms.payload
    if len(body) > MAX_PAYLOAD:
        raise UnsendableError(f"{len(body)} octets is more than message_payload can carry")
    params: dict[str, Any] = {
        "source_addr_ton": sms.source_ton, "source_addr_npi": sms.source_npi,
        "source_addr": sms.source_addr, "dest_addr_ton": sms.dest_ton,
        "dest_addr_npi": sms.dest_npi, "destination_addr": sms.dest_addr,
        "esm_class": sms.esm_class | ESM_CLASS_UDHI if udh else sms.esm_class,
        "priority_flag": sms.priority, "registered_delivery": sms.registered_delivery,
        "data_coding": sms.data_coding,
    }
    if source is not None:
        params["source_addr"] = source.addr
        if source.ton is not None:
            params["source_addr_ton"] = source.ton
        if source.npi is not None:
            params["source_addr_npi"] = source.npi
    validity = sms.validity_at
    if validity is not None:
        params["validity_period"] = format_smpp_time(validity.timestamp())
    tlvs: dict[str, Any] | None = None
    if len(body) > MAX_SHORT_MESSAGE:
        tlvs = {"message_payload": body}
        params["short_message"] = b""  # sm_length 0: the body is in the TLV
    else:
        params["short_message"] = body
    if not sms.extra_tlvs:
        return params, tlvs, None
    if tlvs is None:
        tlvs = {}
    vendor: list[tuple[int, bytes]] = []
    for tag, value in sms.extra_tlvs:
        if tag not in TLV_BY_TAG:
            vendor.append((tag, bytes(value)))
            continue
        try:
            decoded, _ = decode_tlvs(_TL.pack(tag, len(value)) + bytes(value))
        except (PduError, struct.error) as exc:
            raise UnsendableError(f"extra TLV 0x{tag:04X} does not decode: {exc}") from None
        tlvs.update(decoded)
    return params, tlvs or None, vendor or None


def normalise_id(remote_id: str, flavour: IdFlavour) -> tuple[str, bool]:
    """(canonical id, True) or, when the id is not of the configured flavour, (the id as
    sent, stripped, False): a receipt may still match it, a crash would lose the message."""
    try:
        return canonical_id(remote_id, flavour), True
    except ValueError:
        return remote_id.strip(), False


def outcome_for_response(status: int, remote_id: str | None, flavour: IdFlavour
                         ) -> tuple[Outcome | None, bool]:
    """The outcome of a submit_sm_resp. (None, _) for status 0 without a message_id (the
    caller synthesises one); the bool is False when the id did not fit ``flavour``."""
    if status == 0:
        if not remote_id or not remote_id.strip():
            return None, True
        canonical, ok = normalise_id(remote_id, flavour)
        return new_accepted(canonical), ok  # Accepted(canonical), per segment
    name = status_name(status)
    if status in TEMPORARY_STATUSES:
        return Retry(f"upstream answered {name}", cause=status), True
    return Reject(f"upstream answered {name}", status=status, cause=status), True


def outcome_for_failure(failure: Failure, response_timeout: float) -> Outcome:
    """The outcome of a submit that got no submit_sm_resp."""
    if failure.check(ResponseTimeout):
        return Retry(f"no submit_sm_resp within {response_timeout:g} s: the outcome is unknown "
                     "(the carrier may have taken it)", cause="timeout", try_other_upstream=True)
    if failure.check(ConnectionLost, ConnectionDone):
        return Retry("connection lost before the submit_sm_resp: the outcome is unknown",
                     cause="connection_lost", try_other_upstream=True)
    if failure.check(SmppError):  # the session was unbinding: nothing was sent
        status = failure.value.status
        return Retry(f"session refused the submit: {failure.getErrorMessage()}", cause=status,
                     try_other_upstream=True)
    if failure.check(ProtocolError):
        return Retry(f"unreadable submit_sm_resp, outcome unknown: {failure.getErrorMessage()}",
                     cause="timeout", try_other_upstream=True)
    if failure.check(ValueError, TypeError, PduError):
        return Reject(f"submit_sm does not encode: {failure.getErrorMessage()}")
    return Retry(f"submit failed: {failure.getErrorMessage()}", cause="internal_error",
                 try_other_upstream=True)


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    remote_id: str            # canonical, per the receipt id flavour (as sent if it did not fit)
    state: int                # message_state; UNKNOWN when the receipt names none we know
    error_code: int | None    # err: from the text, else the network_error_code's code
    flavour_ok: bool


def receipt_event(params: dict[str, Any], tlvs: dict[str, Any], flavour: IdFlavour
                  ) -> ReceiptEvent | None:
    """What to tell the engine about a receipt deliver_sm/data_sm; None without an id."""
    summary = receipt_summary(params, tlvs)
    if summary is None:
        return None
    message_id, state, error = summary
    remote_id, ok = normalise_id(message_id, flavour)
    return ReceiptEvent(remote_id, state, error, ok)
