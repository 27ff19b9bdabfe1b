"""Table-driven tests of receipt parsing/formatting, message_state mapping,
network_error_code and message-id flavours."""

from __future__ import annotations

from datetime import datetime

import pytest

from protocols.smpp import receipts as r
from protocols.smpp.codec import Pdu, decode, encode
from protocols.smpp.constants import MessageState as MS

# label, text, expected fields (only those listed are checked), expected state
PARSE_CASES = [
    ("appendix B", "id:1234567890 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 "
     "stat:DELIVRD err:000 text:Hello world",
     {"id": "1234567890", "sub": "001", "dlvrd": "001", "submit_date": "2601011200",
      "done_date": "2601011201", "err": "000", "text": "Hello world"}, MS.DELIVERED),
    ("Text: capitalised", "id:42 sub:001 dlvrd:000 submit date:2601011200 done date:2601011300 "
     "stat:UNDELIV err:001 Text:Hi", {"id": "42", "text": "Hi", "err": "001"}, MS.UNDELIVERABLE),
    ("dates with seconds", "id:7 sub:001 dlvrd:001 submit date:260101120005 "
     "done date:260101120159 stat:DELIVRD err:000 text:",
     {"submit_date": "260101120005", "done_date": "260101120159", "text": ""}, MS.DELIVERED),
    ("text missing", "id:7 sub:001 dlvrd:000 submit date:2601011200 done date:2601011200 "
     "stat:EXPIRED err:000", {"text": None}, MS.EXPIRED),
    ("extra fields kept", "id:9 sub:001 dlvrd:001 submit date:2601011200 done date:2601011200 "
     "stat:DELIVRD err:000 imsi:214010000000000 mccmnc:21401 text:x",
     {"extra": {"imsi": "214010000000000", "mccmnc": "21401"}, "text": "x"}, MS.DELIVERED),
    ("err of four digits", "id:9 stat:REJECTD err:1234 text:", {"err": "1234"}, MS.REJECTED),
    ("id with leading zeros", "id:000000123 stat:ACCEPTD", {"id": "000000123"}, MS.ACCEPTED),
    ("hex id", "id:7F3A2B sub:001 stat:DELETED err:000", {"id": "7F3A2B"}, MS.DELETED),
    ("lower-case stat", "id:1 stat:delivrd", {"stat": "delivrd"}, MS.DELIVERED),
    ("colons inside text", "id:1 stat:DELIVRD err:000 text:code: 1234 stat:FAKE",
     {"text": "code: 1234 stat:FAKE"}, MS.DELIVERED),
    ("underscored date keys", "id:1 submit_date:2601011200 done_date:2601011205 stat:ENROUTE",
     {"submit_date": "2601011200", "done_date": "2601011205"}, MS.ENROUTE),
    ("long spelling of a stat", "id:1 stat:DELIVERED", {}, MS.DELIVERED),
    ("unknown stat word", "id:1 stat:WEIRD", {"stat": "WEIRD"}, None),
]


