"""submit_sm with replace_if_present_flag=1 (SMPP 3.4 5.2.18) on SQLite and a real PostgreSQL.

The new message is stored with its own id; the messages of the same account still QUEUED with
the same source, destination (TON/NPI included) and service_type are CANCELLED in the same
transaction, with a DELETED receipt when their registered_delivery asks for one. The store
tests drive insert_messages_txn as the group commit does; the last ones go through the real
server session, Ingress and GroupCommitter on the database.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from protocols.smpp.codec import Pdu
from protocols.smpp.constants import Status
from protocols.smpp.server import SmppServerProtocol
from protocols.smpp.session import SessionSettings, SessionState
from smsc.esme import AccountBinding
from smsc.group_commit import GroupCommitter
from smsc.ingress import Ingress
from smsc.store.accounts import Account, create_account_txn
from smsc.store.ids import IdGenerator
from smsc.store.messages import REPLACE_IF_PRESENT, insert_messages_txn
from smsc.store.schema import messages, outbox
from smsc.submit import IntakeLimits, message_row
from tests.smpp.helpers import sent, wire

NOW = 1_800_000_000.0
LATER = NOW + 30


@pytest.fixture
def engine(migrated_engine):
    with migrated_engine.begin() as conn:
        create_account_txn(conn, "app", "scrypt$x", NOW)
        create_account_txn(conn, "other", "scrypt$x", NOW)
    return migrated_engine


def row(message_id: int, *, replace: bool = False, created_at: float = NOW, **overrides: Any) -> dict[str, Any]:
    """An intake row as message_row builds it (default columns left out)."""
    base = {
        "id": message_id, "account_id": 1, "state": "QUEUED", "command": "submit_sm", "multi_id": None,
        "service_type": "", "source_addr": "Shop", "source_ton": 5, "source_npi": 0,
        "dest_addr": "491700000001", "dest_ton": 1, "dest_npi": 1, "esm_class": 0, "protocol_id": 0,
        "priority": 0, "registered_delivery": 0, "data_coding": 0, "body": b"hello", "text": "hello",
        "segments": 1, "tlvs": None, "created_at": created_at, "updated_at": created_at, "schedule_at": None,
        "expires_at": created_at + 3600, "next_attempt_at": created_at,
    }
    base.update(overrides)
    if replace:
        base[REPLACE_IF_PRESENT] = True
    return base


def insert(engine, rows: list[dict[str, Any]]) -> int:
    with engine.begin() as conn:
        return insert_messages_txn(conn, rows)


def states(engine) -> dict[int, tuple[str, str | None, float | None]]:
    with engine.connect() as conn:
        found = conn.execute(sa.select(messages.c.id, messages.c.state, messages.c.error, messages.c.done_at))
        return {r.id: (r.state, r.error, r.done_at) for r in found}


def receipts(engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


def set_state(engine, message_id: int, state: str) -> None:
    with engine.begin() as conn:
        conn.execute(messages.update().where(messages.c.id == message_id).values(state=state))


# (label, overrides of the new flagged submit, replaced?)
MATCHING = [
    ("same source, destination and service_type", {}, True),
    ("other source address", {"source_addr": "Shop2"}, False),
    ("other source TON", {"source_ton": 1}, False),
    ("other source NPI", {"source_npi": 1}, False),
    ("other destination", {"dest_addr": "491799999999"}, False),
    ("other destination TON", {"dest_ton": 2}, False),
    ("other destination NPI", {"dest_npi": 9}, False),
    ("other service_type", {"service_type": "WAP"}, False),
    ("other account", {"account_id": 2}, False),
]


def test_a_flagged_submit_replaces_only_the_same_source_destination_and_service_type(engine) -> None:
    """When a flagged submit matches a queued message of its account on source, destination
    (TON/NPI too) and service_type, that message is CANCELLED "replaced by <new id>" at the new
    submit's time; when any of them differs, it stays QUEUED. The new one is queued either way.
    (One database for the whole table: each case has a destination of its own.)"""
    for n, (_, overrides, _) in enumerate(MATCHING):
        dest = f"4917000000{n:02d}"
        insert(engine, [row(100 + n, dest_addr=dest)])
        insert(engine, [row(200 + n, replace=True, created_at=LATER, **dict({"dest_addr": dest}, **overrides))])
    found = states(engine)
    for n, (label, _, replaced) in enumerate(MATCHING):
        expected_old = ("CANCELLED", f"replaced by {200 + n}", LATER) if replaced else ("QUEUED", None, None)
        assert (found[100 + n], found[200 + n]) == (expected_old, ("QUEUED", None, None)), label


def test_flag_zero_never_replaces(engine) -> None:
    """When the same message comes again without the flag, both are queued."""
    insert(engine, [row(1)])
    insert(engine, [row(2, created_at=LATER)])
    insert(engine, [row(3, created_at=LATER), row(4, created_at=LATER)])
    assert {i: s[0] for i, s in states(engine).items()} == {1: "QUEUED", 2: "QUEUED", 3: "QUEUED", 4: "QUEUED"}


TOO_LATE = ["SENDING", "SUBMITTED", "DELIVERED", "CANCELLED", "FAILED"]


def test_a_message_already_claimed_or_finished_is_not_touched(engine) -> None:
    """When the matching message is no longer QUEUED (claimed by a dispatcher, or final), it is
    too late to replace it: it keeps its state, no receipt is owed, the new one goes too."""
    for n, state in enumerate(TOO_LATE):
        dest = f"4917000000{n:02d}"
        insert(engine, [row(100 + n, registered_delivery=1, dest_addr=dest)])
        set_state(engine, 100 + n, state)
        insert(engine, [row(200 + n, replace=True, created_at=LATER, dest_addr=dest)])
    found = states(engine)
    for n, state in enumerate(TOO_LATE):
        assert (found[100 + n], found[200 + n]) == ((state, None, None), ("QUEUED", None, None)), state
    assert receipts(engine) == []


def test_every_queued_match_is_replaced_and_the_others_kept(engine) -> None:
    """When several queued messages match (one of them a submit_multi destination), all are
    replaced; a claimed one among them and non-matching ones are left alone."""
    insert(engine, [row(1), row(2, multi_id=2), row(3), row(4, dest_addr="491700000009")])
    set_state(engine, 3, "SENDING")
    insert(engine, [row(5, replace=True, created_at=LATER)])
    assert {i: s[0] for i, s in states(engine).items()} == {
        1: "CANCELLED", 2: "CANCELLED", 3: "SENDING", 4: "QUEUED", 5: "QUEUED"}


# (label, registered_delivery of the replaced message, receipt owed?)
RECEIPTS = [
    ("no receipt asked", 0x00, False),
    ("final receipt asked", 0x01, True),
    ("receipt on failure asked", 0x02, True),  # a replaced message was not delivered
    ("intermediate notification only", 0x10, False),
]


def test_a_receipt_is_owed_only_when_registered_delivery_asks(engine) -> None:
    """When a replaced message asked for a final receipt, the ESME is owed one in the same
    transaction: stat DELETED, the old message's id, from its destination back to its source."""
    for n, (_, registered_delivery, _) in enumerate(RECEIPTS):
        dest = f"4917000000{n:02d}"
        insert(engine, [row(100 + n, registered_delivery=registered_delivery, dest_addr=dest)])
        insert(engine, [row(200 + n, replace=True, created_at=LATER, registered_delivery=1, dest_addr=dest)])
    by_message = {r["message_id"]: r for r in receipts(engine)}
    for n, (label, _, owed) in enumerate(RECEIPTS):
        assert (100 + n in by_message) is owed, label
        if owed:
            receipt = by_message[100 + n]
            assert (receipt["kind"], receipt["account_id"], receipt["state"]) == ("receipt", 1, "PENDING"), label
            assert (receipt["source_addr"], receipt["dest_addr"]) == (f"4917000000{n:02d}", "Shop"), label
            body = bytes(receipt["body"])
            assert f"id:{100 + n} ".encode() in body and b"stat:DELETED" in body, label
    assert len(by_message) == sum(owed for _, _, owed in RECEIPTS)


