"""AtChannel on a fake transport and a Clock: framing, prompt, URCs, errors, timeouts, recovery."""

from __future__ import annotations

import pytest
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from modemfarm.at.channel import (
    AtChannel,
    AtDisconnected,
    AtError,
    AtResponse,
    AtTimeout,
    Urc,
)


class Rig:
    """A channel whose writes are recorded and whose URCs are collected."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.written: list[bytes] = []
        self.urcs: list[Urc] = []
        self.channel = AtChannel(self.written.append, self.clock, on_urc=self.urcs.append)

    def run(self, command: str, **kwargs) -> list:
        results: list = []
        self.channel.command(command, **kwargs).addBoth(results.append)
        return results

    def feed(self, data: bytes, bytewise: bool = False) -> None:
        if bytewise:
            for i in range(len(data)):
                self.channel.data_received(data[i:i + 1])
        else:
            self.channel.data_received(data)


RESPONSES = [
    ("echo off", "AT+CSQ", b"\r\n+CSQ: 17,99\r\n\r\nOK\r\n", ["+CSQ: 17,99"], []),
    ("echo on", "AT+CSQ", b"AT+CSQ\r\r\n+CSQ: 17,99\r\n\r\nOK\r\n", ["+CSQ: 17,99"], []),
    ("duplicate echo", "ATE0", b"ATE0\rATE0\r\r\nOK\r\n", [], []),
    ("cmti inside response", "AT+CSQ",
     b'\r\n+CSQ: 17,99\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n', ["+CSQ: 17,99"], ["+CMTI"]),
    ("cmti before info", "AT+CSQ",
     b'\r\n+CMTI: "SM",3\r\n+CSQ: 17,99\r\n\r\nOK\r\n', ["+CSQ: 17,99"], ["+CMTI"]),
    ("urc glued to echo", "AT+CPMS?",
     b'+CMTI: "SM",1\r\nAT+CPMS?\r\r\n+CPMS: "SM",1,30,"SM",1,30,"SM",1,30\r\n\r\nOK\r\n',
     ['+CPMS: "SM",1,30,"SM",1,30,"SM",1,30'], ["+CMTI"]),
    ("vendor noise in cmgr", "AT+CMGR=1",
     b"\r\n+CMGR: 0,,5\r\n^RSSI:14\r\n0011AABB\r\n\r\nOK\r\n", ["+CMGR: 0,,5", "0011AABB"],
     ["^RSSI"]),
    ("cpin answer is not a urc", "AT+CPIN?", b"\r\n+CPIN: READY\r\n\r\nOK\r\n",
     ["+CPIN: READY"], []),
    ("v0 numeric ok for basic command", "ATV1", b"0\r", [], []),
    ("stuck prompt garbage", "AT", b"> \r\n\r\nOK\r\n", [], []),
    ("multi-line info", "AT+CMGL=4",
     b"\r\n+CMGL: 1,0,,5\r\n0011AABBCC\r\n+CMGL: 2,1,,5\r\n0011AABBDD\r\n\r\nOK\r\n",
     ["+CMGL: 1,0,,5", "0011AABBCC", "+CMGL: 2,1,,5", "0011AABBDD"], []),
]


@pytest.mark.parametrize("bytewise", [False, True], ids=["one-read", "byte-by-byte"])
@pytest.mark.parametrize("label,command,reply,lines,urcs", RESPONSES, ids=[r[0] for r in RESPONSES])
def test_responses_split_into_lines_and_urcs(label, command, reply, lines, urcs, bytewise):
    """When a reply arrives (in one read or byte by byte), info lines and URCs are routed apart."""
    rig = Rig()
    results = rig.run(command)
    rig.feed(reply, bytewise)
    assert len(results) == 1 and isinstance(results[0], AtResponse), (label, results)
    assert results[0].lines == lines
    assert [u.name for u in rig.urcs] == urcs
    assert rig.written == [command.encode() + b"\r"]


ERRORS = [
    ("bare error", b"\r\nERROR\r\n", ("ERROR", None)),
    ("cms", b"\r\n+CMS ERROR: 38\r\n", ("CMS", 38)),
    ("cme", b"\r\n+CME ERROR: 14\r\n", ("CME", 14)),
    ("cme text", b"\r\n+CME ERROR: SIM busy\r\n", ("CME", None)),
    ("huawei", b"\r\nCOMMAND NOT SUPPORT\r\n", ("ERROR", None)),
    ("quectel", b"\r\nCME Error: unknown\r\n", ("CME", None)),
]


@pytest.mark.parametrize("label,reply,expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_finals_errback_at_error(label, reply, expected):
    """When a command ends with an error result, the Deferred fails with AtError(kind, code)."""
    rig = Rig()
    results = rig.run("AT+CSCA?")
    rig.feed(reply)
    failure = results[0]
    assert isinstance(failure, Failure) and failure.check(AtError), label
    assert (failure.value.kind, failure.value.code) == expected


PROMPTS = [
    ("space", b"\r\n> "),
    ("no space", b"\r\n>"),
    ("bare", b"> "),
    ("with crlf", b"\r\n> \r\n"),
    ("echo then prompt", b"AT+CMGS=5\r\r\n> "),
]


@pytest.mark.parametrize("bytewise", [False, True], ids=["one-read", "byte-by-byte"])
@pytest.mark.parametrize("label,prompt", PROMPTS, ids=[p[0] for p in PROMPTS])
def test_every_prompt_variant_releases_the_payload(label, prompt, bytewise):
    """When the prompt arrives in any variant, the payload and Ctrl-Z are written once."""
    rig = Rig()
    results = rig.run("AT+CMGS=5", payload="0011000B91", timeout=60.0)
    assert rig.written == [b"AT+CMGS=5\r"]
    rig.feed(prompt, bytewise)
    assert rig.written == [b"AT+CMGS=5\r", b"0011000B91\x1a"], label
    rig.feed(b"0011000B91\x1a\r\n+CMGS: 7\r\n\r\nOK\r\n")  # payload echoed back (echo on)
    assert results[0].lines == ["+CMGS: 7"]


def test_slow_prompt_within_the_prompt_timeout_works():
    """When the prompt comes after 2 s (prompt timeout 10 s), the send goes on normally."""
    rig = Rig()
    results = rig.run("AT+CMGS=5", payload="00", timeout=60.0)
    rig.clock.advance(2.0)
    rig.feed(b"\r\n> ")
    rig.clock.advance(3.0)
    rig.feed(b"\r\n+CMGS: 255\r\n\r\nOK\r\n")
    assert results[0].lines == ["+CMGS: 255"]


def test_missing_prompt_times_out_escapes_and_drains_before_the_next_command():
    """When no prompt comes, AtTimeout(stage=prompt, payload_sent=False), ESC, AT, then the queue."""
    rig = Rig()
    send = rig.run("AT+CMGS=5", payload="00", timeout=60.0, prompt_timeout=10.0)
    nxt = rig.run("AT+CSQ")
    rig.clock.advance(10.0)
    failure = send[0]
    assert failure.check(AtTimeout)
    assert (failure.value.stage, failure.value.payload_sent) == ("prompt", False)
    assert rig.written[-1] == b"\x1b"
    rig.clock.advance(0.2)
    assert rig.written[-1] == b"AT\r"
    rig.feed(b"\r\nOK\r\n")
    assert rig.written[-1] == b"AT\r" and nxt == []  # waits for silence after the drain's final
    rig.clock.advance(0.2)
    assert rig.written[-1] == b"AT+CSQ\r"
    rig.feed(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert nxt[0].lines == ["+CSQ: 20,99"]
    assert b"00\x1a" not in rig.written


def test_late_result_after_timeout_is_never_paired_with_the_next_command():
    """When +CMGS and OK arrive after the timeout, the next command still gets its own reply,
    and the late MR is reported as a late URC (so an unknown outcome can be resolved)."""
    rig = Rig()
    send = rig.run("AT+CMGS=5", payload="00", timeout=5.0)
    rig.feed(b"\r\n> ")
    nxt = rig.run("AT+CSQ")
    rig.clock.advance(5.0)
    assert send[0].check(AtTimeout) and send[0].value.payload_sent
    rig.feed(b"\r\n+CMGS: 9\r\n\r\nOK\r\n")  # late, during the ESC quiet period
    rig.clock.advance(0.2)
    rig.feed(b"\r\nOK\r\n")  # answer to the drain's AT
    rig.clock.advance(0.2)
    rig.feed(b"\r\n+CSQ: 3,99\r\n\r\nOK\r\n")
    assert nxt[0].lines == ["+CSQ: 3,99"]
    assert [(u.name, u.args, u.late) for u in rig.urcs] == [("+CMGS", "9", True)]


def test_hung_modem_drain_gives_up_and_counts():
    """When the modem does not even answer the drain's AT, the channel moves on and counts it."""
    rig = Rig()
    first = rig.run("AT", timeout=2.0)
    second = rig.run("AT", timeout=2.0)
    rig.clock.advance(2.0)
    rig.clock.advance(3.0)
    assert first[0].check(AtTimeout) and rig.channel.drain_failures == 1
    assert rig.written[-1] == b"AT\r" and second == []
    rig.clock.advance(2.0)
    assert second[0].check(AtTimeout) and rig.channel.consecutive_timeouts == 2


