"""One simulated modem: state + interpreter + network + faults + pty, and its control API.

Tests, the benchmark and ``smsc simulate modems`` use the same object. It can run without a
pty (``feed`` bytes in, ``output`` callback out) for fast Clock-driven tests, or on a real pty
(`open`) for the pyserial path. Time comes only from the injected clock.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorFDSet, IReactorTime

from modemfarm.simulator import pdu_sim, sms
from modemfarm.simulator.faults import Faults, apply_fault
from modemfarm.simulator.interpreter import Interpreter
from modemfarm.simulator.network import Network, ReportPlan
from modemfarm.simulator.ptyport import PtyPort
from modemfarm.simulator.state import (
    REC_READ,
    SIM_ABSENT,
    SIM_PIN,
    SIM_PUK,
    SIM_READY,
    Identity,
    ModemState,
)
from modemfarm.simulator.transcript import Transcript

BOOT_URCS = ("RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready")


class SimModem:
    """A faithful-enough AT modem for SMS, with fault injection."""

    def __init__(self, index: int, clock: IReactorTime, *, seed: int = 0,
                 reactor: IReactorFDSet | None = None, identity: Identity | None = None,
                 network: Network | None = None, link_dir: str | None = None,
                 transcript: Transcript | None = None,
                 output: Callable[[bytes], None] | None = None,
                 boot_time: float = 1.0, sim_busy_after_pin: float = 0.5,
                 sim_busy_after_boot: float = 0.0, mr_start: int | None = None,
                 usb_names: Callable[[], str] | None = None) -> None:
        self.index = index
        self.clock = clock
        self.rng = random.Random(f"{seed}:{index}")
        self.reactor = reactor
        self.state = ModemState(identity or Identity.generate(self.rng, index))
        self.state.next_mr = self.rng.randrange(256) if mr_start is None else mr_start % 256
        self.faults = Faults()
        self.network = network or Network(random.Random(f"{seed}:{index}:net"))
        self.interpreter = Interpreter(self)
        self.sms = sms.SmsService(self)
        self.link_dir = link_dir
        self.transcript = transcript
        self.output = output
        self.boot_time = boot_time
        self.sim_busy_after_pin = sim_busy_after_pin
        self.sim_busy_after_boot = sim_busy_after_boot
        self.usb_names = usb_names or (lambda: f"ttyUSB{index}")
        self.port: PtyPort | None = None
        self.unplugged = False
        self.reboots = 0
        self._noise_call: Any = None
        self._calls: set[IDelayedCall] = set()

    # -- wiring --------------------------------------------------------------------------------
    @property
    def imei(self) -> str:
        return self.state.identity.imei

    @property
    def path(self) -> str | None:
        """The device path a driver should open (None while unplugged or without a pty)."""
        return self.port.path if self.port is not None else None

    @property
    def sent(self) -> list[sms.SentMessage]:
        return self.sms.sent

    def open(self) -> str:
        """Create the pty (and links under ``link_dir``); return the path to give the driver."""
        if self.reactor is None:
            raise RuntimeError("SimModem.open needs a reactor (IReactorFDSet)")
        links = []
        if self.link_dir:
            links = [os.path.join(self.link_dir, self.usb_names()),
                     os.path.join(self.link_dir, "by-id", f"sim-modem-{self.imei}")]
        self.port = PtyPort(self.reactor, self.feed, links)
        path = self.port.open()
        self.unplugged = False
        if self.transcript:
            self.transcript.note(f"plugged in at {self.port.device} ({path})")
        return path

    def close(self) -> None:
        """Remove the device for good (stop timers, close the pty, close the transcript)."""
        self._stop_noise()
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls.clear()
        if self.port is not None:
            self.port.close()
            self.port = None
        self.unplugged = True
        if self.transcript:
            self.transcript.close()

    def feed(self, data: bytes) -> None:
        """Bytes from the driver."""
        if self.transcript:
            self.transcript.record("->", data)
        self.interpreter.feed(data)

    def write(self, data: bytes) -> None:
        """Bytes to the driver."""
        if self.unplugged or self.hanging():
            return
        if self.transcript:
            self.transcript.record("<-", data)
        if self.port is not None:
            self.port.write(data)
        if self.output is not None:
            self.output(data)

    # -- used by handlers ----------------------------------------------------------------------
    def hanging(self) -> bool:
        return self.clock.seconds() < self.faults.hang_until

    def registration_stat(self) -> int:
        state = self.state
        if state.cfun != 1 or state.sim.state != SIM_READY:
            return 0
        return state.creg_stat

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> IDelayedCall:
        """clock.callLater, remembered so that `close` can cancel whatever is still pending."""
        self._calls = {c for c in self._calls if c.active()}
        call = self.clock.callLater(delay, fn, *args)
        self._calls.add(call)
        return call

    def schedule_urc(self, delay: float, text: str) -> None:
        self.later(delay, self.interpreter.urc, text)

    def cancel_prompt(self) -> None:
        self.sms.cancel_prompt()

    def submit_pdu(self, pdu: str, length: int) -> None:
        self.sms.submit_pdu(pdu, length)

    # -- control API ---------------------------------------------------------------------------
    def inject_mo(self, sender: str, text: str, *, sixteen_bit: bool = False,
                  order: str | list[int] = "in", duplicate: bool = False,
                  drop: list[int] | None = None, gap: float = 0.0) -> list[str]:
        """An MO from ``sender``: one SMS-DELIVER per part, ``gap`` seconds apart; returns PDUs."""
        pdus = self.network.mo_pdus(sender, text, self.clock.seconds(), sixteen_bit=sixteen_bit,
                                    order=order, duplicate=duplicate, drop=drop)
        for i, pdu in enumerate(pdus):
            if gap > 0:
                self.later(gap * i, self.sms.deliver, "mo", pdu)
            else:
                self.sms.deliver("mo", pdu)
        return pdus

    def script_reports(self, *plans: ReportPlan | None) -> None:
        """Status reports for the next submits, in order (None: that submit gets no report)."""
        self.network.scripted_reports.extend(plans)

    def inject_report(self, mr: int, recipient: str, status: int, early: bool = False) -> str:
        """A status report for an arbitrary MR (orphans, reports after an MR wrap)."""
        now = self.clock.seconds()
        pdu = pdu_sim.encode_status_report(mr, recipient, pdu_sim.utc(now), pdu_sim.utc(now),
                                           status, sca=self.network.sca)
        self.sms.deliver("report", pdu, immediate=early)
        return pdu

    def set_signal(self, rssi: int, creg_stat: int | None = None) -> None:
        """rssi 0..31 or 99 (unknown); creg_stat 0 none, 1 home, 2 searching, 3 denied, 5 roaming."""
        self.state.rssi = rssi
        if creg_stat is not None:
            self.state.creg_stat = creg_stat
            if self.state.creg_n:
                self.interpreter.urc(f"+CREG: {creg_stat}")

    def set_sim(self, state: str, busy_for: float = 0.0) -> None:
        if state not in (SIM_READY, SIM_PIN, SIM_PUK, SIM_ABSENT):
            raise ValueError(f"unknown SIM state {state!r}")
        self.state.sim.state = state
        self.state.sim.busy_until = self.clock.seconds() + busy_for

    def fill_storage(self, memory: str = "SM") -> None:
        """Storage full: fill ``memory`` with read messages (the driver must clean up)."""
        store = self.state.memories[memory]
        filler = pdu_sim.encode_deliver("+15550009999", "old", pdu_sim.utc(0), sca=self.network.sca)
        while store.store(filler[0], REC_READ) is not None:
            pass

    def inject_fault(self, kind: str, **params: Any) -> None:
        """Name a fault; see faults.apply_fault for the interpreter-level ones."""
        if kind == "no_signal":
            self.set_signal(99, params.get("creg_stat", 2))
        elif kind == "signal":
            self.set_signal(int(params.get("rssi", 20)), params.get("creg_stat", 1))
        elif kind in ("sim_absent", "sim_pin", "sim_puk"):
            self.set_sim({"sim_absent": SIM_ABSENT, "sim_pin": SIM_PIN, "sim_puk": SIM_PUK}[kind])
        elif kind == "sim_busy":
            self.set_sim(SIM_READY, float(params.get("seconds", 5.0)))
        elif kind == "storage_full":
            self.fill_storage(params.get("memory", "SM"))
        elif kind == "reboot":
            self.later(float(params.get("after", 0.0)), self.reboot)
        elif kind == "unplug":
            self.unplug(replug_after=params.get("replug_after"))
        else:
            apply_fault(self.faults, kind, self.clock.seconds(), **params)
            if kind == "noise":
                self._start_noise()
            elif kind == "sms_not_ready":
                self.later(self.faults.sms_ready_at - self.clock.seconds(),
                           self.interpreter.urc, "SMS Ready")

    def reboot(self) -> None:
        """Power cycle: silence, then boot URCs with settings back to defaults."""
        self.reboots += 1
        self.interpreter.reset()
        self.interpreter.mode = "off"
        self.faults.hang_until = 0.0
        if self.transcript:
            self.transcript.note("reboot")
        if self.faults.reboot_unplugs and self.port is not None:
            self.unplug(replug_after=self.boot_time)  # replug() runs the boot
            return
        self.later(self.boot_time, self._booted)

    def _booted(self) -> None:
        state = self.state
        state.power_on_defaults()
        if not self.faults.persist_mr:
            state.next_mr = 0
        state.sim.busy_until = self.clock.seconds() + self.sim_busy_after_boot
        self.interpreter.mode = "command"
        for urc in BOOT_URCS:
            if urc == "+CPIN: READY" and state.sim.state != SIM_READY:
                self.interpreter.urc(f"+CPIN: {state.sim.state}")
            else:
                self.interpreter.urc(urc)
        self.sms.flush_waiting()

    def unplug(self, replug_after: float | None = None) -> None:
        """The device vanishes (USB reset); with ``replug_after`` it comes back under a new name."""
        if self.transcript:
            self.transcript.note("unplugged")
        self.unplugged = True
        self.interpreter.reset()
        self.interpreter.mode = "off"
        if self.port is not None:
            self.port.close()
            self.port = None
        if replug_after is not None:
            self.later(float(replug_after), self.replug)

    def replug(self) -> str:
        """Come back (new pty, new ttyUSB name, same by-id link); boot URCs follow."""
        path = self.open()
        self.interpreter.mode = "command"
        self.state.power_on_defaults()
        self.later(0.05, self._booted)
        return path

    def _start_noise(self) -> None:
        self._stop_noise()
        interval = self.faults.noise_interval
        if interval > 0 and math.isfinite(interval):
            self._noise_call = self.later(interval, self._noise)

    def _noise(self) -> None:
        self._noise_call = None
        if not self.unplugged:
            self.interpreter.urc(f"^RSSI:{self.state.rssi}")
        self._start_noise()

    def _stop_noise(self) -> None:
        if self._noise_call is not None and self._noise_call.active():
            self._noise_call.cancel()
        self._noise_call = None
