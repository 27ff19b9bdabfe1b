"""Table-driven tests of the SMPP 3.4 codec: round trips per PDU, wire layouts written
out by hand from the spec, and malformed input answered with the right status."""

from __future__ import annotations

import struct

import pytest

from protocols.smpp import codec
from protocols.smpp.codec import (
    Pdu,
    PduError,
    decode,
    decode_tlvs,
    encode,
    encode_fields,
    encode_tlvs,
    error_response,
    make_response,
)
from protocols.smpp.constants import COMMAND_IDS, CommandId, Status
from protocols.smpp.pdu_table import PDU_FIELDS


def wire(command_id: int, body: bytes, status: int = 0, sequence: int = 1,
         length: int | None = None) -> bytes:
    """A PDU built by hand: header then body, command_length computed unless given."""
    if length is None:
        length = 16 + len(body)
    return struct.pack(">IIII", length, command_id, status, sequence) + body


def tlv(tag: int, value: bytes, length: int | None = None) -> bytes:
    return struct.pack(">HH", tag, len(value) if length is None else length) + value


SUBMIT_BODY = (b"CMT\0" + b"\x05\x00" + b"ACME\0" + b"\x01\x01" + b"447700900123\0"
               + b"\x00\x00\x01" + b"\0" + b"000001000000000R\0" + b"\x01\x00\x08\x00"
               + b"\x04" + b"\x00H\x00i")
SUBMIT_PARAMS = {
    "service_type": "CMT", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "ACME",
    "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "447700900123",
    "esm_class": 0, "protocol_id": 0, "priority_flag": 1, "schedule_delivery_time": "",
    "validity_period": "000001000000000R", "registered_delivery": 1,
    "replace_if_present_flag": 0, "data_coding": 8, "sm_default_msg_id": 0,
    "short_message": b"\x00H\x00i",
}

# label, hand-built wire bytes, the Pdu they mean
KNOWN_WIRE = [
    ("enquire_link", wire(0x15, b"", sequence=7), Pdu("enquire_link", 7)),
    ("generic_nack with vendor status", wire(0x80000000, b"", status=0x401, sequence=9),
     Pdu("generic_nack", 9, 0x401)),
    ("bind_transceiver",
     wire(0x09, b"esme1\0secret\0SMPP\0\x34\x01\x01\0", sequence=1),
     Pdu("bind_transceiver", 1, params={"system_id": "esme1", "password": "secret",
                                        "system_type": "SMPP", "interface_version": 0x34,
                                        "addr_ton": 1, "addr_npi": 1})),
    ("bind_transmitter_resp with sc_interface_version",
     wire(0x80000002, b"smsc\0" + tlv(0x0210, b"\x34"), sequence=1),
     Pdu("bind_transmitter_resp", 1, params={"system_id": "smsc"},
         tlvs={"sc_interface_version": 0x34})),
    ("submit_sm UCS-2 with relative validity", wire(4, SUBMIT_BODY, sequence=0x7FFFFFFF),
     Pdu("submit_sm", 0x7FFFFFFF, params=SUBMIT_PARAMS)),
    ("submit_sm_resp", wire(0x80000004, b"abc-123\0", sequence=3),
     Pdu("submit_sm_resp", 3, params={"message_id": "abc-123"})),
    ("submit_sm_resp error has no body", wire(0x80000004, b"", status=0x58, sequence=3),
     Pdu("submit_sm_resp", 3, Status.ESME_RTHROTTLED)),
    ("deliver_sm receipt with TLVs",
     wire(5, SUBMIT_BODY.replace(b"000001000000000R", b"").replace(b"\x04\x00H\x00i", b"\x00")
          + tlv(0x001E, b"ab12\0") + tlv(0x0427, b"\x02") + tlv(0x0423, b"\x03\x00\x22"),
          sequence=2),
     Pdu("deliver_sm", 2, params={**SUBMIT_PARAMS, "validity_period": "", "short_message": b""},
         tlvs={"receipted_message_id": "ab12", "message_state": 2,
               "network_error_code": b"\x03\x00\x22"})),
    ("query_sm_resp", wire(0x80000003, b"m1\0" + b"2601011200000+\0" + b"\x02\x00"),
     Pdu("query_sm_resp", 1, params={"message_id": "m1", "final_date": "2601011200000+",
                                    "message_state": 2, "error_code": 0})),
    ("submit_multi to one SME and one list",
     wire(0x21, b"\0\x01\x01123\0" + b"\x02" + b"\x01\x01\x01456\0" + b"\x02friends\0"
          + b"\x00\x00\x00\0\0\x00\x00\x00\x00" + b"\x02hi"),
     Pdu("submit_multi", 1, params={
         "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "123",
         "dest_address": [{"dest_flag": 1, "dest_addr_ton": 1, "dest_addr_npi": 1,
                           "destination_addr": "456"},
                          {"dest_flag": 2, "dl_name": "friends"}],
         "short_message": b"hi"})),
    ("submit_multi_resp with one failure",
     wire(0x80000021, b"mid\0\x01" + b"\x01\x01456\0" + b"\x00\x00\x00\x0b"),
     Pdu("submit_multi_resp", 1, params={"message_id": "mid", "unsuccess_sme": [
         {"dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "456",
          "error_status_code": 0x0B}]})),
    ("vendor TLVs kept in order after a standard one",
     wire(0x103, b"\0\x01\x01123\0\x01\x01456\0\x00\x01\x00" + tlv(0x0424, b"payload")
          + tlv(0x1401, b"\x01\x02") + tlv(0x1400, b"") + tlv(0x2150, b"xyz")),
     Pdu("data_sm", 1, params={"source_addr_ton": 1, "source_addr_npi": 1,
                               "source_addr": "123", "dest_addr_ton": 1, "dest_addr_npi": 1,
                               "destination_addr": "456", "registered_delivery": 1},
         tlvs={"message_payload": b"payload"},
         unknown_tlvs=[(0x1401, b"\x01\x02"), (0x1400, b""), (0x2150, b"xyz")])),
]


