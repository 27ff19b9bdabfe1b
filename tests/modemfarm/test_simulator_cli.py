"""`smsc simulate modems`: a separate process whose printed paths an ordinary serial client can use."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import serial
from click.testing import CliRunner

from modemfarm.simulator import pdu_sim
from smsc.cli import main
from smsc.cli.simulate import commands, simulate


def read_until(port: serial.Serial, marker: bytes, limit: float = 5.0) -> bytes:
    data, end = b"", time.monotonic() + limit
    while marker not in data and time.monotonic() < end:
        data += port.read(256)
    return data


def test_simulate_modems_prints_paths_that_answer_at(tmp_path):
    """When `smsc simulate modems --count 2` runs, it prints two device paths; a plain blocking
    pyserial client (like minicom would) gets OK, an IMEI and a +CMGS from them, and a transcript
    is written."""
    smsc = Path(sys.executable).with_name("smsc")
    proc = subprocess.Popen(
        [str(smsc), "simulate", "modems", "--count", "2", "--seed", "4", "--latency", "0.1",
         "--duration", "20", "--transcript", str(tmp_path), "--link-dir", str(tmp_path / "dev")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        paths = [line.split("\t")[0] for line in lines]
        assert all(Path(p).exists() for p in paths), lines
        imei = lines[1].split("imei=")[1].split()[0]
        with serial.Serial(paths[1], 115200, timeout=0.2) as port:
            port.write(b"AT\r")
            assert b"OK" in read_until(port, b"OK\r\n")
            port.write(b"ATE0;+CGSN\r")
            assert imei.encode() in read_until(port, b"OK\r\n")
            pdu, length = pdu_sim.encode_submit("+15551234567", "cli")
            port.write(f"AT+CMGS={length}\r".encode())
            assert b"> " in read_until(port, b"> ")
            port.write(pdu.encode() + b"\x1a")
            assert b"+CMGS: " in read_until(port, b"OK\r\n")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "+CMGS: " in (tmp_path / "modem1.wire.txt").read_text()


def test_simulate_is_a_group_other_modules_can_extend():
    """When another module adds a sub-command to `simulate`, it shows up under `smsc simulate`."""
    assert commands == [simulate]
    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0 and "modems" in result.output


def test_bad_count_is_a_clear_error():
    """When --count is out of range, the CLI says so in one line and exits non-zero."""
    result = CliRunner().invoke(main, ["simulate", "modems", "--count", "0"])
    assert result.exit_code != 0 and "--count" in result.output
