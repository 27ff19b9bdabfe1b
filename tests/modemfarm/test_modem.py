"""One modem's state machine on a Clock and a fake AT channel."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from modemfarm.modem import Modem, ModemConfig, ModemState
from modemfarm.modem_send import Failed, OutgoingSms, RetryLater, Sent, UnknownPolicy
from modemfarm.pdu import encode_message
from tests.modemfarm.fake_at import FakeModem, RecordingDelegate

DELIVER = "07915155000000F0040B915155334344F40000621122707442000E4937BD2C6797C3F63219D47C02"
REPORT = "07915155000000F0062A0B915155214365F7621122704411006211227044610000"


def make(cfg: ModemConfig | None = None, hold: bool = False, **fake):
    clock = Clock()
    dev = FakeModem(clock)
    for key, value in fake.items():
        setattr(dev, key, value)
    delegate = RecordingDelegate(hold=hold)
    modem = Modem("/dev/serial/by-id/usb-test-if00", cfg or ModemConfig(), delegate, clock, dev.opener)
    return clock, dev, delegate, modem


def send(modem: Modem, text: str = "hello", ref: object = 1):
    sms = OutgoingSms(ref, "+15551234567", text)
    return modem.send(sms, encode_message(sms.destination, sms.text, status_report=True))


def result(d):
    out = []
    d.addBoth(out.append)
    assert out, "Deferred has not fired"
    return out[0]


def test_init_from_echo_on_reaches_ready_and_reads_identity():
    """When the modem starts with echo on, init turns it off, sets PDU mode, storage and CNMI,
    and names the modem by IMEI and its SIM by IMSI/ICCID."""
    clock, dev, _, modem = make()
    modem.start()
    assert modem.state is ModemState.READY
    assert (modem.imei, modem.imsi, modem.iccid) == (dev.imei, dev.imsi, dev.iccid)
    for cmd in ("ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMGF=0", 'AT+CPMS="SM","SM","SM"',
                "AT+CSCA?", "AT+CNMI=2,1,0,2,0", "AT+CSQ", "AT+CREG?"):
        assert cmd in dev.commands
    assert dev.echo is False


@pytest.mark.parametrize(
    ("label", "sim", "pin", "state", "cpin_writes"),
    [
        ("pin asked, pin configured", "SIM PIN", "1234", ModemState.READY, 1),
        ("pin asked, wrong pin: fail, never retry", "SIM PIN", "9999", ModemState.FAILED, 1),
        ("pin asked, none configured", "SIM PIN", None, ModemState.QUARANTINED, 0),
        ("puk asked", "SIM PUK", "1234", ModemState.QUARANTINED, 0),
        ("sim absent", "ABSENT", None, ModemState.QUARANTINED, 0),
    ],
)
def test_sim_states(label, sim, pin, state, cpin_writes):
    """When the SIM asks for a PIN, the configured one is entered at most once; PUK, a missing
    SIM or a missing PIN quarantine the modem; a rejected PIN stops it (no second guess)."""
    clock, dev, _, modem = make(ModemConfig(pin=pin), sim=sim)
    modem.start()
    clock.advance(1)
    assert modem.state is state, label
    assert sum(c.startswith("AT+CPIN=") for c in dev.commands) == cpin_writes


def test_sim_busy_is_waited_out():
    """When AT+CPIN? answers CME 14 (SIM busy) a few times, init waits and then succeeds."""
    clock, dev, _, modem = make(busy_answers=3)
    modem.start()
    assert modem.state is not ModemState.READY
    clock.pump([2.0] * 4)
    assert modem.state is ModemState.READY


def test_mr_is_persisted_before_the_outcome():
    """When +CMGS gives a TP-MR, the outcome waits until the delegate's commit has fired."""
    clock, dev, delegate, modem = make(hold=True)
    modem.start()
    d = send(modem)
    assert delegate.of("mr") == [("mr", 1, dev.imei, 42, delegate.of("mr")[0][4])]
    assert not d.called
    delegate.held.pop().callback(None)
    outcome = result(d)
    assert outcome == Sent(dev.imei, dev.imsi, (42,), 1)
    assert delegate.of("mr")[0][4]["recipient"] == "+15551234567"