@pytest.mark.parametrize("label,data,expected", KNOWN_WIRE, ids=[c[0] for c in KNOWN_WIRE])
def test_known_wire_layouts(label: str, data: bytes, expected: Pdu) -> None:
    """When a PDU laid out by hand from the spec is decoded, it gives the expected Pdu,
    and encoding that Pdu gives the same octets back."""
    assert decode(data) == expected
    assert encode(expected) == data


def _sample_params(command: str) -> dict:
    """A non-default value for every mandatory field of a command."""
    out: dict = {}
    for n, f in enumerate(PDU_FIELDS[command]):
        if f.kind == "cstring":
            out[f.name] = ("x" * (f.max_len - 1))[: 3 + n % 5] + "\xe9"
        elif f.kind == "sm":
            out[f.name] = bytes(range(200)) + b"\0\0"
        elif f.kind == "int1":
            out[f.name] = 0xFF - n
        elif f.kind == "int4":
            out[f.name] = 0xFFFFFFFF - n
        elif f.kind == "dest_list":
            out[f.name] = [{"dest_flag": 2, "dl_name": "staff"},
                           {"dest_flag": 1, "dest_addr_ton": 1, "dest_addr_npi": 1,
                            "destination_addr": "12345"}]
        elif f.kind == "unsuccess_list":
            out[f.name] = [{"dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "99",
                            "error_status_code": 0x45}]
    return out


@pytest.mark.parametrize("command", sorted(COMMAND_IDS))
def test_every_pdu_round_trips(command: str) -> None:
    """When any SMPP 3.4 PDU with every field set is encoded and decoded, nothing changes."""
    pdu = Pdu(command, 0xFFFFFFFE, 0, _sample_params(command),
              tlvs={"user_message_reference": 513}, unknown_tlvs=[(0x1500, b"v")])
    data = encode(pdu)
    assert struct.unpack(">I", data[:4])[0] == len(data)
    assert decode(data) == pdu


def test_command_ids_cover_the_spec() -> None:
    """Every command of SMPP 3.4 section 5.1.2.1 has an id and a table entry (27 in all)."""
    assert len(CommandId) == 27
    assert set(PDU_FIELDS) == set(COMMAND_IDS)
    assert COMMAND_IDS["alert_notification"] == 0x102 and COMMAND_IDS["data_sm_resp"] == 0x80000103


