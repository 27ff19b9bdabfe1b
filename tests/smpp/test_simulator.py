"""The upstream simulator (a carrier our engine binds to): binds, ids, receipts and their
timing, the outcome mix, faults, MO, counters; StringTransport + Clock, plus real loopback
TCP with our own SMPP client and with the third-party smpplib."""

from __future__ import annotations

import struct
from random import Random
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
from twisted.internet import defer, endpoints, reactor, task, threads
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from protocols.smpp.client import SmppClientFactory
from protocols.smpp.codec import Pdu, decode, encode
from protocols.smpp.constants import MessageState, Status
from protocols.smpp.receipts import parse_receipt_text, receipt_from_fields
from protocols.smpp.session import SessionSettings
from protocols.smpp.simulator import UpstreamSimulator
from protocols.smpp.simulator_faults import Fault, disconnect, drop, reject, slow, throttle
from protocols.smpp.simulator_settings import SimulatorSettings, mo_parts
from protocols.sms.udh import parse_udh

CREDS = {"system_id": "upstream", "password": "secret", "interface_version": 0x34}
SUBMIT = {"source_addr": "ACME", "destination_addr": "447700900001",
          "short_message": b"hello world", "registered_delivery": 1}


class Peer:
    """One ESME connection to the simulator over a StringTransport."""

    def __init__(self, sim: UpstreamSimulator, factory: Any) -> None:
        self.sim = sim
        self.proto = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self.seq = 0

    def send(self, command: str, params: dict | None = None, tlvs: dict | None = None) -> int:
        self.seq += 1
        self.proto.dataReceived(encode(Pdu(command, self.seq, 0, params, tlvs)))
        return self.seq

    def bind(self, kind: str = "transceiver", **creds: Any) -> Pdu:
        self.send(f"bind_{kind}", {**CREDS, **creds})
        (resp,) = self.received()
        return resp

    def received(self) -> list[Pdu]:
        data, out = self.transport.value(), []
        self.transport.clear()
        while data:
            (length,) = struct.unpack_from(">I", data)
            out.append(decode(data[:length]))
            data = data[length:]
        return out

    def ack(self, pdus: list[Pdu], status: int = 0) -> None:
        for pdu in pdus:
            if pdu.command == "deliver_sm":
                self.proto.dataReceived(encode(Pdu("deliver_sm_resp", pdu.sequence, status)))


def drain(peer: Peer) -> list[Pdu]:
    """Everything pushed so far, acknowledging deliver_sm so the window lets more out."""
    out: list[Pdu] = []
    while batch := peer.received():
        peer.ack(batch)
        out += batch
    return out


def make(seed: int = 1, **settings: Any) -> tuple[UpstreamSimulator, Clock, Any]:
    clock = Clock()
    sim = UpstreamSimulator(clock, SimulatorSettings(**settings), Random(seed))
    return sim, clock, sim.factory()


def bound(seed: int = 1, kind: str = "transceiver", **settings: Any):
    sim, clock, factory = make(seed, **settings)
    peer = Peer(sim, factory)
    assert peer.bind(kind).status == 0
    return sim, clock, peer


def submit(peer: Peer, **params: Any) -> Pdu:
    peer.send("submit_sm", {**SUBMIT, **params})
    (resp,) = [p for p in peer.received() if p.command == "submit_sm_resp"]
    return resp


# --------------------------------------------------------------------- binds

@pytest.mark.parametrize("label,settings,creds,status", [
    ("right credentials", {}, {}, 0),
    ("wrong system_id", {}, {"system_id": "other"}, Status.ESME_RINVSYSID),
    ("wrong password", {}, {"password": "nope"}, Status.ESME_RINVPASWD),
    ("accept any", {"accept_any": True}, {"system_id": "x", "password": "y"}, 0),
])
def test_bind_credentials(label: str, settings: dict, creds: dict, status: int) -> None:
    """When an ESME binds, the configured system_id/password decide (or anything goes with
    accept_any), and the bind_resp carries the simulator's system_id."""
    sim, _, factory = make(**settings)
    resp = Peer(sim, factory).bind(**creds)
    assert resp.status == status, label
    assert (sim.counters.binds, sim.counters.binds_refused) == ((1, 0) if not status else (0, 1))
    if not status:
        assert resp.params["system_id"] == "SIMSMSC"


