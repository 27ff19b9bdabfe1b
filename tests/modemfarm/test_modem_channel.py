"""The modem state machine over the real AtChannel (bytes in, bytes out), not the fake API:
checks that replies as the channel splits them (+CMGR header + PDU line, the "> " prompt,
URCs inside a response) are what the modem code parses."""

from __future__ import annotations

from twisted.internet.task import Clock

from modemfarm.at.channel import AtChannel, AtError
from modemfarm.modem import Modem, ModemConfig, ModemState
from modemfarm.modem_send import OutgoingSms, Sent
from modemfarm.pdu import encode_message
from tests.modemfarm.fake_at import FakeModem, RecordingDelegate
from tests.modemfarm.test_modem import DELIVER


class ByteModem:
    """Turns FakeModem's answers into the bytes a modem writes (echo, prompt, finals)."""

    def __init__(self, clock: Clock) -> None:
        self.model = FakeModem(clock)
        self.channel: AtChannel | None = None
        self.inbuf = b""
        self.in_cmgs: str | None = None
        self.inject_in_next: bytes = b""

    def opener(self, path, *, on_urc, on_lost):
        self.channel = AtChannel(self.write, clock=self.model.clock, on_urc=on_urc, on_lost=on_lost,
                                 drain_quiet=0.1, recovery_timeout=1.0)
        return self.channel

    def write(self, data: bytes) -> None:
        self.inbuf += data
        if self.in_cmgs is not None:
            if b"\x1a" in self.inbuf:
                payload, self.inbuf = self.inbuf.split(b"\x1a", 1)
                command, self.in_cmgs = self.in_cmgs, None
                self.model.cmgs_script.insert(0, None)
                self._reply(command, payload.decode())
            return
        while b"\r" in self.inbuf:
            raw, self.inbuf = self.inbuf.split(b"\r", 1)
            command = raw.decode().strip("\x1b\n ")
            if not command:
                continue
            echo = (command + "\r").encode() if self.model.echo else b""
            if command.upper().startswith("AT+CMGS="):
                self.in_cmgs = command
                self.channel.data_received(echo + b"\r\n> ")
                continue
            self.channel.data_received(echo)
            self._reply(command, None)

    def _reply(self, command: str, payload: str | None) -> None:
        try:
            resp = self.model._answer(command.upper(), command, payload)
            body = "".join(f"\r\n{line}" for line in resp.lines) + "\r\n"
            out = body.encode() + self.inject_in_next + b"\r\nOK\r\n"
            self.inject_in_next = b""
        except AtError as err:
            code = f": {err.code}" if err.code is not None else ""
            out = (f"\r\n+{err.kind} ERROR{code}\r\n" if err.kind != "ERROR" else "\r\nERROR\r\n").encode()
        self.channel.data_received(out)


def test_init_send_and_urc_inside_a_response_over_the_real_channel():
    """Init, a send with the prompt, and a +CMTI glued inside the AT+CSQ response all work
    over the real AtChannel; the MO is persisted and then deleted."""
    clock = Clock()
    dev = ByteModem(clock)
    delegate = RecordingDelegate()
    modem = Modem("/dev/x", ModemConfig(health_interval=30), delegate, clock, dev.opener)
    modem.start()
    clock.advance(0.5)
    assert modem.state is ModemState.READY and modem.imei == dev.model.imei
    sms = OutgoingSms(1, "+15551234567", "hello")
    out = []
    modem.send(sms, encode_message(sms.destination, sms.text)).addCallback(out.append)
    clock.advance(0.5)
    assert out == [Sent(dev.model.imei, dev.model.imsi, (42,), 1)]
    assert dev.model.payloads == [encode_message(sms.destination, sms.text)[0].hex]
    dev.model.memory["SM"][2] = DELIVER
    dev.inject_in_next = b'\r\n+CMTI: "SM",2\r\n'  # inside the next response (the CSQ poll)
    clock.advance(30)
    clock.advance(0.5)
    (_, received), = delegate.of("mo")
    assert received.deliver.text == "Interleaved MO" and dev.model.memory["SM"] == {}
