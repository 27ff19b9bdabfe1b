"""GSM 03.38 (3GPP TS 23.038 §6.2.1) default alphabet, extension table and septet packing.

Septets travel in two forms: *unpacked* (one septet per octet, the SMPP ``short_message`` form)
and *packed* (7 bits each, LSB first, the TP-UD form a modem wants). A :class:`Gsm7Codec` holds
one (locking table, single shift table) pair with lookup tables precomputed once, so that encoding
is a ``bytes.translate`` for ASCII text and a ``str.translate`` otherwise: no Python loop per
character on the hot path.
"""

from __future__ import annotations

import codecs

ESC = 0x1B
UNUSED = "\ufffe"  # a code a national locking table leaves undefined

#: The default alphabet, indexed by septet value (§6.2.1). 0x1B is the escape to the extension
#: table; it is never a character of its own (a lone one is shown as a space, §6.2.1.1).
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(DEFAULT_ALPHABET) == 128

#: The default extension table (§6.2.1.1): each costs two septets, ESC + code.
DEFAULT_EXTENSION: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_BAD_OCTET = 0xFF  # "not encodable" in the ASCII fast-path table
_SHIFT_BACK = bytes([_BAD_OCTET]) + bytes(range(255))
_SEPTETS = bytes(range(128))  # deleted to find which markers a text holds
_OCTETS = [bytes((i,)) for i in range(256)]
_NO_ESC = b"\x1b"


class Gsm7Codec:
    """One locking shift table (128 chars, UNUSED for undefined codes) plus one single shift
    table (code -> char). Where a table lists a character twice, the lowest code is used.

    ``encode`` returns unpacked septets (ESC pairs for the single shift table) or None when the
    text has a character neither table holds. ``decode`` never raises.
    """

    __slots__ = ("locking", "single", "_ascii_table", "_markers", "_unmark", "_encmap", "_dec",
                 "_ext_dec", "name")

    def __init__(self, locking: str, single: dict[int, str], name: str = "default") -> None:
        if len(locking) != 128:
            raise ValueError("a locking shift table has 128 entries")
        self.name = name
        self.locking = locking
        self.single = dict(single)
        enc: dict[int, str] = {}
        # Single shift first, so that a character present in both costs one septet; codes in
        # descending order so that the lowest code of a duplicated character wins.
        for code in sorted(self.single, reverse=True):
            char = self.single[code]
            if char and char != UNUSED and code != ESC:
                enc[ord(char)] = chr(ESC) + chr(code)
        for code in range(127, -1, -1):
            char = locking[code]
            if char != UNUSED and code != ESC:
                enc[ord(char)] = chr(code)
        # Encoding is C-level. Non-ASCII text goes through a charmap EncodingMap (one octet per
        # character; CPython builds the fast map only when octet 0 is U+0000, so octets are
        # septet + 1 and _SHIFT_BACK undoes that). A two-septet character gets a marker octet
        # 0x80 + i that bytes.replace turns into ESC + code; NUL comes out as 0xFF, "bad".
        positions = [UNUSED] * 256
        positions[0] = "\x00"
        markers = []
        for cp in sorted(enc):
            value = enc[cp]
            if cp == 0 or cp > 0xFFFF:
                continue
            if len(value) == 1:
                positions[ord(value) + 1] = chr(cp)
            else:
                marker = 0x80 + len(markers)
                positions[marker + 1] = chr(cp)
                markers.append((bytes((marker,)), value.encode("latin-1")))
        if len(markers) > 0x7E:
            raise ValueError("too many two-septet characters")
        self._encmap = codecs.charmap_build("".join(positions))
        table = bytearray([_BAD_OCTET]) * 256
        for cp in range(1, 128):
            if chr(cp) in positions:
                table[cp] = positions.index(chr(cp)) - 1
        self._ascii_table = bytes(table)
        self._markers = tuple(markers)
        self._unmark = {m[0]: e for m, e in markers}
        dec = [" " if c == UNUSED else c for c in locking] + ["\ufffd"] * 128
        dec[ESC] = " "
        self._dec = "".join(dec)
        self._ext_dec = {code: c for code, c in self.single.items()
                         if c and c != UNUSED and code != ESC}

    def encode(self, text: str) -> bytes | None:
        """Unpacked septets for ``text``, or None if a character is outside both tables."""
        if text.isascii():
            raw = text.encode("ascii").translate(self._ascii_table)
        else:
            # "ignore" is handled inside the C codec (no exception per call): one octet per
            # encodable character, so a shorter result means a character had no code.
            raw = codecs.charmap_encode(text, "ignore", self._encmap)[0]
            if len(raw) != len(text):
                return None
            raw = raw.translate(_SHIFT_BACK)
        if raw.isascii():
            return raw
        if _BAD_OCTET in raw:
            return None
        unmark = self._unmark
        for marker in set(raw.translate(None, _SEPTETS)):
            raw = raw.replace(_OCTETS[marker], unmark[marker])
        return raw

    def septets(self, text: str) -> int | None:
        """How many septets ``text`` costs (escaped characters count two), None if unencodable."""
        data = self.encode(text)
        return None if data is None else len(data)

    def decode(self, septets: bytes) -> str:
        """Text for unpacked septets. Tolerant: octets above 0x7F become U+FFFD; an escape
        followed by an unknown code shows the locking-table character (§6.2.1.1); a dangling
        escape, or ESC ESC, shows a space."""
        dec = self._dec
        if _NO_ESC not in septets:
            return codecs.charmap_decode(septets, "strict", dec)[0]
        out: list[str] = []
        i, n = 0, len(septets)
        while True:
            j = septets.find(_NO_ESC, i)
            if j < 0:
                out.append(codecs.charmap_decode(septets[i:], "strict", dec)[0])
                break
            out.append(codecs.charmap_decode(septets[i:j], "strict", dec)[0])
            if j + 1 >= n:
                out.append(" ")
                break
            code = septets[j + 1]
            char = self._ext_dec.get(code)
            if char is None:
                char = " " if code == ESC else dec[code]
            out.append(char)
            i = j + 2
        return "".join(out)


