"""The simulator's own small TPDU codec (3GPP TS 23.040), independent of modemfarm/pdu.py.

The simulated network must understand what the driver sends (destination, text, status report
request, concatenation) and produce what a real SMSC would (SMS-DELIVER, SMS-STATUS-REPORT).
Writing it separately from the driver's codec makes the two cross-check each other: a bug shared by
both would have to be written twice. Only the septet packing and the GSM 03.38 alphabet are
shared (protocols.sms.gsm7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from protocols.sms import gsm7


class PduError(ValueError):
    """The PDU is malformed; the simulator answers +CMS ERROR: 304 like a modem would."""


@dataclass
class Submit:
    """A decoded SMS-SUBMIT."""

    sca: str | None
    first_octet: int
    mr: int
    destination: str
    toa: int
    pid: int
    dcs: int
    srr: bool
    validity: bytes
    text: str
    concat: tuple[int, int, int] | None  # (reference, total, sequence)
    udh: bytes = b""
    tpdu: bytes = field(default=b"", repr=False)


# -- semi-octets, addresses, timestamps -----------------------------------------------------------
def _swap_digits(data: bytes) -> str:
    out = []
    for byte in data:
        for nibble in (byte & 0x0F, byte >> 4):
            if nibble == 0x0F:
                continue
            out.append("0123456789*#abc"[nibble])
    return "".join(out)


def _pack_digits(digits: str) -> bytes:
    table = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
    nibbles = [table[c] for c in digits] + ([0x0F] if len(digits) % 2 else [])
    return bytes(nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2))


def encode_address(address: str) -> bytes:
    """TP-OA / TP-DA / TP-RA: length in semi-octets, type of address, value."""
    if address.startswith("+") and address[1:].isdigit():
        digits = address[1:]
        return bytes([len(digits), 0x91]) + _pack_digits(digits)
    if address.isdigit():
        return bytes([len(address), 0x81]) + _pack_digits(address)
    septets = gsm7.try_encode(address)
    if septets is None or len(septets) > 11:
        raise PduError(f"alphanumeric address {address!r} is not GSM 7-bit or longer than 11")
    packed = gsm7.pack_septets(septets)
    return bytes([(len(septets) * 7 + 3) // 4, 0xD0]) + packed


def decode_address(data: bytes, offset: int) -> tuple[str, int, int]:
    """Return (address, type of address, next offset)."""
    try:
        length, toa = data[offset], data[offset + 1]
    except IndexError as exc:
        raise PduError("address truncated") from exc
    size = (length + 1) // 2
    value = data[offset + 2:offset + 2 + size]
    if len(value) != size:
        raise PduError("address truncated")
    if toa & 0x70 == 0x50:
        address = gsm7.decode(gsm7.unpack_septets(value, length * 4 // 7))
    else:
        address = ("+" if toa & 0x70 == 0x10 else "") + _swap_digits(value)[:length]
    return address, toa, offset + 2 + size


def encode_sca(sca: str | None) -> bytes:
    """The SMSC address prefix of a PDU as the modem shows it (length in octets)."""
    if not sca:
        return b"\x00"
    body = encode_address(sca)[1:]
    return bytes([len(body)]) + body


def encode_timestamp(when: datetime) -> bytes:
    """TP-SCTS: seven swapped semi-octets, the zone in quarter hours (bit 3 of the last = minus)."""
    offset = when.utcoffset() or timedelta(0)
    quarters = int(abs(offset.total_seconds()) // 900)
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    out = bytes(((v % 10) << 4) | (v // 10) for v in fields)
    zone = ((quarters % 10) << 4) | (quarters // 10) | (0x08 if offset < timedelta(0) else 0)
    return out + bytes([zone])


def decode_timestamp(data: bytes) -> datetime:
    """Inverse of `encode_timestamp` (used by tests and by the report matcher of the network)."""
    vals = [(b & 0x0F) * 10 + (b >> 4) for b in data[:6]]
    zone = data[6]
    quarters = (zone & 0x07) * 10 + (zone >> 4)
    sign = -1 if zone & 0x08 else 1
    tz = timezone(timedelta(minutes=15 * quarters * sign))
    return datetime(2000 + vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], tzinfo=tz)


# -- user data -----------------------------------------------------------------------------------
def _alphabet(dcs: int) -> str:
    group = dcs & 0xF0
    if dcs & 0xC0 == 0x00:
        return {0: "gsm7", 1: "8bit", 2: "ucs2"}.get((dcs >> 2) & 0x03, "gsm7")
    if group == 0xF0:
        return "8bit" if dcs & 0x04 else "gsm7"
    if group == 0xE0:
        return "ucs2"
    return "gsm7"


def _parse_concat(udh: bytes) -> tuple[int, int, int] | None:
    i = 0
    while i + 1 < len(udh):
        iei, length = udh[i], udh[i + 1]
        body = udh[i + 2:i + 2 + length]
        if iei == 0x00 and length == 3 and len(body) == 3:
            return body[0], body[1], body[2]
        if iei == 0x08 and length == 4 and len(body) == 4:
            return (body[0] << 8) | body[1], body[2], body[3]
        i += 2 + length
    return None


def _decode_ud(dcs: int, udhi: bool, udl: int, ud: bytes) -> tuple[bytes, str]:
    alphabet = _alphabet(dcs)
    udh = b""
    header_octets = 0
    if udhi:
        if not ud or ud[0] + 1 > len(ud):
            raise PduError("UDH longer than the user data")
        header_octets = ud[0] + 1
        udh = ud[1:header_octets]
    if alphabet == "gsm7":
        skip = gsm7.septets_for_udh(header_octets) if udhi else 0
        if skip > udl:
            raise PduError("UDL shorter than its header")
        fill = gsm7.fill_bits_for(header_octets) if udhi else 0
        try:
            septets = gsm7.unpack_septets(ud[header_octets:], udl - skip, fill)
        except ValueError as exc:
            raise PduError(str(exc)) from exc
        return udh, gsm7.decode(septets)
    if udl > len(ud):
        raise PduError(f"UDL {udl} exceeds the {len(ud)} octets present")
    body = ud[header_octets:udl]
    if alphabet == "ucs2":
        if len(body) % 2:
            raise PduError("odd UCS2 length")
        return udh, body.decode("utf-16-be", errors="replace")
    return udh, body.hex()


def decode_submit(pdu_hex: str, tpdu_length: int | None = None) -> Submit:
    """Decode what the driver wrote after the prompt (SCA prefix + TPDU)."""
    try:
        raw = bytes.fromhex(pdu_hex.strip())
    except ValueError as exc:
        raise PduError("not hexadecimal") from exc
    if not raw:
        raise PduError("empty PDU")
    sca_len = raw[0]
    sca = decode_address(bytes([sca_len * 2 - 2]) + raw[1:1 + sca_len], 0)[0] if sca_len else None
    tpdu = raw[1 + sca_len:]
    if tpdu_length is not None and len(tpdu) != tpdu_length:
        raise PduError(f"TPDU is {len(tpdu)} octets, AT+CMGS announced {tpdu_length}")
    if len(tpdu) < 7:
        raise PduError("TPDU too short")
    fo = tpdu[0]
    if fo & 0x03 != 0x01:
        raise PduError(f"not an SMS-SUBMIT (MTI {fo & 3})")
    mr = tpdu[1]
    destination, toa, i = decode_address(tpdu, 2)
    if i + 2 > len(tpdu):
        raise PduError("TPDU truncated after the address")
    pid, dcs = tpdu[i], tpdu[i + 1]
    i += 2
    vp_len = {0: 0, 2: 1, 1: 7, 3: 7}[(fo >> 3) & 0x03]
    validity = tpdu[i:i + vp_len]
    i += vp_len
    if i >= len(tpdu):
        raise PduError("TPDU truncated before UDL")
    udl = tpdu[i]
    udh, text = _decode_ud(dcs, bool(fo & 0x40), udl, tpdu[i + 1:])
    return Submit(sca, fo, mr, destination, toa, pid, dcs, bool(fo & 0x20), validity, text,
                  _parse_concat(udh), udh, tpdu)


def decode_deliver(pdu_hex: str) -> tuple[str, str, tuple[int, int, int] | None, datetime]:
    """(originator, text, concat, SCTS) of an SMS-DELIVER: for tests and transcripts."""
    raw = bytes.fromhex(pdu_hex)
    tpdu = raw[1 + raw[0]:]
    if not tpdu or tpdu[0] & 0x03 != 0x00:
        raise PduError("not an SMS-DELIVER")
    originator, _, i = decode_address(tpdu, 1)
    dcs, scts = tpdu[i + 1], decode_timestamp(tpdu[i + 2:i + 9])
    udh, text = _decode_ud(dcs, bool(tpdu[0] & 0x40), tpdu[i + 9], tpdu[i + 10:])
    return originator, text, _parse_concat(udh), scts


# -- encoding what the network sends -------------------------------------------------------------
def split_text(text: str, concat: bool = True) -> tuple[str, list[bytes]]:
    """Choose GSM 7-bit or UCS2 and cut ``text`` into part payloads (septets or UTF-16-BE).

    Never splits an escape sequence or a surrogate pair.
    """
    septets = gsm7.try_encode(text)
    if septets is not None:
        if len(septets) <= 160 or not concat:
            return "gsm7", [septets]
        parts, current = [], bytearray()
        for char in text:
            code = gsm7.encode(char)
            if len(current) + len(code) > 153:
                parts.append(bytes(current))
                current = bytearray()
            current += code
        return "gsm7", parts + [bytes(current)]
    units = text.encode("utf-16-be")
    if len(units) <= 140 or not concat:
        return "ucs2", [units]
    parts, current = [], bytearray()
    for char in text:
        code = char.encode("utf-16-be")
        if len(current) + len(code) > 134:
            parts.append(bytes(current))
            current = bytearray()
        current += code
    return "ucs2", parts + [bytes(current)]


def _user_data(alphabet: str, payload: bytes, udh: bytes) -> tuple[int, bytes]:
    header = bytes([len(udh)]) + udh if udh else b""
    if alphabet == "gsm7":
        skip = gsm7.septets_for_udh(len(header)) if header else 0
        fill = gsm7.fill_bits_for(len(header)) if header else 0
        return skip + len(payload), header + gsm7.pack_septets(payload, fill)
    return len(header) + len(payload), header + payload


def encode_deliver(originator: str, text: str, when: datetime, *, sca: str | None = None,
                   reference: int | None = None, sixteen_bit: bool = False) -> list[str]:
    """SMS-DELIVER PDUs (SCA prefix + TPDU, hex) for ``text``; several if it needs concatenation."""
    alphabet, payloads = split_text(text)
    dcs = 0x00 if alphabet == "gsm7" else 0x08
    total = len(payloads)
    out = []
    for seq, payload in enumerate(payloads, start=1):
        udh = b""
        if total > 1:
            ref = (reference or 0) & (0xFFFF if sixteen_bit else 0xFF)
            udh = (bytes([0x08, 4, ref >> 8, ref & 0xFF, total, seq]) if sixteen_bit
                   else bytes([0x00, 3, ref, total, seq]))
        udl, ud = _user_data(alphabet, payload, udh)
        fo = 0x04 | (0x40 if udh else 0)  # MTI=0 (DELIVER), MMS=1 (no more messages)
        tpdu = (bytes([fo]) + encode_address(originator) + bytes([0x00, dcs])
                + encode_timestamp(when) + bytes([udl]) + ud)
        out.append((encode_sca(sca) + tpdu).hex().upper())
    return out


def encode_submit(destination: str, text: str, *, srr: bool = False,
                  concat: tuple[int, int, int] | None = None, sca: str | None = None) -> tuple[str, int]:
    """A one-part SMS-SUBMIT (hex, TPDU length) as a driver would send it; MR 0, VP absent.

    For the simulator's own tests and demos; the driver has its own encoder (modemfarm/pdu.py).
    """
    alphabet, payloads = split_text(text, concat=False)
    udh = bytes([0x00, 3, *concat]) if concat else b""
    udl, ud = _user_data(alphabet, payloads[0], udh)
    fo = 0x01 | (0x20 if srr else 0) | (0x40 if udh else 0)
    tpdu = (bytes([fo, 0x00]) + encode_address(destination)
            + bytes([0x00, 0x00 if alphabet == "gsm7" else 0x08, udl]) + ud)
    return (encode_sca(sca) + tpdu).hex().upper(), len(tpdu)


def encode_status_report(mr: int, recipient: str, submitted: datetime, done: datetime,
                         status: int, *, sca: str | None = None) -> str:
    """An SMS-STATUS-REPORT PDU (SCA prefix + TPDU, hex) for message reference ``mr``."""
    tpdu = (bytes([0x06, mr & 0xFF]) + encode_address(recipient) + encode_timestamp(submitted)
            + encode_timestamp(done) + bytes([status & 0xFF]))
    return (encode_sca(sca) + tpdu).hex().upper()


def tpdu_length(pdu_hex: str) -> int:
    """Octets of the TPDU (the PDU minus its SCA prefix): the length +CMGR / +CMT announce."""
    raw = bytes.fromhex(pdu_hex)
    return len(raw) - 1 - raw[0]


def utc(seconds: float) -> datetime:
    """A clock reading as an aware datetime (SCTS of generated PDUs)."""
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc)
