"""Delivery receipts: the SMPP 3.4 Appendix B text form, the receipt TLVs, and the
message-id flavours carriers mix up. Pure functions, no I/O.

The text form is informative in the spec and varies in the wild, so the parser is
tolerant: keys in any case (``Text:``), dates with or without seconds, ``text:`` missing,
extra fields kept, ``err:`` of any width, ids kept exactly as sent (leading zeros too;
matching goes through :func:`canonical_id`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from protocols.smpp.codec import encode_tlvs
from protocols.smpp.constants import (
    ESM_CLASS_DELIVERY_ACK,
    ESM_CLASS_DELIVERY_RECEIPT,
    ESM_CLASS_INTERMEDIATE,
    ESM_CLASS_TYPE_MASK,
    MessageState,
)

# stat word (as carriers write it) -> message_state. The first spelling of each state is
# the one Appendix B gives and the one we write.
STAT_TO_STATE: dict[str, MessageState] = {
    "ENROUTE": MessageState.ENROUTE,
    "DELIVRD": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
    "SKIPPED": MessageState.SKIPPED,
    # spellings seen in the wild
    "DELIVERED": MessageState.DELIVERED,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "UNDELIVERED": MessageState.UNDELIVERABLE,
    "ACCEPTED": MessageState.ACCEPTED,
    "REJECTED": MessageState.REJECTED,
    "EXPIRD": MessageState.EXPIRED,
    "DELETD": MessageState.DELETED,
    "FAILED": MessageState.UNDELIVERABLE,
}
STATE_TO_STAT: dict[MessageState, str] = {}
for _stat, _state in STAT_TO_STATE.items():
    STATE_TO_STAT.setdefault(_state, _stat)
# keyed by plain int: every receipt we write looks its word up, and MessageState(n) costs ~1 µs
_STAT_BY_VALUE: dict[int, str] = {int(state): stat for state, stat in STATE_TO_STAT.items()}

FINAL_STATES = frozenset({MessageState.DELIVERED, MessageState.EXPIRED, MessageState.DELETED,
                          MessageState.UNDELIVERABLE, MessageState.REJECTED,
                          MessageState.SKIPPED})

# network_error_code type octet (SMPP 3.4 section 5.3.2.31)
NETWORK_TYPES = {1: "ANSI-136", 2: "IS-95", 3: "GSM"}


def stat_to_state(stat: str | None) -> MessageState | None:
    """message_state for a receipt's ``stat:`` word; None when the word is unknown."""
    if not stat:
        return None
    return STAT_TO_STATE.get(stat.strip().upper())


def state_to_stat(state: int) -> str:
    """The 7-letter Appendix B word for a message_state (UNKNOWN for unknown values)."""
    return _STAT_BY_VALUE.get(state, "UNKNOWN")


def state_name(state: int) -> str:
    try:
        return MessageState(state).name
    except ValueError:
        return f"STATE_{state}"


def is_delivery_receipt(esm_class: int) -> bool:
    """True for a deliver_sm/data_sm that carries a receipt or an acknowledgement rather
    than a mobile-originated message (esm_class message-type bits, section 5.2.12)."""
    kind = esm_class & ESM_CLASS_TYPE_MASK
    return kind in (ESM_CLASS_DELIVERY_RECEIPT, ESM_CLASS_DELIVERY_ACK, ESM_CLASS_INTERMEDIATE)


# ---------------------------------------------------------------- network_error_code

def encode_network_error_code(network_type: int, code: int) -> bytes:
    """The 3-octet network_error_code TLV value: type (1 ANSI-136, 2 IS-95, 3 GSM) + code."""
    if not 0 <= network_type <= 0xFF or not 0 <= code <= 0xFFFF:
        raise ValueError(f"network_error_code ({network_type}, {code}) out of range")
    return bytes((network_type,)) + code.to_bytes(2, "big")


def decode_network_error_code(raw: bytes) -> tuple[int, int]:
    """(type, code) from the 3-octet TLV value."""
    if len(raw) != 3:
        raise ValueError(f"network_error_code must be 3 octets, got {len(raw)}")
    return raw[0], int.from_bytes(raw[1:3], "big")


# ---------------------------------------------------------------- dates

