"""The simulated modem's AT behaviour, driven by the real AtChannel over an in-memory wire."""

from __future__ import annotations

import pytest

from modemfarm.at.channel import AtError, AtResponse, AtTimeout
from modemfarm.simulator import pdu_sim
from modemfarm.simulator.loopback import AtLoopback as SimLink


def test_echo_is_on_after_power_up_and_ate0_turns_it_off():
    """When the modem starts, it echoes commands (Q1); after ATE0 it does not."""
    link = SimLink()
    assert link.cmd("AT").echoed is True
    link.ok("ATE0")
    assert link.cmd("AT").echoed is False


def test_v0_numeric_results_still_end_basic_commands():
    """When the modem is in V0 mode, the channel still completes basic commands; ATV1 restores."""
    link = SimLink()
    link.ok("ATE0V0")
    assert b"0\r" in link.raw[-1]
    link.ok("ATV1")
    assert link.ok("AT+CSQ") == ["+CSQ: 20,99"]


@pytest.mark.parametrize("cmee,expected", [
    ("0", ("ERROR", None, "ERROR")),
    ("1", ("CME", 10, "10")),
    ("2", ("CME", None, "SIM not inserted")),
])
def test_cmee_modes_format_sim_errors(cmee, expected):
    """When the SIM is absent, AT+CIMI fails in the format AT+CMEE asked for."""
    link = SimLink()
    link.ok(f"AT+CMEE={cmee}")
    link.modem.inject_fault("sim_absent")
    failure = link.cmd("AT+CIMI")
    assert (failure.value.kind, failure.value.code, failure.value.text) == expected


def test_pin_flow_with_busy_window():
    """When a PIN is needed: CPIN? says SIM PIN, a wrong PIN is CME 16, the right one makes the
    SIM busy (CME 14) for a moment, then READY."""
    link = SimLink(sim_busy_after_pin=2.0)
    link.modem.inject_fault("sim_pin")
    link.ok("AT+CMEE=1")
    assert link.ok("AT+CPIN?") == ["+CPIN: SIM PIN"]
    assert link.cmd('AT+CPIN="0000"').value.code == 16
    link.ok('AT+CPIN="1234"')
    assert link.cmd("AT+CPIN?").value.code == 14
    link.advance(2.5)
    assert link.ok("AT+CPIN?") == ["+CPIN: READY"]
    assert any(u.line == "+CPIN: READY" for u in link.urcs)


def test_three_wrong_pins_lock_to_puk():
    """When the PIN is wrong three times, the SIM asks for the PUK."""
    link = SimLink()
    link.modem.inject_fault("sim_pin")
    for _ in range(3):
        link.cmd('AT+CPIN="9999"')
    assert link.ok("AT+CPIN?") == ["+CPIN: SIM PUK"]


def test_identity_commands():
    """When asked, the modem gives IMEI, IMSI, ICCID that are stable for a seed."""
    a, b = SimLink(seed=3), SimLink(seed=3)
    for link in (a, b):
        link.ok("ATE0")
    assert a.ok("AT+CGSN") == b.ok("AT+CGSN") == [a.modem.imei]
    assert a.ok("AT+CIMI")[0].startswith("00101")
    assert a.ok("AT+CCID")[0].startswith("+CCID: 89")


def test_chained_and_unknown_commands():
    """When commands are chained with ';' they all run; an unknown one makes the line ERROR."""
    link = SimLink()
    link.ok("ATE0")
    assert link.ok("AT+CMEE=1;+CPIN?;+CSQ") == ["+CPIN: READY", "+CSQ: 20,99"]
    assert link.cmd("AT+NOPE").value.kind == "ERROR"


def test_registration_and_signal_follow_faults():
    """When signal is lost, CSQ says 99 and CREG searching; COPS has no operator."""
    link = SimLink()
    link.ok("ATE0")
    link.ok("AT+CREG=2")
    assert link.ok("AT+CREG?")[0].startswith("+CREG: 2,1,")
    link.modem.inject_fault("no_signal")
    assert link.ok("AT+CSQ") == ["+CSQ: 99,99"]
    assert link.ok("AT+CREG?") == ["+CREG: 2,2"]
    assert link.ok("AT+COPS?") == ["+COPS: 0"]
    assert any(u.name == "+CREG" for u in link.urcs)


def test_separate_memories_in_cpms():
    """When an MO lands in SM and a report in SR, CPMS counts them apart and ME stays empty."""
    link = SimLink()
    link.init()
    link.modem.inject_mo("+15553334444", "hello")
    link.modem.inject_report(5, "+15551234567", 0)
    link.advance(0.1)
    assert link.ok("AT+CPMS?") == ['+CPMS: "SM",1,30,"SM",1,30,"SM",1,30']
    link.ok('AT+CPMS="ME","ME","ME"')
    assert link.ok("AT+CMGL=4") == []
    assert link.ok('AT+CPMS="SR","SM","SM"') == ["+CPMS: 1,30,1,30,1,30"]
    assert link.ok("AT+CMGL=4")[0].startswith("+CMGL: 1,0,,")


def test_cmgr_marks_read_and_cmgd_frees_the_slot():
    """When a stored message is read it becomes REC READ; after CMGD, CMGR says CMS 321."""
    link = SimLink()
    link.init()
    link.modem.inject_mo("+15553334444", "hello")
    link.advance(0.1)
    header, pdu = link.ok("AT+CMGR=1")
    assert header == f"+CMGR: 0,,{pdu_sim.tpdu_length(pdu)}"
    assert link.ok("AT+CMGR=1")[0].startswith("+CMGR: 1,,")
    link.ok("AT+CMGD=1")
    assert link.cmd("AT+CMGR=1").value.code == 321


