"""Table tests for the pure AT line rules (modemfarm.at.parser)."""

from __future__ import annotations

import pytest

from modemfarm.at import parser

FINALS = [
    ("ok", "OK", False, (True, "OK", None)),
    ("error", "ERROR", False, (False, "ERROR", None)),
    ("cms numeric", "+CMS ERROR: 330", False, (False, "CMS", 330)),
    ("cme numeric", "+CME ERROR: 14", False, (False, "CME", 14)),
    ("cme verbose (CMEE=2)", "+CME ERROR: SIM busy", False, (False, "CME", None)),
    ("quectel mixed case, no plus", "CME Error: unknown", False, (False, "CME", None)),
    ("huawei", "COMMAND NOT SUPPORT", False, (False, "ERROR", None)),
    ("motorola", "MODEM ERROR: 2", False, (False, "ERROR", 2)),
    ("v0 ok when allowed", "0", True, (True, "OK", None)),
    ("v0 error when allowed", "4", True, (False, "ERROR", None)),
]


@pytest.mark.parametrize("label,line,numeric,expected", FINALS, ids=[f[0] for f in FINALS])
def test_final_results_are_recognised(label, line, numeric, expected):
    """When a line is a final result code (standard or vendor), its kind and code are extracted."""
    final = parser.classify_final(line, numeric=numeric)
    assert final is not None, label
    assert (final.ok, final.kind, final.code) == expected


@pytest.mark.parametrize("line", ["0", "4", "+CSQ: 17,99", "OKAY", "SIMULATED", "> "])
def test_non_finals_are_not_finals(line):
    """When a line only looks like a result (V0 digits without the basic-command hint), it is not final."""
    assert parser.classify_final(line) is None


URCS = [
    ("cmti", '+CMTI: "SM",3', frozenset(), "+CMTI"),
    ("cdsi", '+CDSI: "SR",1', frozenset({"+CSQ"}), "+CDSI"),
    ("cmt", "+CMT: ,24", frozenset(), "+CMT"),
    ("ring", "RING", frozenset(), "RING"),
    ("rdy", "RDY", frozenset(), "RDY"),
    ("huawei boot", "^BOOT:12345,0,0,0,75", frozenset(), "^BOOT"),
    ("huawei rssi", "^RSSI:14", frozenset({"+CMGR"}), "^RSSI"),
    ("creg unsolicited", "+CREG: 1", frozenset({"+CSQ"}), "+CREG"),
    ("cpin spontaneous", "+CPIN: READY", frozenset(), "+CPIN"),
    ("cfun spontaneous", "+CFUN: 1", frozenset(), "+CFUN"),
    ("simcom", "SMS Ready", frozenset(), "SMS Ready"),
    ("quectel", "+QIND: SMS DONE", frozenset(), "+QIND"),
]


@pytest.mark.parametrize("label,line,pending,name", URCS, ids=[u[0] for u in URCS])
def test_urcs_are_recognised_whatever_is_pending(label, line, pending, name):
    """When a URC line arrives, it is named as a URC even if another command is pending."""
    assert parser.urc_name(line, pending) == name, label


INFO = [
    ("cpin answer", "+CPIN: READY", "AT+CPIN?"),
    ("creg answer", "+CREG: 2,1", "AT+CREG?"),
    ("cfun answer", "+CFUN: 1", "AT+CFUN?"),
    ("chained cops", '+COPS: 0,0,"Sim Net"', "AT+COPS=3,0;+COPS?"),
    ("vendor query", "^SYSINFO:2,3,0,5,1", "AT^SYSINFO"),
    ("plain text", "SIMULATED", "AT+CGMI"),
]


@pytest.mark.parametrize("label,line,command", INFO, ids=[i[0] for i in INFO])
def test_lines_with_the_pending_prefix_are_information(label, line, command):
    """When a line carries the pending command's own prefix, it belongs to the response."""
    assert parser.urc_name(line, parser.command_prefixes(command)) is None, label


@pytest.mark.parametrize("text,expected", [(">", True), ("> ", True), ("\r\n> ", True),
                                           ("> \r\n", True), (">>", False), ("", False)])
def test_prompt_variants(text, expected):
    """When the modem prints the prompt in any real variant, it is recognised."""
    assert parser.is_prompt(text) is expected


@pytest.mark.parametrize("text,expected", [
    ('"SM",3', ["SM", "3"]),
    ('1,,25', ["1", "", "25"]),
    ('"+15550000000",145', ["+15550000000", "145"]),
    ('"a,b",2', ["a,b", "2"]),
])
def test_split_params_honours_quotes(text, expected):
    """When parameters hold quoted commas, they are not split."""
    assert parser.split_params(text) == expected


def test_basic_commands():
    """When a command is basic (ATE0, ATZ, AT&F), V0 digits may end it; extended ones may not."""
    assert parser.is_basic("ATE0") and parser.is_basic("AT&F") and parser.is_basic("AT")
    assert not parser.is_basic("AT+CSQ") and not parser.is_basic("AT+CMGR=1")