T = Status
BAD_SUBMIT = SUBMIT_BODY
# label, octets, expected status, expected command_id, expected sequence
MALFORMED = [
    ("empty input", b"", T.ESME_RINVCMDLEN, None, None),
    ("truncated header", wire(4, b"")[:10], T.ESME_RINVCMDLEN, None, None),
    ("command_length says more than given", wire(4, SUBMIT_BODY, length=200, sequence=5),
     T.ESME_RINVCMDLEN, 4, 5),
    ("command_length says less than given", wire(4, SUBMIT_BODY, length=20, sequence=5),
     T.ESME_RINVCMDLEN, 4, 5),
    ("unknown command id keeps the sequence", wire(0x0000_0099, b"", sequence=77),
     T.ESME_RINVCMDID, 0x99, 77),
    ("unknown response id", wire(0x8000_0200, b"", sequence=78), T.ESME_RINVCMDID,
     0x80000200, 78),
    ("request with empty body", wire(4, b"", sequence=6), T.ESME_RINVCMDLEN, 4, 6),
    ("body ends inside source_addr", wire(4, b"\0\x01\x01123", sequence=6),
     T.ESME_RINVCMDLEN, 4, 6),
    ("body ends before the int fields", wire(4, SUBMIT_BODY[:30], sequence=6),
     T.ESME_RINVCMDLEN, 4, 6),
    ("source_addr longer than 20", wire(4, b"\0\x01\x01" + b"1" * 30 + b"\0" + b"\0" * 40),
     T.ESME_RINVSRCADR, 4, 1),
    ("destination_addr without NUL within 21",
     wire(4, b"\0\x01\x01123\0\x01\x01" + b"9" * 25 + b"\0" * 30), T.ESME_RINVDSTADR, 4, 1),
    ("service_type over-long", wire(4, b"ABCDEFGH\0" + b"\0" * 40), T.ESME_RINVSERTYP, 4, 1),
    ("system_id over-long on bind", wire(9, b"a" * 16 + b"\0pw\0\0\x34\0\0\0"),
     T.ESME_RINVSYSID, 9, 1),
    ("password over-long on bind", wire(2, b"sys\0" + b"p" * 9 + b"\0\0\x34\0\0\0"),
     T.ESME_RINVPASWD, 2, 1),
    ("sm_length beyond the body", wire(4, SUBMIT_BODY[:-5] + b"\x50abc"), T.ESME_RINVMSGLEN, 4, 1),
    ("TLV length overrun", wire(4, SUBMIT_BODY + tlv(0x0424, b"abc", length=10)),
     T.ESME_RINVPARLEN, 4, 1),
    ("stray octets after TLVs", wire(4, SUBMIT_BODY + b"\x02\x0c"), T.ESME_RINVOPTPARSTREAM, 4, 1),
    ("integer TLV with wrong length", wire(4, SUBMIT_BODY + tlv(0x020C, b"\x01")),
     T.ESME_RINVPARLEN, 4, 1),
    ("network_error_code of 2 octets", wire(5, SUBMIT_BODY + tlv(0x0423, b"\x03\x00")),
     T.ESME_RINVPARLEN, 5, 1),
    ("receipted_message_id over 65", wire(5, SUBMIT_BODY + tlv(0x001E, b"1" * 80 + b"\0")),
     T.ESME_RINVPARLEN, 5, 1),
    ("submit_multi bad dest_flag", wire(0x21, b"\0\x01\x01123\0\x01\x07" + b"\0" * 20),
     T.ESME_RINVDESTFLAG, 0x21, 1),
    ("submit_multi more dests than octets", wire(0x21, b"\0\x01\x01123\0\x05\x01\x01\x01"),
     T.ESME_RINVCMDLEN, 0x21, 1),
    ("enquire_link with junk body", wire(0x15, b"\x01\x02\x03", sequence=4),
     T.ESME_RINVOPTPARSTREAM, 0x15, 4),
]


