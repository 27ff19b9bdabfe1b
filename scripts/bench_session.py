"""Benchmark of the SMPP session layer alone: submit_sm/s through client -> server.

One process, one reactor, real TCP on 127.0.0.1: our SmppClientProtocol binds to our
SmppServerFactory whose delegate answers every submit_sm at once with a message id (no
storage). Each client keeps its window full (a new submit as soon as a response frees a
slot). Prints submit_sm/s for each window; the figure measures framing + codec + session
on both ends of the link in one process, so the server side alone is about twice as fast.

    .venv/bin/python scripts/bench_session.py [--count 100000] [--windows 10,100]
        [--sessions 1] [--memory] [--server-only]

--memory replaces TCP by an in-memory pump (twisted.test.iosim) to show the cost without
the kernel.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time

from twisted.internet import defer, endpoints, reactor, task

from protocols.smpp.client import SmppClientFactory
from protocols.smpp.server import SmppServerFactory
from protocols.smpp.session import SessionSettings

PARAMS = {"source_addr": "Bench", "source_addr_ton": 5, "destination_addr": "447700900123",
          "dest_addr_ton": 1, "dest_addr_npi": 1, "registered_delivery": 1,
          "short_message": b"Hello from the session benchmark, 42 chars"}


class InstantDelegate:
    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def bind(self, session, request):
        return request.system_id

    def unbound(self, session) -> None:
        pass

    def request(self, session, pdu):
        return {"message_id": str(next(self.ids))}


def drive(client, count: int, window: int) -> defer.Deferred:
    """Keep ``window`` submits in flight until ``count`` responses came back."""
    done: defer.Deferred = defer.Deferred()
    state = {"sent": 0, "answered": 0, "errors": 0}

    def answered(pdu) -> None:
        state["answered"] += 1
        if pdu.status:
            state["errors"] += 1
        if state["sent"] < count:
            send()
        elif state["answered"] == count:
            done.callback(state)

    def failed(f) -> None:
        state["errors"] += 1
        answered(type("P", (), {"status": -1})())

    def send() -> None:
        state["sent"] += 1
        client.submit(PARAMS).addCallbacks(answered, failed)

    for _ in range(min(window, count)):
        send()
    return done


async def run_tcp(count: int, window: int, sessions: int) -> float:
    settings = SessionSettings(window=window, enquire_link_interval=0, inactivity_timeout=0)
    server = SmppServerFactory(InstantDelegate(), reactor, settings)
    port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(server)
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    clients = []
    for i in range(sessions):
        client = await endpoint.connect(SmppClientFactory(reactor, settings))
        await client.bind("transceiver", f"bench{i}", "secret")
        clients.append(client)
    per_session = count // sessions
    start = time.perf_counter()
    results = await defer.gatherResults([drive(c, per_session, window) for c in clients])
    elapsed = time.perf_counter() - start
    errors = sum(r["errors"] for r in results)
    for c in clients:
        await c.unbind()
    await port.stopListening()
    if errors:
        print(f"  {errors} submits failed", file=sys.stderr)
    return per_session * sessions / elapsed


def run_memory(count: int, window: int) -> float:
    from twisted.test import iosim

    from protocols.smpp.client import SmppClientProtocol
    from protocols.smpp.server import SmppServerProtocol

    clock = task.Clock()
    settings = SessionSettings(window=window, enquire_link_interval=0, inactivity_timeout=0)
    server = SmppServerProtocol(InstantDelegate(), clock, settings)
    client = SmppClientProtocol(clock, settings)
    _, _, pump = iosim.connectedServerAndClient(lambda: server, lambda: client, greet=True)
    client.bind("transceiver", "bench", "secret")
    pump.flush()
    d = drive(client, count, window)
    start = time.perf_counter()
    while not d.called:
        pump.pump()
    return count / (time.perf_counter() - start)


def run_server_only(count: int) -> float:
    """Server side alone: a pre-encoded stream of submit_sm fed in 64 KiB chunks to a bound
    server session whose transport discards what it writes."""
    from twisted.internet.testing import StringTransport

    from protocols.smpp.codec import Pdu, encode
    from protocols.smpp.server import SmppServerProtocol

    class NullTransport(StringTransport):
        def write(self, data: bytes) -> None:
            self.written = getattr(self, "written", 0) + 1

    settings = SessionSettings(enquire_link_interval=0, inactivity_timeout=0)
    server = SmppServerProtocol(InstantDelegate(), task.Clock(), settings)
    transport = NullTransport()
    server.makeConnection(transport)
    server.dataReceived(encode(Pdu("bind_transceiver", 1, 0, {"system_id": "b"})))
    stream = b"".join(encode(Pdu("submit_sm", i + 2, 0, PARAMS)) for i in range(count))
    chunks = [stream[i:i + 65536] for i in range(0, len(stream), 65536)]
    start = time.perf_counter()
    for chunk in chunks:
        server.dataReceived(chunk)
    elapsed = time.perf_counter() - start
    assert transport.written == count + 1, transport.written
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--windows", default="10,100")
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--memory", action="store_true", help="in-memory pump, no TCP")
    parser.add_argument("--server-only", action="store_true",
                        help="also time the server side alone on a pre-encoded stream")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    cpu0 = time.process_time()

    if args.server_only:
        print(f"server side alone: {run_server_only(args.count):9,.0f} submit_sm/s "
              f"(decode + session + delegate call + encode, no TCP)")
    if args.memory:
        for w in windows:
            print(f"window {w:4d}: {run_memory(args.count, w):9,.0f} submit_sm/s "
                  f"(in-memory, client+server in one process)")
    else:
        async def all_windows() -> None:
            for w in windows:
                rate = await run_tcp(args.count, w, args.sessions)
                print(f"window {w:4d}: {rate:9,.0f} submit_sm/s "
                      f"({args.sessions} session(s), TCP 127.0.0.1, client+server in one "
                      f"process)")

        def stop(result):
            reactor.stop()
            return result

        reactor.callWhenRunning(lambda: defer.ensureDeferred(all_windows()).addBoth(stop))
        reactor.run()
    print(f"cpu {time.process_time() - cpu0:.1f} s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
