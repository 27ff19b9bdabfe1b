"""National language shift tables (TS 23.038 Annex A), used only where a route allows them."""

from __future__ import annotations

import pytest

from protocols.sms import TextProfile, decode_short_message, parse_udh, plan
from protocols.sms import nls
from protocols.sms.gsm7 import UNUSED

SAMPLES = [
    # label, language, text
    ("turkish", "tr", "Sayın Ayşe Hanım, İyi akşamlar, ğ ı ş ç"),
    ("spanish", "es", "¿Dónde está? Mañana a las 10, ¡ánimo! Ú Í Ó Á"),
    ("portuguese", "pt", "Olá, você já viu a promoção? Ação válida até amanhã"),
    ("bengali", "bn", "আমি তোমাকে ভালোবাসি"),
    ("gujarati", "gu", "નમસ્તે, તમે કેમ છો"),
    ("hindi", "hi", "नमस्ते दुनिया, आप कैसे हैं? १२३"),
    ("kannada", "kn", "ನಮಸ್ಕಾರ, ಹೇಗಿದ್ದೀರಿ"),
    ("malayalam", "ml", "നമസ്കാരം, സുഖമാണോ"),
    ("oriya", "or", "ନମସ୍କାର, କେମିତି ଅଛନ୍ତି"),
    ("punjabi", "pa", "ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਤੁਸੀਂ ਕਿਵੇਂ ਹੋ"),
    ("tamil", "ta", "வணக்கம், எப்படி இருக்கிறீர்கள்"),
    ("telugu", "te", "నమస్కారం, ఎలా ఉన్నారు"),
    ("urdu", "ur", "السلام علیکم، آپ کیسے ہیں"),
]


@pytest.mark.parametrize("label,lang,text", SAMPLES, ids=[c[0] for c in SAMPLES])
def test_language_uses_its_tables_only_when_allowed(label: str, lang: str, text: str) -> None:
    """When a route allows the language, the text goes GSM 7-bit with the shift IEIs in the
    UDH and decodes back; when it does not, the same text is UCS-2."""
    em = plan(text, TextProfile(national_languages=(lang,)))
    assert em.encoding == "gsm7" and em.national_language == lang
    udh = parse_udh(em.parts[0].udh)
    lid = nls.LANGUAGE_IDS[lang]
    assert lid in (udh.national_single, udh.national_locking)
    assert decode_short_message(0, em.parts[0].payload, em.parts[0].udh) == text
    assert plan(text).encoding == "ucs2"


def test_spanish_has_no_locking_table() -> None:
    """When Spanish is allowed, only the single shift IEI (0x24) is ever announced."""
    assert nls.candidates("es") == [(0, 2)]
    assert plan("días", TextProfile(national_languages=("es",))).parts[0].udh == bytes.fromhex("03240102")


def test_turkish_locking_saves_septets() -> None:
    """When Turkish letters dominate, the locking table (one septet each, 155 per part) beats
    the single shift (two septets each: 300 septets, two parts)."""
    text = "ş" * 150
    em = plan(text, TextProfile(national_languages=("tr",)))
    udh = parse_udh(em.parts[0].udh)
    assert (udh.national_locking, udh.national_single) == (1, None)
    assert em.segments == 1 and em.parts[0].septets == 150


def test_receiver_assumes_language_without_udh() -> None:
    """When no UDH announces the tables, a caller-provided national_language decodes them."""
    em = plan("İyi akşamlar", TextProfile(national_languages=("tr",)))
    assert decode_short_message(0, em.parts[0].payload, national_language="tr") == "İyi akşamlar"


def test_several_languages_on_one_route() -> None:
    """When a route allows Spanish and Turkish, each text picks the language it needs."""
    profile = TextProfile(national_languages=("es", "tr"))
    assert plan("mañana está", profile).national_language == "es"
    assert plan("Ağustos", profile).national_language == "tr"


def test_unknown_language_is_rejected() -> None:
    """When a route names a language without tables (Hebrew), the profile is refused."""
    with pytest.raises(ValueError, match="he"):
        nls.language_id("he")


def test_indian_tables_carry_a_comma() -> None:
    """When the ten Indian locking tables are read, 0x2C is a comma (TS 23.038), not "'"."""
    for lid in range(4, 14):
        assert nls.codec(lid, lid).encode(",") == b"\x2c"


def test_tables_against_gsmcodecs() -> None:
    """When gsmcodecs (a second transcription of TS 23.038) is present, every code decodes the
    same, except the known 0x2C erratum of the Indian tables."""
    gsmcodecs = pytest.importorskip("gsmcodecs")
    assert gsmcodecs
    mismatches = []
    for locking in range(14):
        if locking and not nls.has_locking(locking):
            continue
        for single in range(14):
            codec = nls.codec(locking, single)
            for code in range(128):
                for data in (bytes([code]), bytes([0x1B, code])):
                    try:
                        theirs = data.decode(f"gsm23.038-{locking}-{single}")
                    except UnicodeDecodeError:
                        continue
                    if theirs != codec.decode(data) and not (locking >= 4 and data == b","):
                        mismatches.append((locking, single, data))
    assert mismatches == []


def test_every_table_entry_round_trips() -> None:
    """When any defined character of any table is encoded, it decodes to itself."""
    for locking in [0] + [lid for lid in range(1, 14) if nls.has_locking(lid)]:
        for single in range(14):
            codec = nls.codec(locking, single)
            chars = {c for c in codec.locking if c not in (UNUSED, "\x1b")}
            chars |= set(codec.single.values()) - {UNUSED}
            for char in chars:
                data = codec.encode(char)
                assert data is not None and codec.decode(data) == char, (locking, single, char)