@pytest.mark.parametrize("label,data,status,command_id,sequence", MALFORMED,
                         ids=[c[0] for c in MALFORMED])
def test_malformed_input(label: str, data: bytes, status: int, command_id: int | None,
                         sequence: int | None) -> None:
    """When malformed octets are decoded, PduError carries the status to answer with and,
    once the header is readable, the command_id and sequence to echo."""
    with pytest.raises(PduError) as info:
        decode(data)
    assert (info.value.status, info.value.command_id, info.value.sequence) == (
        status, command_id, sequence), str(info.value)


def test_error_response_for_unknown_command_is_generic_nack_with_same_sequence() -> None:
    """When the command_id is unknown, the answer is generic_nack echoing the sequence."""
    with pytest.raises(PduError) as info:
        decode(wire(0x77, b"", sequence=4242))
    answer = error_response(info.value)
    assert (answer.command, answer.sequence, answer.status) == (
        "generic_nack", 4242, Status.ESME_RINVCMDID)
    assert encode(answer) == wire(0x80000000, b"", status=3, sequence=4242)


def test_error_response_for_bad_submit_is_submit_sm_resp_without_body() -> None:
    """When a submit_sm body is malformed, the answer is a body-less submit_sm_resp."""
    with pytest.raises(PduError) as info:
        decode(wire(4, b"\0\x01\x01" + b"1" * 30 + b"\0" * 40, sequence=8))
    answer = error_response(info.value)
    assert encode(answer) == wire(0x80000004, b"", status=Status.ESME_RINVSRCADR, sequence=8)


RESPONSES = [
    ("submit_sm ok", Pdu("submit_sm", 5), 0, {"message_id": "m9"}, wire(0x80000004, b"m9\0", 0, 5)),
    ("submit_sm error, no body (4.4.2)", Pdu("submit_sm", 5), 0x45, {"message_id": "m9"},
     wire(0x80000004, b"", 0x45, 5)),
    ("bind_receiver error, no body (4.1.4)", Pdu("bind_receiver", 6), 0x0E, {"system_id": "s"},
     wire(0x80000001, b"", 0x0E, 6)),
    ("deliver_sm error keeps message_id NULL", Pdu("deliver_sm", 7), 0x64, {},
     wire(0x80000005, b"\0", 0x64, 7)),
    ("enquire_link", Pdu("enquire_link", 8), 0, {}, wire(0x80000015, b"", 0, 8)),
    ("cancel_sm failure", Pdu("cancel_sm", 9), 0x11, {}, wire(0x80000008, b"", 0x11, 9)),
]


@pytest.mark.parametrize("label,request_pdu,status,params,expected", RESPONSES,
                         ids=[c[0] for c in RESPONSES])
def test_make_response(label: str, request_pdu: Pdu, status: int, params: dict,
                       expected: bytes) -> None:
    """When a response is made to a request, it has the same sequence and the body the spec
    gives for that status."""
    assert encode(make_response(request_pdu, status, **params)) == expected


def test_no_response_to_outbind_or_alert_notification() -> None:
    """When asked for the response to a PDU that has none, make_response refuses."""
    for command in ("outbind", "alert_notification", "submit_sm_resp"):
        with pytest.raises(ValueError):
            make_response(Pdu(command, 1))


TOLERATED = [
    ("deliver_sm_resp of 16 octets", wire(0x80000005, b""), {"message_id": ""}),
    ("submit_sm_resp error with a legacy body", wire(0x80000004, b"\0", status=0x45),
     {"message_id": ""}),
    ("submit_sm_resp error with junk", wire(0x80000004, b"\xff\xff", status=8), {"message_id": ""}),
    ("bind_transceiver_resp error with body", wire(0x80000009, b"smsc\0", status=0x0E),
     {"system_id": "smsc"}),
]


@pytest.mark.parametrize("label,data,params", TOLERATED, ids=[c[0] for c in TOLERATED])
def test_tolerated_response_bodies(label: str, data: bytes, params: dict) -> None:
    """When a peer sends a response body that is absent or odd but harmless, it decodes."""
    assert decode(data).params == params


