"""Property tests: any Unicode text survives encode -> split -> reassemble -> decode, and no
part is larger than an SMS can carry."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from protocols.sms import Reassembler, TextProfile, decode_short_message, parse_udh, plan
from protocols.sms.gsm7 import DEFAULT_ALPHABET, DEFAULT_EXTENSION, pack_septets, septets_for_udh

GSM_CHARS = "".join(c for c in DEFAULT_ALPHABET if c != "\x1b") + "".join(DEFAULT_EXTENSION.values())
TRICKY = "€[]{}^~|\\" + "😀👍🏽🇺🇦" + "\u200d\u0301\ufe0f" + "şğİıáéñç" + "שלום" + "中文" + "\r\n"

texts = st.one_of(
    st.text(max_size=700),
    st.text(alphabet=GSM_CHARS, max_size=700),
    st.text(alphabet=TRICKY + "abc ", max_size=500),
    st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), max_size=200),
)

PROFILES = [
    TextProfile(max_parts=255),
    TextProfile(concat="udh16", max_parts=255),
    TextProfile(concat="sar", max_parts=255),
    TextProfile(concat="payload", max_parts=255),
    TextProfile(national_languages=("tr", "es", "pt", "hi"), max_parts=255),
    TextProfile(encodings=("gsm7", "latin1", "ucs2"), concat="udh16", max_parts=255),
    TextProfile(encodings=("8bit",), max_parts=255),
    TextProfile(gsm7_data_coding=1, national_languages=("ur",), max_parts=255),
]


def user_data_octets(part, encoding: str) -> int:
    """Octets of TP-UD the part needs: UDH + fill bits + packed septets, or UDH + payload."""
    if encoding == "gsm7":
        fill = (7 - len(part.udh) * 8 % 7) % 7
        packed = len(pack_septets(part.payload, fill)) if part.udh else len(pack_septets(part.payload))
        assert packed + len(part.udh) == ((septets_for_udh(len(part.udh)) + part.septets) * 7 + 7) // 8
        return len(part.udh) + packed
    return len(part.udh) + len(part.payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, index=st.integers(0, len(PROFILES) - 1), seed=st.integers(0, 2**16))
def test_round_trip_and_size(text: str, index: int, seed: int) -> None:
    """When any text is planned for any route, its parts, shuffled and reassembled, decode to
    the original; and no part (UDH included) exceeds 140 octets, except in payload mode."""
    profile = PROFILES[index]
    em = plan(text, profile)
    assert em.segments >= len(em.parts) >= 1
    if profile.concat != "payload":
        assert em.segments == len(em.parts)
        for part in em.parts:
            assert user_data_octets(part, em.encoding) <= 140
            if profile.concat == "sar" and em.segments > 1:
                # the SMSC adds an 8-bit concat UDH (6 octets) downstream: still 140
                reserve = 6 + (len(part.udh) - 1 if part.udh else 0)
                size = ((septets_for_udh(reserve) + part.septets) * 7 + 7) // 8 if em.encoding == "gsm7" \
                    else reserve + len(part.payload)
                assert size <= 140
    clock = Clock()
    r = Reassembler(clock, timeout=60)
    order = list(range(len(em.parts)))
    random.Random(seed).shuffle(order)
    result = None
    for i in order:
        part = em.parts[i]
        piece = decode_short_message(em.data_coding, part.payload, part.udh)
        if part.sar:
            ref, total, seq = part.sar
        elif part.udh and parse_udh(part.udh).concat:
            ref, total, seq = parse_udh(part.udh).concat
        else:
            ref, total, seq = 0, 1, 1
        out = r.add("k", ref, total, seq, piece)
        if out is not None:
            result = out
    assert result == text
    assert r.pending() == 0


@settings(max_examples=300, deadline=None)
@given(dc=st.integers(0, 255), payload=st.binary(max_size=200), udh=st.binary(max_size=20))
def test_decode_never_raises(dc: int, payload: bytes, udh: bytes) -> None:
    """When any bytes arrive with any data_coding and any UDH, decoding gives a str."""
    assert isinstance(decode_short_message(dc, payload, udh), str)


@settings(max_examples=300, deadline=None)
@given(udh=st.binary(max_size=40))
def test_parse_udh_only_raises_value_error(udh: bytes) -> None:
    """When any bytes are parsed as a UDH, the answer is a Udh or a ValueError."""
    try:
        parse_udh(udh)
    except ValueError:
        pass