def test_binds_refused_for_a_while() -> None:
    """When refuse_binds(10) is in force, binds get ESME_RBINDFAIL until 10 s have passed."""
    sim, clock, factory = make()
    sim.refuse_binds(10)
    assert Peer(sim, factory).bind().status == Status.ESME_RBINDFAIL
    clock.advance(9.9)
    assert Peer(sim, factory).bind().status == Status.ESME_RBINDFAIL
    clock.advance(0.1)
    assert Peer(sim, factory).bind().status == 0


# --------------------------------------------------------------------- ids

@pytest.mark.parametrize("label,settings,resp_id,receipt_id", [
    ("decimal", {"id_flavour": "dec"}, "255", "255"),
    ("hex", {"id_flavour": "hex"}, "ff", "ff"),
    ("hex resp, decimal receipt", {"id_flavour": "hex", "receipt_id_flavour": "dec"},
     "ff", "255"),
    ("decimal resp, hex receipt", {"id_flavour": "dec", "receipt_id_flavour": "hex"},
     "255", "ff"),
    ("zero padded hex", {"id_flavour": "hex", "id_width": 8}, "000000ff", "000000ff"),
])
def test_id_flavours(label: str, settings: dict, resp_id: str, receipt_id: str) -> None:
    """When an id flavour is configured, submit_sm_resp and the receipt (text and TLV) carry
    the id in their own flavour, as carriers that mix hex and decimal do."""
    sim, clock, peer = bound(id_start=255, receipt_delay=1.0, **settings)
    assert submit(peer).params["message_id"] == resp_id, label
    clock.advance(1.0)
    (dlr,) = peer.received()
    assert parse_receipt_text(dlr.params["short_message"]).id == receipt_id
    assert dlr.tlvs["receipted_message_id"] == receipt_id


def test_uuid_ids_are_distinct_and_shaped() -> None:
    """When ids are uuid-like, each submit gets a different 36-character id, 8-4-4-4-12."""
    sim, clock, peer = bound(id_flavour="uuid")
    ids = {submit(peer).params["message_id"] for _ in range(5)}
    assert len(ids) == 5
    assert all([len(g) for g in i.split("-")] == [8, 4, 4, 4, 12] for i in ids)


def test_uuid_needs_both_flavours() -> None:
    """When only one side is uuid, the settings are refused with a clear message."""
    with pytest.raises(ValueError, match="uuid"):
        SimulatorSettings(id_flavour="uuid", receipt_id_flavour="dec")


# --------------------------------------------------------------------- receipts

def test_receipt_after_delay_with_text_and_tlvs() -> None:
    """When registered_delivery is 1, a deliver_sm receipt (esm_class 4) goes to the
    transceiver after receipt_delay, addressed back to the sender, with the Appendix B text
    and the receipted_message_id / message_state TLVs."""
    sim, clock, peer = bound(receipt_delay=2.0, tick=0.1)
    resp = submit(peer)
    clock.advance(1.9)
    assert peer.received() == [] and sim.receipts_pending == 1
    clock.advance(0.1)
    (dlr,) = peer.received()
    assert (dlr.command, dlr.params["esm_class"]) == ("deliver_sm", 0x04)
    assert (dlr.params["source_addr"], dlr.params["destination_addr"]) == ("447700900001",
                                                                         "ACME")
    receipt = receipt_from_fields(dlr.params, dlr.tlvs)
    assert receipt.message_id == resp.params["message_id"]
    assert receipt.state == MessageState.DELIVERED and receipt.stat == "DELIVRD" and receipt.err == "000"
    text = parse_receipt_text(dlr.params["short_message"])
    assert (text.id, text.stat, text.text, text.err) == (resp.params["message_id"], "DELIVRD", "hello world", "000")
    assert dlr.tlvs["message_state"] == MessageState.DELIVERED
    peer.ack([dlr])
    assert (sim.counters.receipts_sent, sim.counters.receipts_by_state) == (1, {"DELIVRD": 1})