def parse_receipt_date(value: str | None) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss (seen in the wild) as a naive datetime; None if neither."""
    if not value:
        return None
    value = value.strip()
    formats = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S", 14: "%Y%m%d%H%M%S"}
    fmt = formats.get(len(value))
    if fmt is None or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, fmt)
    except ValueError:
        return None


def format_receipt_date(when: datetime | float, seconds: bool = False) -> str:
    """YYMMDDhhmm (or YYMMDDhhmmss) of a datetime, or of epoch seconds taken as UTC.

    Epoch seconds are formatted once per minute (or second) and cached: every receipt written
    formats two dates, and datetime + strftime cost ~2 µs each while the dates repeat."""
    if isinstance(when, datetime):
        return when.strftime("%y%m%d%H%M%S" if seconds else "%y%m%d%H%M")
    whole = int(when)
    # fromtimestamp rounds to the microsecond: within 1 µs of the next second it rounds up,
    # and so does the fallback (the cache keys on whole seconds)
    if when < 0 or when - whole >= 0.999999:
        return format_receipt_date(datetime.fromtimestamp(when, timezone.utc), seconds)
    return _epoch_second_text(whole) if seconds else _epoch_minute_text(whole // 60)


@functools.lru_cache(maxsize=4096)
def _epoch_minute_text(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, timezone.utc).strftime("%y%m%d%H%M")


@functools.lru_cache(maxsize=4096)
def _epoch_second_text(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%y%m%d%H%M%S")


# ---------------------------------------------------------------- text form

# compact key (lower case, no spaces/underscores) -> Appendix B key
_KNOWN = {"id": "id", "sub": "sub", "dlvrd": "dlvrd", "submitdate": "submit date",
          "donedate": "done date", "stat": "stat", "err": "err", "text": "text"}
# A key is a word (or "submit date"/"done date") at the start or after whitespace, then ':'.
_KEY = re.compile(r"(?:^|(?<=\s))(submit[ _]?date|done[ _]?date|[A-Za-z][A-Za-z0-9_]*)\s?:",
                  re.IGNORECASE)


@dataclass(frozen=True)
class ReceiptText:
    """The fields of a receipt's text, as sent (strings), plus parsed views."""

    id: str
    sub: str | None = None
    dlvrd: str | None = None
    submit_date: str | None = None
    done_date: str | None = None
    stat: str | None = None
    err: str | None = None
    text: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> MessageState | None:
        return stat_to_state(self.stat)

    @property
    def submitted_at(self) -> datetime | None:
        return parse_receipt_date(self.submit_date)

    @property
    def done_at(self) -> datetime | None:
        return parse_receipt_date(self.done_date)

    @property
    def error_code(self) -> int | None:
        """``err:`` as an integer when it is digits (any width), else None."""
        return int(self.err) if self.err and self.err.isdigit() else None


