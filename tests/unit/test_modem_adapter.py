"""The modem pool adapter (smsc/upstreams/modems.py) on a Clock: outcomes, DLR keys written at
+CMGS, status reports and MO into the inbound path, SIM counters and operator controls in a
real SQLite database (transactions run synchronously so the Clock drives everything)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from modemfarm.modem import ModemConfig, ModemState
from modemfarm.modem_receive import ReceivedSms, ReportEvent
from modemfarm.modem_send import UnknownPolicy
from modemfarm.pdu import decode_pdu
from modemfarm.pool import PoolConfig
from modemfarm.reports import status_meaning
from modemfarm.simulator import pdu_sim
from smsc.store import migrate
from smsc.store import modems as store
from smsc.store.db import Database
from smsc.store.schema import dlr_keys, modem_usage
from smsc.upstreams.base import Accepted, OutboundSms, Reject, Retry
from smsc.upstreams.modems import ModemUpstream, ModemUpstreamSettings, encoding_for, remote_id_for
from tests.modemfarm.fake_at import FakeModem

NOW = 1_700_000_000


class Events:
    """What InboundSink gets: receipts and MO, answered after a (here immediate) commit."""

    def __init__(self) -> None:
        self.receipts: list[tuple] = []
        self.mo: list = []

    def receipt(self, upstream, remote_id, state, error_code):
        self.receipts.append((upstream, remote_id, state, error_code))
        return succeed(None)

    def mo_event(self, event):
        self.mo.append(event)
        return succeed(None)


class Rack:
    def __init__(self, tmp_path, n: int = 1, hold: bool = False, policy=UnknownPolicy.FAIL, **pool) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.db = Database(f"sqlite:///{tmp_path / 'smsc.db'}", self.clock)
        migrate.upgrade(self.db.engine)
        self.hold = hold
        self.held: list[Deferred] = []
        self.devices = {f"/dev/serial/by-id/m{i}": FakeModem(self.clock, imei=f"35693803564380{i}",
                                                             imsi=f"00101012345678{i}") for i in range(n)}
        self.events = Events()
        self.upstream = self.make(policy, **pool)
        self.upstream.startService()
        self.clock.advance(1)

    def make(self, policy=UnknownPolicy.FAIL, **pool) -> ModemUpstream:
        def opener(path, *, on_urc, on_lost):
            return self.devices[path].opener(path, on_urc=on_urc, on_lost=on_lost)

        return ModemUpstream(ModemUpstreamSettings(unknown_policy=policy, control_interval=1.0),
                             PoolConfig(rate_per_minute=600, burst=5, **pool),
                             ModemConfig(send_timeout=5, unknown_policy=policy), clock=self.clock, opener=opener,
                             run_interaction=self.run, events=self.events, paths=tuple(self.devices))

    def run(self, desc, fn, *args, readonly=False, **kw):
        try:
            result = self.db.run_sync(desc, fn, *args, readonly=readonly, **kw)
        except Exception:  # noqa: BLE001 - handed back as a failed Deferred, like run_interaction
            return fail()
        if self.hold and desc == "modem_dlr_keys":
            d: Deferred = Deferred()
            self.held.append(d)
            return d.addCallback(lambda _: result)
        return succeed(result)

    def query(self, statement):
        return [tuple(r) for r in self.db.run_sync("q", lambda c: list(c.execute(statement)))]

    def send(self, sms: OutboundSms) -> list:
        got: list = []
        self.upstream.send(sms).addCallback(got.append)
        for _ in range(20):
            self.clock.advance(0.5)
        return got

    @property
    def device(self) -> FakeModem:
        return next(iter(self.devices.values()))


def segment(message_id: int = 1, dest: str = "4915112345678", text: str = "hello", *, part=1, parts=1,
            udh: bytes = b"", data_coding: int = 0, payload: bytes | None = None, ton: int = 1) -> OutboundSms:
    body = payload if payload is not None else bytes(ord(c) for c in text)
    return OutboundSms(message_id=message_id, segment=part, total_segments=parts, source_addr="Shop", source_ton=5,
                       source_npi=0, dest_addr=dest, dest_ton=ton, dest_npi=1, data_coding=data_coding,
                       esm_class=0x40 if udh else 0, udh=udh, payload=body, registered_delivery=1, priority=0,
                       validity_at=datetime.fromtimestamp(NOW + 3600, timezone.utc), text=text)


@pytest.mark.parametrize("label, script, policy, expected, cause, other", [
    ("sent", None, UnknownPolicy.FAIL, Accepted, None, None),
    ("network out of order", ("CMS", 38), UnknownPolicy.FAIL, Retry, "retry_other_modem", True),
    ("unassigned number", ("CMS", 1), UnknownPolicy.FAIL, Reject, "fail_message", False),
    ("SIM not inserted", ("CMS", 310), UnknownPolicy.FAIL, Retry, "modem_out_of_service", True),
    ("bare ERROR", "ERROR", UnknownPolicy.FAIL, Retry, "retry_other_modem", True),
    ("unknown, at most once", "hang", UnknownPolicy.FAIL, Reject, "upstream_reject", False),
    ("unknown, same modem", "hang", UnknownPolicy.RETRY_SAME_MODEM, Retry, "retry_same_later", False),
    ("unknown, requeue", "hang", UnknownPolicy.REQUEUE, Retry, "timeout", True),
])
def test_modem_outcomes_map_to_the_upstream_contract(tmp_path, label, script, policy, expected, cause, other):
    """When the modem answers (or not), the adapter answers Accepted / Retry / Reject with the
    CMS class as the cause; an unknown outcome follows the configured policy and is counted."""
    rack = Rack(tmp_path, policy=policy)
    rack.device.cmgs_script = [script]
    got = rack.send(segment())
    assert len(got) == 1 and isinstance(got[0], expected), (label, got)
    if cause is not None:
        assert got[0].cause == cause, label
        assert got[0].try_other_upstream is other, label
    assert rack.upstream.counts["unknown_outcome"] == (1 if script == "hang" else 0), label
    assert rack.upstream.in_flight == 0


def test_dlr_key_is_committed_before_the_outcome(tmp_path):
    """When the modem gives the TP-MR, the key (imei:mr:digits) is written first; the send is
    answered only after that commit, so an immediate status report already matches."""
    rack = Rack(tmp_path, hold=True)
    got: list = []
    rack.upstream.send(segment(7, "+4915112345678")).addCallback(got.append)
    rack.clock.advance(1)
    assert got == [] and len(rack.held) == 1
    rid = remote_id_for(rack.device.imei, rack.device.mr, "4915112345678")
    assert rack.query(sa.select(dlr_keys.c.upstream, dlr_keys.c.remote_id, dlr_keys.c.message_id, dlr_keys.c.part)) \
        == [("modems", rid, 7, 1)]
    rack.held[0].callback(None)
    rack.clock.advance(1)
    assert got == [Accepted(rid)]


def test_mr_wrap_newest_mapping_wins(tmp_path):
    """When the MR wraps and the same recipient gets the same MR again, the key points to the
    newer message: a report can only be about the latest submission."""
    rack = Rack(tmp_path)
    rack.device.mr = 254
    first = rack.send(segment(1))[0]
    rack.device.mr = 254
    second = rack.send(segment(2))[0]
    assert first == second
    assert rack.query(sa.select(dlr_keys.c.remote_id, dlr_keys.c.message_id)) == [(first.remote_id, 2)]


@pytest.mark.parametrize("label, status, smpp_state", [
    ("delivered", 0x00, 2), ("still trying (intermediate)", 0x20, 1), ("validity expired", 0x46, 3),
    ("deleted by SC", 0x48, 4), ("incompatible destination", 0x41, 5), ("rejected by SME", 0x42, 8),
    ("reserved value", 0x90, 7),
])
def test_status_reports_become_receipts(tmp_path, label, status, smpp_state):
    """When a status report is read, the inbound path gets a receipt under the pool's name with
    the same remote id the send was accepted with, its SMPP state, and TP-ST as error code."""
    rack = Rack(tmp_path)
    accepted = rack.send(segment(3, "+4915112345678"))[0]
    mr = rack.device.mr
    pdu = pdu_sim.encode_status_report(mr, "+4915112345678", pdu_sim.utc(NOW), pdu_sim.utc(NOW), status)
    event = ReportEvent(rack.device.imei, rack.device.imsi, pdu, decode_pdu(pdu), status_meaning(status))
    rack.upstream.status_report(event)
    assert rack.events.receipts == [("modems", accepted.remote_id, smpp_state, status)], label


def test_concatenated_mo_parts_pass_through_with_their_udh(tmp_path):
    """When a long MO arrives, each part goes to the inbound path as it came, UDH included and
    flagged (esm_class UDHI), like an SMPP carrier's MO: the ESME reassembles."""
    rack = Rack(tmp_path)
    text = "Ünïcode reply that is long enough to need two parts " * 2
    pdus = pdu_sim.encode_deliver("+4915112345678", text, pdu_sim.utc(NOW), reference=9)
    assert len(pdus) == 2
    for pdu in reversed(pdus):  # out of order
        rack.upstream.mo_received(ReceivedSms(rack.device.imei, rack.device.imsi, "SM", 1, pdu, decode_pdu(pdu)))
    events = rack.events.mo
    assert [(e.source_addr, e.source_ton, e.dest_addr, e.esm_class) for e in events] == \
        [("4915112345678", 1, rack.device.imsi, 0x40)] * 2
    assert [e.body[:6] for e in events] == [bytes([5, 0, 3, 9, 2, 2]), bytes([5, 0, 3, 9, 2, 1])]
    assert events[1].text + events[0].text == text


