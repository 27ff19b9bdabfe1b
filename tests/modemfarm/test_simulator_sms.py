"""Sending, status reports and MO in the simulator, through the real AtChannel on a Clock."""

from __future__ import annotations

import pytest

from modemfarm.at.channel import AtError, AtResponse, AtTimeout
from modemfarm.simulator import ReportPlan, pdu_sim
from modemfarm.simulator.network import ReportPolicy
from modemfarm.simulator.loopback import AtLoopback as SimLink

RECIPIENT = "+15551234567"


def send(link: SimLink, text: str = "hello", srr: bool = False, **kwargs):
    pdu, length = pdu_sim.encode_submit(RECIPIENT, text, srr=srr)
    return link.cmd(f"AT+CMGS={length}", payload=pdu, timeout=kwargs.pop("timeout", 60.0), **kwargs)


def mr_of(result: AtResponse) -> int:
    return int(result.lines[0].split(":")[1])


def test_mr_wraps_at_256():
    """When the MR counter starts at 254, three sends get 254, 255, 0."""
    link = SimLink(mr_start=254)
    link.init()
    assert [mr_of(send(link)) for _ in range(3)] == [254, 255, 0]
    assert [m.mr for m in link.modem.sent] == [254, 255, 0]


def test_sent_messages_are_decoded_by_the_network():
    """When a SUBMIT is accepted, the simulator records destination, text and the SRR flag."""
    link = SimLink()
    link.init()
    send(link, "Grüße € {ok}", srr=True)
    sent = link.modem.sent[0]
    assert (sent.destination, sent.text, sent.srr) == (RECIPIENT, "Grüße € {ok}", True)


def test_scripted_cms_errors_then_success():
    """When CMS 38 then a bare ERROR are scripted, the first two sends fail so, the third succeeds."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("cms_errors", codes=[38, "ERROR"])
    first, second, third = send(link), send(link), send(link)
    assert (first.value.kind, first.value.code) == ("CMS", 38)
    assert (second.value.kind, second.value.code) == ("ERROR", None)
    assert isinstance(third, AtResponse) and len(link.modem.sent) == 1


def test_wrong_length_is_cms_304():
    """When AT+CMGS announces a length that does not match the TPDU, the modem answers CMS 304."""
    link = SimLink()
    link.init()
    pdu, length = pdu_sim.encode_submit(RECIPIENT, "hello")
    failure = link.cmd(f"AT+CMGS={length + 1}", payload=pdu)
    assert failure.value.code == 304 and link.modem.sent == []


def test_missing_smsc_is_330_until_csca_is_written():
    """When the SMSC address is unset (Huawei E220), sends fail with 330 until AT+CSCA is set."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("csca_required")
    assert link.ok("AT+CSCA?") == ['+CSCA: "",129']
    assert send(link).value.code == 330
    link.ok('AT+CSCA="+15550000000",145')
    assert isinstance(send(link), AtResponse)


