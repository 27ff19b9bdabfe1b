"""PDU codec: labelled vectors from the transcripts, and cross-checks against an independent
decoder (python-gsmmodem-new, a test-only oracle)."""

from __future__ import annotations

import datetime as dt

import pytest

from modemfarm import pdu
from modemfarm.pdu import Address, PduError, decode_pdu, encode_message, encode_submit

gsmpdu = pytest.importorskip("gsmmodem.pdu")

UTC = dt.timezone.utc

# (label, pdu hex, expected fields) -- from modem-transcripts/decoded_pdus.txt
TRANSCRIPT_CASES = [
    ("gammu SUBMIT with SCA, VP FF",
     "07915155000000F011000B915155214365F70000FF05E8329BFD06",
     {"type": pdu.SmsSubmit, "sca": "+15550000000", "number": "+15551234567", "text": "hello",
      "tpdu_length": 19, "validity": dt.timedelta(days=441), "status_report": False}),
    ("gammu-smsd SUBMIT with SRR",
     "07915155000000F031000B915155214365F70000FF15E8329BFD0699E5EF36E81C6EB7EBAD797B4E06",
     {"type": pdu.SmsSubmit, "text": "hello from gammu-smsd", "tpdu_length": 33,
      "status_report": True}),
    ("python-gsmmodem SUBMIT, SCA 00, no VP",
     "0021000B915155214365F700001AE8329BFD0699E5EF36089EA7A3DFEED679DE6EBFC9E536",
     {"type": pdu.SmsSubmit, "sca": None, "text": "hello from python-gsmmodem", "tpdu_length": 36,
      "validity": None, "status_report": True}),
    ("smstools SUBMIT SCA 00",
     "0031000B915155214365F70000FF05E8329BFD06",
     {"type": pdu.SmsSubmit, "sca": None, "text": "hello", "tpdu_length": 19}),
    ("MO DELIVER interleaved",
     "07915155000000F0040B915155334344F40000621122707442000E4937BD2C6797C3F63219D47C02",
     {"type": pdu.SmsDeliver, "number": "+15553334444", "text": "Interleaved MO", "tpdu_length": 32,
      "time": dt.datetime(2026, 11, 22, 7, 47, 24, tzinfo=UTC)}),
    ("MO DELIVER preloaded",
     "07915155000000F0040B915155112122F20000621122702445000E507999FD0E93CB6450F3098A01",
     {"type": pdu.SmsDeliver, "number": "+15551112222", "text": "Preloaded MO 1"}),
    ("STATUS-REPORT gammu-smsd",
     "07915155000000F0062A0B915155214365F7621122704411006211227044610000",
     {"type": pdu.SmsStatusReport, "number": "+15551234567", "mr": 42, "status": 0,
      "tpdu_length": 25, "time": dt.datetime(2026, 11, 22, 7, 44, 11, tzinfo=UTC),
      "discharge": dt.datetime(2026, 11, 22, 7, 44, 16, tzinfo=UTC)}),
    ("STATUS-REPORT python-gsmmodem",
     "07915155000000F0062A0B915155214365F7621122706455006211227074000000",
     {"type": pdu.SmsStatusReport, "mr": 42, "status": 0,
      "discharge": dt.datetime(2026, 11, 22, 7, 47, 0, tzinfo=UTC)}),
]


@pytest.mark.parametrize(("label", "hexpdu", "want"), TRANSCRIPT_CASES, ids=[c[0] for c in TRANSCRIPT_CASES])
def test_transcript_pdus_decode(label, hexpdu, want):
    """Every PDU captured from gammu, smstools and python-gsmmodem decodes to the labelled fields."""
    got = decode_pdu(hexpdu)
    assert isinstance(got, want["type"])
    number = getattr(got, "destination", None) or getattr(got, "originator", None) or got.recipient
    checks = {
        "sca": got.sca.number if got.sca else None, "number": number.number,
        "text": getattr(got, "text", None), "tpdu_length": got.tpdu_length,
        "validity": getattr(got, "validity", None), "status_report": getattr(got, "status_report", None),
        "time": getattr(got, "timestamp", None), "mr": getattr(got, "message_ref", None),
        "status": getattr(got, "status", None), "discharge": getattr(got, "discharge_time", None),
    }
    for key, value in want.items():
        if key != "type":
            assert checks[key] == value, (label, key)


