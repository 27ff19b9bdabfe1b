"""From a queued message row to the segments an upstream gets (OutboundSms), per its profile.

The upstream chosen decides the encoding and the split (its TextProfile: allowed encodings,
UDH 8/16-bit, SAR TLVs or one message_payload, max parts), so this happens at dispatch time.
A message the ESME split itself (UDHI or sar_* TLVs) or a binary one is relayed as it came.
The concatenation reference is derived from our message id, so a message resumed after a
partial failure keeps the reference its first parts went out with.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from protocols.sms import TextProfile, plan
from protocols.smpp.constants import TLV_BY_NAME
from smsc.upstreams.base import OutboundSms

ESM_UDHI = 0x40
_SAR_TAGS = tuple(TLV_BY_NAME[name].tag for name in ("sar_msg_ref_num", "sar_total_segments", "sar_segment_seqnum"))


def _relayed(raw: bytes | None) -> tuple[tuple[int, bytes], ...]:
    """Stored TLVs back to (tag, value) pairs for the upstream to pass on untouched."""
    if not raw:
        return ()
    pairs: list[tuple[int, bytes]] = []
    pos = 0
    while pos + 4 <= len(raw):
        tag, length = int.from_bytes(raw[pos : pos + 2], "big"), int.from_bytes(raw[pos + 2 : pos + 4], "big")
        pairs.append((tag, raw[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return tuple(pairs)


def _is_presplit(row: dict[str, Any], tlvs: tuple[tuple[int, bytes], ...]) -> bool:
    if row["esm_class"] & ESM_UDHI:
        return True
    for tag, _ in tlvs:
        if tag == _SAR_TAGS[0]:
            return True
    return False


def segments_for(row: dict[str, Any], profile: TextProfile, source_override: str | None = None) -> list[OutboundSms]:
    """All segments of ``row`` for an upstream with ``profile`` (raises TooManyParts)."""
    # Runs once per message: the fields are passed straight to OutboundSms (a shared dict
    # splatted into each part cost ~1 µs a message more).
    tlvs = _relayed(row["tlvs"])
    expires_at = row["expires_at"]
    validity = datetime.fromtimestamp(expires_at, timezone.utc) if expires_at else None
    message_id = row["id"]
    source_addr = source_override or row["source_addr"]
    body, text, esm_class = row["body"], row["text"], row["esm_class"]
    if text is None or _is_presplit(row, tlvs):
        udh = body[: body[0] + 1] if esm_class & ESM_UDHI and body else b""
        return [OutboundSms(
            message_id=message_id, segment=1, total_segments=1, source_addr=source_addr,
            source_ton=row["source_ton"], source_npi=row["source_npi"], dest_addr=row["dest_addr"],
            dest_ton=row["dest_ton"], dest_npi=row["dest_npi"], data_coding=row["data_coding"],
            esm_class=esm_class, udh=udh, payload=body[len(udh):],
            registered_delivery=1,  # we always want the receipt: it is how we learn the outcome
            priority=row["priority"], validity_at=validity, text=text, extra_tlvs=tlvs)]
    encoded = plan(text, profile, reference=message_id & (0xFFFF if profile.concat == "udh16" else 0xFF))
    total = len(encoded.parts)
    base_esm = esm_class & ~ESM_UDHI
    out = []
    for index, part in enumerate(encoded.parts, start=1):
        extra = tlvs
        if part.sar is not None:
            ref, count, seq = part.sar
            extra = tlvs + ((_SAR_TAGS[0], ref.to_bytes(2, "big")), (_SAR_TAGS[1], bytes([count])), (_SAR_TAGS[2], bytes([seq])))
        out.append(OutboundSms(
            message_id=message_id, segment=index, total_segments=total, source_addr=source_addr,
            source_ton=row["source_ton"], source_npi=row["source_npi"], dest_addr=row["dest_addr"],
            dest_ton=row["dest_ton"], dest_npi=row["dest_npi"], data_coding=encoded.data_coding,
            esm_class=base_esm | (ESM_UDHI if part.udh else 0), udh=part.udh, payload=part.payload,
            registered_delivery=1, priority=row["priority"], validity_at=validity, text=part.text,
            extra_tlvs=extra))
    return out
