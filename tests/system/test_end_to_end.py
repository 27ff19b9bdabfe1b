"""End to end over loopback: a third-party ESME (smpplib) -> smsc -> two simulated carriers ->
receipts back to the ESME with OUR message ids; MO to the right account; failover when a
carrier goes away; on SQLite and on PostgreSQL."""

from __future__ import annotations


import pytest
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from protocols.smpp.constants import Status
from tests.system.e2e import CountingEsme, e2e_config
from tests.system.engine import PASSWORD_HASH, OnPostgres, RunningEngine

pytestmark = pytest.mark.system


class EndToEnd(RunningEngine):
    timeout = 90

    def config(self, db_url: str) -> dict:
        data = e2e_config(db_url)  # plus a keyword account for long MO that start with VOTE
        data["accounts"].append({"system_id": "votes", "password_hash": PASSWORD_HASH, "max_binds": 2, "window": 50})
        data["mo_routes"].insert(0, {"account": "votes", "prefix": "777", "keyword": "VOTE", "reassemble": True})
        return data

    def simulator(self, name: str):
        return self.engine.simulators[name].simulator

    async def bound_simulator(self, name: str):
        """The simulator, once the engine's upstream has bound to it (up to 5 s)."""
        sim = self.simulator(name)
        for _ in range(50):
            if sim.sessions:
                break
            await deferLater(reactor, 0.1, lambda: None)
        return sim

    async def test_submits_reach_both_carriers_and_every_receipt_comes_back(self):
        """When an ESME submits 200 messages, both carriers get a share and the ESME gets 200 receipts with our ids."""
        count = 200

        def scenario():
            esme = CountingEsme(self.port)
            esme.submit_many([f"4917{n:08d}" for n in range(count)])
            ok = esme.pump_until(lambda: len(esme.accepted) + len(esme.errors) >= count and esme.receipt_count >= count)
            esme.close()
            return ok, esme

        ok, esme = await deferToThread(scenario)
        self.assertTrue(ok, f"accepted {len(esme.accepted)}, errors {esme.errors}, receipts {esme.receipt_count}")
        self.assertEqual(esme.errors, [])
        self.assertEqual(set(esme.receipts), set(esme.accepted), "every receipt carries the id we gave at submit")
        self.assertEqual(set(esme.receipts.values()), {"DELIVRD"})
        a, b = (self.simulator(n).counters.submits for n in ("sim-a", "sim-b"))
        self.assertEqual(a + b, count)
        self.assertGreater(min(a, b), count // 4, f"load balancing: {a} vs {b}")

    async def test_carrier_going_away_moves_traffic_to_the_other(self):
        """When one carrier drops its connections and refuses binds, new messages all go to the other."""
        self.simulator("sim-a").refuse_binds(60)
        self.simulator("sim-a").drop_connections()

        def scenario():
            esme = CountingEsme(self.port)
            esme.submit_many([f"4918{n:08d}" for n in range(50)])
            ok = esme.pump_until(lambda: esme.receipt_count >= 50)
            esme.close()
            return ok, esme

        ok, esme = await deferToThread(scenario)
        self.assertTrue(ok, f"receipts {esme.receipt_count}, accepted {len(esme.accepted)}")
        self.assertEqual(self.simulator("sim-b").counters.submits, 50)

    async def test_throttling_carrier_is_retried_not_failed(self):
        """When both carriers answer a fifth of submits with ESME_RTHROTTLED, every message is still
        delivered and receipted: throttling is a retry, never a failure."""
        for name in ("sim-a", "sim-b"):
            self.simulator(name).faults.throttle = 0.2

        def scenario():
            esme = CountingEsme(self.port)
            esme.submit_many([f"4916{n:08d}" for n in range(30)])
            ok = esme.pump_until(lambda: esme.receipt_count >= 30, timeout=60)
            esme.close()
            return ok, esme

        ok, esme = await deferToThread(scenario)
        throttled = sum(self.simulator(n).counters.by_status.get(0x58, 0) for n in ("sim-a", "sim-b"))
        self.assertTrue(ok, f"receipts {esme.receipt_count} of 30")
        self.assertGreater(throttled, 0, "the carriers did throttle")
        self.assertEqual(set(esme.receipts.values()), {"DELIVRD"})

    async def test_mo_reaches_the_account(self):
        """When a carrier delivers an MO, it is stored and pushed to the account's receiver."""

        def bind():
            return CountingEsme(self.port)

        esme = await deferToThread(bind)
        sim = await self.bound_simulator("sim-a")
        sim.inject_mo("491700000001", "12345", "STOP")

        def collect():
            ok = esme.pump_until(lambda: esme.mo, timeout=20)
            esme.close()
            return ok

        self.assertTrue(await deferToThread(collect))
        self.assertEqual(esme.mo[0], ("12345", b"STOP"))

    async def test_long_mo_reassembled_when_the_route_says_so(self):
        """When a 3-part MO arrives out of order on a reassembling mo_route, the account gets one
        deliver_sm with the whole text and no UDH."""
        esme = await deferToThread(CountingEsme, self.port)
        sim = await self.bound_simulator("sim-b")
        text = "A long reply from a customer, " * 9
        self.assertEqual(sim.inject_mo("491700000002", "77700", text, parts=3, out_of_order=True), 3)

        def collect():
            ok = esme.pump_until(lambda: esme.mo, timeout=20)
            esme.pump_until(lambda: len(esme.mo) > 1, timeout=1)  # nothing more may come
            esme.close()
            return ok

        self.assertTrue(await deferToThread(collect))
        self.assertEqual(esme.mo, [("77700", text.encode())])

    async def test_long_keyword_mo_reaches_the_keyword_account_whole(self):
        """When a 3-part MO whose first part starts with a keyword arrives out of order, the
        keyword's account gets one deliver_sm with the whole text, and the plain route's
        account (which parts 2 and 3 alone would match) gets nothing."""
        app, votes = await deferToThread(lambda: (CountingEsme(self.port), CountingEsme(self.port, "votes")))
        sim = await self.bound_simulator("sim-a")
        text = "VOTE 7: the programme on schools and transport is the best one, " * 4
        self.assertEqual(sim.inject_mo("491700000003", "77701", text, parts=3, out_of_order=True), 3)

        def collect():
            ok = votes.pump_until(lambda: votes.mo, timeout=20)
            votes.pump_until(lambda: len(votes.mo) > 1, timeout=1)  # nothing more may come
            app.pump_until(lambda: app.mo, timeout=0.5)
            votes.close()
            app.close()
            return ok

        self.assertTrue(await deferToThread(collect))
        self.assertEqual((votes.mo, app.mo), ([("77701", text.encode())], []))


class SqliteEndToEnd(EndToEnd, TestCase):
    pass


@pytest.mark.postgres
class PostgresEndToEnd(OnPostgres, EndToEnd, TestCase):
    pass


class UnroutableSubmitTests(RunningEngine, TestCase):
    """With no_route = "reject", a submit no route can take is refused at once (SQLite)."""

    def config(self, db_url: str) -> dict:
        return e2e_config(db_url, dispatcher={"no_route": "reject"},
                          routes=[{"name": "germany", "upstreams": ["sim-a", "sim-b"], "dest_prefixes": ["49"]}])

    async def test_submit_without_route_is_refused_with_submitfail(self):
        """When no route serves the destination, submit_sm gets ESME_RSUBMITFAIL and nothing is stored;
        a routable one is accepted."""
        for _ in range(50):  # wait for the upstream binds, so that "usable" is about routes only
            if all(u.is_usable() for u in self.engine.upstreams.values()):
                break
            await deferLater(reactor, 0.1, lambda: None)

        def scenario():
            esme = CountingEsme(self.port)
            esme.submit("33612345678")
            esme.submit("4915112345678")
            esme.pump_until(lambda: len(esme.accepted) + len(esme.errors) >= 2, timeout=10)
            esme.close()
            return esme

        esme = await deferToThread(scenario)
        self.assertEqual(esme.errors, [Status.ESME_RSUBMITFAIL])
        self.assertEqual(len(esme.accepted), 1)
        self.assertEqual(esme.dest_of[esme.accepted[0]], "4915112345678")
