"""Smart (look-alike) substitution: opt-in, and only when it avoids UCS-2."""

from __future__ import annotations

import pytest

from protocols.sms import TextProfile, plan
from protocols.sms.smart import substitute

SUBSTITUTIONS = [
    # label, level, text, result, count
    ("curly single quotes", "typography", "it’s ‘ok’", "it's 'ok'", 3),
    ("curly double quotes", "typography", "“hi”", '"hi"', 2),
    ("en and em dash", "typography", "a – b — c", "a - b - c", 2),
    ("ellipsis", "typography", "wait…", "wait...", 1),
    ("nbsp and thin space", "typography", "10\u00a0000\u2009€", "10 000 €", 2),
    ("zero width space removed", "typography", "a\u200bb", "ab", 1),
    ("tab", "typography", "a\tb", "a b", 1),
    ("accents kept at typography", "typography", "ş á", "ş á", 0),
    ("accents stripped on request", "accents", "şá ư đ", "sa u d", 4),
    ("gsm accents are kept", "accents", "é è ñ Ç", "é è ñ Ç", 0),
    ("small c cedilla becomes c", "accents", "ç", "c", 1),
    ("hebrew is untouched", "accents", "שלום", "שלום", 0),
]


@pytest.mark.parametrize("label,level,text,result,count", SUBSTITUTIONS,
                         ids=[c[0] for c in SUBSTITUTIONS])
def test_substitute(label, level, text, result, count) -> None:
    """When a level is applied, only non-GSM look-alikes change, and they are counted."""
    assert substitute(text, level) == (result, count)


def test_off_by_default() -> None:
    """When smart is not enabled, a curly quote makes the message UCS-2 (lossless)."""
    assert plan("it’s").encoding == "ucs2"
    em = plan("it’s", TextProfile(smart=True))
    assert (em.encoding, em.text, em.substitutions) == ("gsm7", "it's", 1)


def test_never_applied_when_ucs2_needed_anyway() -> None:
    """When the text needs UCS-2 for another reason (emoji, Hebrew), nothing is substituted."""
    for text in ("it’s 🎉", "“שלום”"):
        em = plan(text, TextProfile(smart="accents"))
        assert (em.encoding, em.text, em.substitutions) == ("ucs2", text, 0)


def test_accents_level_turns_vietnamese_into_gsm() -> None:
    """When the route opts into accent stripping, Vietnamese with diacritics becomes GSM text."""
    em = plan("Chào chị Lan, ưu đãi đặc biệt", TextProfile(smart="accents"))
    assert em.encoding == "gsm7" and em.text == "Chào chi Lan, uu dai dac biet"


def test_smart_prefers_national_tables_when_allowed() -> None:
    """When a Turkish route has smart on, Turkish letters stay (shift tables) and only the
    typography is replaced."""
    em = plan("“Ağustos”", TextProfile(smart=True, national_languages=("tr",)))
    assert (em.encoding, em.national_language, em.text) == ("gsm7", "tr", '"Ağustos"')
