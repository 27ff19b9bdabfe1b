"""The real engine on a loopback port, driven by a third-party ESME (smpplib) and raw sockets.

Each test starts the whole engine (make_service: database, migrations, accounts, SMPP server,
metrics) on SQLite and on a throwaway PostgreSQL, as an operator would run it.
"""

from __future__ import annotations

import socket
import struct

import pytest
import smpplib.exceptions
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from protocols.smpp.codec import Pdu, encode
from protocols.smpp.constants import Status
from smsc.store import messages as store
from tests.system.engine import PASSWORD, OnPostgres, RunningEngine, esme, raw_request, read_raw

pytestmark = pytest.mark.system


def submit(client, dest: str = "4915112345678", text: bytes = b"hello", **extra):
    fields = dict(
        source_addr_ton=1, source_addr_npi=1, source_addr="4930123",
        dest_addr_ton=1, dest_addr_npi=1, destination_addr=dest,
        short_message=text, data_coding=0,
    )
    client.send_message(**dict(fields, **extra))
    return client.read_pdu()


class EngineTests(RunningEngine):
    """The same tests on SQLite and PostgreSQL (subclasses below)."""

    def stored(self, message_id: str) -> dict | None:
        return self.engine.db.run_sync("get", store.get_message_txn, int(message_id))

    # ------------------------------------------------------------------ tests

    async def test_bind_submit_query_unbind(self):
        """When an ESME binds and submits, the resp carries our id and the row is already committed."""

        def scenario():
            client = esme(self.port)
            resp = submit(client)
            stored = self.stored(resp.message_id.decode())
            client.query_message(message_id=resp.message_id.decode(), source_addr_ton=1, source_addr_npi=1, source_addr="4930123")
            query = client.read_pdu()
            unbind = client.unbind()
            client.disconnect()
            return resp, stored, query, unbind

        resp, stored, query, unbind = await deferToThread(scenario)
        self.assertEqual(resp.status, 0)
        self.assertIsNotNone(stored, "the message must be durable before submit_sm_resp")
        self.assertEqual(stored["state"], "QUEUED")
        self.assertEqual(stored["dest_addr"], "4915112345678")
        self.assertEqual(stored["text"], "hello")
        self.assertEqual(query.status, 0)
        self.assertEqual(int(query.message_state), 1)  # ENROUTE
        self.assertEqual(unbind.command, "unbind_resp")

    async def test_cancel_and_replace(self):
        """When a queued message is replaced then cancelled, the row follows; a second cancel fails."""

        def scenario():
            client = esme(self.port)
            scheduled = submit(client, schedule_delivery_time="991231235959000+")
            mid = scheduled.message_id.decode()
            replace = raw_request(client, Pdu("replace_sm", params={
                "message_id": mid, "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "4930123",
                "schedule_delivery_time": "", "validity_period": "", "registered_delivery": 1,
                "sm_default_msg_id": 0, "short_message": b"replaced text"}))
            after_replace = self.stored(mid)
            cancel_params = {"service_type": "", "message_id": mid, "source_addr_ton": 1, "source_addr_npi": 1,
                             "source_addr": "4930123", "dest_addr_ton": 1, "dest_addr_npi": 1,
                             "destination_addr": "4915112345678"}
            cancel = raw_request(client, Pdu("cancel_sm", params=cancel_params))
            cancel_again = raw_request(client, Pdu("cancel_sm", params=cancel_params))
            client.unbind()
            client.disconnect()
            return replace, after_replace, cancel, cancel_again, self.stored(mid)

        replace, after_replace, cancel, cancel_again, final = await deferToThread(scenario)
        self.assertEqual(replace.status, 0)
        self.assertEqual(after_replace["text"], "replaced text")
        self.assertEqual(after_replace["registered_delivery"], 1)
        self.assertEqual(cancel.status, 0)
        self.assertEqual(final["state"], "CANCELLED")
        self.assertEqual(cancel_again.status, Status.ESME_RCANCELFAIL)

    async def test_bind_refusals(self):
        """Wrong password, unknown system_id and too many binds get their own SMPP statuses."""

        def bind_status(system_id, password):
            try:
                client = esme(self.port, system_id, password)
            except smpplib.exceptions.PDUError as exc:
                return exc.args[1]
            client.disconnect()
            return 0

        def scenario():
            wrong = bind_status("app", "nope")
            unknown = bind_status("nobody", PASSWORD)
            first, second = esme(self.port), esme(self.port)
            third = bind_status("app", PASSWORD)
            for client in (first, second):
                client.disconnect()
            return wrong, unknown, third

        wrong, unknown, third = await deferToThread(scenario)
        self.assertEqual(wrong, Status.ESME_RINVPASWD)
        self.assertEqual(unknown, Status.ESME_RINVSYSID)
        self.assertEqual(third, Status.ESME_RALYBND)

    async def test_throughput_limit_throttles(self):
        """When an account with 2 msgs/s submits 6 at once, the excess gets ESME_RTHROTTLED and is not stored."""

        def scenario():
            client = esme(self.port, "slow")
            answers = [submit(client) for _ in range(6)]
            client.disconnect()
            return answers

        answers = await deferToThread(scenario)
        statuses = [a.status for a in answers]
        self.assertIn(Status.ESME_RTHROTTLED, statuses)
        self.assertIn(0, statuses)
        for answer in answers:
            if answer.status == Status.ESME_RTHROTTLED:
                self.assertFalse(answer.message_id)

    async def test_invalid_submit_gets_specific_status(self):
        """A bad destination TON, a bad priority and a bad validity each get the status naming the field."""

        def scenario():
            client = esme(self.port)
            bad_ton = submit(client, dest_addr_ton=9)
            bad_priority = submit(client, priority_flag=7)
            bad_validity = submit(client, validity_period="991332000000000+")
            good = submit(client)
            client.disconnect()
            return bad_ton, bad_priority, bad_validity, good

        bad_ton, bad_priority, bad_validity, good = await deferToThread(scenario)
        self.assertEqual(bad_ton.status, Status.ESME_RINVDSTTON)
        self.assertEqual(bad_priority.status, Status.ESME_RINVPRTFLG)
        self.assertEqual(bad_validity.status, Status.ESME_RINVEXPIRY)
        self.assertEqual(good.status, 0, "the session goes on after invalid submits")

    async def test_malformed_pdus_answered_and_other_sessions_unharmed(self):
        """Malformed PDUs get generic_nack or the right status; a second ESME keeps submitting throughout."""

        def scenario():
            healthy = esme(self.port)
            results = {}
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            raw.sendall(encode(Pdu("bind_transmitter", sequence=1, params={
                "system_id": "app", "password": PASSWORD, "system_type": "", "interface_version": 0x34,
                "addr_ton": 0, "addr_npi": 0, "address_range": ""})))
            results["bind"] = read_raw(raw).status
            # unknown command id: generic_nack with the same sequence, the session goes on
            raw.sendall(struct.pack(">LLLL", 16, 0x00000077, 0, 42))
            nack = read_raw(raw)
            results["unknown"] = (nack.command, nack.status, nack.sequence)
            # TLV length overrun inside a submit_sm
            good = encode(Pdu("submit_sm", sequence=43, params=_submit_params()))
            bad = good + struct.pack(">HH", 0x0424, 200) + b"x"
            raw.sendall(struct.pack(">L", len(bad)) + bad[4:])
            overrun = read_raw(raw)
            results["overrun"] = (overrun.command, overrun.status, overrun.sequence)
            # over-long source_addr (no NUL within 21 octets)
            long_source = dict(_submit_params(), source_addr="1" * 30)
            body = _submit_body_unchecked(long_source)
            raw.sendall(struct.pack(">LLLL", 16 + len(body), 4, 0, 44) + body)
            too_long = read_raw(raw)
            results["long_field"] = (too_long.command, too_long.status, too_long.sequence)
            results["healthy_mid"] = submit(healthy).status
            # a lying command_length (below 16): generic_nack, then the server closes the connection
            raw.sendall(struct.pack(">LLLL", 8, 4, 0, 45))
            lying = read_raw(raw)
            results["lying"] = (lying.command, lying.status)
            raw.settimeout(5)
            results["closed"] = raw.recv(16) == b""
            raw.close()
            # truncated header then disconnect: nothing to answer, nothing breaks
            trunc = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            trunc.sendall(b"\x00\x00\x00")
            trunc.close()
            results["healthy_end"] = submit(healthy).status
            healthy.disconnect()
            return results

        results = await deferToThread(scenario)
        self.assertEqual(results["bind"], 0)
        self.assertEqual(results["unknown"], ("generic_nack", Status.ESME_RINVCMDID, 42))
        self.assertEqual(results["overrun"], ("submit_sm_resp", Status.ESME_RINVPARLEN, 43))
        self.assertEqual(results["long_field"][0], "submit_sm_resp")
        self.assertEqual(results["long_field"][1], Status.ESME_RINVSRCADR)
        self.assertEqual(results["lying"], ("generic_nack", Status.ESME_RINVCMDLEN))
        self.assertTrue(results["closed"])
        self.assertEqual(results["healthy_mid"], 0)
        self.assertEqual(results["healthy_end"], 0)


def _submit_params() -> dict:
    return {
        "service_type": "", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "4930123",
        "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "4915112345678", "esm_class": 0,
        "protocol_id": 0, "priority_flag": 0, "schedule_delivery_time": "", "validity_period": "",
        "registered_delivery": 0, "replace_if_present_flag": 0, "data_coding": 0, "sm_default_msg_id": 0,
        "short_message": b"hi",
    }


def _submit_body_unchecked(p: dict) -> bytes:
    """A submit_sm body built by hand, so that fields our encoder would refuse can be sent."""
    def c(s: str) -> bytes:
        return s.encode() + b"\0"

    return (
        c(p["service_type"]) + bytes([p["source_addr_ton"], p["source_addr_npi"]]) + c(p["source_addr"])
        + bytes([p["dest_addr_ton"], p["dest_addr_npi"]]) + c(p["destination_addr"])
        + bytes([p["esm_class"], p["protocol_id"], p["priority_flag"]]) + c("") + c("")
        + bytes([0, 0, 0, 0, len(p["short_message"])]) + p["short_message"]
    )


class SqliteEngineTests(EngineTests, TestCase):
    pass


@pytest.mark.postgres
class PostgresEngineTests(OnPostgres, EngineTests, TestCase):
    pass

