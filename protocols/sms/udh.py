"""User Data Header (3GPP TS 23.040 §9.2.3.24): build and parse.

Only the elements smsc acts on are interpreted: concatenation with an 8-bit (IEI 0x00) or 16-bit
(IEI 0x08) reference and the national language single (0x24) / locking (0x25) shifts. Every other
element is kept as (iei, data) so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IEI_CONCAT8 = 0x00
IEI_CONCAT16 = 0x08
IEI_NLS_SINGLE = 0x24
IEI_NLS_LOCKING = 0x25

#: Octets a concatenation element adds to the UDH (IEI + IEDL + data).
CONCAT_OCTETS = {"udh8": 5, "udh16": 6}
NLS_IE_OCTETS = 3


@dataclass(slots=True)
class Udh:
    """A parsed UDH. ``concat`` is (ref, total, seq) or None when absent or invalid."""

    elements: list[tuple[int, bytes]] = field(default_factory=list)
    concat: tuple[int, int, int] | None = None
    national_single: int | None = None
    national_locking: int | None = None


def parse_udh(udh: bytes) -> Udh:
    """Parse a full UDH including its UDHL octet.

    ValueError when the structure is malformed (UDHL disagreeing with the length, an element
    running past the end, a concatenation or shift element of the wrong size). A concatenation
    element with total 0, seq 0 or seq > total is ignored, as TS 23.040 §9.2.3.24.1 asks.
    """
    if not udh:
        raise ValueError("empty UDH")
    udhl = udh[0]
    if udhl + 1 != len(udh):
        raise ValueError(f"UDHL says {udhl} octets but {len(udh) - 1} follow")
    result = Udh()
    i, n = 1, len(udh)
    while i < n:
        if i + 2 > n:
            raise ValueError(f"truncated information element at offset {i}")
        iei, iedl = udh[i], udh[i + 1]
        data = bytes(udh[i + 2 : i + 2 + iedl])
        if len(data) != iedl:
            raise ValueError(f"element {iei:#04x} claims {iedl} octets, {len(data)} remain")
        result.elements.append((iei, data))
        if iei == IEI_CONCAT8:
            if iedl != 3:
                raise ValueError(f"8-bit concatenation element has length {iedl}, not 3")
            _set_concat(result, data[0], data[1], data[2])
        elif iei == IEI_CONCAT16:
            if iedl != 4:
                raise ValueError(f"16-bit concatenation element has length {iedl}, not 4")
            _set_concat(result, (data[0] << 8) | data[1], data[2], data[3])
        elif iei in (IEI_NLS_SINGLE, IEI_NLS_LOCKING):
            if iedl != 1:
                raise ValueError(f"national language element {iei:#04x} has length {iedl}, not 1")
            if iei == IEI_NLS_SINGLE:
                result.national_single = data[0]
            else:
                result.national_locking = data[0]
        i += 2 + iedl
    return result


def _set_concat(result: Udh, ref: int, total: int, seq: int) -> None:
    if total >= 1 and 1 <= seq <= total:
        result.concat = (ref, total, seq)


def nls_elements(locking: int, single: int) -> bytes:
    """The shift elements (without UDHL) for language ids; 0 means "default, not announced"."""
    out = b""
    if locking:
        out += bytes((IEI_NLS_LOCKING, 1, locking))
    if single:
        out += bytes((IEI_NLS_SINGLE, 1, single))
    return out


def concat_head(concat: str, ref: int, total: int) -> bytes:
    """A concatenation element without its final seq octet (so seq can be appended per part)."""
    if concat == "udh8":
        return bytes((IEI_CONCAT8, 3, ref & 0xFF, total))
    if concat == "udh16":
        return bytes((IEI_CONCAT16, 4, (ref >> 8) & 0xFF, ref & 0xFF, total))
    raise ValueError(f"no concatenation element for {concat!r}")


def build_udh(elements: bytes) -> bytes:
    """UDHL + elements, or b"" when there are none."""
    if not elements:
        return b""
    if len(elements) > 139:
        raise ValueError("UDH longer than the user data")
    return bytes((len(elements),)) + elements


def split_udh(user_data: bytes) -> tuple[bytes, bytes]:
    """Split a short_message sent with UDHI set into (udh, rest); ValueError when the UDHL
    runs past the data."""
    if not user_data:
        raise ValueError("UDHI set but the message is empty")
    udhl = user_data[0]
    if udhl + 1 > len(user_data):
        raise ValueError(f"UDHL {udhl} runs past the {len(user_data)}-octet message")
    return bytes(user_data[: udhl + 1]), bytes(user_data[udhl + 1 :])
