"""plan(): encoding choice, segment counts and part layout, one labelled case per rule."""

from __future__ import annotations

import pytest

from protocols.sms import TextProfile, TooManyParts, decode_short_message, parse_udh, plan
from tests.sms.samples import (
    EN_CURLY,
    EN_PLAIN_152,
    ES_PROMO,
    HE_PROMO,
    HE_SHORT,
    TR_PROMO,
    UK_PROMO,
    VI_DIACRITICS,
    VI_PLAIN,
    ZH_PROMO,
)

DEFAULT = TextProfile()
NLS_ES = TextProfile(national_languages=("es",))
NLS_TR = TextProfile(national_languages=("tr",))
SMART = TextProfile(smart=True)

CASES = [
    # label, text, profile, encoding, data_coding, segments, national language
    ("english 152 chars fits one GSM part", EN_PLAIN_152, DEFAULT, "gsm7", 0, 1, None),
    ("160 septets is one part", "x" * 160, DEFAULT, "gsm7", 0, 1, None),
    ("161 septets is two parts", "x" * 161, DEFAULT, "gsm7", 0, 2, None),
    ("306 septets is two parts", "x" * 306, DEFAULT, "gsm7", 0, 2, None),
    ("307 septets is three parts", "x" * 307, DEFAULT, "gsm7", 0, 3, None),
    ("hebrew short is one UCS-2 part", HE_SHORT, DEFAULT, "ucs2", 8, 1, None),
    ("hebrew promo of 89 chars is two UCS-2 parts", HE_PROMO, DEFAULT, "ucs2", 8, 2, None),
    ("hebrew ignores national tables", HE_PROMO, NLS_TR, "ucs2", 8, 2, None),
    ("ukrainian promo is two UCS-2 parts", UK_PROMO, DEFAULT, "ucs2", 8, 2, None),
    ("chinese promo is one UCS-2 part", ZH_PROMO, DEFAULT, "ucs2", 8, 1, None),
    ("70 chinese chars is one part", "中" * 70, DEFAULT, "ucs2", 8, 1, None),
    ("71 chinese chars is two parts", "中" * 71, DEFAULT, "ucs2", 8, 2, None),
    ("134 chinese chars is two parts", "中" * 134, DEFAULT, "ucs2", 8, 2, None),
    ("135 chinese chars is three parts", "中" * 135, DEFAULT, "ucs2", 8, 3, None),
    ("vietnamese with diacritics needs UCS-2", VI_DIACRITICS, DEFAULT, "ucs2", 8, 2, None),
    ("vietnamese without diacritics is GSM", VI_PLAIN, DEFAULT, "gsm7", 0, 1, None),
    ("spanish accents without NLS is UCS-2, 3 parts", ES_PROMO, DEFAULT, "ucs2", 8, 3, None),
    ("spanish with single shift is one part", ES_PROMO, NLS_ES, "gsm7", 0, 1, "es"),
    ("turkish without NLS is UCS-2, 3 parts", TR_PROMO, DEFAULT, "ucs2", 8, 3, None),
    ("turkish with shift tables is one part", TR_PROMO, NLS_TR, "gsm7", 0, 1, "tr"),
    ("spanish text on a turkish route stays UCS-2", ES_PROMO, NLS_TR, "ucs2", 8, 3, None),
    ("curly quotes without smart is UCS-2", EN_CURLY, DEFAULT, "ucs2", 8, 2, None),
    ("curly quotes with smart is one GSM part", EN_CURLY, SMART, "gsm7", 0, 1, None),
    ("hebrew with curly quotes: smart leaves it", "“" + HE_SHORT + "”", SMART, "ucs2", 8, 1, None),
    ("one emoji is UCS-2", "Party 🎉", DEFAULT, "ucs2", 8, 1, None),
    ("35 emoji fill one part (70 units)", "😀" * 35, DEFAULT, "ucs2", 8, 1, None),
    ("36 emoji need two parts", "😀" * 36, DEFAULT, "ucs2", 8, 2, None),
    ("latin1 route takes accents", "Olá, você", TextProfile(encodings=("gsm7", "latin1")),
     "latin1", 3, 1, None),
    ("latin1 beats UCS-2 on length", "á" * 100, TextProfile(encodings=("gsm7", "latin1", "ucs2")),
     "latin1", 3, 1, None),
    ("carrier wanting data_coding 1", "hello", TextProfile(gsm7_data_coding=1), "gsm7", 1, 1, None),
    ("8bit route for text", "hé", TextProfile(encodings=("8bit",)), "8bit", 4, 1, None),
    ("preferred order breaks ties", "hello", TextProfile(encodings=("ucs2", "gsm7")), "ucs2", 8, 1, None),
    ("fewest segments wins over order", "x" * 100, TextProfile(encodings=("ucs2", "gsm7")),
     "gsm7", 0, 1, None),
    ("empty text is one empty part", "", DEFAULT, "gsm7", 0, 1, None),
]