def test_error_instead_of_prompt_never_writes_the_payload():
    """When AT+CMGS answers +CMS ERROR: 330 before the prompt, the payload is not written."""
    rig = Rig()
    results = rig.run("AT+CMGS=5", payload="00")
    rig.feed(b"\r\n+CMS ERROR: 330\r\n")
    assert results[0].value.code == 330 and rig.written == [b"AT+CMGS=5\r"]


def test_commands_are_queued_one_in_flight():
    """When several commands are queued, each is written only after the previous final result."""
    rig = Rig()
    a, b = rig.run("AT+CGSN"), rig.run("AT+CIMI")
    assert rig.written == [b"AT+CGSN\r"]
    rig.feed(b"\r\n490154203237518\r\n\r\nOK\r\n")
    assert rig.written == [b"AT+CGSN\r", b"AT+CIMI\r"]
    rig.feed(b"\r\n001010123456789\r\n\r\nOK\r\n")
    assert a[0].lines == ["490154203237518"] and b[0].lines == ["001010123456789"]


def test_pdu_urcs_carry_their_pdu_line_even_inside_a_send():
    """When +CDS (an early status report) arrives before +CMGS, it keeps its PDU and the send ends."""
    rig = Rig()
    results = rig.run("AT+CMGS=5", payload="00")
    rig.feed(b"\r\n> ")
    rig.feed(b"\r\n+CDS: 25\r\n07915155000000F0062A0B915155214365F7621122704411006211227044610000\r\n")
    rig.feed(b"\r\n+CMGS: 42\r\n\r\nOK\r\n")
    assert results[0].lines == ["+CMGS: 42"]
    assert rig.urcs[0].name == "+CDS" and rig.urcs[0].pdu.startswith("07915155")


