"""plan(text, profile) -> EncodedMessage: the one answer to "how is this text sent".

Encoding is the cheapest (fewest segments) the route allows, ties going to the encoding listed
first; national shift tables are tried only when the default alphabet cannot hold the text.
Cuts never split an escape pair, a surrogate pair or (UCS-2) a grapheme cluster. Past
``max_parts`` the plan fails with :class:`TooManyParts`, it never truncates.

The hot path (ASCII text that the default alphabet holds one septet per character) is two
``bytes.translate`` calls and slicing; see scripts/bench_text.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from protocols.sms import nls, smart as smart_mod, ucs2
from protocols.sms.gsm7 import DEFAULT, ESC, Gsm7Codec, septets_for_udh
from protocols.sms.udh import CONCAT_OCTETS, NLS_IE_OCTETS, build_udh, concat_head, nls_elements

ENCODINGS = ("gsm7", "ucs2", "latin1", "8bit")
CONCAT_MODES = ("udh8", "udh16", "sar", "payload")
DATA_CODING = {"ucs2": 8, "latin1": 3, "8bit": 4}
_SEQ = [bytes((i,)) for i in range(256)]
_counter = itertools.count(1)


class TooManyParts(ValueError):
    """The text needs more parts than the route allows (it is never truncated)."""

    def __init__(self, segments: int, max_parts: int, encoding: str) -> None:
        super().__init__(f"text needs {segments} {encoding} parts, the route allows {max_parts}")
        self.segments = segments
        self.max_parts = max_parts
        self.encoding = encoding


@dataclass(slots=True)
class Part:
    """One SMS of a message, in SMPP short_message form (GSM 7-bit: one septet per octet)."""

    udh: bytes
    payload: bytes
    septets: int | None
    text: str
    sar: tuple[int, int, int] | None = None


@dataclass(slots=True)
class EncodedMessage:
    encoding: str
    data_coding: int
    segments: int
    parts: list[Part]
    national_language: str | None = None
    text: str = ""
    substitutions: int = 0
    reference: int | None = None
    concat: str = "udh8"


@dataclass(frozen=True)
class TextProfile:
    """What a route accepts. Immutable and validated once; plan() reads precomputed fields."""

    encodings: tuple[str, ...] = ("gsm7", "ucs2")
    national_languages: tuple[str, ...] = ()
    concat: str = "udh8"
    max_parts: int = 10
    smart: bool | str = False
    gsm7_data_coding: int = 0
    _nls: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        encodings = tuple(self.encodings)
        languages = tuple(self.national_languages)
        object.__setattr__(self, "encodings", encodings)
        object.__setattr__(self, "national_languages", languages)
        if not encodings:
            raise ValueError("a profile needs at least one encoding")
        for enc in encodings:
            if enc not in ENCODINGS:
                raise ValueError(f"unknown encoding {enc!r}; use {', '.join(ENCODINGS)}")
        if self.concat not in CONCAT_MODES:
            raise ValueError(f"unknown concat {self.concat!r}; use {', '.join(CONCAT_MODES)}")
        if not 1 <= self.max_parts <= 255:
            raise ValueError("max_parts must be 1..255")
        if self.smart not in (False, True) + smart_mod.LEVELS:
            raise ValueError(f"smart must be False, True or one of {smart_mod.LEVELS}")
        if not 0 <= self.gsm7_data_coding <= 0xFF:
            raise ValueError("gsm7_data_coding must be 0..255")
        pairs = []
        for language in languages:
            for locking, single in nls.candidates(language):
                pairs.append((nls.codec(locking, single), locking, single, language))
        object.__setattr__(self, "_nls", tuple(pairs))


DEFAULT_PROFILE = TextProfile()


def _caps(concat: str, header: int, octets: int) -> tuple[int, int, int, int]:
    """(single-part cap, multi-part cap) in septets then octets for ``header`` extra IE octets."""
    single_udh = 1 + header if header else 0
    multi_udh = 1 + header + CONCAT_OCTETS.get(concat, 5)
    return (
        160 - septets_for_udh(single_udh),
        160 - septets_for_udh(multi_udh),
        octets - single_udh,
        octets - multi_udh,
    )


_CAPS = {(c, h): _caps(c, h, 140) for c in CONCAT_MODES for h in (0, 3, 6)}


def _cuts_septets(s: bytes, n: int, cap: int) -> list[int]:
    cuts = []
    start = 0
    while n - start > cap:
        end = start + cap
        if s[end - 1] == ESC:
            end -= 1
        cuts.append(end)
        start = end
    cuts.append(n)
    return cuts


def _cuts_ucs2(p: bytes, n: int, cap: int) -> list[int]:
    cuts = []
    start = 0
    while n - start > cap:
        end = ucs2.cut(p, n, start, start + cap)
        cuts.append(end)
        start = end
    cuts.append(n)
    return cuts


def _cuts_utf8(b: bytes, n: int, cap: int) -> list[int]:
    cuts = []
    start = 0
    while n - start > cap:
        end = start + cap
        while end > start + 1 and (b[end] & 0xC0) == 0x80:
            end -= 1
        cuts.append(end)
        start = end
    cuts.append(n)
    return cuts


def _cuts_fixed(n: int, cap: int) -> list[int]:
    return list(range(cap, n, cap)) + [n]


class _Candidate:
    __slots__ = ("encoding", "data", "cuts", "locking", "single", "language", "is_bytes")

    def __init__(self, encoding, data, cuts, locking=0, single=0, language=None, is_bytes=False):
        self.encoding = encoding
        self.data = data
        self.cuts = cuts
        self.locking = locking
        self.single = single
        self.language = language
        self.is_bytes = is_bytes


def _gsm_candidate(codec: Gsm7Codec, s: bytes, concat: str, header: int, lock: int, single: int,
                   language: str | None) -> _Candidate:
    cap1, capn, _, _ = _CAPS[concat, header]
    n = len(s)
    cuts = [n] if n <= cap1 else _cuts_septets(s, n, capn)
    return _Candidate("gsm7", s, cuts, lock, single, language)


def _candidates(text: str, profile: TextProfile):
    """Yield the encodings the route allows for ``text``, in the profile's order."""
    concat = profile.concat
    for enc in profile.encodings:
        if enc == "gsm7":
            s = DEFAULT.encode(text)
            if s is not None:
                yield _gsm_candidate(DEFAULT, s, concat, 0, 0, 0, None)
                continue
            best = None
            for codec, lock, single, language in profile._nls:
                s = codec.encode(text)
                if s is None:
                    continue
                header = NLS_IE_OCTETS * ((lock > 0) + (single > 0))
                cand = _gsm_candidate(codec, s, concat, header, lock, single, language)
                if best is None or len(cand.cuts) < len(best.cuts):
                    best = cand
                    if len(cand.cuts) == 1:
                        break
            if best is not None:
                yield best
        elif enc == "ucs2":
            p = ucs2.encode(text)
            n = len(p) // 2
            _, _, oct1, octn = _CAPS[concat, 0]
            cuts = [n] if n <= oct1 // 2 else _cuts_ucs2(p, n, octn // 2)
            yield _Candidate("ucs2", p, cuts)
        elif enc == "latin1":
            try:
                b = text.encode("latin-1")
            except UnicodeEncodeError:
                continue
            _, _, oct1, octn = _CAPS[concat, 0]
            yield _Candidate("latin1", b, [len(b)] if len(b) <= oct1 else _cuts_fixed(len(b), octn))
        else:
            b = text.encode("utf-8", "surrogatepass")
            _, _, oct1, octn = _CAPS[concat, 0]
            yield _Candidate("8bit", b, [len(b)] if len(b) <= oct1 else _cuts_utf8(b, len(b), octn))