@pytest.mark.parametrize("label,text,profile,encoding,dc,segments,lang", CASES,
                         ids=[c[0] for c in CASES])
def test_encoding_and_segments(label, text, profile, encoding, dc, segments, lang) -> None:
    """When a text is planned for a route, the cheapest allowed encoding and its segment count
    come out, and the parts decode back to the (possibly substituted) text."""
    em = plan(text, profile)
    assert (em.encoding, em.data_coding, em.segments, em.national_language) == (
        encoding, dc, segments, lang)
    assert len(em.parts) == segments
    assert "".join(decode_short_message(em.data_coding, p.payload, p.udh) for p in em.parts) == em.text
    assert "".join(p.text for p in em.parts) == em.text
    if not em.substitutions:
        assert em.text == text


SEPTET_CASES = [
    # label, text, septets
    ("[QC] costs six septets", "[QC]", 6),
    ("euro costs two", "€", 2),
    ("plain ascii one each", "QC", 2),
    ("vietnamese plain: 122 chars, 124 septets", VI_PLAIN, 124),
    ("form feed is escaped", "\f", 2),
]


@pytest.mark.parametrize("label,text,septets", SEPTET_CASES, ids=[c[0] for c in SEPTET_CASES])
def test_septet_cost(label: str, text: str, septets: int) -> None:
    """When a text holds extension characters, each costs two septets."""
    assert plan(text).parts[0].septets == septets


def test_brackets_push_to_a_second_part() -> None:
    """When 158 plain chars plus "[]" need 162 septets, the message takes two parts."""
    assert plan("a" * 158 + "[]").segments == 2
    assert plan("a" * 156 + "[]").segments == 1


@pytest.mark.parametrize("k", range(140, 160))
def test_escape_never_split(k: int) -> None:
    """When an escaped character falls on a part boundary, the pair moves whole to the next
    part: no part ends with a dangling ESC and each part decodes on its own."""
    text = "A" * k + "€" + "B" * 20 + "€" * 80
    em = plan(text)
    for p in em.parts:
        assert p.payload[-1:] != b"\x1b"
        assert p.septets == len(p.payload) <= 153
        assert decode_short_message(0, p.payload) == p.text
    assert "".join(p.text for p in em.parts) == text


@pytest.mark.parametrize("k", range(0, 140))
def test_emoji_at_every_part_boundary(k: int) -> None:
    """When an emoji sits at any offset (so at every boundary of 67 units), no part ends with a
    high surrogate and each part is valid UTF-16 on its own."""
    text = "a" * k + "😀" + "b" * (150 - k)
    em = plan(text)
    assert em.encoding == "ucs2"
    for p in em.parts:
        last = int.from_bytes(p.payload[-2:], "big")
        assert not 0xD800 <= last < 0xDC00
        assert len(p.payload) <= 134
        assert decode_short_message(8, p.payload) == p.text
        assert "\ufffd" not in p.text
    assert "".join(p.text for p in em.parts) == text


@pytest.mark.parametrize("k", range(55, 68))
def test_grapheme_cluster_kept_whole(k: int) -> None:
    """When a ZWJ family emoji (11 units) or a flag straddles a boundary, it moves whole."""
    for cluster in ("👨\u200d👩\u200d👧\u200d👦", "🇺🇦", "👍🏽", "e\u0301"):
        text = "x" * k + cluster + "y" * 100
        em = plan(text)
        assert any(cluster in p.text for p in em.parts), (cluster, [p.text for p in em.parts])


PART_LAYOUT = [
    # label, profile, text, udh of part 1 (hex) with reference 0x42, septets per part
    ("udh8: 153 per part", TextProfile(), "A" * 200, "050003420201", [153, 47]),
    ("udh16: 152 per part", TextProfile(concat="udh16"), "A" * 200, "06080400420201", [152, 48]),
    ("sar: no udh, 153 per part", TextProfile(concat="sar"), "A" * 200, "", [153, 47]),
    ("tr single shift + concat8: 149", TextProfile(national_languages=("tr",)), "ş" + "A" * 200,
     "0824010100034202" "01", [149, 53]),
    ("es single-shift only part: 155", NLS_ES, "á" + "A" * 153, "03240102", [155]),
]