@pytest.mark.parametrize("label, data_coding, expected", [
    ("SMSC default = GSM 7-bit", 0, ("gsm7", None)), ("IA5 announced for GSM", 1, ("gsm7", None)),
    ("UCS-2", 8, ("ucs2", None)), ("binary", 4, ("8bit", None)), ("class 1 8-bit", 0xF5, ("8bit", 0xF5)),
])
def test_data_coding_to_tpdu_alphabet(label, data_coding, expected):
    """SMPP data_coding values the dispatcher emits map to the TPDU alphabet."""
    assert encoding_for(data_coding) == expected, label


def test_unencodable_segments_are_rejected_at_once(tmp_path):
    """When a segment cannot go in a TPDU (Latin-1 relayed as is, or a septet above 127), the
    adapter rejects it at once as a message fault, without touching a modem."""
    rack = Rack(tmp_path)
    latin1 = rack.send(segment(data_coding=3))[0]
    bad_septet = rack.send(segment(payload=b"\xe9t\xe9"))[0]
    assert isinstance(latin1, Reject) and latin1.cause == "fail_message" and "data_coding" in latin1.reason
    assert isinstance(bad_septet, Reject) and "septet" in bad_septet.reason
    assert rack.device.payloads == []


def test_rest_of_a_long_message_leaves_from_the_same_sim_even_after_a_restart(tmp_path):
    """When part 1 left from one modem, part 2 is pinned to it, also for a new adapter (after a
    restart) that finds the SIM again through the DLR keys."""
    rack = Rack(tmp_path, n=3)
    udh = lambda k: bytes([5, 0, 3, 0x42, 2, k])  # noqa: E731
    first = rack.send(segment(5, part=1, parts=2, udh=udh(1)))[0]
    imei = first.remote_id.split(":")[0]
    rack.upstream.stopService()
    rack.upstream = rack.make()  # a fresh adapter: nothing pinned in memory
    rack.upstream.startService()
    rack.clock.advance(1)
    for _ in range(3):  # other traffic spreads over the rack meanwhile
        rack.send(segment(100 + _))
    second = rack.send(segment(5, part=2, parts=2, udh=udh(2)))[0]
    assert second.remote_id.split(":")[0] == imei