@pytest.mark.parametrize("fmt,has_text,has_tlvs", [
    ("text", True, False), ("tlv", False, True), ("both", True, True)])
def test_receipt_formats(fmt: str, has_text: bool, has_tlvs: bool) -> None:
    """When receipt_format is text, tlv or both, the receipt carries exactly those forms."""
    sim, clock, peer = bound(receipt_format=fmt, receipt_delay=0)
    submit(peer)
    clock.advance(0)
    (dlr,) = peer.received()
    assert bool(dlr.params["short_message"]) == has_text
    assert ("receipted_message_id" in dlr.tlvs) == has_tlvs


@pytest.mark.parametrize("rd,expected", [(0, 0), (1, 40), (2, "failures"), (3, "successes")])
def test_registered_delivery_decides(rd: int, expected: Any) -> None:
    """When registered_delivery is 0 no receipt comes; 1 always; 2 only for failures; 3
    (SMPP 5.0) only for deliveries."""
    sim, clock, peer = bound(seed=7, receipt_delay=0,
                             outcomes={"DELIVRD": 0.5, "UNDELIV": 0.5}, query_memory=100)
    ids = [submit(peer, registered_delivery=rd).params["message_id"] for _ in range(40)]
    clock.advance(0)
    dlrs = peer.received()
    states = {i: sim._query(i)["message_state"] for i in ids}
    delivered = sum(1 for s in states.values() if s == MessageState.DELIVERED)
    want = {"failures": 40 - delivered, "successes": delivered}.get(expected, expected)
    assert len(dlrs) == want and 0 < delivered < 40
    for dlr in dlrs:
        assert dlr.tlvs["message_state"] == states[dlr.tlvs["receipted_message_id"]]


def test_outcome_mix_is_deterministic_and_weighted() -> None:
    """When two simulators share a seed, they draw the same outcomes; over 2,000 messages
    the mix follows the weights (90/5/5 within a few percent)."""
    runs = []
    for _ in range(2):
        sim, clock, peer = bound(seed=42, receipt_delay=0, receipt_format="tlv",
                                 outcomes={"DELIVRD": 0.9, "UNDELIV": 0.05, "EXPIRED": 0.05})
        for _ in range(2000):
            submit(peer)
        clock.advance(0)
        runs.append([p.tlvs["message_state"] for p in drain(peer)])
    assert runs[0] == runs[1]
    share = {s: runs[0].count(s) / 2000 for s in (2, 5, 3)}
    assert abs(share[2] - 0.9) < 0.03 and abs(share[5] - 0.05) < 0.02
    assert abs(share[3] - 0.05) < 0.02


def test_receipts_are_batched_by_tick() -> None:
    """When submits keep arriving, receipts leave on timer ticks: one timer for many
    receipts, each no later than one tick after it is due."""
    sim, clock, peer = bound(receipt_delay=1.0, tick=0.1)
    for _ in range(50):
        submit(peer)
        clock.advance(0.01)
    ticks = [c for c in clock.getDelayedCalls() if c.func.__name__ == "_tick"]
    assert len(ticks) == 1
    sent = 0
    for _ in range(20):
        clock.advance(0.1)
        sent += len(peer.received())
    assert sent == 50


