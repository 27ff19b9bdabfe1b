"""The one table of SMPP 3.4 PDU bodies: each PDU's mandatory fields, in wire order.

codec.py builds a specialised encoder and decoder per PDU from this table (Kannel's
smpp_pdu.def idea: the PDU layout is data, the code that walks it is written once).

Field kinds:
  int1 / int2 / int4   unsigned big-endian integer of 1, 2 or 4 octets
  cstring              NUL-terminated latin-1 string; ``max_len`` counts the NUL
  sm                   ``sm_length`` (int1) followed by that many octets; carried in
                       params as ``short_message`` (bytes); sm_length is derived, not a param
  dest_list            submit_multi ``number_of_dests`` + dest_address list
  unsuccess_list       submit_multi_resp ``no_unsuccess`` + unsuccess_sme list

``status`` is the command_status answered when the field is malformed on decode
(too long, no NUL within its maximum). Where SMPP 3.4 has a status naming the field
(ESME_RINVSRCADR for source_addr ...) we use it, because it tells the ESME which field
to fix; otherwise ESME_RINVPARLEN. A body that ends in the middle of a field is
ESME_RINVCMDLEN (the command_length does not cover the body), and an sm_length that
runs past the body is ESME_RINVMSGLEN.
"""

from __future__ import annotations

from typing import NamedTuple

from protocols.smpp.constants import Status


class Field(NamedTuple):
    name: str
    kind: str              # int1 | int2 | int4 | cstring | sm | dest_list | unsuccess_list
    max_len: int = 0       # cstring: octets including the NUL
    status: int = Status.ESME_RINVPARLEN


def i1(name: str, status: int = Status.ESME_RINVPARLEN) -> Field:
    return Field(name, "int1", 1, status)


def i4(name: str) -> Field:
    return Field(name, "int4", 4)


def cs(name: str, max_len: int, status: int = Status.ESME_RINVPARLEN) -> Field:
    return Field(name, "cstring", max_len, status)


S = Status
SM = Field("short_message", "sm", 254, S.ESME_RINVMSGLEN)

SYSTEM_ID = cs("system_id", 16, S.ESME_RINVSYSID)
PASSWORD = cs("password", 9, S.ESME_RINVPASWD)
SERVICE_TYPE = cs("service_type", 6, S.ESME_RINVSERTYP)
MESSAGE_ID = cs("message_id", 65, S.ESME_RINVMSGID)
SOURCE_ADDR = cs("source_addr", 21, S.ESME_RINVSRCADR)
DESTINATION_ADDR = cs("destination_addr", 21, S.ESME_RINVDSTADR)
SCHEDULE = cs("schedule_delivery_time", 17, S.ESME_RINVSCHED)
VALIDITY = cs("validity_period", 17, S.ESME_RINVEXPIRY)

BIND = (
    SYSTEM_ID,
    PASSWORD,
    cs("system_type", 13, S.ESME_RINVSYSTYP),
    i1("interface_version"),
    i1("addr_ton"),
    i1("addr_npi"),
    cs("address_range", 41),
)
BIND_RESP = (SYSTEM_ID,)

SUBMIT = (
    SERVICE_TYPE,
    i1("source_addr_ton"),
    i1("source_addr_npi"),
    SOURCE_ADDR,
    i1("dest_addr_ton"),
    i1("dest_addr_npi"),
    DESTINATION_ADDR,
    i1("esm_class"),
    i1("protocol_id"),
    i1("priority_flag"),
    SCHEDULE,
    VALIDITY,
    i1("registered_delivery"),
    i1("replace_if_present_flag"),
    i1("data_coding"),
    i1("sm_default_msg_id"),
    SM,
)

SUBMIT_MULTI = (
    SERVICE_TYPE,
    i1("source_addr_ton"),
    i1("source_addr_npi"),
    SOURCE_ADDR,
    Field("dest_address", "dest_list", 0, S.ESME_RINVNUMDESTS),
    i1("esm_class"),
    i1("protocol_id"),
    i1("priority_flag"),
    SCHEDULE,
    VALIDITY,
    i1("registered_delivery"),
    i1("replace_if_present_flag"),
    i1("data_coding"),
    i1("sm_default_msg_id"),
    SM,
)