def test_cnmi_and_cmgf_are_kept_and_reset_by_reboot():
    """When the modem reboots (AT+CFUN=1,1), echo comes back on and CNMI returns to 0."""
    link = SimLink()
    link.init()
    assert link.ok("AT+CNMI?") == ["+CNMI: 2,1,0,2,0"]
    link.ok("AT+CFUN=1,1")
    link.advance(2.0)
    names = [u.name for u in link.urcs]
    assert "RDY" in names and "+CFUN" in names and "+CPIN" in names
    response = link.cmd("AT+CNMI?")
    assert response.echoed and response.lines == ["+CNMI: 0,0,0,0,0"]


def test_hang_times_out_and_the_channel_recovers():
    """When the modem hangs for 4 s, the command times out; after the hang, commands work again."""
    link = SimLink()
    link.ok("ATE0")
    link.modem.inject_fault("hang", seconds=4.0)
    assert link.cmd("AT+CSQ", timeout=2.0).check(AtTimeout)
    link.advance(3.0)
    assert link.ok("AT+CSQ") == ["+CSQ: 20,99"]


def test_garbage_and_stuck_prompt_are_survived():
    """When a previous client left the modem in the prompt with garbage typed, ESC + AT recovers."""
    link = SimLink()
    link.modem.feed(b"\x00\xffjunk\rAT+CMGS=20\r0011")
    assert link.modem.interpreter.mode == "pdu"
    assert link.cmd("AT", timeout=1.0).check(AtTimeout)  # eaten as PDU text
    link.advance(1.0)  # the channel's ESC cancelled the prompt; drain done
    assert isinstance(link.cmd("AT"), AtResponse)


def test_urc_noise_is_delivered_and_responses_stay_clean():
    """When the modem spams ^RSSI, URCs reach on_urc and responses stay intact."""
    link = SimLink()
    link.ok("ATE0")
    link.modem.inject_fault("noise", interval=0.5)
    link.advance(2.0)
    assert link.ok("AT+CSQ") == ["+CSQ: 20,99"]
    assert sum(u.name == "^RSSI" for u in link.urcs) >= 3


def test_urc_inside_response_is_never_lost():
    """When the modem puts +CMTI inside the AT+CSQ response (python-gsmmodem's bug), the URC
    still reaches on_urc and the CSQ response has only its own line."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("urc_inside_response")
    link.modem.inject_mo("+15553334444", "inside")
    assert link.ok("AT+CSQ") == ["+CSQ: 20,99"]
    assert b'+CMTI: "SM",1' in b"".join(link.raw[-2:])
    assert [u.args for u in link.urcs if u.name == "+CMTI"] == ['"SM",1']


def test_transcript_is_deterministic_for_a_seed(tmp_path):
    """When the same seeded session runs twice on a Clock, the byte transcripts are identical."""
    from modemfarm.simulator.transcript import Transcript

    texts = []
    for run in range(2):
        path = tmp_path / f"t{run}.txt"
        link = SimLink(seed=11)
        link.modem.transcript = Transcript.open(str(path), link.clock)
        link.init()
        pdu, length = pdu_sim.encode_submit("+15551234567", "hello", srr=True)
        link.ok(f"AT+CMGS={length}", payload=pdu, timeout=60.0)
        link.modem.inject_mo("+15553334444", "x" * 200)
        link.advance(10.0)
        link.modem.transcript.close()
        texts.append(path.read_text())
    assert texts[0] == texts[1] and "+CMGS:" in texts[0] and "+CDSI:" in texts[0]


def test_error_formats_are_what_the_driver_expects():
    """When CMEE=1, a CME error carries its number; SMS errors are always +CMS ERROR."""
    link = SimLink()
    link.ok("AT+CMEE=0")
    link.modem.inject_fault("sim_absent")
    failure = link.cmd("AT+CPMS?")
    assert isinstance(failure.value, AtError) and (failure.value.kind, failure.value.code) == ("CMS", 310)


def test_loopback_unplug_fails_the_command_in_flight():
    """When the device vanishes during a send (in-memory wire), the command fails AtDisconnected
    and the modem stays silent until replugged."""
    from modemfarm.at.channel import AtDisconnected

    link = SimLink()
    link.init()
    link.modem.inject_fault("slow_cmgs", delay=5.0)
    pdu, length = pdu_sim.encode_submit("+15551234567", "bye")
    d = link.channel.command(f"AT+CMGS={length}", payload=pdu, timeout=60.0)
    link.advance(1.0)
    link.unplug()
    assert link.wait(d).check(AtDisconnected)
    link.advance(10.0)
    assert link.modem.sent == [] and link.modem.unplugged


def test_double_echo_is_tolerated():
    """When firmware echoes each command twice (ATE0\\rATE0\\r), the response is still clean."""
    link = SimLink()
    link.modem.inject_fault("double_echo")
    response = link.cmd("AT+CSQ")
    assert response.lines == ["+CSQ: 20,99"] and response.echoed
    assert b"AT+CSQ\rAT+CSQ\r" in b"".join(link.raw)


def test_sms_not_ready_until_the_sms_ready_urc():
    """When SMS is not ready after boot (SIMCom), SMS commands fail CMS 500 until "SMS Ready"."""
    link = SimLink()
    link.ok("ATE0")
    link.modem.inject_fault("sms_not_ready", seconds=3.0)
    assert link.cmd("AT+CPMS?").value.code == 500
    link.advance(3.1)
    assert any(u.name == "SMS Ready" for u in link.urcs)
    assert link.ok("AT+CPMS?")[0].startswith("+CPMS:")