def test_uniform_delay_stays_within_bounds() -> None:
    """When the delay is uniform in [0.5, 1.5], no receipt leaves before 0.5 s and all have
    left (within one tick) by 1.5 s."""
    sim, clock, peer = bound(receipt_delay=1.5, receipt_delay_min=0.5,
                             receipt_delay_distribution="uniform", tick=0.05)
    for _ in range(30):
        submit(peer)
    clock.advance(0.49)
    assert peer.received() == []
    clock.pump([0.05] * 22)
    assert len(peer.received()) == 30


def test_intermediate_then_final() -> None:
    """When registered_delivery asks for intermediate notifications (0x10), an ENROUTE one
    (esm_class 0x20) comes first, then the final receipt."""
    sim, clock, peer = bound(receipt_delay=5.0, intermediate_stat="ENROUTE")
    submit(peer, registered_delivery=0x11)
    clock.advance(0)
    (first,) = peer.received()
    assert first.params["esm_class"] == 0x20
    assert first.tlvs["message_state"] == MessageState.ENROUTE
    clock.advance(5.0)
    (final,) = peer.received()
    assert final.params["esm_class"] == 0x04
    peer.ack([first, final])
    assert (sim.counters.intermediate_sent, sim.counters.receipts_sent) == (1, 1)


def test_early_receipt_precedes_the_response() -> None:
    """When early_receipt is 1, the receipt is written before the submit_sm_resp on the
    same transceiver; with a lag the response waits that long after it."""
    sim, clock, peer = bound(early_receipt=1.0, early_receipt_lag=0.5)
    peer.send("submit_sm", SUBMIT)
    (dlr,) = peer.received()
    assert dlr.command == "deliver_sm"
    clock.advance(0.5)
    (resp,) = peer.received()
    assert resp.command == "submit_sm_resp"
    assert dlr.tlvs["receipted_message_id"] == resp.params["message_id"]


def test_receipts_held_until_a_receiver_binds() -> None:
    """When the ESME is bound as transmitter only, receipts are held; when a receiver of
    the same system_id binds, they are pushed to it."""
    sim, clock, factory = make(receipt_delay=1.0)
    tx = Peer(sim, factory)
    tx.bind("transmitter")
    ids = [submit(tx).params["message_id"] for _ in range(3)]
    clock.advance(1.0)
    assert tx.received() == [] and sim.held == 3
    rx = Peer(sim, factory)
    rx.bind("receiver")
    clock.advance(0)
    dlrs = rx.received()
    assert [d.tlvs["receipted_message_id"] for d in dlrs] == ids and sim.held == 0


@pytest.mark.parametrize("label", ["error status", "no answer", "connection lost"])
def test_failed_push_is_retried(label: str) -> None:
    """When a receipt's deliver_sm is nacked, unanswered or cut off, it is held and pushed
    again (on the retry timer, or when a receiver binds again)."""
    sim, clock, factory = make(receipt_delay=0, deliver_timeout=3.0, retry_interval=5.0)
    peer = Peer(sim, factory)
    peer.bind()
    submit(peer)
    clock.advance(0)
    (dlr,) = peer.received()
    if label == "error status":
        peer.ack([dlr], Status.ESME_RX_T_APPN)
        clock.advance(5.0)
        target = peer
    elif label == "no answer":
        clock.advance(3.0)
        clock.advance(5.0)
        target = peer
    else:
        peer.proto.connectionLost(None)
        target = Peer(sim, factory)
        target.bind()
        clock.advance(0)
    assert sim.counters.push_failures == 1
    (again,) = [p for p in target.received() if p.command == "deliver_sm"]
    assert again.tlvs == dlr.tlvs
    target.ack([again])
    assert (sim.counters.receipts_sent, sim.held) == (1, 0)


def test_held_receipts_are_bounded() -> None:
    """When more receipts wait than max_held, the oldest are dropped and counted."""
    sim, clock, factory = make(receipt_delay=0, max_held=2)
    tx = Peer(sim, factory)
    tx.bind("transmitter")
    for _ in range(5):
        submit(tx)
    clock.advance(0)
    assert (sim.held, sim.counters.dropped) == (2, 3)