def test_multipart_sends_each_part_and_persists_each_mr():
    """When a message has 3 parts, three AT+CMGS run, each with the announced TPDU length."""
    clock, dev, delegate, modem = make()
    modem.start()
    outcome = result(send(modem, "x" * 400))
    assert isinstance(outcome, Sent) and outcome.mrs == (42, 43, 44)
    cmgs = [c for c in dev.commands if c.startswith("AT+CMGS=")]
    assert [int(c.split("=")[1]) for c in cmgs] == [len(p) // 2 - 1 for p in dev.payloads]
    assert [e[4]["part"] for e in delegate.of("mr")] == [0, 1, 2]


@pytest.mark.parametrize(
    ("label", "error", "kind", "pinned", "state"),
    [
        ("network congestion: requeue elsewhere", ("CMS", 42), RetryLater, False, ModemState.READY),
        ("unknown error 500: same modem later", ("CMS", 500), RetryLater, True, ModemState.READY),
        ("bare ERROR: same modem later", "ERROR", RetryLater, True, ModemState.READY),
        ("unassigned number: fail", ("CMS", 1), Failed, False, ModemState.READY),
        ("invalid PDU: fail, no retry", ("CMS", 304), Failed, False, ModemState.READY),
        ("SIM not inserted: quarantine", ("CMS", 310), RetryLater, False, ModemState.QUARANTINED),
        ("no SC subscription: quarantine", ("CMS", 193), RetryLater, False, ModemState.QUARANTINED),
    ],
)
def test_cms_classes_drive_outcome_and_modem(label, error, kind, pinned, state):
    """When AT+CMGS fails with a CMS class, the outcome and the modem's state follow the table."""
    clock, dev, delegate, modem = make(cmgs_script=[error])
    modem.start()
    outcome = result(send(modem))
    assert isinstance(outcome, kind), label
    if isinstance(outcome, RetryLater):
        assert (outcome.modem_id == dev.imei) is pinned, label
    assert modem.state is state, label
    assert delegate.of("mr") == []


def test_cms_330_repairs_smsc_and_retries():
    """When the modem says SMSC unknown (330) and one is configured, AT+CSCA is written and the
    same part is sent again."""
    clock, dev, _, modem = make(ModemConfig(smsc="+15550000000"), cmgs_script=[("CMS", 330)])
    modem.start()
    outcome = result(send(modem))
    assert isinstance(outcome, Sent)
    assert 'AT+CSCA="+15550000000",145' in dev.commands
    assert len(dev.payloads) == 2


def test_repeated_transient_errors_reinitialise():
    """When the same modem answers 3 transient errors in a row, it re-initialises."""
    clock, dev, _, modem = make(cmgs_script=[("CMS", 500)] * 3)
    modem.start()
    before = dev.commands.count("ATE0")
    for _ in range(3):
        result(send(modem))
    assert dev.commands.count("ATE0") == before + 1
    assert modem.counters["recoveries"] == 1


@pytest.mark.parametrize(
    ("policy", "kind", "pinned"),
    [
        (UnknownPolicy.FAIL, Failed, True),
        (UnknownPolicy.RETRY_SAME_MODEM, RetryLater, True),
        (UnknownPolicy.REQUEUE, RetryLater, False),
    ],
)
def test_unknown_outcome_follows_policy_and_is_counted(policy, kind, pinned):
    """When AT+CMGS times out after the PDU went out, the outcome follows the configured policy,
    is flagged unknown and counted; it is never silently a plain retry elsewhere."""
    clock, dev, _, modem = make(ModemConfig(unknown_policy=policy), cmgs_script=["hang"])
    modem.start()
    d = send(modem)
    clock.advance(60)
    outcome = result(d)
    assert isinstance(outcome, kind) and outcome.unknown
    assert (outcome.modem_id == dev.imei) is pinned
    assert modem.counters["unknown_outcome"] == 1


def test_prompt_timeout_is_a_safe_retry():
    """When the > prompt never comes, nothing was sent: RetryLater, not unknown."""
    clock, dev, _, modem = make(cmgs_script=["noprompt"])
    modem.start()
    d = send(modem)
    clock.advance(10)
    outcome = result(d)
    assert isinstance(outcome, RetryLater) and not outcome.unknown
    assert modem.counters["unknown_outcome"] == 0


def test_partial_multipart_failure_pins_the_rest_to_the_same_sim():
    """When part 2 of 3 fails transiently, the retry keeps the concat ref, skips part 1 and is
    pinned to this modem; a retry with those fields sends only the missing parts."""
    clock, dev, _, modem = make(cmgs_script=[None, ("CMS", 42)])
    modem.start()
    sms = OutgoingSms(7, "+15551234567", "y" * 400, concat_ref=99)
    pdus = encode_message(sms.destination, sms.text, reference=99)
    outcome = result(modem.send(sms, pdus))
    assert isinstance(outcome, RetryLater)
    assert outcome.done_parts == frozenset({0}) and outcome.modem_id == dev.imei
    assert outcome.concat_ref == 99
    again = OutgoingSms(7, sms.destination, sms.text, concat_ref=99, done_parts=outcome.done_parts)
    outcome2 = result(modem.send(again, pdus))
    assert isinstance(outcome2, Sent) and len(outcome2.mrs) == 2
    assert dev.payloads[-2:] == [p.hex for p in pdus[1:]]


def test_cmti_reads_persists_then_deletes():
    """When +CMTI announces a message, AT+CMGR reads it, and AT+CMGD is sent only after the
    delegate's commit has fired."""
    clock, dev, delegate, modem = make(hold=True)
    modem.start()
    clock.advance(1)
    dev.memory["SM"][3] = DELIVER
    dev.urc("+CMTI", '"SM",3')
    assert "AT+CMGR=3" in dev.commands
    (_, received), = delegate.of("mo")
    assert received.deliver.text == "Interleaved MO" and received.index == 3
    assert "AT+CMGD=3" not in dev.commands
    delegate.held.pop().callback(None)
    assert "AT+CMGD=3" in dev.commands and 3 not in dev.memory["SM"]


def test_sweep_finds_messages_whose_urc_was_lost():
    """When messages sit in SM without any +CMTI, the periodic AT+CMGL=4 sweep persists and
    deletes them."""
    clock, dev, delegate, modem = make(ModemConfig(sweep_interval=300))
    dev.memory["SM"].update({1: DELIVER, 2: REPORT})
    modem.start()
    clock.advance(0.1)
    assert len(delegate.of("mo")) == 1 and len(delegate.of("report")) == 1
    assert dev.memory["SM"] == {}
    dev.memory["SM"][5] = DELIVER
    clock.advance(300)
    assert len(delegate.of("mo")) == 2 and dev.memory["SM"] == {}


def test_undecodable_pdu_is_kept_not_deleted():
    """When a stored PDU cannot be decoded, it is left in memory and counted once."""
    clock, dev, delegate, modem = make()
    dev.memory["SM"][1] = "07915155000000F0"
    modem.start()
    clock.advance(0.1)
    dev.urc("+CMTI", '"SM",1')
    assert dev.memory["SM"] == {1: "07915155000000F0"}
    assert modem.counters["undecodable_pdu"] == 1


def test_report_during_send_is_read_after_mr_commit():
    """When +CDSI arrives while AT+CMGS is in flight, the report is read only after the send
    (and its TP-MR commit) is done, so it can match."""
    clock, dev, delegate, modem = make(cmgs_delay=2.0)
    modem.start()
    clock.advance(0.1)
    d = send(modem)
    dev.memory["SM"][4] = REPORT
    dev.urc("+CDSI", '"SM",4')
    assert delegate.events == []
    clock.advance(2.0)
    assert isinstance(result(d), Sent)
    kinds = [e[0] for e in delegate.events]
    assert kinds == ["mr", "report"]
    event = delegate.of("report")[0][1]
    assert event.key == (dev.imei, 42, "15551234567") and event.meaning.final


def test_cds_direct_report_is_passed_on():
    """When a +CDS URC carries the report PDU itself, it is decoded and passed to the delegate."""
    clock, dev, delegate, modem = make()
    modem.start()
    dev.urc("+CDS", "25", pdu=REPORT)
    (_, event), = delegate.of("report")
    assert event.report.status == 0 and event.report.message_ref == 42


@pytest.mark.parametrize("urc", [("RDY", ""), ("^BOOT", ""), ("+CPIN", "READY")])
def test_spontaneous_reboot_reinitialises(urc):
    """When the modem announces a reboot, the driver runs init again (CNMI re-applied)."""
    clock, dev, _, modem = make()
    modem.start()
    dev.reboot()
    dev.urc(*urc)
    assert dev.commands.count("AT+CNMI=2,1,0,2,0") == 2
    assert modem.state is ModemState.READY and modem.counters["reboots"] == 1


def test_echo_back_on_means_reboot():
    """When a health poll sees echo back on, the modem is re-initialised."""
    clock, dev, _, modem = make(ModemConfig(health_interval=30))
    modem.start()
    dev.reboot()
    clock.advance(30)
    assert dev.commands.count("ATE0") == 2 and dev.echo is False


def test_health_no_signal_takes_modem_out_and_back():
    """When CSQ says 99 the modem is DEGRADED (not used); when signal returns it is READY."""
    clock, dev, _, modem = make(ModemConfig(health_interval=30))
    modem.start()
    dev.csq = (99, 99)
    clock.advance(30)
    assert modem.state is ModemState.DEGRADED and not modem.available
    assert isinstance(result(send(modem)), RetryLater)
    dev.csq, dev.creg = (18, 99), 5
    clock.advance(30)
    assert modem.state is ModemState.READY


def test_port_lost_reopens_and_keeps_identity():
    """When the port disappears the modem is GONE, reopens, re-inits and keeps its IMEI."""
    clock, dev, _, modem = make()
    modem.start()
    dev.lose()
    assert dev.opens == 2 and modem.state is ModemState.READY and modem.imei == dev.imei


def test_dead_modem_climbs_ladder_then_quarantines_with_backoff():
    """When the modem never answers, the driver tries re-init/reopen/CFUN, then quarantines
    with a doubling delay."""
    clock, dev, _, modem = make(ModemConfig(quarantine_base=60, reset_wait=30), dead=True)
    modem.start()
    quarantine_starts = []
    modem.listeners.append(lambda m: m.state is ModemState.QUARANTINED
                           and quarantine_starts.append(clock.seconds()))
    for _ in range(2000):
        clock.advance(1)
    assert len(quarantine_starts) >= 3
    gaps = [b - a for a, b in zip(quarantine_starts, quarantine_starts[1:])]
    assert gaps[1] > gaps[0]  # 60 s, then 120 s (plus the ladder's own time)
    assert "AT+CFUN=1,1" in dev.commands and modem.counters["cfun_resets"] >= 1
    dev.dead = False
    clock.pump([1] * 4000)
    assert modem.state is ModemState.READY


def test_stop_closes_and_ignores_late_urcs():
    """When stopped, the port is closed and URCs from the old channel are ignored."""
    clock, dev, delegate, modem = make()
    modem.start()
    modem.stop()
    dev.memory["SM"][1] = DELIVER
    dev.urc("+CMTI", '"SM",1')
    assert dev.closed == 1 and delegate.events == [] and modem.state is ModemState.STOPPED
