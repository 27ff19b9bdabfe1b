"""Intake of submit_sm / data_sm: the real server session, Ingress and GroupCommitter, with a
fake transaction runner, so "before" and "after" the commit are explicit steps.

The response must be written only after the row's commit (never before), carry the id that
was stored, and be counted in the metrics whatever the outcome.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from protocols.smpp.codec import Pdu
from protocols.smpp.constants import Status
from protocols.smpp.server import SmppServerProtocol
from protocols.smpp.session import SessionSettings, SessionState
from smsc.esme import AccountBinding
from smsc.group_commit import GroupCommitter
from smsc.ingress import Ingress
from smsc.metrics import Metrics
from smsc.store.accounts import Account, create_account_txn
from smsc.store.ids import IdGenerator
from smsc.store.messages import REPLACE_IF_PRESENT, insert_messages_txn
from smsc.store.schema import messages
from smsc.submit import IntakeLimits, message_row
from tests.smpp.helpers import sent, wire

SUBMIT = {"source_addr": "ACME", "source_addr_ton": 5, "destination_addr": "447700900001",
          "dest_addr_ton": 1, "dest_addr_npi": 1, "short_message": b"hello"}


class Runner:
    def __init__(self) -> None:
        self.batches: list[tuple[list[dict[str, Any]], Deferred]] = []

    def __call__(self, desc: str, txn: Any, rows: list[dict[str, Any]]) -> Deferred:
        d: Deferred = Deferred()
        self.batches.append((rows, d))
        return d


def intake(throughput: float = 0.0) -> tuple[SmppServerProtocol, StringTransport, Clock, Runner, Metrics]:
    clock = Clock()
    clock.advance(1_800_000_000)
    runner, metrics = Runner(), Metrics()
    ingress = Ingress(run_interaction=runner, clock=clock, registry=None,
                      committer=GroupCommitter(runner, clock), ids=IdGenerator(3, clock.seconds),
                      limits=IntakeLimits(), failure_throttle=None, verify_password=None,
                      metrics=metrics)
    session = SmppServerProtocol(ingress, clock, SessionSettings(window=10))
    transport = StringTransport()
    session.makeConnection(transport)
    account = Account(7, "acme", "", True, 2, 10, throughput, (), (), "")
    session.principal = AccountBinding(account, clock)
    session._set_state(SessionState.BOUND_TRX)
    return session, transport, clock, runner, metrics


def pdus_counted(metrics: Metrics, command: str, status: str) -> float:
    value = metrics.registry.get_sample_value("smsc_smpp_pdus_total", {"command": command, "status": status})
    return value or 0.0


@pytest.mark.parametrize("command", ["submit_sm", "data_sm"])
def test_response_only_after_the_commit_with_the_stored_id(command: str) -> None:
    """When a submit is valid, nothing is answered before its commit; then the id is the row's."""
    session, transport, clock, runner, metrics = intake()
    params = SUBMIT if command == "submit_sm" else {k: v for k, v in SUBMIT.items() if k != "short_message"}
    tlvs = None if command == "submit_sm" else {"message_payload": b"hello"}
    session.dataReceived(wire(command, 9, params=params, tlvs=tlvs))
    clock.advance(0)
    ((rows, d),) = runner.batches
    assert transport.value() == b"" and session.incoming_unanswered == 1
    d.callback(1)
    (resp,) = sent(transport)
    assert (resp.command, resp.sequence, resp.status) == (command + "_resp", 9, 0)
    assert resp.params["message_id"] == str(rows[0]["id"])
    assert rows[0]["account_id"] == 7 and rows[0]["body"] == b"hello"
    assert pdus_counted(metrics, command, "ESME_ROK") == 1
    assert session.incoming_unanswered == 0


def test_failed_commit_answers_syserr_and_counts_it() -> None:
    """When the commit fails, the ESME gets ESME_RSYSERR (it will retry) and the metric counts it."""
    session, transport, clock, runner, metrics = intake()
    session.dataReceived(wire("submit_sm", 4, params=SUBMIT))
    clock.advance(0)
    runner.batches[0][1].errback(RuntimeError("database is locked"))
    (resp,) = sent(transport)
    assert (resp.sequence, resp.status) == (4, Status.ESME_RSYSERR)
    assert pdus_counted(metrics, "submit_sm", "ESME_RSYSERR") == 1