def test_sim_counters_are_kept_in_the_database_and_caps_apply(tmp_path):
    """When a SIM has a daily cap, its count survives in modem_usage; at the cap the pool is no
    longer usable and capacity drops to zero."""
    rack = Rack(tmp_path, daily_cap=2)
    assert rack.upstream.is_usable() and rack.upstream.capacity() == 1  # one modem, ready now
    assert all(isinstance(rack.send(segment(i))[0], Accepted) for i in (1, 2))
    sim = rack.device.imsi
    day = datetime.fromtimestamp(rack.clock.seconds(), timezone.utc)
    assert rack.run("t", store.load_usage_txn, sim, day.strftime("%Y-%m-%d"), day.strftime("%Y-%m")).result == (2, 2)
    assert rack.query(sa.select(sa.func.count()).select_from(modem_usage)) == [(2,)]
    assert not rack.upstream.is_usable() and rack.upstream.capacity() == 0 and rack.upstream.load() == 1.0


def test_operator_controls_disable_enable_and_reset(tmp_path):
    """When an operator disables a modem by path name, the poll takes it out; enable brings it
    back; a reset request is applied once and marked done."""
    rack = Rack(tmp_path)
    modem = rack.upstream.pool.modems[0]
    rack.run("t", store.set_disabled_txn, "m0", True, NOW)
    rack.clock.advance(1.5)
    assert modem.state is ModemState.DISABLED and not rack.upstream.is_usable()
    rack.run("t", store.set_disabled_txn, "m0", False, NOW)
    rack.clock.advance(1.5)
    assert modem.state is ModemState.READY
    rack.run("t", store.request_reset_txn, rack.device.imei, NOW + 5)
    rack.clock.advance(1.5)
    resets = rack.device.commands.count("AT+CFUN=1,1")
    rack.clock.advance(60)
    assert resets == 1 and rack.device.commands.count("AT+CFUN=1,1") == 1
    assert rack.run("t", store.controls_txn).result[0]["reset_done_at"] is not None