# --------------------------------------------------------------------- faults

@pytest.mark.parametrize("label,fault,status", [
    ("throttle", throttle(), Status.ESME_RTHROTTLED),
    ("reject", reject(Status.ESME_RINVDSTADR), Status.ESME_RINVDSTADR),
    ("syserr", Fault("syserr", Status.ESME_RSYSERR), Status.ESME_RSYSERR),
    ("vendor", reject(0x401), 0x401),
])
def test_scripted_error_answers(label: str, fault: Fault, status: int) -> None:
    """When a fault is scripted, the next submit is answered with its status, the one after
    normally, and no receipt is planned for the refused one."""
    sim, clock, peer = bound()
    sim.faults.scripted([fault])
    assert submit(peer).status == status, label
    assert submit(peer).status == 0
    assert sim.counters.by_status == {status: 1, 0: 1} and sim.receipts_pending == 1


def test_slow_drop_and_disconnect() -> None:
    """When scripted: slow answers after its delay, drop never answers, disconnect closes
    the connection without an answer."""
    sim, clock, peer = bound()
    sim.faults.scripted([slow(2.0), drop(), disconnect()])
    peer.send("submit_sm", SUBMIT)
    assert peer.received() == []
    clock.advance(2.0)
    assert peer.received()[0].command == "submit_sm_resp"
    peer.send("submit_sm", SUBMIT)
    clock.advance(60)
    assert [p.command for p in peer.received() if p.command == "submit_sm_resp"] == []
    assert sim.counters.unanswered == 1
    peer.send("submit_sm", SUBMIT)
    assert peer.transport.disconnecting or peer.transport.disconnected
    assert sim.counters.disconnects == 1


def test_disconnect_after_n_messages() -> None:
    """When disconnect_after is 3, three submits are answered and the connection is then
    dropped (once)."""
    sim, clock, peer = bound()
    sim.faults.disconnect_after = 3
    for _ in range(2):
        assert submit(peer).status == 0
    assert submit(peer).status == 0
    clock.advance(0)
    assert peer.transport.disconnecting and sim.faults.disconnect_after is None


def test_probabilities_change_at_run_time_and_follow_the_seed() -> None:
    """When throttle is set to 0.3 mid-run, about 30% of later submits are throttled, the
    same ones for the same seed; set back to 0, none are."""
    outcomes = []
    for _ in range(2):
        sim, _, peer = bound(seed=3)
        assert submit(peer).status == 0
        sim.faults.throttle = 0.3
        outcomes.append([submit(peer).status for _ in range(500)])
        sim.faults.throttle = 0
        assert all(submit(peer).status == 0 for _ in range(50))
    assert outcomes[0] == outcomes[1]
    assert 0.25 < outcomes[0].count(Status.ESME_RTHROTTLED) / 500 < 0.35


def test_fault_settings_are_checked() -> None:
    """When a fault is set to nonsense, it is refused with a message naming it."""
    sim, _, _ = make()
    with pytest.raises(ValueError, match="throttle"):
        sim.faults.throttle = 1.5
    sim.faults.throttle = 0.7
    with pytest.raises(ValueError, match="add up"):
        sim.faults.reject = 0.5
    with pytest.raises(ValueError, match="disconnect_after"):
        sim.faults.disconnect_after = 0


