"""Benchmark the SMPP codec: decodes/s and encodes/s for submit_sm, deliver_sm and
submit_sm_resp, plus the same decodes through smpp.pdu3 (and smpplib) for comparison.

Usage: .venv/bin/python scripts/bench_codec.py [--seconds 1.0]
Not a test: figures depend on the machine and its load; report them as provisional.
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Callable

from protocols.smpp import codec
from protocols.smpp.codec import Pdu


def sample_pdus() -> dict[str, Pdu]:
    submit = Pdu("submit_sm", 12345, params={
        "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "ACME",
        "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "447700900123",
        "registered_delivery": 1, "data_coding": 0,
        "short_message": b"Your verification code is 482913. It expires in 10 minutes.",
    })
    deliver = Pdu("deliver_sm", 777, params={
        "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "447700900123",
        "dest_addr_ton": 5, "destination_addr": "ACME", "esm_class": 0x04,
        "short_message": b"id:0123456789 sub:001 dlvrd:001 submit date:2601011200 "
                         b"done date:2601011201 stat:DELIVRD err:000 text:Your verific",
    }, tlvs={"receipted_message_id": "0123456789", "message_state": 2})
    resp = Pdu("submit_sm_resp", 12345, params={"message_id": "6f1c2a9e-3b7d-4c1e-9a55"})
    return {"submit_sm": submit, "deliver_sm": deliver, "submit_sm_resp": resp}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of fn, measured in batches for about `seconds`."""
    n, batch = 0, 2000
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    pdus = sample_pdus()
    print(f"{'pdu':<16}{'ours decode/s':>15}{'ours encode/s':>15}"
          f"{'smpp.pdu3 dec/s':>17}{'smpplib dec/s':>15}")
    for name, pdu in pdus.items():
        wire = codec.encode(pdu)
        assert codec.decode(wire) == pdu
        dec = rate(lambda: codec.decode(wire), args.seconds)
        enc = rate(lambda: codec.encode(pdu), args.seconds)
        print(f"{name:<16}{dec:>15,.0f}{enc:>15,.0f}{_pdu3_rate(wire, args.seconds):>17}"
              f"{_smpplib_rate(wire, args.seconds):>15}")
    # the server's hot path per message: decode submit_sm, build and encode the response
    wire = codec.encode(pdus["submit_sm"])

    def intake() -> bytes:
        request = codec.decode(wire)
        return codec.encode(codec.make_response(request, message_id="6f1c2a9e-3b7d-4c1e-9a55"))

    print(f"decode submit_sm + make_response + encode resp: {rate(intake, args.seconds):,.0f}/s")


def _pdu3_rate(wire: bytes, seconds: float) -> str:
    try:
        from smpp.pdu.pdu_encoding import PDUEncoder
    except ImportError:
        return "n/a"
    encoder = PDUEncoder()
    return f"{rate(lambda: encoder.decode(io.BytesIO(wire)), seconds):,.0f}"


def _smpplib_rate(wire: bytes, seconds: float) -> str:
    try:
        import smpplib.smpp
    except ImportError:
        return "n/a"

    class _Client:  # smpplib's parser asks its client for sequence numbers only
        sequence = 1

        def next_sequence(self) -> int:
            return 1

    client = _Client()
    return f"{rate(lambda: smpplib.smpp.parse_pdu(wire, client=client), seconds):,.0f}"


if __name__ == "__main__":
    main()
