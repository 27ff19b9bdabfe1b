"""Opt-in look-alike substitution ("smart encoding").

Two levels, never applied by default:

* ``"typography"`` (``smart=True``): curly quotes, dashes, ellipsis, exotic spaces, zero-width
  characters, tab, backtick -> their GSM 7-bit look-alikes. The reader sees the same message.
* ``"accents"``: typography plus accent stripping for letters the GSM alphabet lacks
  (á -> a, ş -> s, đ -> d, ç -> c). Lossy: meant for campaigns that preview it.

The planner uses the substituted text only when it avoids UCS-2 (a Hebrew text with curly quotes
stays untouched) and does not cost more segments.
"""

from __future__ import annotations

import unicodedata

from protocols.sms.gsm7 import DEFAULT

LEVELS = ("typography", "accents")

_TYPOGRAPHY_PAIRS: dict[str, str] = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2039": "<", "\u203a": ">",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u00ad": "",
    "\u2026": "...",
    "\u00a0": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ",
    "\u2005": " ", "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": " ", "\u205f": " ", "\u3000": " ", "\t": " ",
    "\u200b": "", "\u2060": "", "\ufeff": "",
    "\u2044": "/", "\u2215": "/", "\u02c6": "^", "\u02dc": "~",
    "\u2022": "-", "\u00b7": ".",
}
TYPOGRAPHY: dict[int, str] = {ord(k): v for k, v in _TYPOGRAPHY_PAIRS.items()}
assert all(DEFAULT.encode(k) is None for k in _TYPOGRAPHY_PAIRS), "only non-GSM characters"
assert all(DEFAULT.encode(v) is not None for v in _TYPOGRAPHY_PAIRS.values())

_SPECIAL_LETTERS = {
    "đ": "d", "Đ": "D", "ı": "i", "ł": "l", "Ł": "L", "œ": "oe", "Œ": "OE", "þ": "th",
    "Þ": "Th", "ð": "d", "Ð": "D", "ŀ": "l", "Ŀ": "L", "ħ": "h", "Ħ": "H",
}


class _AccentMap(dict):
    """str.translate mapping that strips accents on demand and caches the answer."""

    def __missing__(self, cp: int) -> str:
        char = chr(cp)
        if DEFAULT.encode(char) is not None:
            result = char
        elif char in _SPECIAL_LETTERS:
            result = _SPECIAL_LETTERS[char]
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
            )
            result = base if base and DEFAULT.encode(base) is not None else char
        self[cp] = result
        return result


_ACCENTS = _AccentMap(TYPOGRAPHY)


def substitute(text: str, level: str = "typography") -> tuple[str, int]:
    """(new text, number of characters replaced or removed) for a level of :data:`LEVELS`."""
    if level not in LEVELS:
        raise ValueError(f"unknown smart level {level!r}; use one of {LEVELS}")
    table = TYPOGRAPHY if level == "typography" else _ACCENTS
    new = text.translate(table)
    if new == text:
        return text, 0
    changed = sum(1 for c in text if table.get(ord(c), c) != c) if level == "typography" else (
        sum(1 for c in text if _ACCENTS[ord(c)] != c)
    )
    return new, changed
