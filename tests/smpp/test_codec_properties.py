"""Hypothesis properties of the codec: every PDU the table allows round-trips, and no
input octets make decode raise anything but PduError."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.smpp.codec import Pdu, PduError, decode, encode
from protocols.smpp.constants import COMMAND_IDS, TLV_BY_TAG, TLVS, TlvKind
from protocols.smpp.pdu_table import DEST_FLAG_DL, DEST_FLAG_SME, PDU_FIELDS, NO_BODY_ON_ERROR

LATIN1_NO_NUL = st.characters(min_codepoint=1, max_codepoint=255)


def cstring(max_len: int) -> st.SearchStrategy[str]:
    return st.text(LATIN1_NO_NUL, max_size=max_len - 1)


BYTE = st.integers(0, 255)
ADDR = cstring(21)
DEST = st.one_of(
    st.fixed_dictionaries({"dest_flag": st.just(DEST_FLAG_SME), "dest_addr_ton": BYTE,
                           "dest_addr_npi": BYTE, "destination_addr": ADDR}),
    st.fixed_dictionaries({"dest_flag": st.just(DEST_FLAG_DL), "dl_name": ADDR}),
)
UNSUCCESS = st.fixed_dictionaries({"dest_addr_ton": BYTE, "dest_addr_npi": BYTE,
                                   "destination_addr": ADDR,
                                   "error_status_code": st.integers(0, 0xFFFFFFFF)})


def field_strategy(field) -> st.SearchStrategy:
    return {
        "int1": BYTE,
        "int2": st.integers(0, 0xFFFF),
        "int4": st.integers(0, 0xFFFFFFFF),
        "cstring": cstring(field.max_len) if field.kind == "cstring" else None,
        "sm": st.binary(max_size=254),
        "dest_list": st.lists(DEST, max_size=5),
        "unsuccess_list": st.lists(UNSUCCESS, max_size=5),
    }[field.kind]


def tlv_strategy(spec) -> st.SearchStrategy:
    if spec.kind is TlvKind.INT:
        return st.integers(0, (1 << (8 * spec.size)) - 1)
    if spec.kind is TlvKind.CSTRING:
        return cstring(spec.max_len)
    return st.binary(min_size=spec.min_len, max_size=min(spec.max_len, 400))


TLV_DICT = st.dictionaries(st.sampled_from(TLVS), st.none(), max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({s.name: tlv_strategy(s) for s in chosen}))
UNKNOWN = st.lists(st.tuples(st.integers(0, 0xFFFF).filter(lambda t: t not in TLV_BY_TAG),
                             st.binary(max_size=20)), max_size=3)


@st.composite
def pdus(draw) -> Pdu:
    command = draw(st.sampled_from(sorted(COMMAND_IDS)))
    params = draw(st.fixed_dictionaries({f.name: field_strategy(f) for f in PDU_FIELDS[command]}))
    status = 0 if command in NO_BODY_ON_ERROR else draw(st.integers(0, 0xFFFFFFFF))
    return Pdu(command, draw(st.integers(0, 0xFFFFFFFF)), status, params,
               tlvs=draw(TLV_DICT), unknown_tlvs=draw(UNKNOWN))


@settings(max_examples=400, deadline=None)
@given(pdus())
def test_any_pdu_round_trips(pdu: Pdu) -> None:
    """When any PDU the table allows is encoded, decoding gives it back, and encoding the
    decoded PDU gives the same octets."""
    data = encode(pdu)
    again = decode(data)
    assert again == pdu
    assert encode(again) == data


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(COMMAND_IDS.values())), st.binary(max_size=300),
       st.integers(0, 0xFFFFFFFF), st.sampled_from([0, 0x45, 0x401]))
def test_random_bodies_never_crash(command_id: int, body: bytes, sequence: int,
                                   status: int) -> None:
    """When a well-framed PDU carries random body octets, decode returns a Pdu or raises
    PduError echoing the command_id and sequence, never anything else."""
    data = struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body
    try:
        decode(data)
    except PduError as exc:
        assert (exc.command_id, exc.sequence) == (command_id, sequence)


@settings(max_examples=300, deadline=None)
@given(pdus(), st.data())
def test_truncated_pdus_are_refused_cleanly(pdu: Pdu, data: st.DataObject) -> None:
    """When a valid PDU is cut short (command_length fixed up), decode returns a Pdu or
    raises PduError, never another exception."""
    octets = encode(pdu)
    cut = data.draw(st.integers(0, len(octets)))
    short = octets[:cut]
    if cut >= 16:
        short = struct.pack(">I", cut) + short[4:]
    try:
        decode(short)
    except PduError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_octets_never_crash(octets: bytes) -> None:
    """When arbitrary octets are decoded, the only exception is PduError."""
    try:
        decode(octets)
    except PduError:
        pass
