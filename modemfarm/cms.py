"""+CMS ERROR (and +CME ERROR / bare ERROR after AT+CMGS) -> what to do with the message and modem.

The table follows the reference notes (modem-at.md §1.5), seeded from gammu's
``ATGEN_HandleCMSError`` and the cause semantics of TS 24.011 §8.2.5.4 (RP causes, 0-127),
TS 23.040 §9.2.3.22 (TP-FCS, 128-255) and TS 27.005 §3.2.5 (300-511 ME/network, 512+ vendor).

Classes:

- RETRY_SAME_LATER: the modem is momentarily unable (SIM busy, "unknown error", vendor codes);
  retry on the same modem after a short pause; repeats make the modem re-initialise.
- RETRY_OTHER_MODEM: the network or SC is in trouble for now; requeue with backoff, any modem.
- FAIL_MESSAGE: the message itself is refused (bad number, barred destination, bad PDU):
  retrying the identical PDU cannot succeed.
- MODEM_OUT_OF_SERVICE: the SIM or subscription cannot send at all; requeue the message
  elsewhere and quarantine this modem.

Unknown codes default to RETRY_OTHER_MODEM: retrying elsewhere with backoff loses nothing, a
bad modem is routed around, and the engine's attempt limit bounds a message that keeps failing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CmsClass(enum.Enum):
    RETRY_SAME_LATER = "retry_same_later"
    RETRY_OTHER_MODEM = "retry_other_modem"
    FAIL_MESSAGE = "fail_message"
    MODEM_OUT_OF_SERVICE = "modem_out_of_service"


#: Class for codes absent from the tables (see the module docstring).
DEFAULT_CLASS = CmsClass.RETRY_OTHER_MODEM


@dataclass(frozen=True)
class Verdict:
    """How to treat one error: its class, a short reason, and side actions on the modem."""

    cls: CmsClass
    reason: str
    code: int | None = None
    check_registration: bool = False  # 331/332: re-read +CREG before using the modem again
    repair_smsc: bool = False  # 330: the SMSC address is missing; set AT+CSCA and retry


def _codes(*items: int | range) -> list[int]:
    out: list[int] = []
    for item in items:
        out.extend(item if isinstance(item, range) else [item])
    return out


_R, _O, _F, _Q = (CmsClass.RETRY_SAME_LATER, CmsClass.RETRY_OTHER_MODEM,
                  CmsClass.FAIL_MESSAGE, CmsClass.MODEM_OUT_OF_SERVICE)

#: +CMS ERROR code -> (class, reason). Ranges are expanded once at import.
CMS_TABLE: dict[int, tuple[CmsClass, str]] = {}
for _cls, _reason, _list in (
    (_F, "unassigned number", _codes(1)),
    (_Q, "operator determined barring", _codes(8)),
    (_Q, "call barred", _codes(10)),
    (_F, "short message transfer rejected", _codes(21)),
    (_O, "destination out of order", _codes(27)),
    (_F, "unidentified subscriber", _codes(28)),
    (_F, "facility rejected", _codes(29)),
    (_F, "unknown subscriber", _codes(30)),
    (_O, "network out of order", _codes(38)),
    (_O, "temporary failure", _codes(41)),
    (_O, "congestion", _codes(42)),
    (_O, "resources unavailable", _codes(47)),
    (_Q, "requested facility not subscribed", _codes(50)),
    (_F, "requested facility not implemented", _codes(69)),
    (_F, "invalid message", _codes(81, 95, range(96, 100))),
    (_O, "protocol error", _codes(111, 127)),
    (_F, "TPDU not supported by the SC", _codes(range(128, 131), 143, 144, 145, 159, 160, 161,
                                                 175, 176, 198, 199)),
    (_O, "SC busy", _codes(192)),
    (_Q, "no SC subscription", _codes(193)),
    (_O, "SC system failure", _codes(194)),
    (_F, "invalid SME address", _codes(195)),
    (_F, "destination SME barred", _codes(196)),
    (_F, "SM rejected as duplicate", _codes(197)),
    (_R, "SIM or ME storage trouble", _codes(range(208, 212), 320, 322)),
    (_R, "SIM toolkit busy", _codes(212, 213)),
    (_R, "ME failure", _codes(300, 301)),
    (_R, "operation not allowed now", _codes(302, 303)),
    (_F, "invalid PDU or text parameter (driver bug)", _codes(304, 305)),
    (_Q, "SIM not inserted", _codes(310)),
    (_Q, "SIM PIN/PUK required", _codes(311, 312, range(316, 319))),
    (_Q, "SIM failure", _codes(313, 315)),
    (_R, "SIM busy", _codes(314)),
    (_R, "invalid memory index", _codes(321)),
    (_Q, "SMSC address unknown", _codes(330)),
    (_O, "no network service", _codes(331)),
    (_O, "network timeout", _codes(332)),
    (_R, "unknown error", _codes(500)),
    (_R, "manufacturer specific", _codes(range(512, 615), range(617, 1000))),
    (_O, "vendor network error", _codes(615, 616)),
):
    for _code in _list:
        CMS_TABLE[_code] = (_cls, _reason)

#: +CME ERROR codes seen after SMS commands (27.007 §9.2): SIM state and busy conditions.
CME_TABLE: dict[int, tuple[CmsClass, str]] = {
    3: (_R, "operation not allowed now"),
    10: (_Q, "SIM not inserted"),
    11: (_Q, "SIM PIN required"),
    12: (_Q, "SIM PUK required"),
    13: (_Q, "SIM failure"),
    14: (_R, "SIM busy"),
    15: (_Q, "SIM wrong"),
    30: (_O, "no network service"),
    31: (_O, "network timeout"),
    100: (_R, "unknown error"),
    515: (_R, "device busy, retry later"),
}


def classify_cms(code: int | None) -> Verdict:
    """Verdict for ``+CMS ERROR: <code>``; None (no numeric code) counts as a bare ERROR."""
    if code is None:
        return classify_error()
    cls, reason = CMS_TABLE.get(code, (DEFAULT_CLASS, "unclassified CMS error"))
    return Verdict(cls, f"CMS {code}: {reason}", code,
                   check_registration=code in (331, 332), repair_smsc=code == 330)


def classify_cme(code: int | None) -> Verdict:
    """Verdict for ``+CME ERROR: <code>`` answering an SMS command."""
    if code is None:
        return classify_error()
    cls, reason = CME_TABLE.get(code, (DEFAULT_CLASS, "unclassified CME error"))
    return Verdict(cls, f"CME {code}: {reason}", code, check_registration=code in (30, 31))


def classify_error() -> Verdict:
    """A bare ``ERROR`` (or vendor text) after CMGS: transient on this modem (gammu#416)."""
    return Verdict(_R, "ERROR without a code", None)


def classify(kind: str, code: int | None) -> Verdict:
    """Dispatch on the kind an `AtError` carries: "CMS", "CME" or "ERROR"."""
    if kind == "CMS":
        return classify_cms(code)
    if kind == "CME":
        return classify_cme(code)
    return classify_error()