@pytest.mark.parametrize("label,text,fields,state", PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_receipt_text(label: str, text: str, fields: dict, state: MS | None) -> None:
    """When a receipt text in one of the shapes carriers send is parsed, its fields and
    state come out."""
    parsed = r.parse_receipt_text(text)
    assert parsed is not None
    for name, value in fields.items():
        assert getattr(parsed, name) == value, name
    assert parsed.state == state


@pytest.mark.parametrize("label,text", [
    ("plain MO text", "Hello, see you at 10:30"),
    ("empty", ""),
    ("id without value", "id: sub:001"),
])
def test_not_a_receipt(label: str, text: str) -> None:
    """When a text has no id, it is not taken for a receipt."""
    assert r.parse_receipt_text(text) is None


@pytest.mark.parametrize("value,expected", [
    ("2601011200", datetime(2026, 1, 1, 12, 0)),
    ("260101120005", datetime(2026, 1, 1, 12, 0, 5)),
    ("20260101120005", datetime(2026, 1, 1, 12, 0, 5)),
    ("2613011200", None),
    ("26010112", None),
    ("", None),
    (None, None),
])
def test_parse_receipt_date(value: str | None, expected: datetime | None) -> None:
    """When a receipt date is 10 or 12 digits (or 14), it parses; anything else is None."""
    assert r.parse_receipt_date(value) == expected


def test_format_then_parse_round_trip() -> None:
    """When we format a receipt and parse it back, every field survives."""
    text = r.format_receipt_text("00ab12", MS.UNDELIVERABLE, datetime(2026, 3, 4, 5, 6),
                                 datetime(2026, 3, 4, 5, 7, 8), err=34,
                                 text="A rather long message body here", seconds=True)
    assert text == ("id:00ab12 sub:001 dlvrd:000 submit date:260304050600 "
                    "done date:260304050708 stat:UNDELIV err:034 text:A rather long messag")
    parsed = r.parse_receipt_text(text)
    assert (parsed.id, parsed.state, parsed.error_code, parsed.done_at) == (
        "00ab12", MS.UNDELIVERABLE, 34, datetime(2026, 3, 4, 5, 7, 8))


def test_format_delivered_counts_dlvrd() -> None:
    """When the state is DELIVERED, dlvrd equals sub by default."""
    text = r.format_receipt_text("1", MS.DELIVERED, datetime(2026, 1, 1), datetime(2026, 1, 1))
    assert "sub:001 dlvrd:001" in text and "stat:DELIVRD" in text


@pytest.mark.parametrize("state,stat", [
    (MS.ENROUTE, "ENROUTE"), (MS.DELIVERED, "DELIVRD"), (MS.EXPIRED, "EXPIRED"),
    (MS.DELETED, "DELETED"), (MS.UNDELIVERABLE, "UNDELIV"), (MS.ACCEPTED, "ACCEPTD"),
    (MS.UNKNOWN, "UNKNOWN"), (MS.REJECTED, "REJECTD"), (99, "UNKNOWN"),
])
def test_state_stat_mapping(state: int, stat: str) -> None:
    """Each message_state has its Appendix B word, and the word maps back."""
    assert r.state_to_stat(state) == stat
    if state != 99:
        assert r.stat_to_state(stat) == state


def test_message_state_values() -> None:
    """message_state values are those of SMPP 3.4 section 5.2.28."""
    assert [(s.name, s.value) for s in MS][:8] == [
        ("ENROUTE", 1), ("DELIVERED", 2), ("EXPIRED", 3), ("DELETED", 4),
        ("UNDELIVERABLE", 5), ("ACCEPTED", 6), ("UNKNOWN", 7), ("REJECTED", 8)]


@pytest.mark.parametrize("network_type,code,raw", [
    (3, 0x22, b"\x03\x00\x22"), (1, 0xFFFF, b"\x01\xff\xff"), (2, 0, b"\x02\x00\x00")])
def test_network_error_code(network_type: int, code: int, raw: bytes) -> None:
    """network_error_code is one type octet and a 2-octet code, both ways."""
    assert r.encode_network_error_code(network_type, code) == raw
    assert r.decode_network_error_code(raw) == (network_type, code)


def test_network_error_code_bad_input() -> None:
    """When the value has the wrong size or range, ValueError says so."""
    with pytest.raises(ValueError):
        r.decode_network_error_code(b"\x03\x00")
    with pytest.raises(ValueError):
        r.encode_network_error_code(3, 70000)


ID_CASES = [
    ("hex resp, dec receipt", "1A2B3C", "hex", "1715004", "dec", True),
    ("dec resp, hex receipt", "1715004", "dec", "001a2b3c", "hex", True),
    ("leading zeros in decimal", "000123", "dec", "123", "dec", True),
    ("hex case differs", "abcdef", "hex", "ABCDEF", "hex", True),
    ("strings compare as sent", "abc-1", "string", "abc-1", "string", True),
    ("different ids", "1A", "hex", "27", "dec", False),
]


@pytest.mark.parametrize("label,a,fa,b,fb,same", ID_CASES, ids=[c[0] for c in ID_CASES])
def test_canonical_id_matching(label: str, a: str, fa: str, b: str, fb: str, same: bool) -> None:
    """When each side's id is canonicalised with its own flavour, equal ids match."""
    assert (r.canonical_id(a, fa) == r.canonical_id(b, fb)) is same


def test_id_helpers() -> None:
    """hex/decimal conversions and the candidates used when flavours are unknown."""
    assert r.hex_to_dec("ff") == "255"
    assert r.dec_to_hex("255", upper=True, width=4) == "00FF"
    assert r.id_candidates("0010") == {"0010", "16", "10"}
    assert r.id_candidates("xyz") == {"xyz"}
    with pytest.raises(ValueError):
        r.canonical_id("12G", "hex")
    with pytest.raises(ValueError):
        r.canonical_id("1A", "dec")


def _deliver(esm_class: int, text: bytes, tlvs: dict | None = None, data_coding: int = 0) -> Pdu:
    """A receipt deliver_sm passed through the codec, as the session would hand it over."""
    pdu = Pdu("deliver_sm", 1, params={"esm_class": esm_class, "short_message": text,
                                       "data_coding": data_coding}, tlvs=tlvs)
    return decode(encode(pdu))


def test_receipt_from_text_only() -> None:
    """When a receipt has only the text form, the Receipt comes from the text."""
    pdu = _deliver(0x04, b"id:0042 sub:001 dlvrd:001 submit date:2601011200 "
                         b"done date:2601011201 stat:DELIVRD err:000 text:hi")
    rec = r.receipt_from_fields(pdu.params, pdu.tlvs)
    assert (rec.message_id, rec.state, rec.err, rec.done_at) == (
        "0042", MS.DELIVERED, "000", datetime(2026, 1, 1, 12, 1))


def test_receipt_tlvs_win_over_text() -> None:
    """When TLVs and text disagree, receipted_message_id and message_state are used."""
    pdu = _deliver(0x04, b"id:99 stat:DELIVRD err:000",
                   r.receipt_tlvs("AB12", MS.UNDELIVERABLE, (3, 0x22)))
    rec = r.receipt_from_fields(pdu.params, pdu.tlvs)
    assert (rec.message_id, rec.state, rec.network_error, rec.stat) == (
        "AB12", MS.UNDELIVERABLE, (3, 0x22), "DELIVRD")


def test_receipt_tlvs_with_empty_text() -> None:
    """When a carrier sends TLVs and an empty text, the receipt still comes out."""
    pdu = _deliver(0x04, b"", {"receipted_message_id": "77", "message_state": 3})
    rec = r.receipt_from_fields(pdu.params, pdu.tlvs)
    assert (rec.message_id, rec.state, rec.stat, rec.text) == ("77", MS.EXPIRED, "EXPIRED", None)


def test_ucs2_receipt_text() -> None:
    """When the receipt text is UCS-2 (data_coding 8), it is still parsed."""
    pdu = _deliver(0x04, "id:5 stat:REJECTD err:011".encode("utf-16-be"), data_coding=8)
    rec = r.receipt_from_fields(pdu.params, pdu.tlvs)
    assert (rec.message_id, rec.state) == ("5", MS.REJECTED)


@pytest.mark.parametrize("esm_class,is_receipt", [
    (0x00, False), (0x04, True), (0x08, True), (0x10, False), (0x20, True), (0x44, True),
    (0x40, False)])
def test_is_delivery_receipt(esm_class: int, is_receipt: bool) -> None:
    """Only esm_class message types receipt/ack/intermediate count as receipts."""
    assert r.is_delivery_receipt(esm_class) is is_receipt


def test_mo_message_is_not_a_receipt() -> None:
    """When a deliver_sm is a mobile-originated message, receipt_from_fields gives None even
    if its text looks like a receipt."""
    pdu = _deliver(0x00, b"id:1 stat:DELIVRD")
    assert r.receipt_from_fields(pdu.params, pdu.tlvs) is None


# label, epoch seconds: the cached epoch form must format as the datetime form does
EPOCH_CASES = [
    ("on a minute", 1_767_268_800.0),
    ("mid minute", 1_767_268_859.5),
    ("1 µs before a minute (rounds up)", 1_767_268_859.9999996),
    ("just under the rounding", 1_767_268_859.9999994),
    ("2000-01-01", 946_684_800.0),
    ("epoch", 0.0),
]


@pytest.mark.parametrize("label,epoch", EPOCH_CASES, ids=[c[0] for c in EPOCH_CASES])
@pytest.mark.parametrize("seconds", [False, True])
def test_receipt_date_from_epoch_matches_datetime(label: str, epoch: float, seconds: bool) -> None:
    """When a receipt date is given as epoch seconds, the text is that of the UTC datetime."""
    from datetime import timezone

    when = datetime.fromtimestamp(epoch, timezone.utc)
    assert r.format_receipt_date(epoch, seconds) == r.format_receipt_date(when, seconds)
    assert (r.format_receipt_text("9", MS.DELIVERED, epoch, epoch + 61, seconds=seconds)
            == r.format_receipt_text("9", MS.DELIVERED, when, datetime.fromtimestamp(epoch + 61, timezone.utc),
                                     seconds=seconds))


@pytest.mark.parametrize("message_id,state", [
    ("382843456453607445", MS.DELIVERED), ("1", 5), ("x" * 64, 2),
    ("a b", 8), ("", 1), ("caf\u00e9", 2), ("tab\there", 3),
])
def test_encoded_receipt_tlvs_are_those_of_the_generic_encoder(message_id: str, state: int) -> None:
    """When the receipt TLVs are built directly, the bytes are exactly encode_tlvs's."""
    from protocols.smpp.codec import encode_tlvs

    assert r.encode_receipt_tlvs(message_id, state) == encode_tlvs(r.receipt_tlvs(message_id, state))


def test_receipt_tlvs_with_an_overlong_id_are_refused_as_before() -> None:
    """When the id is longer than receipted_message_id allows, the direct form refuses it too."""
    with pytest.raises(ValueError, match="at most 64"):
        r.encode_receipt_tlvs("x" * 65, 2)


@pytest.mark.parametrize("epoch,expected", [
    (1_767_268_800.0, "260101120000000+"),
    (1_767_268_859.95, "260101120059900+"),
    (1_767_225_599.05, "251231235959000+"),
])
def test_format_smpp_time(epoch: float, expected: str) -> None:
    """Absolute SMPP times in UTC with tenths; the same second formats the same (cached)."""
    from protocols.smpp.times import format_smpp_time, parse_smpp_time

    assert format_smpp_time(epoch) == format_smpp_time(epoch) == expected
    assert abs(parse_smpp_time(expected, 0) - epoch) < 0.1


_TEXT = b"id:1A2B sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:UNDELIV err:034 text:x"


@pytest.mark.parametrize("params, tlvs, expected", [
    ({"esm_class": 4, "short_message": _TEXT}, {}, ("1A2B", 5, 34)),
    ({"esm_class": 4, "short_message": _TEXT}, {"receipted_message_id": "77", "message_state": 5}, ("77", 5, 34)),
    ({"esm_class": 4, "short_message": b"stat:DELIVRD err:abc"}, {"receipted_message_id": "77", "message_state": 2},
     ("77", 2, None)),
    ({"esm_class": 4, "short_message": b""}, {"receipted_message_id": "77", "message_state": 99}, ("77", 7, None)),
    ({"esm_class": 4, "short_message": b""}, {"receipted_message_id": "77", "message_state": 5,
                                              "network_error_code": b"\x03\x00\x0b"}, ("77", 5, 11)),
    ({"esm_class": 4, "short_message": b"", "data_coding": 8}, {"receipted_message_id": "77", "message_state": 5},
     ("77", 5, None)),
    ({"esm_class": 4}, {"receipted_message_id": "77", "message_state": 2, "message_payload": b"err:012"}, ("77", 2, 12)),
    ({"esm_class": 4, "short_message": b"no receipt text"}, {}, None),
    ({"esm_class": 0, "short_message": _TEXT}, {"receipted_message_id": "77", "message_state": 2}, None),
    ({"esm_class": 4, "short_message": _TEXT}, {"message_state": 2}, ("1A2B", 2, 34)),
], ids=["text only", "TLVs and text", "TLVs, err not a number", "TLVs, unknown state", "TLVs, network error",
        "UCS-2 text", "TLVs, err in message_payload", "no id", "not a receipt", "state TLV only"])
def test_receipt_summary_says_what_the_full_receipt_says(params, tlvs, expected):
    """When a gateway only needs (id, state, error code), receipt_summary gives them (TLVs over
    the text, UNKNOWN for a state it does not know), with the id and state the full Receipt has."""
    from protocols.smpp.receipts import receipt_from_fields, receipt_summary

    assert receipt_summary(params, tlvs) == expected
    full = receipt_from_fields(params, tlvs)
    if expected is None:
        assert full is None
    else:
        assert full.message_id == expected[0] and (full.state if full.state is not None else 7) == expected[1]
