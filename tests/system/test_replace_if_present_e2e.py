"""replace_if_present_flag end to end: the real engine on a loopback port, a third-party ESME
(smpplib) submitting over TCP, on SQLite and a throwaway PostgreSQL.

The messages are scheduled ten minutes ahead, so they wait QUEUED whatever the dispatcher
does meanwhile (the test engine has no upstreams).
"""

from __future__ import annotations

import pytest
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from smsc.store import messages as store
from tests.system.engine import OnPostgres, RunningEngine, esme

pytestmark = pytest.mark.system

IN_TEN_MINUTES = "000000001000000R"  # SMPP relative time: 10 minutes from now


def submit(client, text: bytes, **extra):
    client.send_message(
        source_addr_ton=1, source_addr_npi=1, source_addr="4930123",
        dest_addr_ton=1, dest_addr_npi=1, destination_addr="4915112345678",
        short_message=text, data_coding=0, schedule_delivery_time=IN_TEN_MINUTES, **extra,
    )
    return client.read_pdu()


class ReplaceTests(RunningEngine):
    def stored(self, message_id: str) -> dict | None:
        return self.engine.db.run_sync("get", store.get_message_txn, int(message_id))

    async def test_a_flagged_submit_replaces_the_queued_one_and_the_esme_gets_a_deleted_receipt(self):
        """When an ESME submits a message asking for a receipt, then the same source, destination
        and service_type again with replace_if_present_flag=1, the second resp carries a new id,
        the first message is CANCELLED, query_sm says DELETED, and a DELETED receipt arrives."""

        def scenario():
            client = esme(self.port)
            first = submit(client, b"old text", registered_delivery=1)
            second = submit(client, b"new text", replace_if_present_flag=1)
            old_id = first.message_id.decode()
            client.query_message(message_id=old_id, source_addr_ton=1, source_addr_npi=1, source_addr="4930123")
            query = client.read_pdu()
            received = []
            client.set_message_received_handler(lambda pdu, **_: received.append(pdu))
            while not received:  # the outbox pusher's next read (1 s): smpplib answers it
                client.read_once()
            client.unbind()
            client.disconnect()
            return first, second, query, received[0]

        first, second, query, receipt = await deferToThread(scenario)
        old_id, new_id = first.message_id.decode(), second.message_id.decode()
        self.assertEqual((first.status, second.status), (0, 0))
        self.assertNotEqual(old_id, new_id)
        old, new = self.stored(old_id), self.stored(new_id)
        self.assertEqual((old["state"], old["error"]), ("CANCELLED", f"replaced by {new_id}"))
        self.assertEqual((new["state"], new["body"]), ("QUEUED", b"new text"))
        self.assertEqual((query.status, query.message_state), (0, 4))  # DELETED
        self.assertIn(f"id:{old_id} ".encode(), receipt.short_message)
        self.assertIn(b"stat:DELETED", receipt.short_message)


class SqliteReplaceTests(ReplaceTests, TestCase):
    pass


@pytest.mark.postgres
class PostgresReplaceTests(OnPostgres, ReplaceTests, TestCase):
    pass
