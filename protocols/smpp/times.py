"""SMPP 3.4 time strings (section 7.1.1): absolute ``YYMMDDhhmmsstnnp`` and relative ``...R``.

Absolute times carry tenths of a second and an offset in quarter hours from UTC ('+' or '-');
relative times ('R') are a period added to the time the SMSC received the message.
"""

from __future__ import annotations

import calendar
import functools
import math
import time


class SmppTimeError(ValueError):
    """The string is not a valid SMPP time."""


def parse_smpp_time(value: str, now: float) -> float | None:
    """Epoch seconds for an SMPP time string; '' means "not given" (None)."""
    if not value:
        return None
    if len(value) != 16 or not value[:15].isdigit() or value[15] not in "+-R":
        raise SmppTimeError(f"not an SMPP time: {value!r}")
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    tenths, quarters, kind = int(value[12]), int(value[13:15]), value[15]
    if kind == "R":
        # relative: YY years, MM months, DD days ... approximated as 365/30-day units, per common practice
        return now + (((yy * 365 + mo * 30 + dd) * 24 + hh) * 60 + mi) * 60 + ss
    if not (1 <= mo <= 12 and 1 <= dd <= 31 and hh < 24 and mi < 60 and ss < 60 and quarters <= 48):
        raise SmppTimeError(f"field out of range in SMPP time: {value!r}")
    try:
        local = calendar.timegm((2000 + yy, mo, dd, hh, mi, ss, 0, 0, 0))
    except (ValueError, OverflowError) as exc:  # pragma: no cover - timegm is lenient
        raise SmppTimeError(str(exc)) from exc
    if dd > calendar.monthrange(2000 + yy, mo)[1]:
        raise SmppTimeError(f"no such day in SMPP time: {value!r}")
    offset = quarters * 900
    return local - offset + tenths / 10 if kind == "+" else local + offset + tenths / 10


def format_smpp_time(epoch: float) -> str:
    """Absolute SMPP time in UTC ('00+'), as used in query_sm_resp final_date and in the
    validity_period of every submit_sm sent upstream (hence the per-second cache)."""
    return f"{_smpp_second_text(math.floor(epoch))}{int((epoch % 1) * 10)}00+"


@functools.lru_cache(maxsize=1024)
def _smpp_second_text(second: int) -> str:
    """YYMMDDhhmmss of a whole UTC second (gmtime floors a float epoch, as math.floor does)."""
    t = time.gmtime(second)
    return f"{t.tm_year % 100:02d}{t.tm_mon:02d}{t.tm_mday:02d}{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}"
