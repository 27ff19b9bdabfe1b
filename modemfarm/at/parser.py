"""Pure recognition of AT reply lines: final results, URCs, prompts, echo.

Every line a modem emits falls in one of a few classes. Keeping the rules here, free of timers and
transports, makes them table-testable; `AtChannel` applies them to a byte stream. The rules follow
what survives real modems (see the reference notes, quirks Q1-Q5, Q15): finals include vendor
variants, and URCs are recognised by prefix *whatever command is pending*, except when the line
carries the pending command's own prefix (``+CPIN: READY`` answers ``AT+CPIN?``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Final result codes that mean success.
SUCCESS_FINALS = frozenset({"OK", "CONNECT"})
#: Final result codes that mean failure, with no code attached.
PLAIN_ERROR_FINALS = frozenset(
    {"ERROR", "COMMAND NOT SUPPORT", "TOO MANY PARAMETERS", "NO CARRIER", "NO DIALTONE",
     "NO ANSWER", "BUSY"}
)
#: V0 (numeric) result codes: 0 OK, 4 ERROR. Only trusted for basic commands (see `is_basic`).
NUMERIC_FINALS = {"0": "OK", "4": "ERROR"}

_CMS_RE = re.compile(r"^\+?CMS ERROR:\s*(.*)$", re.IGNORECASE)
_CME_RE = re.compile(r"^\+?CME ERROR:\s*(.*)$", re.IGNORECASE)
_MODEM_ERROR_RE = re.compile(r"^MODEM ERROR:\s*(.*)$", re.IGNORECASE)

#: Unsolicited result prefixes (the part before ':'), standard and vendor.
URC_PREFIXES = frozenset(
    {
        "+CMTI", "+CDSI", "+CMT", "+CDS", "+CBM", "+CBMI", "+CREG", "+CGREG", "+CEREG",
        "+C5GREG", "+CFUN", "+CPIN", "+CRING", "+CLIP", "+CUSD", "+CIEV", "+CCWA", "+CSSU",
        "+CTZV", "+CTZE", "+CTZU", "+QIND", "+QUSIM", "+PACSP", "+ZDONR", "+ZPASR", "+ZEND",
        "+ZUSIMR", "+WIND", "+STIN", "+CUSATP", "+SIM", "#STN", "+NITZ", "+CPINR",
    }
)
#: URCs that are a whole fixed line.
URC_LINES = frozenset(
    {"RING", "RDY", "SMS READY", "CALL READY", "PB DONE", "NORMAL POWER DOWN", "SMS DONE",
     "+CPIN: READY", "+CFUN: 1", "POWERED DOWN", "^BOOT"}
)
#: URCs followed by one PDU line (27.005 +CMT / +CDS in PDU mode).
PDU_URCS = frozenset({"+CMT", "+CDS", "+CBM"})

_PREFIX_RE = re.compile(r"^([+^#$%][A-Za-z0-9_]+)\s*:?")
_CMD_PREFIX_RE = re.compile(r"[+^#$%][A-Za-z0-9_]+")
_HEX_RE = re.compile(r"^[0-9A-Fa-f]+$")
_BASIC_RE = re.compile(r"^AT(?:[A-Z&]\d*)*$", re.IGNORECASE)


@dataclass(frozen=True)
class Final:
    """A final result code: ``ok`` or an error of ``kind`` ERROR / CMS / CME with a code."""

    ok: bool
    line: str
    kind: str = "OK"
    code: int | None = None
    text: str = ""


def classify_final(line: str, *, numeric: bool = False) -> Final | None:
    """Return the `Final` a line stands for, or None if it is not a final result code.

    ``numeric`` also accepts V0 codes (``0``, ``4``), which would be ambiguous for commands whose
    information lines can be bare numbers.
    """
    stripped = line.strip()
    upper = stripped.upper()
    if upper in SUCCESS_FINALS:
        return Final(True, stripped)
    if upper in PLAIN_ERROR_FINALS:
        return Final(False, stripped, "ERROR", None, stripped)
    if numeric and stripped in NUMERIC_FINALS:
        ok = NUMERIC_FINALS[stripped] == "OK"
        return Final(ok, stripped, "OK" if ok else "ERROR", None, "" if ok else stripped)
    for kind, regex in (("CMS", _CMS_RE), ("CME", _CME_RE), ("ERROR", _MODEM_ERROR_RE)):
        match = regex.match(stripped)
        if match:
            detail = match.group(1).strip()
            code = int(detail) if detail.isdigit() else None
            return Final(False, stripped, kind, code, detail)
    return None


def line_prefix(line: str) -> str | None:
    """The ``+XXX`` / ``^XXX`` / ``#XXX`` name a line starts with, upper-cased, or None."""
    match = _PREFIX_RE.match(line.strip())
    return match.group(1).upper() if match else None


def command_prefixes(command: str) -> frozenset[str]:
    """Response prefixes a command can legitimately produce (``AT+COPS=3,0;+COPS?`` -> +COPS)."""
    return frozenset(p.upper() for p in _CMD_PREFIX_RE.findall(command.split('"', 1)[0]))


def is_basic(command: str) -> bool:
    """True for basic commands (``AT``, ``ATE0``, ``ATZ``, ``AT&F``) that have no information lines."""
    return bool(_BASIC_RE.match(command.strip()))


def is_prompt(text: str) -> bool:
    """True if ``text`` (a line or an unterminated tail) is the ``> `` prompt in any variant."""
    return text.strip(" \r\n") == ">"


def is_hex(line: str) -> bool:
    """True for a PDU line: hex digits only, even length."""
    stripped = line.strip()
    return bool(stripped) and len(stripped) % 2 == 0 and bool(_HEX_RE.match(stripped))


def urc_name(line: str, pending_prefixes: frozenset[str] = frozenset()) -> str | None:
    """The URC name if ``line`` is unsolicited, else None.

    A line whose prefix belongs to the pending command is an information line, not a URC.
    Vendor lines starting with ``^`` are always noise unless the pending command asked for them.
    """
    stripped = line.strip()
    if not stripped:
        return None
    prefix = line_prefix(stripped)
    if prefix is not None and prefix in pending_prefixes:
        return None
    if stripped.upper() in URC_LINES:
        return prefix or stripped
    if prefix is None:
        return None
    if prefix in URC_PREFIXES or prefix.startswith("^"):
        return prefix
    return None


def urc_args(line: str) -> str:
    """The argument text after ``NAME:`` (empty for bare URCs such as RING)."""
    _, sep, rest = line.partition(":")
    return rest.strip() if sep else ""


def split_params(text: str) -> list[str]:
    """Split ``"SM",3,,"a,b"`` into ``['SM', '3', '', 'a,b']``: commas outside quotes, quotes dropped."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    out.append("".join(current).strip())
    return out


def info_params(line: str) -> list[str]:
    """Parameters of an information line such as ``+CSQ: 17,99`` -> ``['17', '99']``."""
    return split_params(urc_args(line))