def test_tlv_cstring_without_nul_is_accepted() -> None:
    """When a carrier sends receipted_message_id without its NUL, the id still decodes."""
    pdu = decode(wire(5, SUBMIT_BODY + tlv(0x001E, b"12AB")))
    assert pdu.tlvs["receipted_message_id"] == "12AB"
    assert decode(wire(5, SUBMIT_BODY + tlv(0x001E, b""))).tlvs["receipted_message_id"] == ""


def test_source_telematics_id_of_one_or_two_octets() -> None:
    """SMPP 3.4 gives source_telematics_id 1 octet and 5.0 gives 2: both decode, we send 1."""
    for raw, value in ((b"\x07", 7), (b"\x01\x02", 0x102)):
        assert decode(wire(4, SUBMIT_BODY + tlv(0x0010, raw))).tlvs == {"source_telematics_id": value}
    assert encode(Pdu("submit_sm", 1, tlvs={"source_telematics_id": 7})).endswith(
        tlv(0x0010, b"\x07"))


def test_vendor_tlvs_relayed_byte_identical() -> None:
    """When a PDU with vendor TLVs is decoded and encoded again, the octets are identical."""
    data = wire(5, SUBMIT_BODY + tlv(0x0427, b"\x02") + tlv(0x1500, b"\x00\x01")
                + tlv(0x3001, b"carrier-x") + tlv(0x1500, b"\x02"), sequence=99)
    pdu = decode(data)
    assert pdu.unknown_tlvs == [(0x1500, b"\x00\x01"), (0x3001, b"carrier-x"), (0x1500, b"\x02")]
    assert encode(pdu) == data


ENCODE_ERRORS = [
    ("source_addr too long", {"source_addr": "1" * 21}, "source_addr"),
    ("destination_addr not latin-1", {"destination_addr": "\u20ac"}, "destination_addr"),
    ("esm_class over 255", {"esm_class": 256}, "esm_class"),
    ("data_coding negative", {"data_coding": -1}, "data_coding"),
    ("short_message as str", {"short_message": "text"}, "short_message"),
    ("short_message of 255 octets", {"short_message": b"x" * 255}, "short_message"),
    ("NUL inside service_type", {"service_type": "a\0b"}, "service_type"),
    ("None for a C-string", {"validity_period": None}, "validity_period"),
]


@pytest.mark.parametrize("label,params,field", ENCODE_ERRORS, ids=[c[0] for c in ENCODE_ERRORS])
def test_encode_errors_name_the_field(label: str, params: dict, field: str) -> None:
    """When a value does not fit its field, encode raises ValueError naming the field."""
    pdu = Pdu("submit_sm", 1)
    pdu.params.update(params)
    with pytest.raises(ValueError, match=field):
        encode(pdu)


@pytest.mark.parametrize("label,tlvs,name", [
    ("int TLV out of range", {"sar_msg_ref_num": 70000}, "sar_msg_ref_num"),
    ("octet TLV too short", {"network_error_code": b"\x03"}, "network_error_code"),
    ("cstring TLV too long", {"receipted_message_id": "9" * 65}, "receipted_message_id"),
    ("cstring TLV not latin-1", {"receipted_message_id": "\u20ac1"}, "receipted_message_id"),
    ("octet TLV given as str", {"message_payload": "text"}, "message_payload"),
])
def test_encode_tlv_errors_name_the_tlv(label: str, tlvs: dict, name: str) -> None:
    """When a TLV value does not fit, encode raises ValueError naming the TLV."""
    with pytest.raises(ValueError, match=name):
        encode(Pdu("deliver_sm", 1, tlvs=tlvs))


def test_encode_accepts_bytes_for_cstrings_and_bytearray_for_octets() -> None:
    """When C-strings come as bytes and short_message as bytearray, encode still works."""
    pdu = Pdu("submit_sm", 1, params={"source_addr": b"ACME", "short_message": bytearray(b"hi")})
    assert decode(encode(pdu)).params["source_addr"] == "ACME"