def test_the_later_of_two_flagged_submits_in_one_batch_wins(engine) -> None:
    """When two flagged submits of the same key share a group commit, the first replaces the
    stored message, then the second replaces the first (with a receipt when the first asked)."""
    insert(engine, [row(1)])
    insert(engine, [row(2, replace=True, created_at=LATER, registered_delivery=1),
                    row(3, replace=True, created_at=LATER)])
    assert states(engine) == {1: ("CANCELLED", "replaced by 2", LATER), 2: ("CANCELLED", "replaced by 3", LATER),
                              3: ("QUEUED", None, None)}
    (receipt,) = receipts(engine)
    assert receipt["message_id"] == 2 and b"stat:DELETED" in bytes(receipt["body"])


# (label, batch as (id, flagged), expected states by id)
BATCH_ORDER = [
    ("a plain row before a flagged one is replaced", [(1, False), (2, True)], {1: "CANCELLED", 2: "QUEUED"}),
    ("a plain row after a flagged one is kept", [(1, True), (2, False)], {1: "QUEUED", 2: "QUEUED"}),
    ("plain, flagged, plain, flagged", [(1, False), (2, True), (3, False), (4, True)],
     {1: "CANCELLED", 2: "CANCELLED", 3: "CANCELLED", 4: "QUEUED"}),
]


