"""GSM 03.38 default alphabet, extension table and septet packing (TS 23.038 §6.1.2, §6.2.1)."""

from __future__ import annotations

import pytest

from protocols.sms import gsm7
from protocols.sms.gsm7 import (
    DEFAULT_ALPHABET,
    DEFAULT_EXTENSION,
    decode,
    encode,
    fill_bits_for,
    pack_septets,
    septets_for_udh,
    try_encode,
    unpack_septets,
)

ALPHABET_CASES = [
    # label, text, expected unpacked septets
    ("at sign is zero", "@", b"\x00"),
    ("pound dollar yen", "£$¥", b"\x01\x02\x03"),
    ("greek capitals", "ΔΦΓΛΩΠΨΣΘΞ", bytes([0x10, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A])),
    ("capital C cedilla is 0x09", "Ç", b"\x09"),
    ("currency sign at 0x24", "¤", b"\x24"),
    ("inverted marks", "¡¿", b"\x40\x60"),
    ("LF and CR", "\n\r", b"\x0a\x0d"),
    ("underscore 0x11", "_", b"\x11"),
    ("ascii letters map to themselves", "Hello", b"Hello"),
    ("a grave at 0x7F", "à", b"\x7f"),
    ("euro is escaped", "€", b"\x1b\x65"),
    ("brackets are escaped", "[QC]", b"\x1b\x3cQC\x1b\x3e"),
    ("every extension char", "\f^{}\\[~]|€",
     b"\x1b\x0a\x1b\x14\x1b\x28\x1b\x29\x1b\x2f\x1b\x3c\x1b\x3d\x1b\x3e\x1b\x40\x1b\x65"),
]


@pytest.mark.parametrize("label,text,septets", ALPHABET_CASES, ids=[c[0] for c in ALPHABET_CASES])
def test_default_alphabet_table(label: str, text: str, septets: bytes) -> None:
    """When a text is in the default alphabet, it encodes to the TS 23.038 codes and back."""
    assert encode(text) == septets
    assert decode(septets) == text


NOT_GSM = [
    ("backtick", "`"),
    ("tab", "\t"),
    ("small c cedilla (0x09 is capital)", "ç"),
    ("a acute", "á"),
    ("hebrew", "ש"),
    ("emoji", "🎉"),
    ("curly quote", "\u201c"),
    ("NUL", "\x00"),
]


@pytest.mark.parametrize("label,text", NOT_GSM, ids=[c[0] for c in NOT_GSM])
def test_characters_outside_alphabet(label: str, text: str) -> None:
    """When a character has no GSM code, try_encode says None and encode names it."""
    assert try_encode("abc" + text) is None
    with pytest.raises(ValueError, match=f"U\\+{ord(text):04X}"):
        encode("abc" + text)


def test_every_code_round_trips() -> None:
    """When any defined code is decoded and re-encoded, the same septets come back."""
    for code, char in enumerate(DEFAULT_ALPHABET):
        if code == 0x1B:
            continue
        assert encode(char) == bytes([code])
    for code, char in DEFAULT_EXTENSION.items():
        assert encode(char) == bytes([0x1B, code])


DECODE_TOLERANCE = [
    ("dangling escape shows a space", b"AB\x1b", "AB "),
    ("escape escape shows a space", b"A\x1b\x1bB", "A B"),
    ("escape + undefined code shows the base char", b"\x1b\x41", "A"),
    ("octets above 0x7F are replaced", b"A\x80\xffB", "A\ufffd\ufffdB"),
    ("empty", b"", ""),
]


@pytest.mark.parametrize("label,data,text", DECODE_TOLERANCE, ids=[c[0] for c in DECODE_TOLERANCE])
def test_decode_is_tolerant(label: str, data: bytes, text: str) -> None:
    """When septets are malformed, decode answers per §6.2.1.1 instead of raising."""
    assert decode(data) == text


