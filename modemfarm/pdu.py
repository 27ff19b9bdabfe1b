"""PDU-mode TPDUs (3GPP TS 23.040 §9.2): SMS-SUBMIT encode; SMS-DELIVER, SMS-STATUS-REPORT and
SMS-SUBMIT decode. Pure: no I/O, no clock.

Text encoding and segmentation belong to `protocols.sms` (`plan`); this module only lays the
planned parts into TPDUs. GSM 7-bit parts arrive unpacked (one septet per octet) and are packed
here *after* the UDH with the fill bits of §9.2.3.24, so a UDH never shifts the text.

The hex PDU handed to ``AT+CMGS=<n>`` starts with the SMSC address (``00`` = the modem's own
SMSC, as smstools and python-gsmmodem do); ``n`` is the TPDU length without that address.
Every malformed input raises `PduError` (a ValueError) with a message that says what was wrong.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from protocols.sms import decode_short_message, gsm7
from protocols.sms.gsm7 import fill_bits_for, pack_septets, septets_for_udh, unpack_septets
from protocols.sms.udh import Udh, parse_udh

# Type of number (TS 23.040 §9.1.2.5), numbering plan 1 (E.164) unless alphanumeric.
TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5

MTI_DELIVER = 0
MTI_SUBMIT = 1
MTI_STATUS_REPORT = 2

_DIGITS = "0123456789*#abc"
_BCD = {c: i for i, c in enumerate(_DIGITS)} | {"A": 10, "B": 11, "C": 12}

#: TP-DCS values written for each planned encoding (general data coding group, no class).
DCS_FOR_ENCODING = {"gsm7": 0x00, "8bit": 0x04, "binary": 0x04, "ucs2": 0x08}


class PduError(ValueError):
    """A PDU could not be built or parsed; the message says which field and why."""


class SubmitPdu(NamedTuple):
    """What ``AT+CMGS`` needs: the hex PDU (SCA included) and the TPDU length for ``=<n>``."""

    hex: str
    tpdu_length: int


@dataclass(frozen=True)
class Address:
    """A TP address: ``number`` is "+<digits>" for international, digits, or alphanumeric text."""

    number: str
    ton: int = TON_UNKNOWN
    npi: int = 1

    @property
    def type_octet(self) -> int:
        return 0x80 | (self.ton << 4) | self.npi


@dataclass(frozen=True)
class Concat:
    """Concatenation IE (8-bit IEI 0x00 or 16-bit IEI 0x08)."""

    reference: int
    total: int
    sequence: int
    bits: int = 8


@dataclass(frozen=True)
class Dcs:
    """What a TP-DCS octet means for decoding (TS 23.038 §4)."""

    alphabet: str  # "gsm7" | "8bit" | "ucs2"
    message_class: int | None = None
    compressed: bool = False


@dataclass(frozen=True)
class SmsDeliver:
    """A decoded SMS-DELIVER (an MO message as the modem stores it)."""

    sca: Address | None
    originator: Address
    pid: int
    dcs: int
    alphabet: str
    message_class: int | None
    timestamp: dt.datetime
    udh: bytes
    user_data: bytes  # payload after the UDH: unpacked septets for gsm7, octets otherwise
    text: str
    concat: Concat | None
    more_messages: bool
    status_report_indication: bool
    reply_path: bool
    tpdu_length: int


@dataclass(frozen=True)
class SmsStatusReport:
    """A decoded SMS-STATUS-REPORT: TP-MR and recipient key the match, TP-ST says the outcome."""

    sca: Address | None
    message_ref: int
    recipient: Address
    timestamp: dt.datetime  # TP-SCTS: when the SC received the SUBMIT
    discharge_time: dt.datetime  # TP-DT: when the status was reached
    status: int
    qualifier: bool  # TP-SRQ: report of an SMS-COMMAND
    tpdu_length: int


@dataclass(frozen=True)
class SmsSubmit:
    """A decoded SMS-SUBMIT (what the simulator and the tests read back)."""

    sca: Address | None
    message_ref: int
    destination: Address
    pid: int
    dcs: int
    alphabet: str
    validity: dt.timedelta | dt.datetime | bytes | None
    status_report: bool
    reject_duplicates: bool
    udh: bytes
    user_data: bytes
    text: str
    concat: Concat | None
    tpdu_length: int


# -- addresses -------------------------------------------------------------------------------
def parse_number(number: str, ton: int | None = None) -> Address:
    """Classify ``number``: "+…" international, digits national/unknown, anything else
    alphanumeric. An explicit ``ton`` wins (e.g. TON_NATIONAL for a national-format number)."""
    text = number.strip()
    if not text:
        raise PduError("empty address")
    if ton is None and text.startswith("+") and not _is_dialable(text):
        raise PduError(f"address {text!r} starts with + but is not all BCD digits")
    if ton == TON_ALPHANUMERIC or (ton is None and not _is_dialable(text)):
        if len(text) > 11:
            raise PduError(f"alphanumeric address {text!r} is longer than 11 characters")
        if not gsm7.is_gsm7(text):
            raise PduError(f"alphanumeric address {text!r} is not in the GSM 7-bit alphabet")
        return Address(text, TON_ALPHANUMERIC, 0)
    digits = text[1:] if text.startswith("+") else text
    if not digits or any(c not in _BCD for c in digits):
        raise PduError(f"address {text!r} has characters that are not BCD digits")
    if len(digits) > 20:
        raise PduError(f"address {text!r} has more than 20 digits")
    if ton is None:
        ton = TON_INTERNATIONAL if text.startswith("+") else TON_UNKNOWN
    shown = "+" + digits if ton == TON_INTERNATIONAL else digits
    return Address(shown, ton, 1)


def _is_dialable(text: str) -> bool:
    body = text[1:] if text.startswith("+") else text
    return bool(body) and all(c in _BCD for c in body)


def _bcd(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    out = bytearray()
    for i in range(0, len(digits), 2):
        lo = _BCD[digits[i]]
        hi = 0x0F if digits[i + 1] == "F" else _BCD[digits[i + 1]]
        out.append((hi << 4) | lo)
    return bytes(out)


def _unbcd(data: bytes, count: int | None = None) -> str:
    out = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble == 0x0F:
                continue
            out.append(_DIGITS[nibble] if nibble < len(_DIGITS) else "?")
    text = "".join(out)
    return text[:count] if count is not None else text


def encode_address(address: Address | str) -> bytes:
    """TP-DA/TP-OA field: length in semi-octets (useful ones), type of address, value."""
    addr = parse_number(address) if isinstance(address, str) else address
    if addr.ton == TON_ALPHANUMERIC:
        septets = gsm7.encode(addr.number)
        packed = pack_septets(septets)
        semi = (len(septets) * 7 + 3) // 4
        return bytes([semi, addr.type_octet]) + packed
    digits = addr.number.lstrip("+")
    return bytes([len(digits), addr.type_octet]) + _bcd(digits)


def encode_sca(sca: Address | str | None) -> bytes:
    """SMSC address for the PDU head: ``00`` (modem default) when None; length in octets."""
    if sca is None or sca == "":
        return b"\x00"
    addr = parse_number(sca) if isinstance(sca, str) else sca
    if addr.ton == TON_ALPHANUMERIC:
        raise PduError("an SMSC address cannot be alphanumeric")
    body = bytes([addr.type_octet]) + _bcd(addr.number.lstrip("+"))
    return bytes([len(body)]) + body


def _address_from(type_octet: int, value: bytes, semi_octets: int) -> Address:
    ton, npi = (type_octet >> 4) & 0x07, type_octet & 0x0F
    if ton == TON_ALPHANUMERIC:
        count = semi_octets * 4 // 7
        text = gsm7.decode(unpack_septets(value, min(count, len(value) * 8 // 7)))
        return Address(text, ton, npi)
    digits = _unbcd(value, semi_octets)
    return Address("+" + digits if ton == TON_INTERNATIONAL and digits else digits, ton, npi)


# -- timestamps and validity -----------------------------------------------------------------
def _swap(octet: int) -> int:
    lo, hi = octet & 0x0F, octet >> 4
    if lo > 9 or hi > 9:
        raise PduError(f"timestamp octet {octet:02X} is not two BCD digits")
    return lo * 10 + hi


def decode_timestamp(data: bytes) -> dt.datetime:
    """TP-SCTS / TP-DT (§9.2.3.11): 7 swapped BCD octets; zone in quarter hours, sign bit 3."""
    if len(data) != 7:
        raise PduError(f"timestamp needs 7 octets, got {len(data)}")
    year, month, day, hour, minute, second = (_swap(b) for b in data[:6])
    tz = data[6]
    quarters = (tz & 0x07) * 10 + (tz >> 4)
    if (tz >> 4) > 9:
        raise PduError(f"time zone octet {tz:02X} is not BCD")
    if quarters > 14 * 4:
        raise PduError(f"time zone {quarters} quarter hours is out of range")
    offset = dt.timedelta(minutes=15 * quarters) * (-1 if tz & 0x08 else 1)
    try:
        return dt.datetime(2000 + year, month, day, hour, minute, second,
                           tzinfo=dt.timezone(offset))
    except ValueError as exc:
        raise PduError(f"invalid timestamp {data.hex().upper()}: {exc}") from None


def encode_timestamp(when: dt.datetime) -> bytes:
    """Inverse of `decode_timestamp` (aware datetimes; naive ones are taken as UTC)."""
    offset = when.utcoffset() or dt.timedelta(0)
    quarters = int(abs(offset.total_seconds()) // 900)
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    out = bytearray(((v % 10) << 4) | (v // 10) for v in fields)
    tz = ((quarters % 10) << 4) | (quarters // 10)
    out.append(tz | (0x08 if offset < dt.timedelta(0) else 0))
    return bytes(out)


def encode_relative_validity(period: dt.timedelta) -> int:
    """Smallest TP-VP (relative, §9.2.3.12.1) that lasts at least ``period`` (capped at 63 weeks)."""
    minutes = max(period.total_seconds(), 0) / 60
    if minutes <= 12 * 60:
        return max(0, int(-(-minutes // 5)) - 1)
    if minutes <= 24 * 60:
        return 143 + int(-(-(minutes - 12 * 60) // 30))
    days = minutes / 1440
    if days <= 30:
        return 166 + int(-(-days // 1))
    return min(255, 192 + int(-(-days // 7)))


def decode_relative_validity(octet: int) -> dt.timedelta:
    if octet <= 143:
        return dt.timedelta(minutes=(octet + 1) * 5)
    if octet <= 167:
        return dt.timedelta(hours=12, minutes=(octet - 143) * 30)
    if octet <= 196:
        return dt.timedelta(days=octet - 166)
    return dt.timedelta(weeks=octet - 192)


# -- data coding -----------------------------------------------------------------------------
def decode_dcs(dcs: int) -> Dcs:
    """Alphabet and class of a TP-DCS octet; reserved alphabets decode as 8-bit (never raise)."""
    group = dcs >> 4
    if group < 0x8:  # general data coding (0x00-0x3F) and automatic deletion (0x40-0x7F)
        alpha = {0: "gsm7", 1: "8bit", 2: "ucs2"}.get((dcs >> 2) & 0x03, "8bit")
        cls = dcs & 0x03 if dcs & 0x10 else None
        return Dcs(alpha, cls, bool(dcs & 0x20))
    if group in (0xC, 0xD):  # message waiting, discard / store, GSM 7-bit
        return Dcs("gsm7")
    if group == 0xE:  # message waiting, store, UCS2
        return Dcs("ucs2")
    if group == 0xF:
        return Dcs("8bit" if dcs & 0x04 else "gsm7", dcs & 0x03)
    return Dcs("8bit")


def data_coding_for(encoding: str, message_class: int | None = None) -> int:
    """TP-DCS for a planned encoding; ``message_class`` 0 makes a flash message."""
    try:
        dcs = DCS_FOR_ENCODING[encoding]
    except KeyError:
        raise PduError(f"no TP-DCS for encoding {encoding!r}") from None
    if message_class is not None:
        if not 0 <= message_class <= 3:
            raise PduError(f"message class {message_class} is not 0..3")
        dcs |= 0x10 | message_class
    return dcs


# -- user data header ------------------------------------------------------------------------
def concat_udh(reference: int, total: int, sequence: int, bits: int = 8) -> bytes:
    """A UDH (UDHL included) holding only a concatenation IE."""
    if bits == 8:
        return bytes([5, 0x00, 3, reference & 0xFF, total, sequence])
    if bits == 16:
        return bytes([6, 0x08, 4, (reference >> 8) & 0xFF, reference & 0xFF, total, sequence])
    raise PduError("concatenation references are 8 or 16 bits")


def parse_header(udh: bytes) -> Udh:
    """`protocols.sms.udh.parse_udh` with its ValueError turned into PduError."""
    try:
        return parse_udh(udh)
    except ValueError as exc:
        raise PduError(f"bad UDH {udh.hex().upper()}: {exc}") from None


def concat_of(udh: bytes) -> Concat | None:
    """The concatenation IE of a UDH, if any (8-bit 0x00 or 16-bit 0x08)."""
    if not udh:
        return None
    header = parse_header(udh)
    if header.concat is None:
        return None
    bits = 16 if any(iei == 0x08 for iei, _ in header.elements) else 8
    return Concat(*header.concat, bits=bits)


# -- SMS-SUBMIT ------------------------------------------------------------------------------
def encode_submit(
    destination: Address | str,
    payload: bytes,
    *,
    encoding: str = "gsm7",
    udh: bytes = b"",
    sca: Address | str | None = None,
    validity: dt.timedelta | None = None,
    status_report: bool = False,
    reject_duplicates: bool = False,
    message_ref: int = 0,
    pid: int = 0,
    dcs: int | None = None,
    message_class: int | None = None,
) -> SubmitPdu:
    """One SMS-SUBMIT. ``payload`` is unpacked septets for gsm7 (one per octet), octets otherwise;
    ``udh`` includes its UDHL octet. TP-MR is normally 0: the modem assigns the real one."""
    if not 0 <= message_ref <= 255:
        raise PduError(f"TP-MR {message_ref} is not 0..255")
    if udh:
        parse_header(udh)  # validates
    if dcs is None:
        dcs = data_coding_for(encoding, message_class)
    first = MTI_SUBMIT
    first |= 0x04 if reject_duplicates else 0
    first |= 0x10 if validity is not None else 0  # VPF = relative
    first |= 0x20 if status_report else 0
    first |= 0x40 if udh else 0
    head = bytes([first, message_ref]) + encode_address(destination) + bytes([pid & 0xFF, dcs])
    if validity is not None:
        head += bytes([encode_relative_validity(validity)])
    if decode_dcs(dcs).alphabet == "gsm7":
        if any(s > 0x7F for s in payload):
            raise PduError("GSM 7-bit payload must be unpacked septets (values 0..127)")
        udl = septets_for_udh(len(udh)) + len(payload) if udh else len(payload)
        if udl > 160:
            raise PduError(f"{udl} septets exceed the 160 that fit in one TPDU")
        body = udh + pack_septets(payload, fill_bits_for(len(udh)) if udh else 0)
    else:
        udl = len(udh) + len(payload)
        if udl > 140:
            raise PduError(f"{udl} octets exceed the 140 that fit in one TPDU")
        body = udh + payload
    tpdu = head + bytes([udl]) + body
    return SubmitPdu((encode_sca(sca) + tpdu).hex().upper(), len(tpdu))


def encode_message(destination: Address | str, text: str | bytes, profile=None, *,
                   reference: int | None = None, **options) -> list[SubmitPdu]:
    """Plan ``text`` with `protocols.sms.plan` and encode one SMS-SUBMIT per part.

    ``reference`` is the concatenation reference (keep it to re-send the same parts later);
    ``options`` go to `encode_submit` (sca, validity, status_report, ...)."""
    from protocols.sms import DEFAULT_PROFILE, plan

    profile = profile if profile is not None else DEFAULT_PROFILE
    if profile.concat not in ("udh8", "udh16"):
        raise PduError(f"concatenation {profile.concat!r} cannot be carried in a PDU")
    encoded = plan(text, profile, reference)
    return [
        encode_submit(destination, part.payload, encoding=encoded.encoding, udh=part.udh, **options)
        for part in encoded.parts
    ]


# -- decoding --------------------------------------------------------------------------------
class _Reader:
    """Cursor over TPDU octets whose errors name the field being read."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, count: int, what: str) -> bytes:
        if self.pos + count > len(self.data):
            raise PduError(f"PDU ends inside {what} (needs {count} octets at {self.pos}, "
                           f"{len(self.data) - self.pos} left)")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]

    def address(self, what: str) -> Address:
        semi = self.octet(what + " length")
        if semi > 20 and semi != 22:  # 11 GSM characters packed = 22 semi-octets
            raise PduError(f"{what} length {semi} is out of range")
        type_octet = self.octet(what + " type")
        return _address_from(type_octet, self.take((semi + 1) // 2, what), semi)

    def rest(self) -> bytes:
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk


def _hex(pdu: str | bytes) -> bytes:
    if isinstance(pdu, bytes | bytearray):
        return bytes(pdu)
    text = pdu.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise PduError(f"PDU is not hexadecimal: {text[:40]!r}") from None


def _user_data(r: _Reader, udl: int, dcs: int, udhi: bool) -> tuple[bytes, bytes, str, Dcs]:
    """(udh, payload, text, dcs) of TP-UD. Lenient about a payload shorter than UDL (quirk Q11)."""
    info = decode_dcs(dcs)
    raw = r.rest()
    udh = b""
    if udhi and raw:
        udh = raw[:1 + raw[0]]
        parse_header(udh)
    if info.alphabet == "gsm7" and not info.compressed:
        skip = septets_for_udh(len(udh)) if udh else 0
        available = (len(raw) * 8) // 7
        septets = unpack_septets(raw, min(udl, available))[skip:]
        return udh, septets, _text(septets, info, udh), info
    payload = raw[len(udh):udl]
    return udh, payload, _text(payload, info, udh), info


def _text(payload: bytes, info: Dcs, udh: bytes) -> str:
    """Text via `protocols.sms.decode_short_message` (national shift IEs in the UDH honoured).
    TP-DCS values below 0x10 do not mean what SMPP data_coding does, so pass the alphabet."""
    if info.compressed:
        return ""
    return decode_short_message({"gsm7": 0x00, "ucs2": 0x08}.get(info.alphabet, 0x04), payload, udh)


def decode_pdu(pdu: str | bytes, *, with_sca: bool = True) -> SmsDeliver | SmsStatusReport | SmsSubmit:
    """Decode a PDU as ``AT+CMGR``/``+CMT``/``+CDS`` show it (SCA first unless ``with_sca`` is
    False). TP-MTI 0 is a DELIVER, 1 a SUBMIT (a stored outgoing message), 2 a STATUS-REPORT."""
    data = _hex(pdu)
    r = _Reader(data)
    sca = None
    if with_sca:
        length = r.octet("SCA length")
        if length:
            body = r.take(length, "SCA")
            sca = _address_from(body[0], body[1:], (length - 1) * 2)
    tpdu_length = len(data) - r.pos
    first = r.octet("first octet")
    mti = first & 0x03
    if mti == MTI_DELIVER:
        return _deliver(r, first, sca, tpdu_length)
    if mti == MTI_SUBMIT:
        return _submit(r, first, sca, tpdu_length)
    if mti == MTI_STATUS_REPORT:
        return _status_report(r, first, sca, tpdu_length)
    raise PduError(f"TP-MTI 3 is reserved (first octet {first:02X})")


def _deliver(r: _Reader, first: int, sca: Address | None, tpdu_length: int) -> SmsDeliver:
    originator = r.address("TP-OA")
    pid, dcs = r.octet("TP-PID"), r.octet("TP-DCS")
    timestamp = decode_timestamp(r.take(7, "TP-SCTS"))
    udl = r.octet("TP-UDL")
    udh, payload, text, info = _user_data(r, udl, dcs, bool(first & 0x40))
    return SmsDeliver(
        sca, originator, pid, dcs, info.alphabet, info.message_class, timestamp, udh, payload,
        text, concat_of(udh), more_messages=not first & 0x04,
        status_report_indication=bool(first & 0x20), reply_path=bool(first & 0x80),
        tpdu_length=tpdu_length,
    )


def _submit(r: _Reader, first: int, sca: Address | None, tpdu_length: int) -> SmsSubmit:
    mr = r.octet("TP-MR")
    destination = r.address("TP-DA")
    pid, dcs = r.octet("TP-PID"), r.octet("TP-DCS")
    vpf = (first >> 3) & 0x03
    validity: dt.timedelta | dt.datetime | bytes | None = None
    if vpf == 2:
        validity = decode_relative_validity(r.octet("TP-VP"))
    elif vpf == 3:
        validity = decode_timestamp(r.take(7, "TP-VP"))
    elif vpf == 1:
        validity = r.take(7, "TP-VP (enhanced)")
    udl = r.octet("TP-UDL")
    udh, payload, text, info = _user_data(r, udl, dcs, bool(first & 0x40))
    return SmsSubmit(
        sca, mr, destination, pid, dcs, info.alphabet, validity, bool(first & 0x20),
        bool(first & 0x04), udh, payload, text, concat_of(udh), tpdu_length,
    )


def _status_report(r: _Reader, first: int, sca: Address | None, tpdu_length: int) -> SmsStatusReport:
    mr = r.octet("TP-MR")
    recipient = r.address("TP-RA")
    scts = decode_timestamp(r.take(7, "TP-SCTS"))
    discharge = decode_timestamp(r.take(7, "TP-DT"))
    status = r.octet("TP-ST")
    # TP-PI and the optional PID/DCS/UD that may follow carry nothing the match needs.
    return SmsStatusReport(sca, mr, recipient, scts, discharge, status, bool(first & 0x20),
                           tpdu_length)
