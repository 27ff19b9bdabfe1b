"""End to end through the modem rack: a third-party ESME (smpplib) submits -> the router picks
the modem pool -> simulated modems on real ptys, opened with real pyserial -> status reports ->
receipts to the ESME with OUR ids; an MO typed into a simulated modem reaches the ESME; on
SQLite and on PostgreSQL. Latencies are shortened to a fraction of a second."""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from modemfarm.modem import ModemState
from modemfarm.simulator import Latency, ReportPlan, ReportPolicy
from smsc.store.schema import dlr_keys, messages, modem_usage
from tests.system.e2e import CountingEsme, e2e_config, free_port
from tests.system.engine import OnPostgres, RunningEngine
from tests.unit.cli_helpers import Cli

pytestmark = pytest.mark.system
MODEMS = 3


def modem_config(db_url: str) -> dict:
    data = e2e_config(db_url)
    data["simulators"] = {"upstreams": [], "modems": {"count": MODEMS, "seed": 7}}
    data["upstreams"] = []
    data["routes"] = [{"name": "rack", "upstreams": ["modems"]}]
    data["metrics"] = {"enabled": True, "listen": f"tcp:{free_port()}:interface=127.0.0.1"}
    data["modems"] = {"rate": 600, "burst": 5, "daily_cap": 1000, "health_interval": "5s", "control_interval": 0.2,
                      "mo_destination": "4930555000"}
    return data


def pause(seconds: float) -> Deferred:
    return deferLater(reactor, seconds, lambda: None)