PACK_CASES = [
    # label, septets, fill bits, packed (hand-computed or from the TS 23.038 example)
    ("hellohello (23.038 example)", b"hellohello", 0, bytes.fromhex("E8329BFD4697D9EC37")),
    ("hello", b"hello", 0, bytes.fromhex("E8329BFD06")),
    ("one septet", b"A", 0, b"\x41"),
    ("one septet after one fill bit", b"A", 1, b"\x82"),
    ("two septets after one fill bit", b"AB", 1, b"\x82\x42"),
    ("seven septets fill one octet each bit", b"\x7f" * 8, 0, b"\xff" * 7),
    ("six fill bits", b"\x01", 6, b"\x40\x00"),
    ("empty", b"", 0, b""),
]


@pytest.mark.parametrize("label,septets,fill,packed", PACK_CASES, ids=[c[0] for c in PACK_CASES])
def test_pack_and_unpack(label: str, septets: bytes, fill: int, packed: bytes) -> None:
    """When septets are packed LSB first after fill bits, they give the expected octets and
    unpacking with the septet count restores them."""
    assert pack_septets(septets, fill) == packed
    assert unpack_septets(packed, len(septets), fill) == septets


def test_pack_round_trip_all_fill_bits() -> None:
    """When any septet string is packed with 0..6 fill bits, unpack returns it, and the octet
    count is ceil((fill + 7n) / 8)."""
    data = (bytes(range(128)) + b"@" * 40)[:160]
    for fill in range(7):
        for n in (0, 1, 7, 8, 9, 127, 153, 160):
            s = data[:n]
            packed = pack_septets(s, fill)
            assert len(packed) == (fill + 7 * n + 7) // 8
            assert unpack_septets(packed, n, fill) == s


def test_trailing_at_signs_need_the_count() -> None:
    """When the text ends in '@' (septet 0), the count (TP-UDL), not the octets, says where
    the text ends: 7 '@' and 8 '@' pack to the same 7 octets."""
    assert pack_septets(b"\x00" * 7) == pack_septets(b"\x00" * 8)
    assert unpack_septets(pack_septets(b"\x00" * 7), 7) == b"\x00" * 7


BAD_PACK = [
    ("septet too large", lambda: pack_septets(b"\x80")),
    ("fill bits 7", lambda: pack_septets(b"A", 7)),
    ("negative fill", lambda: unpack_septets(b"A", 1, -1)),
    ("data too short", lambda: unpack_septets(b"\x41", 2)),
    ("negative count", lambda: unpack_septets(b"\x41", -1)),
]


@pytest.mark.parametrize("label,call", BAD_PACK, ids=[c[0] for c in BAD_PACK])
def test_pack_rejects_bad_input(label: str, call) -> None:
    """When asked the impossible, pack/unpack raise ValueError with a reason."""
    with pytest.raises(ValueError):
        call()


UDH_FILL = [
    # label, udh octets, fill bits, septets taken (23.040 9.2.3.24)
    ("concat 8-bit ref", 6, 1, 7),
    ("concat 16-bit ref", 7, 0, 8),
    ("single shift only", 4, 3, 5),
    ("concat8 + locking + single", 12, 2, 14),
    ("no udh", 0, 0, 0),
]


@pytest.mark.parametrize("label,octets,fill,taken", UDH_FILL, ids=[c[0] for c in UDH_FILL])
def test_fill_bits_after_udh(label: str, octets: int, fill: int, taken: int) -> None:
    """When a UDH precedes GSM text, fill bits pad it to a septet boundary."""
    assert fill_bits_for(octets) == fill
    assert septets_for_udh(octets) == taken
    assert (octets * 8 + fill) % 7 == 0


def test_udh_plus_packed_text_fits_140_octets() -> None:
    """When 153 septets follow a 6-octet UDH with its fill bit, the user data is 140 octets."""
    body = pack_septets(b"A" * 153, fill_bits_for(6))
    assert 6 + len(body) == 140
    assert gsm7.is_gsm7("plain") and not gsm7.is_gsm7("ş")
