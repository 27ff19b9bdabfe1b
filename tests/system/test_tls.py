"""TLS comes from the endpoint string: `ssl:...` instead of `tcp:...`, nothing else to configure."""

from __future__ import annotations

import datetime
import os
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from protocols.smpp.codec import Pdu, encode
from tests.system.engine import PASSWORD, RunningEngine, engine_config, read_raw

pytestmark = pytest.mark.system


def self_signed(directory: str) -> tuple[str, str]:
    """A throwaway key and certificate for 127.0.0.1 (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_path, cert_path = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class TlsServerTests(RunningEngine, TestCase):
    def config(self, db_url: str) -> dict:
        key, cert = self_signed(os.path.dirname(db_url.removeprefix("sqlite:///")))
        return engine_config(db_url, smpp_server={"listen": f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1"})

    async def test_bind_and_submit_over_tls(self):
        """When the server listens on an ssl: endpoint, an ESME binds and submits over TLS."""

        def scenario():
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # our throwaway certificate
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
                with context.wrap_socket(raw) as tls:
                    tls.sendall(encode(Pdu("bind_transceiver", sequence=1, params={
                        "system_id": "app", "password": PASSWORD, "system_type": "", "interface_version": 0x34,
                        "addr_ton": 0, "addr_npi": 0, "address_range": ""})))
                    bound = read_raw(tls)
                    tls.sendall(encode(Pdu("submit_sm", sequence=2, params={
                        "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "4930123", "dest_addr_ton": 1,
                        "dest_addr_npi": 1, "destination_addr": "4915112345678", "short_message": b"over TLS"})))
                    answer = read_raw(tls)
                    return bound, answer, tls.version()

        bound, answer, version = await deferToThread(scenario)
        self.assertEqual((bound.command, bound.status), ("bind_transceiver_resp", 0))
        self.assertEqual((answer.command, answer.status), ("submit_sm_resp", 0))
        self.assertTrue(answer.params["message_id"])
        self.assertTrue(version.startswith("TLS"))