class ModemEndToEnd(RunningEngine):
    def config(self, db_url: str) -> dict:
        return modem_config(db_url)

    def before_start(self) -> None:
        self.farm = self.engine.modem_rack.farm
        for sim in self.farm.modems:  # seconds in the field; a fraction of one here
            sim.network.submit_latency = Latency(0.1, 0.3, 0.05, 0.3)
            sim.network.reports = ReportPolicy(delay=Latency(0.2, 0.3, 0.05, 0.5))

    async def after_start(self) -> None:
        pool = self.engine.modem_upstream.pool
        for _ in range(100):  # the modems initialise over the ptys
            if sum(m.state is ModemState.READY for m in pool.modems) == MODEMS:
                break
            await pause(0.1)

    def query(self, statement):
        return self.engine.db.run_interaction("test", lambda conn: [tuple(r) for r in conn.execute(statement)])

    async def test_submits_leave_through_the_modems_and_receipts_come_back(self):
        """When an ESME submits to a route with only the pool, every message leaves through a
        simulated modem, each status report becomes a receipt with our id, and the per-SIM
        counters in the database add up to the parts sent."""
        count = 9
        long_text = "A long message through a modem, " * 6  # 2 GSM-7 parts, same SIM for both

        def scenario():
            esme = CountingEsme(self.port)
            for n in range(count - 1):
                esme.submit(f"4917{n:08d}", f"hello {n}")
            esme.submit("491799999999", long_text)
            ok = esme.pump_until(lambda: esme.receipt_count >= count, timeout=40)
            esme.close()
            return ok, esme

        ok, esme = await deferToThread(scenario)
        if not ok:  # say where it stopped: messages and keys as the database has them
            rows = await self.query(sa.select(messages.c.id, messages.c.state, messages.c.parts_sent, messages.c.parts_done))
            keys = await self.query(sa.select(dlr_keys.c.remote_id, dlr_keys.c.message_id, dlr_keys.c.state))
            self.fail(f"accepted {len(esme.accepted)}, errors {esme.errors}, receipts {esme.receipt_count}; "
                      f"messages {rows}; keys {keys}")
        self.assertEqual(set(esme.receipts), set(esme.accepted), "every receipt carries the id we gave at submit")
        self.assertEqual(set(esme.receipts.values()), {"DELIVRD"})
        sent = self.farm.sent()
        self.assertEqual(len(sent), count + 1)
        long_parts = [m for m in sent if m.destination.endswith("491799999999")]
        self.assertEqual(len(long_parts), 2)
        self.assertEqual(len({m.imei for m in long_parts}), 1, "both parts of the long message leave from one SIM")
        self.assertEqual("".join(m.text for m in sorted(long_parts, key=lambda m: m.concat[2])), long_text)
        used = await self.query(sa.select(sa.func.sum(modem_usage.c.sent)).where(sa.func.length(modem_usage.c.period) == 10))
        self.assertEqual(used[0][0], count + 1)
        keys = await self.query(sa.select(dlr_keys.c.remote_id, dlr_keys.c.state).where(dlr_keys.c.upstream == "modems"))
        self.assertEqual(len(keys), count + 1)
        # a part's own state is kept only for a message of several parts (one part: the message row says it)
        part_states = await self.query(sa.select(dlr_keys.c.state).join(messages, messages.c.id == dlr_keys.c.message_id)
                                       .where(messages.c.segments > 1))
        self.assertEqual(part_states, [("DELIVERED",), ("DELIVERED",)])
        imeis = {m.imei for m in self.farm.modems}
        self.assertTrue(all(rid.split(":")[0] in imeis for rid, _ in keys), keys)
        states = await self.query(sa.select(messages.c.state, sa.func.count()).group_by(messages.c.state))
        self.assertEqual(states, [("DELIVERED", count)])

    async def test_intermediate_then_final_report_and_a_duplicate(self):
        """When the network first says "still trying" and then "delivered" twice, the message ends
        DELIVERED once and the ESME gets exactly one receipt."""
        for sim in self.farm.modems:
            sim.script_reports(ReportPlan.scripted([0x20, 0x00], delay=0.2, duplicate=True))

        def scenario():
            esme = CountingEsme(self.port)
            esme.submit("4917000000042", "status please")
            ok = esme.pump_until(lambda: esme.receipt_count >= 1, timeout=20)
            esme.pump_until(lambda: False, timeout=1.0)  # would a duplicate receipt follow?
            esme.close()
            return ok, esme

        ok, esme = await deferToThread(scenario)
        self.assertTrue(ok)
        self.assertEqual((esme.receipt_count, esme.duplicate_receipts), (1, 0))
        self.assertEqual(list(esme.receipts.values()), ["DELIVRD"])

    async def test_mo_typed_into_a_modem_reaches_the_account(self):
        """When a phone sends an SMS to one of the rack's SIMs, it is stored and pushed to the
        account's receiver, and the modem's memory is emptied after the commit."""
        esme = await deferToThread(CountingEsme, self.port)
        sim = self.farm.modems[1]
        sim.inject_mo("+491700000001", "STOP")

        def collect():
            ok = esme.pump_until(lambda: esme.mo, timeout=20)
            esme.close()
            return ok

        self.assertTrue(await deferToThread(collect))
        self.assertEqual(esme.mo[0], ("4930555000", b"STOP"))
        await pause(0.3)
        self.assertEqual(sim.state.memories["SM"].used, 0)

    async def test_cli_lists_live_modems_and_disables_and_enables_one(self):
        """When the engine runs, `smsc modem list` shows every modem live (IMEI, SIM, state,
        signal) with its SIM counters; `smsc modem disable IMEI` takes that modem out within the
        poll interval and `enable` brings it back to READY."""
        config = self.engine.config
        path = os.path.join(self.mktemp() + "-cli.toml")
        with open(path, "w") as fh:
            fh.write(f'[database]\nurl = "{config.database.url}"\n[metrics]\nlisten = "{config.metrics.listen}"\n')
        cli = Cli(path)
        listed = await deferToThread(cli, "modem", "list", "--json")
        self.assertEqual(listed.exit_code, 0, listed.output)
        rows = json.loads(listed.stdout)
        self.assertEqual(sorted(r["imei"] for r in rows), sorted(m.imei for m in self.farm.modems))
        self.assertEqual({r["state"] for r in rows}, {"ready"})
        self.assertEqual({r["sim"] for r in rows}, {m.state.identity.imsi for m in self.farm.modems})
        self.assertTrue(all("dBm" in r["signal"] for r in rows), rows)

        target = self.farm.modems[0].imei
        pool = self.engine.modem_upstream.pool
        done = await deferToThread(cli, "modem", "disable", target)
        self.assertEqual(done.exit_code, 0, done.output)
        await self.wait_for(lambda: [m.state for m in pool.modems if m.imei == target] == [ModemState.DISABLED])
        await deferToThread(cli, "modem", "enable", target)
        await self.wait_for(lambda: [m.state for m in pool.modems if m.imei == target] == [ModemState.READY])

    async def wait_for(self, condition, seconds: float = 10.0) -> None:
        for _ in range(int(seconds * 10)):
            if condition():
                return
            await pause(0.1)
        self.fail("condition not reached in time")


class SqliteModemEndToEnd(ModemEndToEnd, TestCase):
    pass


@pytest.mark.postgres
class PostgresModemEndToEnd(OnPostgres, ModemEndToEnd, TestCase):
    pass