def test_encode_matches_transcript_bytes():
    """Our SUBMIT for "hello" with SRR and VP 63 weeks is byte-identical to smstools' PDU."""
    septets = "hello".encode("ascii")
    out = encode_submit("+15551234567", septets, status_report=True, validity=dt.timedelta(weeks=63))
    assert out == ("0031000B915155214365F70000FF05E8329BFD06", 19)


ORACLE_TEXTS = [
    ("gsm7 short", "hello"),
    ("gsm7 extension chars", "Price: 5€ [ok] {x} ~^|\\"),
    ("gsm7 exactly 160", "a" * 160),
    ("gsm7 multipart", "The quick brown fox jumps over the lazy dog. " * 8),
    ("ucs2 cyrillic", "Привет, мир!"),
    ("ucs2 multipart", "Привет! Это тест многочастного сообщения. " * 5),
]


@pytest.mark.parametrize(("label", "text"), ORACLE_TEXTS, ids=[t[0] for t in ORACLE_TEXTS])
@pytest.mark.parametrize("srr", [False, True])
def test_oracle_decodes_our_submits(label, text, srr):
    """python-gsmmodem decodes each part we encode to the same number, SRR flag and text."""
    parts = encode_message("+15551234567", text, reference=0x5A, status_report=srr,
                           validity=dt.timedelta(days=2))
    texts = []
    for part in parts:
        theirs = gsmpdu.decodeSmsPdu(part.hex)
        assert theirs["type"] == "SMS-SUBMIT" and theirs["number"] == "+15551234567"
        assert theirs["tpdu_length"] == part.tpdu_length
        assert theirs["validity"] == dt.timedelta(days=2)
        if len(parts) > 1:
            (concat,) = [u for u in theirs["udh"] if isinstance(u, gsmpdu.Concatenation)]
            assert (concat.reference, concat.parts) == (0x5A, len(parts))
            texts.append((concat.number, theirs["text"]))
        else:
            texts.append((1, theirs["text"]))
        first = bytes.fromhex(part.hex)[1]
        assert bool(first & 0x20) is srr
    assert "".join(t for _, t in sorted(texts)) == text


@pytest.mark.parametrize(("label", "text"), ORACLE_TEXTS, ids=[t[0] for t in ORACLE_TEXTS])
def test_we_decode_oracle_submits(label, text):
    """Every SUBMIT python-gsmmodem encodes decodes here to the same text and concat info."""
    theirs = gsmpdu.encodeSmsSubmitPdu("+15551234567", text, reference=0x21, requestStatusReport=True)
    texts = []
    for part in theirs:
        ours = decode_pdu(bytes(part.data))
        assert ours.destination.number == "+15551234567" and ours.status_report
        assert ours.tpdu_length == part.tpduLength
        if len(theirs) > 1:
            assert ours.concat.reference == 0x21 and ours.concat.total == len(theirs)
        texts.append(ours.text)
    assert "".join(texts) == text


def test_sixteen_bit_concat_reference():
    """With a 16-bit profile the UDH carries IEI 0x08 and the full reference."""
    from protocols.sms import TextProfile

    parts = encode_message("+15551234567", "b" * 300, TextProfile(concat="udh16"), reference=0x1234)
    concats = [decode_pdu(p.hex).concat for p in parts]
    assert [(c.reference, c.bits, c.sequence, c.total) for c in concats] == [
        (0x1234, 16, 1, 2), (0x1234, 16, 2, 2)]


@pytest.mark.parametrize(
    ("label", "number", "ton", "field_hex"),
    [
        ("international", "+4915112345678", None, "0D91945111325476F8"),
        ("unknown type, digits", "0612345678", None, "0A816021436587"),
        ("national", "0612345678", pdu.TON_NATIONAL, "0AA16021436587"),
        ("alphanumeric: 11 semi-octets, TON 5", "MyShop", None, "0BD0CDFC14FD8603"),
    ],
)
def test_address_encoding(label, number, ton, field_hex):
    """Addresses encode with the right type octet and length in useful semi-octets."""
    addr = pdu.parse_number(number, ton)
    assert pdu.encode_address(addr).hex().upper() == field_hex, label


def test_address_fields_agree_with_oracle():
    """Digits and packed alphanumeric values match python-gsmmodem's own encoders."""
    assert pdu.encode_address("+4915112345678") == bytes(gsmpdu._encodeAddressField("+4915112345678"))
    assert pdu.encode_address("MyShop")[2:] == bytes(gsmpdu.packSeptets(gsmpdu.encodeGsm7("MyShop")))