def test_reject_destinations_and_submit_multi() -> None:
    """When a prefix is rejected, submit_sm to it gets that status, and submit_multi lists
    it in unsuccess_sme while the other destinations get one id and a receipt each."""
    sim, clock, peer = bound(receipt_delay=0)
    sim.faults.reject_destinations["4479"] = Status.ESME_RINVDSTADR  # changed in place
    assert submit(peer, destination_addr="447912345678").status == Status.ESME_RINVDSTADR
    dests = [{"dest_flag": 1, "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": a}
             for a in ("447700900001", "447912345678", "447700900002")]
    peer.send("submit_multi", {"source_addr": "ACME", "dest_address": dests,
                               "short_message": b"hi all", "registered_delivery": 1})
    (resp,) = peer.received()
    assert [u["destination_addr"] for u in resp.params["unsuccess_sme"]] == ["447912345678"]
    clock.advance(0)
    dlrs = peer.received()
    assert sorted(d.params["source_addr"] for d in dlrs) == ["447700900001", "447700900002"]
    assert {d.tlvs["receipted_message_id"] for d in dlrs} == {resp.params["message_id"]}


# --------------------------------------------------------------------- other requests

def test_data_sm_and_query_sm() -> None:
    """When data_sm arrives, data_sm_resp carries an id and the receipt follows; query_sm
    says ENROUTE before the receipt time and the final state after; unknown ids fail."""
    sim, clock, peer = bound(receipt_delay=1.0)
    peer.send("data_sm", {"source_addr": "ACME", "destination_addr": "447700900001",
                          "registered_delivery": 1}, {"message_payload": b"long text"})
    (resp,) = peer.received()
    message_id = resp.params["message_id"]
    peer.send("query_sm", {"message_id": message_id})
    assert peer.received()[0].params["message_state"] == MessageState.ENROUTE
    clock.advance(1.0)
    assert peer.received()[0].tlvs["receipted_message_id"] == message_id
    peer.send("query_sm", {"message_id": message_id})
    assert peer.received()[0].params["message_state"] == MessageState.DELIVERED
    peer.send("query_sm", {"message_id": "nope"})
    assert peer.received()[0].status == Status.ESME_RQUERYFAIL
    assert sim.counters.arrivals[("447700900001", "long text")] == 1


def test_arrivals_count_duplicates_and_counters_mode_keeps_none() -> None:
    """When the same text reaches the same destination twice, duplicates() reports it; in
    counters mode nothing per message is kept."""
    sim, _, peer = bound()
    submit(peer)
    submit(peer)
    submit(peer, destination_addr="447700900002")
    assert sim.counters.duplicates() == {("447700900001", "hello world"): 1}
    sim2, _, peer2 = bound(record="counters", receipt_format="tlv")
    submit(peer2)
    assert not sim2.counters.arrivals and not sim2.counters.log
    assert sim2.counters.submits == 1


# --------------------------------------------------------------------- MO

def test_mo_single_and_concatenated_out_of_order() -> None:
    """When an MO is injected, the receiver gets deliver_sm esm_class 0; a concatenated one
    comes as UDHI parts sharing a reference, reversed when out_of_order is asked."""
    sim, clock, peer = bound()
    assert sim.inject_mo("447700900009", "12345", "STOP") == 1
    (mo,) = peer.received()
    assert (mo.params["esm_class"], mo.params["short_message"]) == (0, b"STOP")
    assert sim.inject_mo("447700900009", "12345", "x" * 400, out_of_order=True) == 3
    parts = peer.received()
    udhs = [parse_udh(p.params["short_message"][:6]).concat for p in parts]
    assert [u[2] for u in udhs] == [3, 2, 1] and len({u[0] for u in udhs}) == 1
    assert all(p.params["esm_class"] == 0x40 for p in parts)
    peer.ack([mo] + parts)
    assert sim.counters.mo_sent == 4


@pytest.mark.parametrize("label,args,count,dc", [
    ("gsm7 forced 2 parts", ("hello there", None, 2), 2, 0),
    ("ucs2 auto", ("привет " * 30, None, None), 4, 8),
    ("latin-1", ("café", 3, None), 1, 3),
])
def test_mo_parts(label: str, args: tuple, count: int, dc: int) -> None:
    """When MO parts are built, the count and data_coding follow the text and options."""
    parts = mo_parts(*args)
    assert len(parts) == count and {p[1] for p in parts} == {dc}, label