def test_inside_one_batch_a_flagged_row_replaces_only_the_rows_before_it(engine) -> None:
    """When plain and flagged rows of one key share a group commit, arrival order decides: a
    flagged row replaces those before it, never those after it."""
    for n, (label, batch, expected) in enumerate(BATCH_ORDER):
        dest = f"4917000000{n:02d}"
        insert(engine, [row(100 * n + i, replace=flagged, dest_addr=dest) for i, flagged in batch])
        found = states(engine)
        assert {i: found[100 * n + i][0] for i in expected} == expected, label


def test_a_flagged_submit_with_nothing_to_replace_is_a_plain_insert(engine) -> None:
    """When nothing matches, the flagged row is stored like any other (without the marker),
    alongside plain rows of the same batch, and nothing is owed."""
    flagged = row(1, replace=True)
    assert insert(engine, [row(7, dest_addr="491700000007"), flagged, row(8, dest_addr="491700000008")]) == 3
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(messages).where(messages.c.id == 1)).mappings().one())
    expected = {k: v for k, v in flagged.items() if k != REPLACE_IF_PRESENT}
    assert {k: stored[k] for k in expected if k != "body"} == {k: v for k, v in expected.items() if k != "body"}
    assert {i: s[0] for i, s in states(engine).items()} == {1: "QUEUED", 7: "QUEUED", 8: "QUEUED"}
    assert receipts(engine) == []


def test_replacement_and_insert_commit_or_fail_together(engine) -> None:
    """When the batch's insert fails (here: an id already stored), the replacement it made in
    the same transaction is rolled back: the old message is still QUEUED and nothing is owed."""
    insert(engine, [row(1, registered_delivery=1), row(5, dest_addr="491700000005")])
    with pytest.raises(sa.exc.IntegrityError):
        insert(engine, [row(2, replace=True, created_at=LATER), row(5, dest_addr="491700000005")])
    assert states(engine) == {1: ("QUEUED", None, None), 5: ("QUEUED", None, None)}
    assert receipts(engine) == []


# ------------------------------------------------------------------ building the row

SUBMIT = {"source_addr": "ACME", "source_addr_ton": 5, "destination_addr": "447700900001",
          "dest_addr_ton": 1, "dest_addr_npi": 1, "short_message": b"hello"}
ACCOUNT = Account(1, "app", "", True, 2, 10, 0.0, (), (), "")

# (label, command, params, marked?)
FLAGS = [
    ("submit_sm flag 1", "submit_sm", {"replace_if_present_flag": 1}, True),
    ("submit_sm flag 0", "submit_sm", {"replace_if_present_flag": 0}, False),
    ("data_sm (no such field)", "data_sm", {}, False),
]


@pytest.mark.parametrize("label, command, extra, marked", FLAGS, ids=[f[0] for f in FLAGS])
def test_only_a_submit_sm_with_the_flag_set_is_marked(label: str, command: str, extra: dict, marked: bool) -> None:
    """When the row is built, only a submit_sm whose replace_if_present_flag is 1 carries the marker."""
    without_body = {k: v for k, v in SUBMIT.items() if k != "short_message"}
    params = dict(SUBMIT, **extra) if command == "submit_sm" else without_body
    row_ = message_row(Pdu(command, 1, 0, params), ACCOUNT, NOW, IntakeLimits(), 9)
    assert (REPLACE_IF_PRESENT in row_) is marked, label


# ------------------------------------------------------------------ through the SMPP session