@pytest.mark.parametrize("label,profile,text,udh1,septets", PART_LAYOUT,
                         ids=[c[0] for c in PART_LAYOUT])
def test_part_layout(label, profile, text, udh1, septets) -> None:
    """When a message is split, the UDH and per-part septet counts follow TS 23.040 capacities."""
    em = plan(text, profile, reference=0x42)
    assert em.parts[0].udh.hex() == udh1
    assert [p.septets for p in em.parts] == septets


def test_sar_tuples() -> None:
    """When concat is "sar", each part carries (ref, total, seq) and no UDH."""
    em = plan("A" * 400, TextProfile(concat="sar"), reference=0x1234)
    assert [p.sar for p in em.parts] == [(0x1234, 3, 1), (0x1234, 3, 2), (0x1234, 3, 3)]
    assert all(p.udh == b"" for p in em.parts)


def test_payload_mode_is_one_part_counted_as_segments() -> None:
    """When concat is "payload", the whole text is one message_payload but segments still
    counts what the handset receives."""
    em = plan("A" * 400, TextProfile(concat="payload"))
    assert len(em.parts) == 1 and em.segments == 3
    assert em.parts[0].udh == b"" and len(em.parts[0].payload) == 400


def test_concat_udh_parses_back() -> None:
    """When parts carry a concatenation UDH, parse_udh gives (ref, total, seq) for each."""
    em = plan("中" * 150, TextProfile(concat="udh16"), reference=0xBEEF)
    assert [parse_udh(p.udh).concat for p in em.parts] == [(0xBEEF, 3, i) for i in (1, 2, 3)]
    assert [len(p.payload) // 2 for p in em.parts] == [66, 66, 18]


def test_reference_counter_advances() -> None:
    """When no reference is given, consecutive multi-part plans get different references."""
    a = parse_udh(plan("A" * 200).parts[0].udh).concat[0]
    b = parse_udh(plan("A" * 200).parts[0].udh).concat[0]
    assert a != b


MAX_PARTS = [
    # label, text, profile
    ("918 GSM chars over 5 parts (Jasmin truncated)", "A" * 918, TextProfile(max_parts=5)),
    ("4 UCS-2 parts over 3", "中" * 202, TextProfile(max_parts=3)),
    ("payload mode also counts", "A" * 400, TextProfile(concat="payload", max_parts=2)),
    ("single part route", "A" * 161, TextProfile(max_parts=1)),
]


@pytest.mark.parametrize("label,text,profile", MAX_PARTS, ids=[c[0] for c in MAX_PARTS])
def test_max_parts_fails_loudly(label, text, profile) -> None:
    """When a text needs more parts than the route allows, TooManyParts is raised: never a
    truncated message."""
    with pytest.raises(TooManyParts) as info:
        plan(text, profile)
    assert info.value.segments > profile.max_parts
    assert str(profile.max_parts) in str(info.value)


def test_918_chars_fit_ten_parts() -> None:
    """When the route allows 10 parts, 918 GSM chars go out whole in 6 parts."""
    em = plan("A" * 918)
    assert em.segments == 6 and sum(p.septets for p in em.parts) == 918


BAD_PROFILES = [
    ("unknown encoding", dict(encodings=("utf8",))),
    ("no encoding", dict(encodings=())),
    ("unknown concat", dict(concat="udh7")),
    ("zero max parts", dict(max_parts=0)),
    ("unknown language", dict(national_languages=("he",))),
    ("unknown smart level", dict(smart="translit")),
]


@pytest.mark.parametrize("label,kwargs", BAD_PROFILES, ids=[c[0] for c in BAD_PROFILES])
def test_bad_profile_is_refused(label, kwargs) -> None:
    """When a profile is wrong, constructing it raises ValueError naming the problem."""
    with pytest.raises(ValueError):
        TextProfile(**kwargs)


def test_no_allowed_encoding() -> None:
    """When a GSM-only route gets Hebrew, plan says so instead of mangling the text."""
    with pytest.raises(ValueError, match="ucs2"):
        plan(HE_SHORT, TextProfile(encodings=("gsm7",)))


def test_binary_data() -> None:
    """When bytes are planned on an 8-bit route, they are split at 134 octets, data_coding 4."""
    em = plan(bytes(range(256)) + b"\xff" * 20, TextProfile(encodings=("8bit",)), reference=1)
    assert (em.encoding, em.data_coding, em.segments) == ("8bit", 4, 3)
    assert b"".join(p.payload for p in em.parts) == bytes(range(256)) + b"\xff" * 20
    with pytest.raises(ValueError):
        plan(b"\x00", DEFAULT)
