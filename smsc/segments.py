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
    return bool(row["esm_class"] & ESM_UDHI) or any(tag == _SAR_TAGS[0] for tag, _ in tlvs)


def segments_for(row: dict[str, Any], profile: TextProfile, source_override: str | None = None) -> list[OutboundSms]:
    """All segments of ``row`` for an upstream with ``profile`` (raises TooManyParts)."""
    tlvs = _relayed(row["tlvs"])
    validity = datetime.fromtimestamp(row["expires_at"], timezone.utc) if row["expires_at"] else None
    common = {
        "message_id": row["id"],
        "source_addr": source_override or row["source_addr"],
        "source_ton": row["source_ton"],
        "source_npi": row["source_npi"],
        "dest_addr": row["dest_addr"],
        "dest_ton": row["dest_ton"],
        "dest_npi": row["dest_npi"],
        "registered_delivery": 1,  # we always want the receipt: it is how we learn the outcome
        "priority": row["priority"],
        "validity_at": validity,
    }
    body = row["body"]
    if row["text"] is None or _is_presplit(row, tlvs):
        udh = body[: body[0] + 1] if row["esm_class"] & ESM_UDHI and body else b""
        return [OutboundSms(segment=1, total_segments=1, data_coding=row["data_coding"], esm_class=row["esm_class"],
                            udh=udh, payload=body[len(udh):], text=row["text"], extra_tlvs=tlvs, **common)]
    encoded = plan(row["text"], profile, reference=row["id"] & (0xFFFF if profile.concat == "udh16" else 0xFF))
    total = len(encoded.parts)
    base_esm = row["esm_class"] & ~ESM_UDHI
    out = []
    for index, part in enumerate(encoded.parts, start=1):
        extra = tlvs
        if part.sar is not None:
            ref, count, seq = part.sar
            extra = tlvs + ((_SAR_TAGS[0], ref.to_bytes(2, "big")), (_SAR_TAGS[1], bytes([count])), (_SAR_TAGS[2], bytes([seq])))
        out.append(OutboundSms(segment=index, total_segments=total, data_coding=encoded.data_coding,
                               esm_class=base_esm | (ESM_UDHI if part.udh else 0), udh=part.udh,
                               payload=part.payload, text=part.text, extra_tlvs=extra, **common))
    return out