def test_invalid_submit_is_refused_at_once_without_a_commit() -> None:
    """When a submit is invalid, the status comes at once and nothing is committed."""
    session, transport, clock, runner, metrics = intake()
    session.dataReceived(wire("submit_sm", 5, params=dict(SUBMIT, destination_addr="")))
    clock.advance(0)
    (resp,) = sent(transport)
    assert (resp.sequence, resp.status) == (5, Status.ESME_RINVDSTADR)
    assert runner.batches == [] and session.incoming_unanswered == 0
    assert pdus_counted(metrics, "submit_sm", "ESME_RINVDSTADR") == 1


def test_one_batch_answers_each_submit_with_its_own_id_in_order() -> None:
    """When several submits share a commit, each gets the id of its own row, in request order."""
    session, transport, clock, runner, _ = intake()
    session.dataReceived(b"".join(wire("submit_sm", seq, params=SUBMIT) for seq in (11, 12, 13)))
    clock.advance(0)
    ((rows, d),) = runner.batches
    d.callback(3)
    answers = [(p.sequence, p.params["message_id"]) for p in sent(transport)]
    assert answers == [(11, str(rows[0]["id"])), (12, str(rows[1]["id"])), (13, str(rows[2]["id"]))]
    assert len({row["id"] for row in rows}) == 3


def test_a_replace_if_present_submit_joins_the_same_group_commit_marked() -> None:
    """When a submit_sm with replace_if_present_flag=1 arrives among plain ones, it goes in the
    same batch (one transaction for its replacement and the inserts), marked; the others are not."""
    session, transport, clock, runner, _ = intake()
    flagged = dict(SUBMIT, replace_if_present_flag=1)
    burst = ((1, SUBMIT), (2, flagged), (3, SUBMIT))
    session.dataReceived(b"".join(wire("submit_sm", seq, params=p) for seq, p in burst))
    clock.advance(0)
    ((rows, d),) = runner.batches
    assert [REPLACE_IF_PRESENT in row for row in rows] == [False, True, False]
    d.callback(3)
    assert [p.params["message_id"] for p in sent(transport)] == [str(row["id"]) for row in rows]


def test_connection_gone_before_the_commit_writes_nothing() -> None:
    """When the ESME disconnects before the commit, the commit still completes and nothing is written."""
    session, transport, clock, runner, _ = intake()
    session.dataReceived(wire("submit_sm", 6, params=SUBMIT))
    clock.advance(0)
    session.transport.loseConnection()
    session.connectionLost(None)
    transport.clear()
    runner.batches[0][1].callback(1)
    assert transport.value() == b""


@pytest.fixture
def engine(migrated_engine):
    return migrated_engine


def test_an_intake_row_stores_the_defaults_it_leaves_out(engine) -> None:
    """When an intake row is inserted without its default columns, they read back as a fresh
    message's: 0 attempts and parts, no route, upstream, error, done_at or claim."""
    now = 1_800_000_000.0
    with engine.begin() as conn:
        create_account_txn(conn, "acme", "x", now)
        account_id = conn.execute(sa.text("SELECT id FROM accounts")).scalar()
        account = Account(account_id, "acme", "", True, 2, 10, 0.0, (), (), "")
        row = message_row(Pdu("submit_sm", 1, 0, SUBMIT), account, now, IntakeLimits(), 99)
        insert_messages_txn(conn, [row])
        stored = dict(conn.execute(sa.select(messages)).mappings().one())
    assert {k: stored[k] for k in ("attempts", "parts_sent", "parts_done", "route", "upstream",
                                   "error", "done_at", "claimed_by", "multi_id")} == {
        "attempts": 0, "parts_sent": 0, "parts_done": 0, "route": None, "upstream": None,
        "error": None, "done_at": None, "claimed_by": None, "multi_id": None}
    assert {k: stored[k] for k in row if k != "body"} == {k: v for k, v in row.items() if k != "body"}
    assert bytes(stored["body"]) == b"hello"
