"""The whole path a deployment uses: simulated modems on ptys, real pyserial, AtChannel on top.

Real reactor (twisted.trial), bounded in time: latencies are shortened to a fraction of a second.
"""

from __future__ import annotations

import os
import threading

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial import unittest

from modemfarm.at.channel import AtChannel, AtDisconnected, AtResponse, AtTimeout
from modemfarm.serialport import open_serial
from modemfarm.simulator import Latency, ModemFarm, ReportPlan, pdu_sim

RECIPIENT = "+15551234567"
INIT = ("ATE0", "ATV1", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,2,0", 'AT+CPMS="SM","SM","SM"')


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def pause(seconds: float):
    return deferLater(reactor, seconds, lambda: None)


class FarmTestCase(unittest.TestCase):
    timeout = 20

    def setUp(self) -> None:
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.farm = ModemFarm(4, reactor, reactor, seed=3, link_dir=self.dir,
                              transcript_dir=os.path.join(self.dir, "tx"),
                              submit_latency=Latency(0.15, 0.3, 0.05, 0.5), boot_time=0.2)
        self.paths = self.farm.start()
        self.channels: list[tuple[AtChannel, object]] = []
        self.urcs: dict[int, list] = {}
        self.addCleanup(self.farm.stop)

    def tearDown(self) -> None:
        for _, transport in self.channels:
            if transport.connected:
                transport.loseConnection()
        return pause(0.05)

    def connect(self, index: int, path: str | None = None) -> AtChannel:
        urcs = self.urcs.setdefault(index, [])
        channel = AtChannel(None, reactor, on_urc=urcs.append, drain_quiet=0.05,
                            recovery_timeout=1.0)
        transport = open_serial(path or self.paths[index], channel, reactor)
        self.channels.append((channel, transport))
        return channel

    @inlineCallbacks
    def init(self, channel: AtChannel):
        try:  # the first AT may be eaten by a dirty modem; the channel recovers by itself
            yield channel.command("AT", timeout=0.5)
        except AtTimeout:
            pass
        for command in INIT:
            yield channel.command(command, timeout=2.0)
        response = yield channel.command("AT+CNMI?")
        assert response.lines == ["+CNMI: 2,1,0,2,0"]


class InitTests(FarmTestCase):
    @inlineCallbacks
    def test_init_from_dirty_states(self):
        """When modems start echo-on, in V0, stuck in a previous client's prompt, or spewing
        garbage, the channel's init ends with the same known state on each."""
        echo_on, v0, stuck, garbage = self.farm.modems
        v0.feed(b"ATV0\r")
        stuck.feed(b"AT+CMGS=20\r00110")
        channels = [self.connect(i) for i in range(4)]
        yield pause(0.05)
        garbage.write(b"\x00\xff\xfe garbage \r\n> ")
        yield gatherResults([self.init(c) for c in channels])
        for modem in self.farm.modems:
            assert (modem.state.echo, modem.state.verbose, modem.state.cmee) == (False, True, 1)

    @inlineCallbacks
    def test_identity_is_read_and_keyed_by_imei(self):
        """When the driver reads IMEI/IMSI/ICCID over the pty, they match the simulator's."""
        channel = self.connect(1)
        yield self.init(channel)
        imei = yield channel.command("AT+CGSN")
        iccid = yield channel.command("AT+CCID")
        modem = self.farm.modems[1]
        assert imei.lines == [modem.imei]
        assert iccid.lines == [f"+CCID: {modem.state.identity.iccid}"]
        assert os.path.realpath(os.path.join(self.dir, "by-id", f"sim-modem-{modem.imei}")) == \
            os.path.realpath(self.paths[1])


class SendTests(FarmTestCase):
    @inlineCallbacks
    def test_send_then_status_report_over_the_pty(self):
        """When a SUBMIT with SRR goes through pyserial, +CMGS gives the MR and a +CDSI follows
        whose stored report carries that MR; a +CMTI inside a response is not lost either."""
        channel = self.connect(0)
        modem = self.farm.modems[0]
        yield self.init(channel)
        modem.script_reports(ReportPlan.scripted([0x00], delay=0.2))
        pdu, length = pdu_sim.encode_submit(RECIPIENT, "hello", srr=True)
        result = yield channel.command(f"AT+CMGS={length}", payload=pdu, timeout=5.0)
        mr = int(result.lines[0].split(":")[1])
        assert modem.sent[-1].mr == mr and modem.sent[-1].text == "hello"
        yield pause(0.4)
        cdsi = [u for u in self.urcs[0] if u.name == "+CDSI"]
        assert len(cdsi) == 1
        yield channel.command('AT+CPMS="SR"')
        stored = yield channel.command(f"AT+CMGR={cdsi[0].args.split(',')[1]}")
        raw = bytes.fromhex(stored.lines[1])
        assert raw[1 + raw[0] + 1] == mr
        modem.inject_fault("urc_inside_response")
        modem.inject_mo("+15553334444", "inside")
        csq = yield channel.command("AT+CSQ")
        assert csq.lines == ["+CSQ: 20,99"]
        assert any(u.name == "+CMTI" for u in self.urcs[0])

    @inlineCallbacks
    def test_four_modems_send_concurrently(self):
        """When four ports send at once, each gets its own MRs and no reply crosses ports."""
        channels = [self.connect(i) for i in range(4)]
        yield gatherResults([self.init(c) for c in channels])
        pdu, length = pdu_sim.encode_submit(RECIPIENT, "rack")
        sends = [c.command(f"AT+CMGS={length}", payload=pdu, timeout=5.0)
                 for c in channels for _ in range(3)]
        results = yield gatherResults(sends)
        assert all(isinstance(r, AtResponse) and r.lines[0].startswith("+CMGS: ") for r in results)
        assert [len(m.sent) for m in self.farm.modems] == [3, 3, 3, 3]


class DeviceLossTests(FarmTestCase):
    @inlineCallbacks
    def test_unplug_mid_send_fails_cleanly_and_comes_back_elsewhere(self):
        """When the device vanishes mid-send, the command fails with AtDisconnected, every fd of
        the port is closed, no thread appears, and the modem returns under a new ttyUSB name with
        the same IMEI and by-id link."""
        yield pause(0.02)
        fds_before, threads_before = open_fds(), threading.active_count()
        modem = self.farm.modems[2]
        channel = self.connect(2)
        yield self.init(channel)
        modem.inject_fault("slow_cmgs", delay=2.0)
        pdu, length = pdu_sim.encode_submit(RECIPIENT, "doomed")
        sending = channel.command(f"AT+CMGS={length}", payload=pdu, timeout=5.0)
        failures: list = []
        sending.addErrback(failures.append)
        yield pause(0.2)
        old_path = self.paths[2]
        modem.unplug(replug_after=0.3)
        yield pause(0.1)
        assert failures and failures[0].check(AtDisconnected)
        assert open_fds() <= fds_before, open_fds() - fds_before
        assert threading.active_count() == threads_before
        yield pause(0.4)
        new_path = modem.path
        assert new_path != old_path and os.path.exists(new_path) and not os.path.exists(old_path)
        channel2 = self.connect(2, os.path.join(self.dir, "by-id", f"sim-modem-{modem.imei}"))
        yield self.init(channel2)
        imei = yield channel2.command("AT+CGSN")
        assert imei.lines == [modem.imei] and modem.sent == []

    @inlineCallbacks
    def test_cfun_reset_reenumerates_under_a_new_name(self):
        """When AT+CFUN=1,1 makes the USB device re-enumerate, the port is lost after OK and the
        modem comes back as another ttyUSB, reachable again through its by-id link."""
        modem = self.farm.modems[1]
        modem.inject_fault("reboot_unplugs")
        channel = self.connect(1)
        lost: list = []
        channel.on_lost = lost.append
        yield self.init(channel)
        old = self.paths[1]
        yield channel.command("AT+CFUN=1,1")
        yield pause(0.15)
        assert lost and not os.path.exists(old)
        yield pause(0.3)
        assert modem.path != old and os.path.exists(modem.path)
        again = self.connect(1, os.path.join(self.dir, "by-id", f"sim-modem-{modem.imei}"))
        response = yield again.command("AT")
        assert response.final == "OK"

    @inlineCallbacks
    def test_spontaneous_reboot_is_visible(self):
        """When a modem reboots by itself, the channel reports RDY / +CFUN: 1 / +CPIN: READY and
        the next command comes back echoed (echo on again)."""
        channel = self.connect(3)
        yield self.init(channel)
        self.farm.modems[3].inject_fault("reboot")
        yield pause(0.4)
        names = [u.name for u in self.urcs[3]]
        assert "RDY" in names and "+CFUN" in names and "+CPIN" in names
        response = yield channel.command("AT")
        assert response.echoed

    @inlineCallbacks
    def test_hang_then_recovery_over_the_pty(self):
        """When the modem hangs, the command times out, and after the hang the port works again."""
        channel = self.connect(0)
        yield self.init(channel)
        self.farm.modems[0].inject_fault("hang", seconds=0.5)
        try:
            yield channel.command("AT+CSQ", timeout=0.3)
        except AtTimeout:
            pass
        else:
            raise AssertionError("a hung modem answered")
        yield pause(0.5)
        response = yield channel.command("AT+CSQ", timeout=2.0)
        assert response.lines == ["+CSQ: 20,99"]