def _choose(text: str, profile: TextProfile) -> _Candidate | None:
    best = None
    for cand in _candidates(text, profile):
        if best is None or len(cand.cuts) < len(best.cuts):
            best = cand
            if len(cand.cuts) == 1:
                break
    return best


def _part_texts(cand: _Candidate, text: str) -> list[str]:
    cuts = cand.cuts
    if len(cuts) == 1:
        return [text if not cand.is_bytes else cand.data.decode("latin-1")]
    bounds = list(zip([0] + cuts[:-1], cuts))
    data = cand.data
    if cand.is_bytes:
        return [data[a:b].decode("latin-1") for a, b in bounds]
    if cand.encoding == "gsm7":
        if ESC not in data:
            return [text[a:b] for a, b in bounds]
        out, pos = [], 0
        for a, b in bounds:
            chars = (b - a) - data.count(ESC, a, b)
            out.append(text[pos : pos + chars])
            pos += chars
        return out
    if cand.encoding == "ucs2":
        if len(data) == 2 * len(text):
            return [text[a:b] for a, b in bounds]
        return [data[2 * a : 2 * b].decode("utf-16-be", "surrogatepass") for a, b in bounds]
    if cand.encoding == "latin1":
        return [text[a:b] for a, b in bounds]
    return [data[a:b].decode("utf-8", "surrogatepass") for a, b in bounds]


