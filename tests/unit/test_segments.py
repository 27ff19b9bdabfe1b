"""segments_for: a queued row -> the OutboundSms segments an upstream gets, per its profile.

segments_for builds them with the positional fast constructor, so every case here states the
expected segments with OutboundSms's keyword arguments: a field passed in the wrong place fails.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from protocols.sms import TextProfile
from smsc.segments import segments_for
from smsc.upstreams.base import OutboundSms

NOW = 1_800_000_000.25
VALID = datetime.fromtimestamp(NOW + 3600, timezone.utc)
UDH_PART = bytes([0x05, 0x00, 0x03, 42, 2])  # udh8 concat header of message 42 (ref 42), 2 parts


def row(**changes) -> dict:
    # a distinct value per octet field, so two fields swapped cannot go unnoticed
    fields = {"id": 42, "source_addr": "ACME", "source_ton": 5, "source_npi": 4, "dest_addr": "447700900123",
              "dest_ton": 2, "dest_npi": 3, "esm_class": 0, "priority": 6, "data_coding": 0,
              "body": b"hello", "text": "hello", "tlvs": None, "expires_at": NOW + 3600}
    fields.update(changes)
    return fields


def segment(**changes) -> OutboundSms:
    fields = dict(message_id=42, segment=1, total_segments=1, source_addr="ACME", source_ton=5, source_npi=4,
                  dest_addr="447700900123", dest_ton=2, dest_npi=3, data_coding=0, esm_class=0, udh=b"",
                  payload=b"hello", registered_delivery=1, priority=6, validity_at=VALID, text="hello")
    fields.update(changes)
    return OutboundSms(**fields)


LONG = "a" * 153 + "b" * 7
SAR_TAGS = (0x020C, 0x020E, 0x020F)  # sar_msg_ref_num, sar_total_segments, sar_segment_seqnum


@pytest.mark.parametrize(
    "label, changes, profile, override, expected",
    [
        ("one GSM part", {}, TextProfile(), None, [segment()]),
        ("source override replaces the ESME's source", {}, TextProfile(), "BRAND", [segment(source_addr="BRAND")]),
        ("no expiry: no validity", {"expires_at": None}, TextProfile(), None, [segment(validity_at=None)]),
        ("GSM data_coding of the profile", {}, TextProfile(gsm7_data_coding=1), None, [segment(data_coding=1)]),
        ("two udh8 parts, reference from the id", {"text": LONG + "c", "body": b""}, TextProfile(), None, [
            segment(total_segments=2, esm_class=0x40, udh=UDH_PART + b"\x01", payload=LONG[:153].encode(),
                    text=LONG[:153]),
            segment(segment=2, total_segments=2, esm_class=0x40, udh=UDH_PART + b"\x02",
                    payload=b"bbbbbbbc", text="bbbbbbbc")]),
        ("two SAR parts: TLVs, no UDH", {"text": LONG + "c", "body": b""}, TextProfile(concat="sar"), None, [
            segment(total_segments=2, payload=LONG[:153].encode(), text=LONG[:153],
                    extra_tlvs=((SAR_TAGS[0], b"\x00\x2a"), (SAR_TAGS[1], b"\x02"), (SAR_TAGS[2], b"\x01"))),
            segment(segment=2, total_segments=2, payload=b"bbbbbbbc", text="bbbbbbbc",
                    extra_tlvs=((SAR_TAGS[0], b"\x00\x2a"), (SAR_TAGS[1], b"\x02"), (SAR_TAGS[2], b"\x02")))]),
        ("UCS-2 text", {"text": "héllo ☃", "body": b""}, TextProfile(), None,
         [segment(data_coding=8, payload="héllo ☃".encode("utf-16-be"), text="héllo ☃")]),
        ("binary: relayed as it came", {"text": None, "body": b"\x01\x02", "data_coding": 4}, TextProfile(), None,
         [segment(data_coding=4, payload=b"\x01\x02", text=None)]),
        ("ESME's own UDH: relayed, split at the UDH length",
         {"text": "hi", "body": b"\x05\x00\x03\x09\x02\x01hi", "esm_class": 0x40}, TextProfile(), None,
         [segment(esm_class=0x40, udh=b"\x05\x00\x03\x09\x02\x01", payload=b"hi", text="hi")]),
        ("ESME's TLVs passed on untouched", {"tlvs": b"\x14\x01\x00\x02ab"}, TextProfile(), None,
         [segment(extra_tlvs=((0x1401, b"ab"),))]),
    ],
)
def test_segments_for_table(label, changes, profile, override, expected):
    """When a row is split for an upstream, each segment carries the row's fields in their place,
    the profile's encoding and split, and the validity of the row's expiry."""
    parts = segments_for(row(**changes), profile, override)
    assert parts == expected, label
    assert all(type(part) is OutboundSms for part in parts), label


@pytest.mark.parametrize(
    "label, changes, error",
    [
        ("empty destination", {"dest_addr": ""}, "dest_addr is empty"),
        ("priority beyond one octet", {"priority": 300}, "priority=300"),
        ("relayed body that is not bytes", {"text": None, "body": bytearray(b"x")}, "bytes"),
    ],
)
def test_segments_for_refuses_what_outbound_sms_refuses(label, changes, error):
    """When a row cannot make a valid segment, segments_for fails as OutboundSms would (the
    dispatcher turns a ValueError into a failed message)."""
    with pytest.raises((ValueError, TypeError), match=error):
        segments_for(row(**changes), TextProfile())
