"""SMPP 3.4 numbers: command ids, command statuses, TLV tags and their value types.

Pure data, no behaviour beyond lookups: the codec (codec.py), the PDU field table
(pdu_table.py), the session and the engine's retry table all read these.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

RESPONSE_BIT = 0x80000000
HEADER_LENGTH = 16


class CommandId(enum.IntEnum):
    """Every SMPP 3.4 command_id (section 5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


COMMAND_NAMES: dict[int, str] = {c.value: c.name.lower() for c in CommandId}
COMMAND_IDS: dict[str, int] = {name: cid for cid, name in COMMAND_NAMES.items()}

# Requests that have no response PDU in SMPP 3.4 (outbind is answered by a bind,
# alert_notification by nothing).
NO_RESPONSE = frozenset({"outbind", "alert_notification"})


def response_id(command_id: int) -> int:
    """The command_id of the response to ``command_id`` (sets the top bit)."""
    return command_id | RESPONSE_BIT


def is_response(command_id: int) -> bool:
    return bool(command_id & RESPONSE_BIT)


class Status(enum.IntEnum):
    """Every SMPP 3.4 command_status (section 5.1.3). Vendor values 0x400-0x4FF are not
    members: the codec carries any 32-bit status as a plain int."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF


VENDOR_STATUS_RANGE = range(0x400, 0x500)


def status_name(status: int) -> str:
    """A readable name for any command_status, including vendor and unknown ones."""
    try:
        return Status(status).name
    except ValueError:
        if status in VENDOR_STATUS_RANGE:
            return f"VENDOR_0x{status:08X}"
        return f"0x{status:08X}"


class TlvKind(enum.Enum):
    INT = "int"          # unsigned big-endian integer of `size` octets (min..max_len accepted)
    CSTRING = "cstring"  # NUL-terminated latin-1 string, `max_len` includes the NUL
    OCTETS = "octets"    # raw bytes, length between min_len and max_len


class TlvSpec(NamedTuple):
    name: str
    tag: int
    kind: TlvKind
    size: int = 0        # octets, for INT
    min_len: int = 0     # for OCTETS / CSTRING (encoded length)
    max_len: int = 0     # for OCTETS / CSTRING (encoded length); 0 = no limit but 65535


def _i(name: str, tag: int, size: int) -> TlvSpec:
    return TlvSpec(name, tag, TlvKind.INT, size=size, min_len=size, max_len=size)


def _c(name: str, tag: int, max_len: int) -> TlvSpec:
    # min 0: an empty C-string TLV without its NUL is tolerated on decode
    return TlvSpec(name, tag, TlvKind.CSTRING, min_len=0, max_len=max_len)


def _o(name: str, tag: int, min_len: int, max_len: int) -> TlvSpec:
    return TlvSpec(name, tag, TlvKind.OCTETS, min_len=min_len, max_len=max_len)


# SMPP 3.4 section 5.3.2, in tag order. Notes on choices:
# - ussd_service_op is a 1-octet "octet string" in the spec whose values are numbers
#   (0 PSSD indication ... 17 USSN confirm): carried as an int.
# - alert_on_message_delivery has length 0 in 3.4; SMPP 5.0 allows one octet, which we
#   also accept so a 5.0 peer is not refused.
# - network_error_code is 3 raw octets (type + 2-octet code); receipts.py decodes it.
TLVS: tuple[TlvSpec, ...] = (
    _i("dest_addr_subunit", 0x0005, 1),
    _i("dest_network_type", 0x0006, 1),
    _i("dest_bearer_type", 0x0007, 1),
    _i("dest_telematics_id", 0x0008, 2),
    _i("source_addr_subunit", 0x000D, 1),
    _i("source_network_type", 0x000E, 1),
    _i("source_bearer_type", 0x000F, 1),
    # 1 octet in SMPP 3.4's table, 2 in SMPP 5.0: we send 1 and accept both.
    TlvSpec("source_telematics_id", 0x0010, TlvKind.INT, size=1, min_len=1, max_len=2),
    _i("qos_time_to_live", 0x0017, 4),
    _i("payload_type", 0x0019, 1),
    _c("additional_status_info_text", 0x001D, 256),
    _c("receipted_message_id", 0x001E, 65),
    _i("ms_msg_wait_facilities", 0x0030, 1),
    _i("privacy_indicator", 0x0201, 1),
    _o("source_subaddress", 0x0202, 2, 23),
    _o("dest_subaddress", 0x0203, 2, 23),
    _i("user_message_reference", 0x0204, 2),
    _i("user_response_code", 0x0205, 1),
    _i("source_port", 0x020A, 2),
    _i("destination_port", 0x020B, 2),
    _i("sar_msg_ref_num", 0x020C, 2),
    _i("language_indicator", 0x020D, 1),
    _i("sar_total_segments", 0x020E, 1),
    _i("sar_segment_seqnum", 0x020F, 1),
    _i("sc_interface_version", 0x0210, 1),
    _i("callback_num_pres_ind", 0x0302, 1),
    _o("callback_num_atag", 0x0303, 0, 65),
    _i("number_of_messages", 0x0304, 1),
    _o("callback_num", 0x0381, 4, 19),
    _i("dpf_result", 0x0420, 1),
    _i("set_dpf", 0x0421, 1),
    _i("ms_availability_status", 0x0422, 1),
    _o("network_error_code", 0x0423, 3, 3),
    _o("message_payload", 0x0424, 0, 65535),
    _i("delivery_failure_reason", 0x0425, 1),
    _i("more_messages_to_send", 0x0426, 1),
    _i("message_state", 0x0427, 1),
    _i("ussd_service_op", 0x0501, 1),
    _i("display_time", 0x1201, 1),
    _i("sms_signal", 0x1203, 2),
    _i("ms_validity", 0x1204, 1),
    _o("alert_on_message_delivery", 0x130C, 0, 1),
    _i("its_reply_type", 0x1380, 1),
    _o("its_session_info", 0x1383, 2, 2),
)

TLV_BY_NAME: dict[str, TlvSpec] = {t.name: t for t in TLVS}
TLV_BY_TAG: dict[int, TlvSpec] = {t.tag: t for t in TLVS}


class MessageState(enum.IntEnum):
    """message_state values (SMPP 3.4 section 5.2.28; SKIPPED is SMPP 5.0)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8
    SKIPPED = 9


class Ton(enum.IntEnum):
    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(enum.IntEnum):
    UNKNOWN = 0
    ISDN = 1
    DATA = 3
    TELEX = 4
    LAND_MOBILE = 6
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14
    WAP_CLIENT_ID = 18


# esm_class message-type bits (section 5.2.12)
ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_DELIVERY_RECEIPT = 0x04
ESM_CLASS_DELIVERY_ACK = 0x08
ESM_CLASS_USER_ACK = 0x10
ESM_CLASS_INTERMEDIATE = 0x20
ESM_CLASS_UDHI = 0x40
ESM_CLASS_REPLY_PATH = 0x80

INTERFACE_VERSION_34 = 0x34