def session_on(engine) -> tuple[SmppServerProtocol, StringTransport, Clock]:
    """The real server session, Ingress and GroupCommitter; transactions run at once on ``engine``."""
    clock = Clock()
    clock.advance(NOW)

    def run_interaction(desc: str, fn: Any, *args: Any, readonly: bool = False, **kwargs: Any):
        try:
            with engine.begin() as conn:
                return succeed(fn(conn, *args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller as a failed Deferred
            return fail(exc)

    ingress = Ingress(run_interaction=run_interaction, clock=clock, registry=None,
                      committer=GroupCommitter(run_interaction, clock), ids=IdGenerator(3, clock.seconds),
                      limits=IntakeLimits(), failure_throttle=None, verify_password=None)
    session = SmppServerProtocol(ingress, clock, SessionSettings(window=10))
    transport = StringTransport()
    session.makeConnection(transport)
    session.principal = AccountBinding(ACCOUNT, clock)
    session._set_state(SessionState.BOUND_TRX)
    return session, transport, clock


def test_over_smpp_the_new_submit_gets_a_new_id_and_query_sm_says_the_old_one_was_deleted(engine) -> None:
    """When an ESME submits, then submits again with replace_if_present_flag=1, the second
    submit_sm_resp carries a new id; query_sm on the first id answers DELETED with a final date."""
    session, transport, clock = session_on(engine)
    session.dataReceived(wire("submit_sm", 1, params=dict(SUBMIT, registered_delivery=1)))
    clock.advance(0)
    (first,) = sent(transport)
    clock.advance(5)
    session.dataReceived(wire("submit_sm", 2, params=dict(SUBMIT, replace_if_present_flag=1)))
    clock.advance(0)
    (second,) = sent(transport)
    assert (first.status, second.status) == (0, 0)
    old_id, new_id = first.params["message_id"], second.params["message_id"]
    assert old_id != new_id
    session.dataReceived(wire("query_sm", 3, params={"message_id": old_id, "source_addr": "ACME"}))
    session.dataReceived(wire("query_sm", 4, params={"message_id": new_id, "source_addr": "ACME"}))
    old, new = sent(transport)
    assert (old.status, old.params["message_state"], old.params["final_date"] != "") == (0, 4, True)
    assert (new.status, new.params["message_state"], new.params["final_date"]) == (0, 1, "")
    assert states(engine)[int(old_id)][1] == f"replaced by {new_id}"
    assert [r["message_id"] for r in receipts(engine)] == [int(old_id)]


def test_over_smpp_two_flagged_submits_in_one_pdu_burst_keep_only_the_last(engine) -> None:
    """When three flagged submits for one destination arrive in one read (one group commit),
    each is answered with its own id and only the last stays queued."""
    session, transport, clock = session_on(engine)
    flagged = dict(SUBMIT, replace_if_present_flag=1)
    session.dataReceived(b"".join(wire("submit_sm", seq, params=flagged) for seq in (1, 2, 3)))
    clock.advance(0)
    ids = [int(p.params["message_id"]) for p in sent(transport)]
    assert len(set(ids)) == 3
    assert {i: s[0] for i, s in states(engine).items()} == {ids[0]: "CANCELLED", ids[1]: "CANCELLED",
                                                             ids[2]: "QUEUED"}


def test_over_smpp_submit_multi_checks_the_flag_but_never_replaces(engine) -> None:
    """When a submit_multi sets replace_if_present_flag=1 to a destination already queued, both
    messages go (only submit_sm acts on the flag); a flag of 2 is still refused."""
    session, transport, clock = session_on(engine)
    session.dataReceived(wire("submit_sm", 1, params=SUBMIT))
    multi = {k: v for k, v in SUBMIT.items() if not k.startswith("dest")}
    multi["dest_address"] = [{"dest_flag": 1, "dest_addr_ton": 1, "dest_addr_npi": 1,
                              "destination_addr": SUBMIT["destination_addr"]}]
    session.dataReceived(wire("submit_multi", 2, params=dict(multi, replace_if_present_flag=1)))
    session.dataReceived(wire("submit_multi", 3, params=dict(multi, replace_if_present_flag=2)))
    clock.advance(0)
    answers = {p.sequence: p.status for p in sent(transport)}
    assert answers == {1: 0, 2: 0, 3: Status.ESME_RINVREPFLAG}
    assert [s[0] for s in states(engine).values()] == ["QUEUED", "QUEUED"]