def parse_receipt_text(text: str | bytes) -> ReceiptText | None:
    """Parse the Appendix B text form; None when there is no ``id:`` (not a receipt)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for n, match in enumerate(matches):
        key = _KNOWN.get(re.sub(r"[ _]+", "", match.group(1).lower()))
        if key == "text":  # free text runs to the end, colons and all
            values.setdefault("text", text[match.end():].strip())
            break
        end = matches[n + 1].start() if n + 1 < len(matches) else len(text)
        value = text[match.end():end].strip()
        if key is not None:
            values.setdefault(key, value)
        else:
            extra.setdefault(match.group(1), value)
    if not values.get("id"):
        return None
    return ReceiptText(
        id=values["id"], sub=values.get("sub"), dlvrd=values.get("dlvrd"),
        submit_date=values.get("submit date"), done_date=values.get("done date"),
        stat=values.get("stat"), err=values.get("err"), text=values.get("text"), extra=extra)


def format_receipt_text(message_id: str, state: int, submit_date: datetime | float, done_date: datetime | float,
                        err: int | str = 0, text: str = "", sub: int = 1,
                        dlvrd: int | None = None, seconds: bool = False) -> str:
    """The Appendix B text: id, sub, dlvrd, dates, stat, err (3 digits), first 20 chars of
    the message. dlvrd defaults to sub when delivered, else 0. Dates are datetimes or epoch
    seconds (UTC; the cheaper form, see format_receipt_date)."""
    if dlvrd is None:
        dlvrd = sub if state == MessageState.DELIVERED else 0
    err_text = f"{err:03d}" if isinstance(err, int) else err
    return (f"id:{message_id} sub:{sub:03d} dlvrd:{dlvrd:03d} "
            f"submit date:{format_receipt_date(submit_date, seconds)} "
            f"done date:{format_receipt_date(done_date, seconds)} "
            f"stat:{state_to_stat(state)} err:{err_text} text:{text[:20]}")


# ---------------------------------------------------------------- receipts in PDUs

@dataclass(frozen=True)
class Receipt:
    """What a deliver_sm/data_sm receipt says, TLVs preferred over the text."""

    message_id: str
    state: MessageState | None
    stat: str | None
    err: str | None
    network_error: tuple[int, int] | None
    submitted_at: datetime | None
    done_at: datetime | None
    text: ReceiptText | None


def receipt_from_fields(params: dict[str, Any], tlvs: dict[str, Any]) -> Receipt | None:
    """A Receipt from a decoded deliver_sm/data_sm (its params and tlvs); None when it is
    not a receipt or names no message id."""
    if not is_delivery_receipt(params.get("esm_class", 0)):
        return None
    body = params.get("short_message") or tlvs.get("message_payload") or b""
    if "receipted_message_id" in tlvs and "message_state" in tlvs and params.get("data_coding") != 8:
        return _receipt_from_tlvs(tlvs, body)
    if params.get("data_coding") == 8 and len(body) % 2 == 0:
        raw_text = body.decode("utf-16-be", errors="replace")
    else:
        raw_text = body.decode("latin-1")
    parsed = parse_receipt_text(raw_text)
    message_id = tlvs.get("receipted_message_id") or (parsed.id if parsed else "")
    if not message_id:
        return None
    state: MessageState | None = None
    if "message_state" in tlvs:
        try:
            state = MessageState(tlvs["message_state"])
        except ValueError:
            state = None
    if state is None and parsed is not None:
        state = parsed.state
    network_error = None
    if len(tlvs.get("network_error_code") or b"") == 3:
        network_error = decode_network_error_code(tlvs["network_error_code"])
    return Receipt(
        message_id=message_id, state=state,
        stat=parsed.stat if parsed else (state_to_stat(state) if state else None),
        err=parsed.err if parsed else None, network_error=network_error,
        submitted_at=parsed.submitted_at if parsed else None,
        done_at=parsed.done_at if parsed else None, text=parsed)


_ERR = re.compile(rb"\berr:\s*(\w+)", re.IGNORECASE)
_STAT = re.compile(rb"\bstat:\s*(\w+)", re.IGNORECASE)


def _receipt_from_tlvs(tlvs: dict[str, Any], body: bytes) -> Receipt:
    """The fast path, on every receipt of carriers that send the TLVs: id and state come from
    them, only ``stat:`` and ``err:`` are read from the text (full parsing costs ~10x more)."""
    try:
        state: MessageState | None = MessageState(tlvs["message_state"])
    except ValueError:
        state = None
    match = _ERR.search(body)
    stat = _STAT.search(body)
    network_error = None
    if len(tlvs.get("network_error_code") or b"") == 3:
        network_error = decode_network_error_code(tlvs["network_error_code"])
    return Receipt(message_id=tlvs["receipted_message_id"], state=state,
                   stat=stat.group(1).decode("latin-1") if stat else (state_to_stat(state) if state else None),
                   err=match.group(1).decode("latin-1") if match else None, network_error=network_error,
                   submitted_at=None, done_at=None, text=None)


_KNOWN_STATES = frozenset(int(s) for s in MessageState)


def receipt_summary(params: dict[str, Any], tlvs: dict[str, Any]) -> tuple[str, int, int | None] | None:
    """(message id, message_state, error code or None) of a receipt: what a gateway needs to
    match and settle it, the same answer as ``receipt_from_fields`` gives. Receipts carrying
    the TLVs skip building a Receipt (the engine reads one per message: ~3 µs less)."""
    message_id, state = tlvs.get("receipted_message_id"), tlvs.get("message_state")
    if not (message_id and state is not None and params.get("data_coding") != 8
            and is_delivery_receipt(params.get("esm_class", 0))):
        receipt = receipt_from_fields(params, tlvs)
        if receipt is None:
            return None
        code: int | None = None
        if receipt.text is not None and receipt.text.error_code is not None:
            code = receipt.text.error_code
        elif receipt.err is not None and receipt.err.isdigit():
            code = int(receipt.err)
        elif receipt.network_error is not None:
            code = receipt.network_error[1]
        return receipt.message_id, int(receipt.state if receipt.state is not None else MessageState.UNKNOWN), code
    match = _ERR.search(params.get("short_message") or tlvs.get("message_payload") or b"")
    code = None
    if match is not None and match.group(1).isdigit():
        code = int(match.group(1))
    elif len(tlvs.get("network_error_code") or b"") == 3:
        code = decode_network_error_code(tlvs["network_error_code"])[1]
    return message_id, state if state in _KNOWN_STATES else int(MessageState.UNKNOWN), code


def encode_receipt_tlvs(message_id: str, state: int) -> bytes:
    """``receipt_tlvs(message_id, state)`` as on the wire, the bytes ``encode_tlvs`` gives:
    built directly for the common id (printable ASCII, up to 64 characters), as every receipt
    owed to an ESME stores them (~2 µs against ~4 µs through the generic encoder)."""
    if 0 <= state <= 0xFF and len(message_id) < 65 and message_id.isascii() and message_id.isprintable():
        return (_RECEIPTED_ID_TAG + (len(message_id) + 1).to_bytes(2, "big") + message_id.encode("ascii")
                + b"\0" + _MESSAGE_STATE_HEAD + bytes((state,)))
    return encode_tlvs(receipt_tlvs(message_id, state))


_RECEIPTED_ID_TAG = (0x001E).to_bytes(2, "big")  # receipted_message_id, a C-string
_MESSAGE_STATE_HEAD = (0x0427).to_bytes(2, "big") + (1).to_bytes(2, "big")  # message_state, 1 octet


def receipt_tlvs(message_id: str, state: int,
                 network_error: tuple[int, int] | None = None) -> dict[str, Any]:
    """The SMPP 3.4 receipt TLVs to send with a receipt deliver_sm."""
    out: dict[str, Any] = {"receipted_message_id": message_id, "message_state": int(state)}
    if network_error is not None:
        out["network_error_code"] = encode_network_error_code(*network_error)
    return out


# ---------------------------------------------------------------- id flavours

IdFlavour = Literal["hex", "dec", "string"]


def canonical_id(message_id: str, flavour: IdFlavour = "string") -> str:
    """A form of ``message_id`` that compares equal across flavours: "hex" and "dec" ids
    become decimal digits without leading zeros; "string" ids are stripped, compared
    as sent. Carriers that give hex in submit_sm_resp and decimal in the receipt match
    when each side is canonicalised with its own flavour. Raises ValueError when the id
    is not of the flavour said."""
    value = message_id.strip()
    if flavour == "string":
        return value
    if flavour == "hex":
        return str(int(value, 16))
    if flavour == "dec":
        if not value.isdigit():
            raise ValueError(f"message id {message_id!r} is not decimal")
        return str(int(value, 10))
    raise ValueError(f"unknown id flavour {flavour!r}")


def hex_to_dec(message_id: str) -> str:
    return str(int(message_id.strip(), 16))


def dec_to_hex(message_id: str, upper: bool = False, width: int = 0) -> str:
    """Decimal id as hex, optionally zero-padded to ``width`` digits."""
    text = format(int(message_id.strip(), 10), "X" if upper else "x")
    return text.rjust(width, "0")


def id_candidates(message_id: str) -> set[str]:
    """Every canonical form ``message_id`` could have, for matching when the upstream's
    flavours are not configured: as sent, as decimal-from-hex and decimal-from-decimal."""
    value = message_id.strip()
    out = {value}
    for flavour in ("hex", "dec"):
        try:
            out.add(canonical_id(value, flavour))  # type: ignore[arg-type]
        except ValueError:
            pass
    return out