DEFAULT = Gsm7Codec(DEFAULT_ALPHABET, DEFAULT_EXTENSION)


def encode(text: str) -> bytes:
    """Unpacked septets of ``text`` in the default alphabet; ValueError names the first
    character that has no GSM 7-bit code."""
    data = DEFAULT.encode(text)
    if data is None:
        bad = next(c for c in text if DEFAULT.encode(c) is None)
        raise ValueError(f"character {bad!r} (U+{ord(bad):04X}) is not in the GSM 7-bit alphabet")
    return data


def try_encode(text: str) -> bytes | None:
    """Unpacked septets of ``text`` in the default alphabet, or None."""
    return DEFAULT.encode(text)


def decode(septets: bytes) -> str:
    """Text of unpacked default-alphabet septets (never raises)."""
    return DEFAULT.decode(septets)


def is_gsm7(text: str) -> bool:
    """True when every character has a default alphabet or extension code."""
    return DEFAULT.encode(text) is not None


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets 7 bits each, LSB first (3GPP TS 23.038 §6.1.2.1.1).

    ``fill_bits`` zero bits come first, so that septets following a UDH start at a septet
    boundary (TS 23.040 §9.2.3.24): fill_bits = (7 - (udh_octets * 8) % 7) % 7.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError("fill_bits must be 0..6")
    if not septets:
        return b"\x00" if fill_bits else b""
    value = 0
    shift = fill_bits
    for s in septets:
        if s > 0x7F:
            raise ValueError(f"septet value {s:#x} does not fit in 7 bits")
        value |= s << shift
        shift += 7
    return value.to_bytes((shift + 7) // 8, "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Inverse of :func:`pack_septets`: ``count`` septets after ``fill_bits`` leading bits.

    ValueError when ``data`` is too short for ``count`` septets.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError("fill_bits must be 0..6")
    if count < 0:
        raise ValueError("count must be >= 0")
    if fill_bits + 7 * count > 8 * len(data):
        raise ValueError(f"{len(data)} octets cannot hold {count} septets after {fill_bits} fill bits")
    value = int.from_bytes(data, "little") >> fill_bits
    return bytes((value >> (7 * i)) & 0x7F for i in range(count))


def fill_bits_for(udh_octets: int) -> int:
    """Fill bits needed after a UDH of ``udh_octets`` octets (including UDHL)."""
    return (7 - (udh_octets * 8) % 7) % 7


def septets_for_udh(udh_octets: int) -> int:
    """Septet positions a UDH (with its fill bits) takes: ceil(octets * 8 / 7)."""
    return (udh_octets * 8 + 6) // 7