def test_alphanumeric_originator_decodes():
    """A DELIVER from an alphanumeric sender (TON 5) shows the sender name."""
    oa = pdu.encode_address(Address("MyShop", pdu.TON_ALPHANUMERIC, 0))
    tpdu = bytes([0x04]) + oa + bytes([0, 0]) + pdu.encode_timestamp(
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) + bytes([2]) + bytes.fromhex("E834")
    got = decode_pdu(b"\x00" + tpdu)
    assert got.originator == Address("MyShop", 5, 0) and got.text == "hi"


@pytest.mark.parametrize(
    ("label", "tz_octet", "offset_minutes"),
    [("UTC", 0x00, 0), ("+1h = 4 quarters", 0x40, 60), ("+5:45 = 23 quarters", 0x32, 345),
     ("-3h = 12 quarters, sign bit", 0x29, -180), ("-0:15", 0x18, -15)],
)
def test_timestamp_zones(label, tz_octet, offset_minutes):
    """SCTS zones are quarter hours in swapped BCD with the sign in bit 3."""
    when = pdu.decode_timestamp(bytes.fromhex("62112270744200") [:6] + bytes([tz_octet]))
    assert when.utcoffset() == dt.timedelta(minutes=offset_minutes), label
    assert pdu.encode_timestamp(when)[6] == tz_octet


@pytest.mark.parametrize(
    ("label", "period", "octet"),
    [("5 min", dt.timedelta(minutes=5), 0), ("12 h", dt.timedelta(hours=12), 143),
     ("13 h", dt.timedelta(hours=13), 145), ("2 days", dt.timedelta(days=2), 168),
     ("30 days", dt.timedelta(days=30), 196), ("63 weeks", dt.timedelta(weeks=63), 255),
     ("beyond is capped", dt.timedelta(weeks=100), 255)],
)
def test_relative_validity(label, period, octet):
    """TP-VP relative picks the smallest code lasting at least the period."""
    assert pdu.encode_relative_validity(period) == octet, label
    assert pdu.decode_relative_validity(octet) >= min(period, dt.timedelta(weeks=63))


@pytest.mark.parametrize(
    ("label", "dcs", "alphabet", "cls"),
    [("default", 0x00, "gsm7", None), ("8bit", 0x04, "8bit", None), ("ucs2", 0x08, "ucs2", None),
     ("flash gsm7", 0x10, "gsm7", 0), ("class 1 ucs2", 0x19, "ucs2", 1),
     ("F-group 8bit class 2", 0xF6, "8bit", 2), ("MWI store ucs2", 0xE0, "ucs2", None)],
)
def test_dcs(label, dcs, alphabet, cls):
    """TP-DCS groups decode to the alphabet and message class."""
    got = pdu.decode_dcs(dcs)
    assert (got.alphabet, got.message_class) == (alphabet, cls), label


@pytest.mark.parametrize(
    ("label", "bad", "message"),
    [
        ("not hex", "07ZZ", "not hexadecimal"),
        ("truncated after SCA", "07915155000000F0", "first octet"),
        ("truncated report", "07915155000000F0062A0B9151552143", "TP-RA"),
        ("reserved MTI", "0003", "reserved"),
        ("bad timestamp", "00040B915155334344F40000FF1122707442000141", "timestamp"),
    ],
)
def test_bad_pdus_raise_clear_errors(label, bad, message):
    """Malformed PDUs raise PduError naming the field, never another exception."""
    with pytest.raises(PduError, match=message):
        decode_pdu(bad)


@pytest.mark.parametrize(
    ("label", "kwargs", "message"),
    [
        ("too long gsm7", {"destination": "+1555", "payload": b"a" * 161}, "160"),
        ("non-BCD number", {"destination": "+15x55", "payload": b"a"}, "alphanumeric|BCD|GSM"),
        ("bad MR", {"destination": "+1555", "payload": b"a", "message_ref": 300}, "TP-MR"),
        ("bad udh", {"destination": "+1555", "payload": b"a", "udh": b"\x05\x00\x03"}, "UDH"),
    ],
)
def test_bad_submit_input(label, kwargs, message):
    """Bad SUBMIT input raises PduError with a clear message."""
    with pytest.raises(PduError, match=message):
        encode_submit(**kwargs)
