"""decode_short_message: data_coding + payload (+ UDH) -> text, for MO and receipts.

Tolerant by design: whatever a peer sends, the answer is a str (undecodable units become
U+FFFD); it never raises. GSM 7-bit is expected unpacked (one septet per octet), as SMPP
carries it; the modem PDU codec unpacks before calling.
"""

from __future__ import annotations

from protocols.sms import nls, ucs2
from protocols.sms.gsm7 import DEFAULT
from protocols.sms.udh import parse_udh

#: SMPP 3.4 §5.2.19 data_coding values with a fixed character set.
_SMPP_CHARSETS = {3: "latin-1", 5: "cp932", 6: "iso8859-5", 7: "iso8859-8", 0x0E: "euc_kr"}


def alphabet(data_coding: int) -> str:
    """"gsm7", "ucs2", "8bit" or a Python codec name for an SMPP/GSM data_coding value.

    0 and 1 are GSM 7-bit (1 is IA5 in SMPP, but carriers that ask for 1 send GSM septets);
    0x10-0xFF follow the TS 23.038 §4 coding groups.
    """
    dc = data_coding & 0xFF
    if dc in (0, 1):
        return "gsm7"
    if dc == 8:
        return "ucs2"
    if dc in _SMPP_CHARSETS:
        return _SMPP_CHARSETS[dc]
    if dc < 0x10:
        return "8bit"
    group = dc >> 4
    if group <= 7:  # general data coding (bits 3..2 = alphabet), incl. auto-deletion groups
        if dc & 0x20:
            return "8bit"  # compressed: we cannot decompress, show the octets
        return ("gsm7", "8bit", "ucs2", "8bit")[(dc >> 2) & 3]
    if group in (0xC, 0xD):
        return "gsm7"
    if group == 0xE:
        return "ucs2"
    if group == 0xF:
        return "8bit" if dc & 0x04 else "gsm7"
    return "8bit"


def _decode_8bit(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def decode_short_message(data_coding: int, payload: bytes, udh: bytes = b"",
                         national_language: str | None = None) -> str:
    """Text of one SMS. ``udh`` (with its UDHL) may announce national shift tables; a
    ``national_language`` ("tr") is assumed when it does not. 8-bit data is shown as UTF-8
    when it is valid UTF-8, else octet by octet (Latin-1)."""
    payload = bytes(payload)
    kind = alphabet(data_coding)
    if kind == "gsm7":
        locking = single = 0
        if udh:
            try:
                parsed = parse_udh(bytes(udh))
            except ValueError:
                parsed = None
            if parsed is not None:
                locking = parsed.national_locking or 0
                single = parsed.national_single or 0
        if not (locking or single) and national_language in nls.LANGUAGE_IDS:
            lid = nls.LANGUAGE_IDS[national_language]
            locking = lid if nls.has_locking(lid) else 0
            single = lid
        codec = nls.codec(locking, single) if (locking or single) else DEFAULT
        return codec.decode(payload)
    if kind == "ucs2":
        return ucs2.decode(payload)
    if kind == "8bit":
        return _decode_8bit(payload)
    return payload.decode(kind, "replace")