def test_pdu_rejects_unknown_names() -> None:
    """When a Pdu is built with an unknown command, param or TLV name, it says which."""
    with pytest.raises(ValueError, match="submit_mx"):
        Pdu("submit_mx")
    with pytest.raises(ValueError, match="destination_address"):
        Pdu("submit_sm", params={"destination_address": "1"})
    with pytest.raises(ValueError, match="sar_ref"):
        Pdu("submit_sm", tlvs={"sar_ref": 1})


def test_status_and_sequence_any_32_bit_value() -> None:
    """When status or sequence are any 32-bit value they encode; beyond, ValueError names them."""
    assert decode(encode(Pdu("generic_nack", 0xFFFFFFFF, 0xFFFFFFFF))).status == 0xFFFFFFFF
    with pytest.raises(ValueError, match="sequence"):
        encode(Pdu("enquire_link", 1 << 32))


def test_generated_decoder_source_is_kept() -> None:
    """The generated decoders are readable for debugging."""
    assert "def decode_submit_sm" in codec.GENERATED_SOURCE["decode_submit_sm"]


# --------------------------------------------------------------------- encode_fields (no Pdu)

ENCODE_FIELDS_CASES = [
    ("submit_sm, some params", ("submit_sm", 7, 0, {"destination_addr": "4477", "short_message": b"hi"},
                                None, None)),
    ("submit_sm, all defaults", ("submit_sm", 7, 0, None, None, None)),
    ("deliver_sm with TLVs", ("deliver_sm", 9, 0, {"esm_class": 4},
                              {"receipted_message_id": "abc", "message_state": 2}, None)),
    ("vendor TLVs", ("submit_sm", 3, 0, {"short_message": b"x"}, None, [(0x1400, b"\x01\x02")])),
    ("deliver_sm_resp, empty", ("deliver_sm_resp", 0x7FFFFFFF, 0, {}, None, None)),
    ("enquire_link", ("enquire_link", 1, 0, None, None, None)),
    ("submit_sm_resp with id", ("submit_sm_resp", 5, 0, {"message_id": "42"}, None, None)),
    ("submit_sm_resp error: no body", ("submit_sm_resp", 5, 8, {"message_id": "42"}, None, None)),
    ("deliver_sm_resp error", ("deliver_sm_resp", 5, 0x58, None, None, None)),
    ("bytes for a C-string", ("submit_sm", 2, 0, {"source_addr": b"ACME"}, None, None)),
]


@pytest.mark.parametrize("label,args", ENCODE_FIELDS_CASES, ids=[c[0] for c in ENCODE_FIELDS_CASES])
def test_encode_fields_matches_encode_of_a_pdu(label: str, args: tuple) -> None:
    """When a session encodes without building a Pdu, the octets are those of encode(Pdu(...))."""
    assert encode_fields(*args) == encode(Pdu(*args))


@pytest.mark.parametrize("label,args,match", [
    ("unknown command", ("submit_mx", 1), "submit_mx"),
    ("unknown param", ("submit_sm", 1, 0, {"destination_address": "1"}), "destination_address"),
    ("unknown TLV", ("submit_sm", 1, 0, None, {"sar_ref": 1}), "sar_ref"),
    ("field too long", ("submit_sm", 1, 0, {"source_addr": "1" * 30}), "source_addr"),
    ("sequence over 32 bits, default body", ("enquire_link", 1 << 32), "sequence"),
    ("sequence over 32 bits", ("submit_sm", 1 << 32, 0, {"short_message": b"x"}), "sequence"),
])
def test_encode_fields_errors_name_the_culprit(label: str, args: tuple, match: str) -> None:
    """When encode_fields gets what encode(Pdu(...)) refuses, it raises the same ValueError."""
    with pytest.raises(ValueError, match=match):
        encode_fields(*args)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_decode_tlvs_takes_any_bytes_like(kind: type) -> None:
    """When stored TLVs come back as memoryview (PostgreSQL bytea) or bytearray, they decode
    as from bytes, vendor TLVs included."""
    raw = encode_tlvs({"receipted_message_id": "abc", "message_state": 2}, [(0x1400, b"\x01")])
    assert decode_tlvs(kind(raw)) == ({"receipted_message_id": "abc", "message_state": 2}, [(0x1400, b"\x01")])