def test_mo_held_until_receiver_and_periodic_mo() -> None:
    """When no receiver is bound, an MO waits; a periodic MO starts with start()."""
    sim, clock, factory = make(mo_interval=10.0)
    sim.inject_mo("447700900009", "12345", "hi")
    sim.start()
    clock.advance(10.0)
    assert sim.held == 2
    peer = Peer(sim, factory)
    peer.bind("receiver")
    clock.advance(0)
    texts = [p.params["short_message"] for p in peer.received()]
    assert texts == [b"hi", b"simulated MO 1"]
    sim.stop()
    assert [c for c in clock.getDelayedCalls() if c.func.__name__ == "_random_mo"] == []


# --------------------------------------------------------------------- real TCP

class ClientDelegate:
    def __init__(self) -> None:
        self.pdus: list[Pdu] = []

    def request(self, session: Any, pdu: Pdu) -> dict:
        self.pdus.append(pdu)
        return {}


class LoopbackTests(unittest.TestCase):
    """The simulator on 127.0.0.1 with the real reactor."""

    timeout = 20

    async def _listen(self, **settings: Any) -> tuple[UpstreamSimulator, int]:
        sim = UpstreamSimulator(reactor, SimulatorSettings(**settings), Random(5))
        port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            sim.factory())
        self.addCleanup(port.stopListening)
        self.addCleanup(sim.stop)
        return sim, port.getHost().port

    def test_our_client_gets_receipts_with_the_right_id(self) -> Deferred:
        """When our SMPP client binds as transceiver and submits 50 messages to a simulator
        that answers in hex and receipts in decimal, every receipt names its message."""
        async def run() -> None:
            sim, port = await self._listen(id_flavour="hex", receipt_id_flavour="dec",
                                           receipt_delay=0.05, tick=0.01)
            delegate = ClientDelegate()
            client = await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(
                SmppClientFactory(reactor, SessionSettings(window=20), delegate))
            await client.bind("transceiver", "upstream", "secret")
            resps = await defer.gatherResults([client.submit(SUBMIT) for _ in range(50)])
            while len(delegate.pdus) < 50:
                await task.deferLater(reactor, 0.01, lambda: None)
            got = sorted(int(receipt_from_fields(p.params, p.tlvs).message_id)
                         for p in delegate.pdus)
            assert got == sorted(int(r.params["message_id"], 16) for r in resps)
            while sim.counters.receipts_sent < 50:
                await task.deferLater(reactor, 0.01, lambda: None)
            await client.unbind()
        return defer.ensureDeferred(run())

    def test_smpplib_client(self) -> Deferred:
        """When the third-party smpplib binds as transceiver and submits, it gets an id and
        then a receipt deliver_sm carrying that id."""
        async def run() -> None:
            sim, port = await self._listen(receipt_delay=0.05, tick=0.01)

            def esme() -> tuple[str, str]:
                seen: dict[str, str] = {}
                c = smpplib.client.Client("127.0.0.1", port, timeout=5,
                                            allow_unknown_opt_params=True)
                c.set_message_sent_handler(lambda pdu: seen.setdefault(
                    "sent", pdu.message_id.decode()))
                c.set_message_received_handler(lambda pdu: seen.setdefault(
                    "receipt", pdu.receipted_message_id.decode()) and None)
                c.connect()
                try:
                    c.bind_transceiver(system_id="upstream", password="secret")
                    c.send_message(source_addr="ACME", destination_addr="447700900001",
                                   short_message=b"hi", registered_delivery=1)
                    while "receipt" not in seen:
                        c.read_once()
                    c.unbind()
                finally:
                    c.disconnect()
                return seen["sent"], seen["receipt"]

            sent, receipt = await threads.deferToThread(esme)
            assert sent == receipt and sim.counters.submits == 1
        return defer.ensureDeferred(run())

    def test_service_listens_on_an_endpoint_string(self) -> Deferred:
        """When the simulator runs as a Service on an endpoint string, an ESME can bind to
        it, and stopping the service stops listening and the MO timer."""
        async def run() -> None:
            sim = UpstreamSimulator(reactor, SimulatorSettings(mo_interval=60), Random(1))
            svc = sim.service(reactor, "tcp:0:interface=127.0.0.1")
            svc.startService()
            port = await svc._waitingForPort
            client = await endpoints.TCP4ClientEndpoint(
                reactor, "127.0.0.1", port.getHost().port).connect(
                SmppClientFactory(reactor, SessionSettings(), ClientDelegate()))
            await client.bind("receiver", "upstream", "secret")
            assert sim.counters.binds == 1 and sim._mo_timer is not None
            await client.unbind()
            await svc.stopService()
            assert sim._mo_timer is None
        return defer.ensureDeferred(run())


