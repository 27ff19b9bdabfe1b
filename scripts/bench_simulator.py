"""Cost per message of the upstream simulator, in process, without TCP.

An SmppServerProtocol of the simulator reads pre-encoded submit_sm PDUs (in chunks, as a
socket delivers them), answers them, and pushes the receipts on its tick; the fake ESME
answers every deliver_sm with one deliver_sm_resp. The same run with a delegate that only
answers ids (no receipts) gives the session's own share, so the simulator's cost is the
difference. Time runs on a Clock, so receipt delays cost nothing but the work.

    .venv/bin/python scripts/bench_simulator.py [--count 100000] [--record counters]
        [--receipt-format both]
"""

from __future__ import annotations

import argparse
import itertools
import struct
import time
from random import Random

from twisted.internet.task import Clock

from protocols.smpp.codec import Pdu, encode
from protocols.smpp.server import SmppServerFactory
from protocols.smpp.session import SessionSettings
from protocols.smpp.simulator import UpstreamSimulator
from protocols.smpp.simulator_settings import SimulatorSettings

PARAMS = {"source_addr": "Bench", "source_addr_ton": 5, "destination_addr": "447700900123",
          "dest_addr_ton": 1, "dest_addr_npi": 1, "registered_delivery": 1,
          "short_message": b"Hello from the simulator benchmark"}
_HDR = struct.Struct(">IIII")
CHUNK = 100


class Sink:
    """A transport that answers every deliver_sm with a deliver_sm_resp."""

    def __init__(self) -> None:
        self.proto = None
        self.responses = 0
        self.deliveries = 0
        self.disconnecting = False

    def write(self, data: bytes) -> None:
        acks = []
        offset = 0
        while offset < len(data):
            length, command_id, _status, seq = _HDR.unpack_from(data, offset)
            if command_id == 0x00000005:
                self.deliveries += 1
                acks.append(_HDR.pack(16, 0x80000005, 0, seq))
            else:
                self.responses += 1
            offset += length
        if acks:
            self.proto.dataReceived(b"".join(acks))

    def writeSequence(self, seq) -> None:  # noqa: N802 - Twisted interface
        self.write(b"".join(seq))

    def getPeer(self):  # noqa: N802
        return "bench"

    def getHost(self):  # noqa: N802
        return "bench"

    def loseConnection(self) -> None:  # noqa: N802
        self.disconnecting = True

    abortConnection = loseConnection


class IdsOnly:
    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def bind(self, session, request):
        return request.system_id

    def unbound(self, session) -> None:
        pass

    def request(self, session, pdu):
        return {"message_id": str(next(self.ids))}


def run(delegate, clock: Clock, count: int, factory: SmppServerFactory) -> tuple[float, Sink]:
    sink = Sink()
    proto = factory.buildProtocol(None)
    sink.proto = proto
    proto.makeConnection(sink)
    proto.dataReceived(encode(Pdu("bind_transceiver", 1, 0, {
        "system_id": "upstream", "password": "secret", "interface_version": 0x34})))
    chunks = [b"".join(encode(Pdu("submit_sm", i + n + 2, 0, PARAMS)) for n in range(CHUNK))
              for i in range(0, count, CHUNK)]
    start = time.perf_counter()
    for n, chunk in enumerate(chunks):
        proto.dataReceived(chunk)
        if n % 10 == 9:
            clock.advance(0.05)  # the receipt tick: due receipts leave in one batch
    for _ in range(100):
        clock.advance(0.05)
    return time.perf_counter() - start, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--record", default="counters")
    parser.add_argument("--receipt-format", default="both")
    args = parser.parse_args()
    settings = SessionSettings(window=1000, enquire_link_interval=0, inactivity_timeout=0)

    clock = Clock()
    base, sink = run(IdsOnly(), clock, args.count,
                     SmppServerFactory(IdsOnly(), clock, settings, "bench"))
    clock = Clock()
    sim = UpstreamSimulator(clock, SimulatorSettings(
        receipt_delay=0.2, record=args.record, receipt_format=args.receipt_format,
        tick=0.05), Random(1))
    full, sink2 = run(sim, clock, args.count, sim.factory(settings))
    c = sim.counters
    assert sink2.responses >= args.count and c.receipts_sent == args.count, (
        sink2.responses, c.receipts_sent, sim.receipts_pending, sim.held)
    per = lambda t: t / args.count * 1e6  # noqa: E731
    print(f"{args.count} submits, record={args.record} format={args.receipt_format}")
    print(f"  session + ids only:        {per(base):6.1f} us/msg  "
          f"({args.count / base:,.0f} msg/s)")
    print(f"  simulator (submit+receipt): {per(full):6.1f} us/msg  "
          f"({args.count / full:,.0f} msg/s)")
    print(f"  simulator's own share:      {per(full - base):6.1f} us/msg "
          f"(receipt deliver_sm encode, resp decode included)")


if __name__ == "__main__":
    main()