def test_no_registration_is_331():
    """When the modem lost the network, a send fails with CMS 331 (no network service)."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("no_signal")
    assert send(link).value.code == 331


@pytest.mark.parametrize("cnmi,urc", [("2,1,0,2,0", "+CDSI"), ("2,1,0,1,0", "+CDS")])
def test_status_reports_follow_cnmi(cnmi, urc):
    """When CNMI <ds> is 2 the report is stored in SR with +CDSI; when 1 it comes as +CDS + PDU."""
    link = SimLink()
    link.init()
    link.ok(f"AT+CNMI={cnmi}")
    link.modem.script_reports(ReportPlan.scripted([0x20, 0x00], delay=1.0))
    mr = mr_of(send(link, srr=True))
    link.advance(3.0)
    got = [u for u in link.urcs if u.name == urc]
    assert len(got) == 2
    if urc == "+CDS":
        pdus = [u.pdu for u in got]
    else:
        link.ok('AT+CPMS="SR"')
        pdus = [link.ok(f"AT+CMGR={u.args.split(',')[1]}")[1] for u in got]
    tpdus = [bytes.fromhex(p)[1 + bytes.fromhex(p)[0]:] for p in pdus]
    assert [t[1] for t in tpdus] == [mr, mr]
    assert [t[-1] for t in tpdus] == [0x20, 0x00]


def test_duplicate_and_early_reports():
    """When reports are duplicated or early, the URC arrives twice / before the +CMGS response."""
    link = SimLink()
    link.init()
    link.modem.script_reports(ReportPlan.scripted([0x00], delay=0.5, early=True, duplicate=True))
    order: list[str] = []
    link.channel.on_urc = lambda urc: order.append(urc.name)
    d = link.channel.command("AT+CMGS=%d" % pdu_sim.encode_submit(RECIPIENT, "x", srr=True)[1],
                             payload=pdu_sim.encode_submit(RECIPIENT, "x", srr=True)[0], timeout=60)
    d.addCallback(lambda r: order.append("+CMGS"))
    link.advance(5.0)
    assert order == ["+CDSI", "+CMGS", "+CDSI"]
    assert link.modem.sent[0].reports == [0x00, 0x00]


def test_report_policy_probabilities_are_seeded():
    """When a lossy, duplicating policy is used, the same seed gives the same report pattern."""
    patterns = []
    for _ in range(2):
        link = SimLink(seed=5, latency=0.2, reports=ReportPolicy(lost=0.3, duplicate=0.3,
                                                                  intermediate=0.3))
        link.init()
        for _ in range(10):
            send(link, srr=True)
        link.advance(30.0)
        patterns.append([tuple(m.reports) for m in link.modem.sent])
    assert patterns[0] == patterns[1]
    assert any(p == () for p in patterns[0]) and any(len(p) > 1 for p in patterns[0])


def test_concatenated_mo_out_of_order():
    """When a 3-part MO is injected in reverse order, three +CMTI arrive and the parts carry
    one reference with sequence numbers 3, 2, 1."""
    link = SimLink()
    link.init()
    link.modem.inject_mo("+15553334444", "z" * 400, order="reverse")
    link.advance(0.5)
    indexes = [u.args.split(",")[1] for u in link.urcs if u.name == "+CMTI"]
    assert len(indexes) == 3
    parts = []
    for index in indexes:
        originator, text, concat, _ = pdu_sim.decode_deliver(link.ok(f"AT+CMGR={index}")[1])
        parts.append((concat, text))
    assert len({concat[0] for concat, _ in parts}) == 1
    assert [concat[2] for concat, _ in parts] == [3, 2, 1]
    assert "".join(text for _, text in reversed(parts)) == "z" * 400


def test_cmt_routing_delivers_the_pdu_directly():
    """When CNMI <mt> is 2, the MO comes as +CMT with its PDU and is not stored."""
    link = SimLink()
    link.init()
    link.ok("AT+CNMI=2,2,0,1,0")
    pdus = link.modem.inject_mo("+15553334444", "direct")
    link.advance(0.2)
    cmt = [u for u in link.urcs if u.name == "+CMT"]
    assert [u.pdu for u in cmt] == pdus
    assert link.ok("AT+CPMS?")[0].startswith('+CPMS: "SM",0,')


def test_storage_full_holds_mo_until_cleanup():
    """When SM is full, an MO is held by the network; after AT+CMGD it is stored and announced."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("storage_full")
    link.modem.inject_mo("+15553334444", "waiting")
    link.advance(0.2)
    assert not [u for u in link.urcs if u.name == "+CMTI"]
    link.ok("AT+CMGD=1,1")
    link.advance(0.2)
    assert [u.args for u in link.urcs if u.name == "+CMTI"] == ['"SM",1']


@pytest.mark.parametrize("variant", ["space", "nospace", "bare", "crlf"])
def test_prompt_variants_from_the_simulator(variant):
    """When the modem prints any prompt variant, the send completes."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("prompt", variant=variant)
    assert isinstance(send(link), AtResponse)


def test_slow_prompt_and_missing_prompt():
    """When the prompt takes 2 s the send works; when it never comes, the channel times out,
    sends ESC (the modem cancels), and the next command works."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("prompt", variant="space", delay=2.0)
    assert isinstance(send(link), AtResponse)
    link.modem.inject_fault("prompt", variant="none")
    failure = send(link, prompt_timeout=5.0)
    assert failure.check(AtTimeout) and failure.value.stage == "prompt"
    assert isinstance(link.cmd("AT+CSQ"), AtResponse)
    assert len(link.modem.sent) == 1


def test_send_that_never_answers_is_an_unknown_outcome():
    """When the modem swallows the PDU and never answers, the timeout says the payload was sent."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("hang_next_submit")
    failure = send(link, timeout=10.0)
    assert failure.check(AtTimeout) and failure.value.payload_sent is True


def test_slow_and_split_cmgs():
    """When +CMGS takes 8 s and OK follows 1 s later, one send and one MR result."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("slow_cmgs", delay=8.0)
    link.modem.inject_fault("split_cmgs", gap=1.0)
    result = send(link, timeout=20.0)
    assert isinstance(result, AtResponse) and len(link.modem.sent) == 1
    assert result.lines == [f"+CMGS: {link.modem.sent[0].mr}"]


def test_ok_without_cmgs_line():
    """When the modem answers OK without +CMGS, the response has no MR line (caller decides)."""
    link = SimLink()
    link.init()
    link.modem.inject_fault("cmgs_without_mr")
    assert send(link).lines == []


def test_pdu_mode_only():
    """When the driver switches to text mode, AT+CMGS is refused (this simulator is PDU only)."""
    link = SimLink()
    link.init()
    link.ok("AT+CMGF=1")
    failure = link.cmd("AT+CMGS=5", payload="00")
    assert isinstance(failure.value, AtError) and failure.value.code == 302
