"""An engine with two embedded simulated carriers, and a threaded smpplib ESME that counts
what comes back. Shared by the end-to-end tests and the crash test."""

from __future__ import annotations

import socket
import time
from typing import Any

import smpplib.client
import smpplib.consts

from scripts.benchlib import free_port
from tests.system.engine import PASSWORD_HASH



def e2e_config(db_url: str, smpp_port: int = 0, receipt_delay: float = 0.05, **overrides: Any) -> dict[str, Any]:
    """Two simulated carriers (sim-a, sim-b) behind one weighted route; MO to the app account."""
    ports = [free_port(), free_port()]
    data: dict[str, Any] = {
        "database": {"url": db_url, "upgrade_on_start": True},
        "smpp_server": {"listen": f"tcp:{smpp_port}:interface=127.0.0.1", "auth_failure_delay": 0.2},
        "metrics": {"enabled": False},
        "logging": {"level": "warn"},
        # a throttled message backs off from 0.2 s (1 s by default): one throttled six times in a
        # row would otherwise wait 63 s and outlive the test
        "dispatcher": {"interval": 0.05, "outbox_retry": 0.5, "retry_rules": ["ESME_RTHROTTLED = retry 200ms"]},
        "accounts": [{"system_id": "app", "password_hash": PASSWORD_HASH, "max_binds": 4, "window": 200}],
        "simulators": {"upstreams": [
            {"name": f"sim-{n}", "listen": f"tcp:{port}:interface=127.0.0.1", "system_id": f"sim{n}",
             "password": "simpw", "receipt_delay": receipt_delay, "delivered": 1.0, "undeliverable": 0, "expired": 0}
            for n, port in zip("ab", ports)
        ]},
        "upstreams": [
            {"name": f"sim-{n}", "endpoint": f"tcp:host=127.0.0.1:port={port}", "system_id": f"sim{n}",
             "password": "simpw", "window": 50, "reconnect_initial": 0.2, "reconnect_max": 1}
            for n, port in zip("ab", ports)
        ],
        "routes": [{"name": "default", "upstreams": ["sim-a:1", "sim-b:1"]}],
        "mo_routes": [{"account": "app", "prefix": "777", "reassemble": True}, {"account": "app", "prefix": ""}],
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return data


class CountingEsme:
    """A transceiver smpplib client (call from a thread) that submits and collects receipts/MO."""

    def __init__(self, port: int, system_id: str = "app", password: str = "s3cret") -> None:
        self.client = smpplib.client.Client("127.0.0.1", port, timeout=0.5, allow_unknown_opt_params=True)
        self.client.set_message_received_handler(self._received)
        self.client.set_message_sent_handler(self._sent)
        self.client.set_error_pdu_handler(self._error)
        self.client.connect()
        self.client.bind_transceiver(system_id=system_id, password=password)
        self.accepted: list[str] = []
        self.dest_of: dict[str, str] = {}  # our message id -> destination it was submitted to
        self._dest_of_seq: dict[int, str] = {}
        self.errors: list[int] = []
        self.receipts: dict[str, str] = {}  # our message id -> stat
        self.receipt_count = 0
        self.duplicate_receipts = 0
        self.mo: list[tuple[str, bytes]] = []

    def _sent(self, pdu: Any, **_: Any) -> None:
        if int(pdu.status) == 0:
            message_id = pdu.message_id.decode()
            self.accepted.append(message_id)
            self.dest_of[message_id] = self._dest_of_seq.pop(pdu.sequence, "")

    def _error(self, pdu: Any) -> None:
        self.errors.append(int(pdu.status))

    def _received(self, pdu: Any, **_: Any) -> int:
        if int(pdu.esm_class) & 0x04:
            text = pdu.short_message.decode()
            fields = dict(part.split(":", 1) for part in text.split(" ") if ":" in part)
            if fields["id"] in self.receipts:
                self.duplicate_receipts += 1
            self.receipts[fields["id"]] = fields.get("stat", "")
            self.receipt_count += 1
        else:  # a long one comes as message_payload
            self.mo.append((pdu.destination_addr.decode(), pdu.short_message or getattr(pdu, "message_payload", None)))
        return smpplib.consts.SMPP_ESME_ROK

    def submit(self, dest: str, text: str = "hello", registered_delivery: int = 1) -> None:
        pdu = self.client.send_message(
            source_addr_ton=5, source_addr_npi=0, source_addr="Shop", dest_addr_ton=1, dest_addr_npi=1,
            destination_addr=dest, short_message=text.encode(), data_coding=0,
            registered_delivery=registered_delivery,
        )
        self._dest_of_seq[pdu.sequence] = dest

    def submit_many(self, dests: list[str], window: int = 50) -> None:
        """Submit all, never more than ``window`` unanswered (as a well-behaved ESME does)."""
        for n, dest in enumerate(dests):
            self.pump_until(lambda: n - len(self.accepted) - len(self.errors) < window, timeout=30)
            self.submit(dest)

    def pump_until(self, done, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            try:
                self.client.read_once(auto_send_enquire_link=False)
            except socket.timeout:
                pass
        return True

    def close(self) -> None:
        try:
            self.client.unbind()
        except Exception:  # noqa: BLE001 - the engine may already be gone
            pass
        self.client.disconnect()
