"""The simulator's own TPDU codec against the PDUs real tools exchanged (reference transcripts)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from modemfarm.simulator import pdu_sim

# Re-derived from modem-transcripts/decoded_pdus.txt (gammu, smstools, python-gsmmodem runs).
SUBMITS = [
    ("gammu explicit SMSC", "07915155000000F011000B915155214365F70000FF05E8329BFD06", 19,
     ("+15550000000", "+15551234567", "hello", False, None)),
    ("smstools SCA 00 with SRR", "0031000B915155214365F70000FF05E8329BFD06", 19,
     (None, "+15551234567", "hello", True, None)),
    ("gammu-smsd SRR", "07915155000000F031000B915155214365F70000FF15E8329BFD0699E5EF36E81C6EB7EBAD797B4E06",
     None, ("+15550000000", "+15551234567", "hello from gammu-smsd", True, None)),
]


@pytest.mark.parametrize("label,pdu,length,expected", SUBMITS, ids=[s[0] for s in SUBMITS])
def test_decode_submit_vectors(label, pdu, length, expected):
    """When a real driver's SUBMIT is decoded, SMSC, destination, text and SRR come out right."""
    submit = pdu_sim.decode_submit(pdu, length)
    assert (submit.sca, submit.destination, submit.text, submit.srr, submit.concat) == expected


def test_deliver_and_status_report_are_byte_exact_to_the_transcripts():
    """When the simulator encodes the MO and SR the reference peer sent, the bytes are identical
    (these were accepted by gammu-smsd, smstools3 and python-gsmmodem)."""
    when = pdu_sim.decode_timestamp(bytes.fromhex("62112270744200"))
    assert pdu_sim.encode_deliver("+15553334444", "Interleaved MO", when, sca="+15550000000") == [
        "07915155000000F0040B915155334344F40000621122707442000E4937BD2C6797C3F63219D47C02"]
    sent = pdu_sim.decode_timestamp(bytes.fromhex("62112270441100"))
    done = pdu_sim.decode_timestamp(bytes.fromhex("62112270446100"))
    assert pdu_sim.encode_status_report(42, "+15551234567", sent, done, 0, sca="+15550000000") == (
        "07915155000000F0062A0B915155214365F7621122704411006211227044610000")


@pytest.mark.parametrize("label,text,parts", [
    ("gsm7 single", "hello", 1),
    ("gsm7 160", "a" * 160, 1),
    ("gsm7 161", "a" * 161, 2),
    ("extension chars never split", "€" * 100, 2),
    ("ucs2 70", "я" * 70, 1),
    ("ucs2 71", "я" * 71, 2),
    ("emoji never split", "😀" * 40, 2),
])
def test_deliver_split_and_round_trip(label, text, parts):
    """When a long MO is encoded, the part count follows 160/153 and 70/67, and decoding the parts
    in order gives the text back with one reference."""
    pdus = pdu_sim.encode_deliver("+15553334444", text, datetime(2026, 1, 2, 3, 4, 5,
                                                                 tzinfo=timezone.utc), reference=9)
    decoded = [pdu_sim.decode_deliver(p) for p in pdus]
    assert len(pdus) == parts, label
    assert "".join(d[1] for d in decoded) == text
    if parts > 1:
        assert {d[2][0] for d in decoded} == {9} and [d[2][2] for d in decoded] == list(range(1, parts + 1))


def test_sixteen_bit_reference_and_alphanumeric_sender():
    """When a 16-bit reference and an alphanumeric originator are used, both survive decoding."""
    pdus = pdu_sim.encode_deliver("InfoBank", "b" * 200, datetime(2026, 1, 2, tzinfo=timezone.utc),
                                  reference=0x1234, sixteen_bit=True)
    originator, _, concat, _ = pdu_sim.decode_deliver(pdus[0])
    assert originator == "InfoBank" and concat == (0x1234, 2, 1)


def test_timestamp_zone_round_trip():
    """When a timestamp has a negative zone, it round-trips through the semi-octet form."""
    when = datetime(2026, 11, 22, 7, 47, 24, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    assert pdu_sim.decode_timestamp(pdu_sim.encode_timestamp(when)) == when


@pytest.mark.parametrize("label,pdu,length", [
    ("not hex", "ZZ", None),
    ("empty", "", None),
    ("deliver, not submit", "0004", None),
    ("truncated address", "0001000B9151", None),
    ("udl beyond data", "0001000B915155214365F70008FF50AABB", None),
    ("length mismatch", "0001000B915155214365F7000005E8329BFD06", 19),
])
def test_bad_submits_raise_pdu_error(label, pdu, length):
    """When the SUBMIT is malformed, PduError is raised (the modem answers CMS 304), never a crash."""
    with pytest.raises(pdu_sim.PduError):
        pdu_sim.decode_submit(pdu, length)


def test_encode_submit_round_trip_with_concat():
    """When the simulator's test encoder builds a UCS2 part with a concat header, it decodes back."""
    pdu, length = pdu_sim.encode_submit("+15551234567", "Привет 😀", srr=True, concat=(7, 2, 1))
    submit = pdu_sim.decode_submit(pdu, length)
    assert (submit.text, submit.concat, submit.srr, submit.dcs) == ("Привет 😀", (7, 2, 1), True, 8)


CROSS_TEXTS = [
    ("gsm7 short", "hello"),
    ("gsm7 extension", "price: 10€ [ok] {x} ~ ^ | \\"),
    ("gsm7 two parts", "p" * 200),
    ("ucs2 cyrillic three parts", "Привет, мир! " * 12),
    ("emoji", "ok 😀👍🏽 done " * 8),
]


@pytest.mark.parametrize("label,text", CROSS_TEXTS, ids=[t[0] for t in CROSS_TEXTS])
def test_driver_codec_and_simulator_codec_agree(label, text):
    """When the driver's codec (modemfarm.pdu) encodes a SUBMIT, the simulator's independent
    decoder reads the same destination, SRR and concatenated text; and the simulator's DELIVER
    and STATUS-REPORT decode the same in the driver's codec."""
    from modemfarm import pdu as driver

    parts = driver.encode_message("+15551234567", text, reference=77, status_report=True)
    decoded = [pdu_sim.decode_submit(p.hex, p.tpdu_length) for p in parts]
    assert {d.destination for d in decoded} == {"+15551234567"} and all(d.srr for d in decoded)
    assert "".join(d.text for d in decoded) == text, label
    if len(parts) > 1:
        assert [d.concat[2] for d in decoded] == list(range(1, len(parts) + 1))
    when = datetime(2026, 11, 22, 7, 47, 24, tzinfo=timezone(timedelta(hours=1)))
    delivers = [driver.decode_pdu(p) for p in pdu_sim.encode_deliver(
        "+15553334444", text, when, sca="+15550000000", reference=0x1A2B, sixteen_bit=True)]
    assert "".join(d.text for d in delivers) == text
    assert {d.originator.number for d in delivers} == {"+15553334444"}
    assert {d.timestamp for d in delivers} == {when}
    report = driver.decode_pdu(pdu_sim.encode_status_report(200, "+15551234567", when, when, 0x20))
    assert (report.message_ref, report.recipient.number, report.status) == (200, "+15551234567", 0x20)