def _build(cand: _Candidate, text: str, profile: TextProfile, reference: int | None,
           substitutions: int = 0) -> EncodedMessage:
    cuts = cand.cuts
    segments = len(cuts)
    encoding = cand.encoding
    if segments > profile.max_parts:
        raise TooManyParts(segments, profile.max_parts, encoding)
    dc = profile.gsm7_data_coding if encoding == "gsm7" else DATA_CODING[encoding]
    data = cand.data
    concat = profile.concat
    unit = 2 if encoding == "ucs2" else 1
    is_gsm = encoding == "gsm7"
    nls_ie = nls_elements(cand.locking, cand.single) if is_gsm else b""
    if segments == 1 or concat == "payload":
        udh = build_udh(nls_ie)
        part = Part(udh, data, len(data) if is_gsm else None, text if not cand.is_bytes
                    else data.decode("latin-1"))
        return EncodedMessage(encoding, dc, segments, [part], cand.language, text, substitutions,
                              None, concat)
    ref = next(_counter) if reference is None else reference
    texts = _part_texts(cand, text)
    parts = []
    start = 0
    if concat == "sar":
        ref &= 0xFFFF
        udh = build_udh(nls_ie)
        for seq, end in enumerate(cuts, 1):
            chunk = data[start * unit : end * unit]
            parts.append(Part(udh, chunk, end - start if is_gsm else None, texts[seq - 1],
                              (ref, segments, seq)))
            start = end
    else:
        ref &= 0xFF if concat == "udh8" else 0xFFFF
        elements = nls_ie + concat_head(concat, ref, segments)
        head = bytes((len(elements) + 1,)) + elements
        for seq, end in enumerate(cuts, 1):
            chunk = data[start * unit : end * unit]
            parts.append(Part(head + _SEQ[seq], chunk, end - start if is_gsm else None,
                              texts[seq - 1]))
            start = end
    return EncodedMessage(encoding, dc, segments, parts, cand.language, text, substitutions, ref,
                          concat)


def plan(text: str | bytes, profile: TextProfile = DEFAULT_PROFILE,
         reference: int | None = None) -> EncodedMessage:
    """Encode and split ``text`` for a route. ``bytes`` are sent as 8-bit data (data_coding 4).

    ``reference`` is the concatenation reference (masked to 8 or 16 bits); by default a module
    counter supplies one for each multi-part message. Raises TooManyParts, or ValueError when
    the route allows no encoding that can carry the text.
    """
    if type(text) is str and text.isascii() and profile.encodings[0] == "gsm7":
        raw = text.encode("ascii").translate(DEFAULT._ascii_table)
        if raw.isascii():
            n = len(raw)
            concat = profile.concat
            cap1, capn, _, _ = _CAPS[concat, 0]
            if n <= cap1:
                return EncodedMessage("gsm7", profile.gsm7_data_coding, 1,
                                      [Part(b"", raw, n, text)], None, text, 0, None, concat)
            cuts = list(range(capn, n, capn)) + [n]
            return _build(_Candidate("gsm7", raw, cuts), text, profile, reference)
    if isinstance(text, (bytes, bytearray, memoryview)):
        if "8bit" not in profile.encodings:
            raise ValueError("binary data needs a route that allows 8bit")
        data = bytes(text)
        _, _, oct1, octn = _CAPS[profile.concat, 0]
        cuts = [len(data)] if len(data) <= oct1 else _cuts_fixed(len(data), octn)
        return _build(_Candidate("8bit", data, cuts, is_bytes=True), "", profile, reference)
    if not isinstance(text, str):
        raise TypeError(f"plan() takes str or bytes, not {type(text).__name__}")
    best = _choose(text, profile)
    if profile.smart and (best is None or best.encoding not in ("gsm7", "latin1")):
        level = "typography" if profile.smart is True else profile.smart
        new_text, count = smart_mod.substitute(text, level)
        if count:
            alt = _choose(new_text, profile)
            if alt is not None and alt.encoding in ("gsm7", "latin1") and (
                best is None or len(alt.cuts) <= len(best.cuts)
            ):
                return _build(alt, new_text, profile, reference, count)
    if best is None:
        raise ValueError(
            f"no allowed encoding ({', '.join(profile.encodings)}) can carry this text; "
            "allow ucs2 on this route"
        )
    return _build(best, text, profile, reference)