def test_reboot_urcs_are_reported_when_idle():
    """When a modem reboots by itself, RDY / ^BOOT / +CFUN: 1 / +CPIN: READY reach on_urc."""
    rig = Rig()
    rig.feed(b"\r\nRDY\r\n\r\n^BOOT:1,0,0,0,75\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n")
    assert [u.name for u in rig.urcs] == ["RDY", "^BOOT", "+CFUN", "+CPIN", "SMS Ready"]


def test_stray_finals_are_dropped_and_unknown_lines_reported():
    """When nothing is pending, a stray OK is dropped and any other line is reported as unsolicited."""
    rig = Rig()
    rig.feed(b"\r\nOK\r\n\r\nHELLO\r\n")
    assert [u.line for u in rig.urcs] == ["HELLO"]


def test_a_failing_urc_handler_does_not_break_the_channel():
    """When on_urc raises, the response in progress still completes."""
    rig = Rig()
    rig.channel.on_urc = lambda urc: 1 / 0
    results = rig.run("AT+CSQ")
    rig.feed(b'\r\n+CMTI: "SM",1\r\n+CSQ: 1,99\r\n\r\nOK\r\n')
    assert results[0].lines == ["+CSQ: 1,99"]


def test_connection_lost_fails_everything_pending_and_later_commands():
    """When the port is lost, in-flight and queued commands fail with AtDisconnected, as do new ones."""
    rig = Rig()
    lost: list = []
    rig.channel.on_lost = lost.append
    a, b = rig.run("AT+CSQ"), rig.run("AT+CIMI")
    rig.channel.connectionLost(Failure(ConnectionError("EIO")))
    later = rig.run("AT")
    assert all(r[0].check(AtDisconnected) for r in (a, b, later))
    assert len(lost) == 1 and rig.clock.getDelayedCalls() == []


def test_cancelling_a_queued_command_removes_it():
    """When a queued command's Deferred is cancelled, it is never written."""
    rig = Rig()
    rig.run("AT+CSQ")
    d = rig.channel.command("AT+CIMI")
    d.addErrback(lambda f: f.trap(CancelledError))
    d.cancel()
    rig.feed(b"\r\nOK\r\n")
    assert rig.written == [b"AT+CSQ\r"]


def test_echo_flag_reveals_a_modem_that_turned_echo_back_on():
    """When echo reappears (a silent reboot), the response says so."""
    rig = Rig()
    quiet, loud = rig.run("AT"), rig.run("AT")
    rig.feed(b"\r\nOK\r\n")
    rig.feed(b"AT\r\r\nOK\r\n")
    assert (quiet[0].echoed, loud[0].echoed) == (False, True)


def test_overlong_garbage_is_dropped():
    """When the modem spews a line longer than 4 KiB, it is dropped and the next reply is intact."""
    rig = Rig()
    results = rig.run("AT")
    rig.feed(b"\xff" * 5000)
    rig.feed(b"\r\nOK\r\n")
    assert isinstance(results[0], AtResponse)


def test_commands_wait_for_connection_made():
    """When used as a Protocol, commands issued before connectionMade are written on connect."""
    from twisted.internet.testing import StringTransport

    clock = Clock()
    channel = AtChannel(None, clock)
    results: list = []
    channel.command("AT").addBoth(results.append)
    transport = StringTransport()
    channel.makeConnection(transport)
    assert transport.value() == b"AT\r"
    channel.dataReceived(b"\r\nOK\r\n")
    assert results[0].final == "OK"


def test_urc_split_across_a_timeout_is_not_lost():
    """When a URC's first half arrives just before a timeout and the rest during the drain,
    the URC is still delivered whole."""
    rig = Rig()
    rig.run("AT+CSQ", timeout=1.0)
    rig.feed(b'\r\n+CMTI: "S')
    rig.clock.advance(1.0)
    rig.feed(b'M",4\r\n')
    assert [(u.name, u.args) for u in rig.urcs] == [("+CMTI", '"SM",4')]
