"""SMS text: GSM 03.38 + national shift tables, UCS-2, segmentation, concatenation, reassembly.

Pure and independent of the rest of smsc. Entry points::

    plan(text, TextProfile(...)) -> EncodedMessage
    decode_short_message(data_coding, payload, udh=b"") -> str
    parse_udh(udh) -> Udh
    Reassembler(clock, timeout=...)
"""

from protocols.sms.decode import decode_short_message
from protocols.sms.plan import (
    DEFAULT_PROFILE,
    EncodedMessage,
    Part,
    TextProfile,
    TooManyParts,
    plan,
)
from protocols.sms.reassembly import Reassembler
from protocols.sms.udh import Udh, parse_udh, split_udh

__all__ = [
    "DEFAULT_PROFILE",
    "EncodedMessage",
    "Part",
    "Reassembler",
    "TextProfile",
    "TooManyParts",
    "Udh",
    "decode_short_message",
    "parse_udh",
    "plan",
    "split_udh",
]