def test_validity_follows_the_message_and_is_bounded(tmp_path):
    """The TP-VP asked of the network is what is left of the message's validity, at least 5 min."""
    rack = Rack(tmp_path)
    assert rack.upstream._validity(segment()) == pytest.approx(3600 - 1, abs=1)
    short = replace(segment(), validity_at=datetime.fromtimestamp(NOW + 10, timezone.utc))
    assert rack.upstream._validity(short) == 300.0
    assert rack.upstream._validity(replace(segment(), validity_at=None)) is None


def test_a_report_that_beats_the_dispatchers_commit_is_not_undone(tmp_path):
    """When a status report is applied between the adapter's key write and the dispatcher's
    record of the outcome (a fast network), the dispatcher keeps the key and its final state
    and does not put the delivered message back to SUBMITTED."""
    from smsc.auth import hash_password
    from smsc.cli.send import send_txn, submit_pdu
    from smsc.dlr import ReceiptEvent
    from smsc.store.accounts import create_account_txn
    from smsc.store.dlr import apply_receipts_txn
    from smsc.store.queue import Sent, record_outcomes_txn
    from smsc.store.schema import messages
    from smsc.submit import IntakeLimits

    rack = Rack(tmp_path)
    run = rack.db.run_sync
    run("t", create_account_txn, "app", hash_password("pw"), NOW)
    pdu = submit_pdu(("4915112345678", 1, 1), ("", 0, 0), "hello", receipt=True)
    row = run("t", send_txn, "app", pdu, NOW, IntakeLimits(), 42)
    run("t", lambda c: c.execute(messages.update().values(state="SENDING")))
    rid = remote_id_for(rack.device.imei, 7, "4915112345678")
    run("t", store.write_dlr_keys_txn, [{"upstream": "modems", "remote_id": rid, "message_id": row["id"], "part": 1,
                                         "now": NOW, "usage": ("001", "2023-11-14", "2023-11")}])
    counts = run("t", apply_receipts_txn, NOW + 1, [ReceiptEvent("modems", rid, 2, 0)])
    assert counts["final"] == 1
    run("t", record_outcomes_txn, NOW + 2, [Sent(row["id"], "modems", "rack", ((1, rid),))], [])
    assert rack.query(sa.select(messages.c.state)) == [("DELIVERED",)]
    assert rack.query(sa.select(dlr_keys.c.remote_id, dlr_keys.c.message_id)) == [(rid, row["id"])]  # mapping kept
    assert run("t", store.load_usage_txn, "001", "2023-11-14", "2023-11") == (1, 1)