# --------------------------------------------------------------------- CLI

@pytest.mark.parametrize("label,args,message", [
    ("no outcome weight", ["--delivered", "0", "--undeliverable", "0", "--expired", "0"],
     "positive weight"),
    ("bad endpoint", ["--listen", "nonsense:1"], "nonsense"),
    ("rates over 1", ["--throttle-rate", "0.6", "--reject-rate", "0.6"], "add up"),
])
def test_cli_refuses_bad_options(label: str, args: list[str], message: str) -> None:
    """When `smsc simulate upstream` gets options it cannot run with, it says why in one
    line and exits 1 (before starting the reactor)."""
    from click.testing import CliRunner

    from smsc.cli.simulate_upstream import upstream_command

    result = CliRunner().invoke(upstream_command, args)
    assert result.exit_code == 1, label
    assert message in result.output and "Traceback" not in result.output


def test_cli_builds_the_settings() -> None:
    """When the CLI's options are given, the simulator settings follow them."""
    from smsc.cli.simulate_upstream import build_settings

    s = build_settings("carrier", "pw", False, 0.5, 0.8, 0.2, 0, 0, "hex", "dec", "tlv", 0.1,
                       2.0)
    assert (s.system_id, s.password, s.receipt_delay, dict(s.outcomes)) == (
        "carrier", "pw", 0.5, {"DELIVRD": 0.8, "UNDELIV": 0.2})
    assert (s.id_flavour, s.receipt_flavour, s.receipt_format, s.early_receipt,
            s.mo_interval, s.record) == ("hex", "dec", "tlv", 0.1, 2.0, "counters")


@pytest.mark.parametrize("label,validity,status,stat", [
    ("longer than the delay", "000000001000000R", 0, "DELIVRD"),
    ("shorter than the delay", "000000000001000R", 0, "EXPIRED"),
    ("malformed", "tomorrow", Status.ESME_RINVEXPIRY, None),
])
def test_validity_period(label: str, validity: str, status: int, stat: str | None) -> None:
    """When validity_period ends before the delivery delay, the receipt says EXPIRED at the
    end of the validity; a malformed one is refused with ESME_RINVEXPIRY."""
    sim, clock, peer = bound(receipt_delay=5.0)
    assert submit(peer, validity_period=validity).status == status, label
    clock.advance(5.0)
    dlrs = peer.received()
    assert [parse_receipt_text(d.params["short_message"]).stat for d in dlrs] == (
        [stat] if stat else [])


def test_mo_goes_to_whoever_is_bound_when_any_system_id_is_accepted() -> None:
    """When binds of any system_id are accepted and no system_id is named, an MO goes to
    the receiver that is bound; a named system_id with no receiver keeps it held."""
    sim, clock, factory = make(accept_any=True)
    peer = Peer(sim, factory)
    peer.bind("receiver", system_id="someone", password="x")
    sim.inject_mo("447700900009", "12345", "YES")
    sim.inject_mo("447700900009", "12345", "NO", system_id="nobody")
    assert [p.params["short_message"] for p in peer.received()] == [b"YES"]
    assert sim.held == 1
