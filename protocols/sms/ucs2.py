"""UCS-2 as SMSCs really take it: UTF-16BE, with surrogate pairs for characters beyond the BMP.

An emoji costs two units. A part boundary never falls inside a surrogate pair and, where the
part is long enough, not inside a grapheme cluster either (a combining mark, a ZWJ sequence, a
skin-tone or variation selector, a flag): the receiver would show the halves as two broken
glyphs. This is an approximation of UAX #29 good enough for cut points; it never affects the
text, only where it is cut.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

ZWJ = 0x200D
_MAX_CLUSTER_BACKOFF = 32  # code points; a longer "cluster" is cut anyway


def encode(text: str) -> bytes:
    """UTF-16BE; lone surrogates pass through so that no input can make encoding fail."""
    return text.encode("utf-16-be", "surrogatepass")


def decode(payload: bytes) -> str:
    """Tolerant inverse: an odd trailing octet and lone surrogates become U+FFFD."""
    return payload.decode("utf-16-be", "replace")


def units(text: str) -> int:
    """UCS-2 units ``text`` costs (two for a character beyond the BMP)."""
    return len(text.encode("utf-16-be", "surrogatepass")) // 2


def _unit(p: bytes, k: int) -> int:
    return (p[2 * k] << 8) | p[2 * k + 1]


def _cp_at(p: bytes, k: int, n: int) -> int:
    u = _unit(p, k)
    if 0xD800 <= u < 0xDC00 and k + 1 < n:
        low = _unit(p, k + 1)
        if 0xDC00 <= low < 0xE000:
            return 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
    return u


def _cp_before(p: bytes, k: int) -> tuple[int, int]:
    """The code point ending just before unit ``k`` and how many units it takes."""
    u = _unit(p, k - 1)
    if 0xDC00 <= u < 0xE000 and k >= 2:
        high = _unit(p, k - 2)
        if 0xD800 <= high < 0xDC00:
            return 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00), 2
    return u, 1


@lru_cache(maxsize=4096)
def _is_extender(cp: int) -> bool:
    if cp < 0x300:
        return False
    if cp == ZWJ or 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF:
        return True
    if 0xE0020 <= cp <= 0xE007F or 0xE0100 <= cp <= 0xE01EF:
        return True
    if 0xD800 <= cp < 0xE000:
        return False
    return unicodedata.category(chr(cp)) in ("Mn", "Me", "Mc")


def _is_ri(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def joins(before: int, after: int) -> bool:
    """True when no grapheme boundary lies between the two code points (flags aside)."""
    if before == 0x0D and after == 0x0A:
        return True
    return before == ZWJ or _is_extender(after)


def _ri_run_odd(p: bytes, k: int) -> bool:
    """Whether an odd number of regional indicators end just before unit ``k``."""
    count = 0
    while k >= 2:
        cp, size = _cp_before(p, k)
        if not _is_ri(cp):
            break
        count += 1
        k -= size
    return count % 2 == 1


def cut(p: bytes, n: int, start: int, end: int) -> int:
    """Best cut at or before unit ``end`` (start < end < n): never between the halves of a
    surrogate pair, preferably not inside a grapheme cluster."""
    u = _unit(p, end - 1)
    if 0xD800 <= u < 0xDC00 and end - 1 > start:
        end -= 1
        u = _unit(p, end - 1)
    if _unit(p, end) < 0x300 and u != ZWJ and u != 0x0D:
        return end  # the common case: a Latin/ASCII character follows, nothing joins it
    safe = end
    for _ in range(_MAX_CLUSTER_BACKOFF):
        if end <= start:
            return safe
        before, size = _cp_before(p, end)
        after = _cp_at(p, end, n)
        if _is_ri(before) and _is_ri(after):
            if not _ri_run_odd(p, end):
                return end
        elif not joins(before, after):
            return end
        end -= size
    return safe
