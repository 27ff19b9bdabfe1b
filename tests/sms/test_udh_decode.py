"""parse_udh and decode_short_message: the MO side, which must survive whatever peers send."""

from __future__ import annotations

import pytest

from protocols.sms import decode_short_message, parse_udh, split_udh
from protocols.sms.decode import alphabet

UDH_CASES = [
    # label, udh hex, concat, single, locking, element count
    ("concat 8-bit", "050003cc0201", (0xCC, 2, 1), None, None, 1),
    ("concat 16-bit", "06080412340302", (0x1234, 3, 2), None, None, 1),
    ("single shift turkish", "03240101", None, 1, None, 1),
    ("locking + single + concat", "0b250101240101000342 0201", (0x42, 2, 1), 1, 1, 3),
    ("unknown element kept", "0a0003010201" "0a03ffeedd", (1, 2, 1), None, None, 2),
    ("seq 0 ignores concat", "050003010200", None, None, None, 1),
    ("seq over total ignores concat", "050003010203", None, None, None, 1),
    ("total 0 ignores concat", "050003010000", None, None, None, 1),
    ("empty element list", "00", None, None, None, 0),
]


@pytest.mark.parametrize("label,hexudh,concat,single,locking,count", UDH_CASES,
                         ids=[c[0] for c in UDH_CASES])
def test_parse_udh(label, hexudh, concat, single, locking, count) -> None:
    """When a UDH is parsed, concat and shift elements are read and others are kept."""
    udh = parse_udh(bytes.fromhex(hexudh.replace(" ", "")))
    assert (udh.concat, udh.national_single, udh.national_locking) == (concat, single, locking)
    assert len(udh.elements) == count


MALFORMED = [
    ("empty", ""),
    ("UDHL too long", "06000301020"  "1"),
    ("UDHL too short", "04000301020"  "1"),
    ("element past the end", "0400050102"),
    ("dangling IEI", "0100"),
    ("concat8 with 4 octets", "06000401020304"),
    ("concat16 with 3 octets", "0508030102 03"),
    ("shift with 2 octets", "0424020101"),
]


@pytest.mark.parametrize("label,hexudh", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_udh_raises_value_error(label: str, hexudh: str) -> None:
    """When a UDH is malformed, parse_udh raises ValueError (never IndexError)."""
    with pytest.raises(ValueError):
        parse_udh(bytes.fromhex(hexudh.replace(" ", "")))


def test_split_udh() -> None:
    """When UDHI is set, split_udh separates the header from the body, and refuses a UDHL
    that runs past the data."""
    assert split_udh(bytes.fromhex("050003010201") + b"hi") == (bytes.fromhex("050003010201"), b"hi")
    with pytest.raises(ValueError):
        split_udh(b"\x09\x00\x03")
    with pytest.raises(ValueError):
        split_udh(b"")


DECODE_CASES = [
    # label, data_coding, payload, udh, text
    ("gsm default", 0, b"Hello \x1b\x65", b"", "Hello €"),
    ("gsm announced as 1", 1, b"\x00\x01", b"", "@£"),
    ("ucs2 with surrogates", 8, "héllo 🎉".encode("utf-16-be"), b"", "héllo 🎉"),
    ("ucs2 odd length", 8, b"\x00A\x00", b"", "A\ufffd"),
    ("ucs2 lone high surrogate", 8, b"\xd8\x3d\x00A", b"", "\ufffdA"),
    ("latin1", 3, "Olá".encode("latin-1"), b"", "Olá"),
    ("8bit utf-8", 4, "hé".encode(), b"", "hé"),
    ("8bit binary shown by octet", 4, b"\xff\x00", b"", "\xff\x00"),
    ("octet unspecified", 2, b"ab", b"", "ab"),
    ("cyrillic iso-8859-5", 6, "Привет".encode("iso8859-5"), b"", "Привет"),
    ("hebrew iso-8859-8", 7, "שלום".encode("iso8859-8"), b"", "שלום"),
    ("flash gsm 0xF0", 0xF0, b"Hi", b"", "Hi"),
    ("flash 8bit 0xF4", 0xF4, b"Hi", b"", "Hi"),
    ("general group ucs2 0x18", 0x18, "Ж".encode("utf-16-be"), b"", "Ж"),
    ("MWI ucs2 group 0xE0", 0xE0, "Ж".encode("utf-16-be"), b"", "Ж"),
    ("turkish via udh", 0, b"\x1d", bytes.fromhex("03250101"), "ş"),
    ("malformed udh falls back to default", 0, b"A", b"\x05\x00", "A"),
    ("gsm garbage above 0x7f", 0, b"\xff", b"", "\ufffd"),
]


@pytest.mark.parametrize("label,dc,payload,udh,text", DECODE_CASES, ids=[c[0] for c in DECODE_CASES])
def test_decode_short_message(label, dc, payload, udh, text) -> None:
    """When a short message arrives with any data_coding, it decodes per SMPP 3.4 / TS 23.038."""
    assert decode_short_message(dc, payload, udh) == text


def test_alphabet_of_every_data_coding() -> None:
    """When any of the 256 data_coding values is asked, an alphabet comes back."""
    for dc in range(256):
        assert alphabet(dc)
    assert alphabet(0x11) == "gsm7" and alphabet(0x15) == "8bit" and alphabet(0x35) == "8bit"
