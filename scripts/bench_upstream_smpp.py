"""Throughput of the SMPP upstream connector against the upstream simulator over loopback TCP.

The simulator runs in a child process (its own core), the connector in this one, driven like
the dispatcher drives it: as many sends as ``capacity()`` allows, one more each time an
outcome comes back. Reports submits/s (Accepted), receipts/s and this process's CPU time per
message, i.e. the connector + session + codec cost of one submit and one receipt.

    .venv/bin/python scripts/bench_upstream_smpp.py [--count 50000] [--binds 2] [--window 50]
        [--mode transceiver|tx_rx]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

from twisted.internet import defer


def serve(port: int) -> None:
    from twisted.internet import reactor

    from protocols.smpp.simulator import SimulatorSettings, UpstreamSimulator

    sim = UpstreamSimulator(reactor, SimulatorSettings(
        accept_any=True, receipt_delay=0.2, record="counters", deliver_window=200))
    reactor.listenTCP(port, sim.factory(), interface="127.0.0.1")
    reactor.run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Events:
    def __init__(self) -> None:
        self.receipts = 0
        self.done_at = 0.0

    def receipt(self, upstream, remote_id, state, error_code):
        self.receipts += 1
        return defer.succeed(None)

    def mo(self, upstream, pdu):
        return defer.succeed(None)

    def bound_changed(self, upstream) -> None:
        pass


async def run(reactor, args) -> None:
    from smsc.upstreams.base import Accepted, OutboundSms
    from smsc.upstreams.smpp import SmppUpstream, SmppUpstreamSettings

    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)],
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        events = Events()
        up = SmppUpstream(SmppUpstreamSettings(
            name="bench", endpoint=f"tcp:host=127.0.0.1:port={port}", system_id="bench",
            password="x", bind_mode=args.mode, binds=args.binds, window=args.window),
            reactor, events)
        up.startService()
        for _ in range(500):
            if up.capacity() >= args.binds * args.window:
                break
            await _sleep(reactor, 0.01)
        else:
            raise SystemExit(f"not bound after 5 s: {up.stats()}")
        msg = OutboundSms(message_id=1, segment=1, total_segments=1, source_addr="Bench",
                          source_ton=5, source_npi=0, dest_addr="447700900123", dest_ton=1,
                          dest_npi=1, data_coding=0, esm_class=0, udh=b"",
                          payload=b"Hello from the upstream benchmark", registered_delivery=1,
                          priority=0, validity_at=None, text=None)
        sent = accepted = 0
        finished: defer.Deferred = defer.Deferred()

        def outcome(result) -> None:
            nonlocal accepted
            if isinstance(result, Accepted):
                accepted += 1
            if accepted + (sent - accepted) >= args.count and up.in_flight() == 0 \
                    and not finished.called:
                finished.callback(None)
            fill()

        def fill() -> None:
            nonlocal sent
            while sent < args.count and up.capacity() > 0:
                sent += 1
                up.send(msg).addCallback(outcome)

        cpu0, t0 = time.process_time(), time.perf_counter()
        fill()
        await finished
        t_submit = time.perf_counter() - t0
        while events.receipts < accepted:
            await _sleep(reactor, 0.01)
        t_all = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        print(f"mode={args.mode} binds={args.binds} window={args.window} count={args.count}")
        print(f"submits: {accepted} accepted in {t_submit:.2f} s = {accepted / t_submit:,.0f}/s")
        print(f"receipts: {events.receipts} by {t_all:.2f} s = {events.receipts / t_all:,.0f}/s "
              f"(receipt delay 0.2 s)")
        print(f"connector CPU: {cpu:.2f} s = {cpu / accepted * 1e6:.0f} us per submit+receipt")
        print(f"stats: {up.stats()['submits']}")
        await up.stopService()
    finally:
        child.terminate()
        child.wait(5)


def _sleep(reactor, seconds: float) -> defer.Deferred:
    from twisted.internet import task
    return task.deferLater(reactor, seconds, lambda: None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--binds", type=int, default=2)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--mode", choices=["transceiver", "tx_rx"], default="transceiver")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    from twisted.internet import task
    task.react(lambda reactor: defer.ensureDeferred(run(reactor, args)))


if __name__ == "__main__":
    main()