DATA_SM = (
    SERVICE_TYPE,
    i1("source_addr_ton"),
    i1("source_addr_npi"),
    cs("source_addr", 65, S.ESME_RINVSRCADR),
    i1("dest_addr_ton"),
    i1("dest_addr_npi"),
    cs("destination_addr", 65, S.ESME_RINVDSTADR),
    i1("esm_class"),
    i1("registered_delivery"),
    i1("data_coding"),
)

# command name -> mandatory body fields, for every SMPP 3.4 PDU (section 4).
PDU_FIELDS: dict[str, tuple[Field, ...]] = {
    "generic_nack": (),
    "bind_receiver": BIND,
    "bind_receiver_resp": BIND_RESP,
    "bind_transmitter": BIND,
    "bind_transmitter_resp": BIND_RESP,
    "bind_transceiver": BIND,
    "bind_transceiver_resp": BIND_RESP,
    "outbind": (SYSTEM_ID, PASSWORD),
    "unbind": (),
    "unbind_resp": (),
    "enquire_link": (),
    "enquire_link_resp": (),
    "submit_sm": SUBMIT,
    "submit_sm_resp": (MESSAGE_ID,),
    "deliver_sm": SUBMIT,
    "deliver_sm_resp": (MESSAGE_ID,),
    "submit_multi": SUBMIT_MULTI,
    "submit_multi_resp": (
        MESSAGE_ID,
        Field("unsuccess_sme", "unsuccess_list", 0, S.ESME_RINVPARLEN),
    ),
    "data_sm": DATA_SM,
    "data_sm_resp": (MESSAGE_ID,),
    "query_sm": (MESSAGE_ID, i1("source_addr_ton"), i1("source_addr_npi"), SOURCE_ADDR),
    "query_sm_resp": (
        MESSAGE_ID,
        cs("final_date", 17),
        i1("message_state"),
        i1("error_code"),
    ),
    "cancel_sm": (
        SERVICE_TYPE,
        MESSAGE_ID,
        i1("source_addr_ton"),
        i1("source_addr_npi"),
        SOURCE_ADDR,
        i1("dest_addr_ton"),
        i1("dest_addr_npi"),
        DESTINATION_ADDR,
    ),
    "cancel_sm_resp": (),
    "replace_sm": (
        MESSAGE_ID,
        i1("source_addr_ton"),
        i1("source_addr_npi"),
        SOURCE_ADDR,
        SCHEDULE,
        VALIDITY,
        i1("registered_delivery"),
        i1("sm_default_msg_id"),
        SM,
    ),
    "replace_sm_resp": (),
    "alert_notification": (
        i1("source_addr_ton"),
        i1("source_addr_npi"),
        cs("source_addr", 65, S.ESME_RINVSRCADR),
        i1("esme_addr_ton"),
        i1("esme_addr_npi"),
        cs("esme_addr", 65, S.ESME_RINVPARLEN),
    ),
}

# Responses whose body SMPP 3.4 says is not returned when command_status != 0
# (4.1.2/4.1.4/4.1.6 bind_*_resp, 4.4.2 submit_sm_resp).
NO_BODY_ON_ERROR = frozenset({
    "bind_receiver_resp",
    "bind_transmitter_resp",
    "bind_transceiver_resp",
    "submit_sm_resp",
})

# Element layouts of the submit_multi lists.
DEST_SME = (i1("dest_addr_ton"), i1("dest_addr_npi"), DESTINATION_ADDR)
DEST_DL = (cs("dl_name", 21, S.ESME_RINVDLNAME),)
UNSUCCESS_SME = (
    i1("dest_addr_ton"),
    i1("dest_addr_npi"),
    DESTINATION_ADDR,
    i4("error_status_code"),
)
DEST_FLAG_SME = 1
DEST_FLAG_DL = 2
MAX_DESTS = 254


def default_value(field: Field) -> object:
    """The value an absent param encodes as (0, empty string, empty bytes, empty list)."""
    if field.kind == "cstring":
        return ""
    if field.kind == "sm":
        return b""
    if field.kind in ("dest_list", "unsuccess_list"):
        return []
    return 0


def default_params(command: str) -> dict[str, object]:
    return {f.name: default_value(f) for f in PDU_FIELDS[command]}
