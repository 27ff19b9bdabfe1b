"""The queue and receipt transactions on SQLite and a real PostgreSQL.

Claiming, outcomes, the DLR map, early receipts, multipart completion and the receipts owed to
ESMEs: each test drives the *_txn functions the way the dispatcher and the inbound sink do.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from smsc.dlr import ReceiptEvent, esme_receipt
from smsc.store import migrate
from smsc.store.accounts import create_account_txn
from smsc.store.db import create_engine
from smsc.store.dlr import apply_receipts_txn, expire_early_receipts_txn, rematch_early_receipts_txn
from smsc.store.messages import cancel_txn, insert_messages_txn
from smsc.store.outbox import due_outbox_txn, outbox_done_txn
from smsc.store.queue import CLAIM_COLUMNS, Failed, Requeue, Sent, claim_due_txn, record_outcomes_txn, requeue_sending_txn
from smsc.store.schema import dlr_keys, early_receipts, messages, outbox

NOW = 1_800_000_000.0
DELIVERED, UNDELIV, ENROUTE = 2, 5, 1


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        create_account_txn(conn, "app", "scrypt$x", NOW)
    yield engine
    engine.dispose()


def row(message_id: int, **overrides):
    base = {
        "id": message_id, "account_id": 1, "state": "QUEUED", "command": "submit_sm", "multi_id": None,
        "service_type": "", "source_addr": "Shop", "source_ton": 5, "source_npi": 0,
        "dest_addr": f"4917{message_id:08d}", "dest_ton": 1, "dest_npi": 1, "esm_class": 0, "protocol_id": 0,
        "priority": 0, "registered_delivery": 1, "data_coding": 0, "body": b"hello", "text": "hello",
        "segments": 1, "tlvs": None, "created_at": NOW, "updated_at": NOW, "schedule_at": None,
        "expires_at": NOW + 3600, "next_attempt_at": NOW, "attempts": 0, "route": None, "upstream": None,
        "error": None, "done_at": None, "claimed_by": None, "parts_sent": 0, "parts_done": 0,
    }
    base.update(overrides)
    return base


def run(engine, fn, *args):
    with engine.begin() as conn:
        return fn(conn, *args)


def state_of(engine, message_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(messages.c.state).where(messages.c.id == message_id)).scalar()


def owed(engine):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


def test_claim_takes_due_rows_by_priority_and_marks_them_sending(engine):
    """When rows are due, the claim takes the highest priority first, up to the limit, and stamps the node."""
    run(engine, insert_messages_txn, [row(1), row(2, priority=2), row(3, next_attempt_at=NOW + 60), row(4)])
    claimed, expired = run(engine, claim_due_txn, 7, NOW, 2, esme_receipt)
    assert [r["id"] for r in claimed] == [2, 1]
    assert claimed[0]["system_id"] == "app"
    assert expired == 0
    assert state_of(engine, 2) == "SENDING" and state_of(engine, 4) == "QUEUED" and state_of(engine, 3) == "QUEUED"
    again, _ = run(engine, claim_due_txn, 7, NOW, 10, esme_receipt)
    assert [r["id"] for r in again] == [4], "a claimed row is never claimed twice; a future one waits"


def test_expired_rows_become_expired_with_a_receipt(engine):
    """When a queued row's validity has passed, the claim marks it EXPIRED and owes the ESME a receipt."""
    run(engine, insert_messages_txn, [row(1, expires_at=NOW - 1)])
    claimed, expired = run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    assert claimed == [] and expired == 1
    assert state_of(engine, 1) == "EXPIRED"
    [receipt] = owed(engine)
    assert b"stat:EXPIRED" in receipt["body"] and receipt["dest_addr"] == "Shop"


def test_restart_requeues_only_this_nodes_sending_rows(engine):
    """When a node restarts, rows it left in SENDING are re-queued and counted; another node's are not touched."""
    run(engine, insert_messages_txn, [row(1), row(2)])
    run(engine, claim_due_txn, 1, NOW, 1, esme_receipt)
    run(engine, claim_due_txn, 2, NOW, 1, esme_receipt)
    assert run(engine, requeue_sending_txn, 1, NOW + 5) == 1
    assert sorted([state_of(engine, 1), state_of(engine, 2)]) == ["QUEUED", "SENDING"]


def test_sent_then_receipt_delivers_and_owes_esme_receipt(engine):
    """When the upstream accepts and later says DELIVRD, the message is DELIVERED and the ESME gets our id."""
    run(engine, insert_messages_txn, [row(1)])
    run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    keys = run(engine, record_outcomes_txn, NOW, [Sent(1, "carrier-a", "default", ((1, "abc"),))], [])
    assert keys == [("carrier-a", "abc")]
    assert state_of(engine, 1) == "SUBMITTED"
    counts = run(engine, apply_receipts_txn, NOW + 2, [ReceiptEvent("carrier-a", "abc", DELIVERED)])
    assert counts["matched"] == 1 and counts["final"] == 1
    assert state_of(engine, 1) == "DELIVERED"
    [receipt] = owed(engine)
    assert receipt["esm_class"] == 0x04 and b"id:1 " in receipt["body"] and b"stat:DELIVRD" in receipt["body"]
    duplicate = run(engine, apply_receipts_txn, NOW + 3, [ReceiptEvent("carrier-a", "abc", DELIVERED)])
    assert duplicate["duplicate"] == 1 and len(owed(engine)) == 1, "a repeated receipt changes nothing"


def test_final_receipts_report_their_latency_per_upstream(engine):
    """When final receipts are applied, each reports the seconds since its upstream accepted the
    part, under that upstream; an intermediate or duplicate receipt reports none."""
    run(engine, insert_messages_txn, [row(1), row(2, registered_delivery=0x11)])
    run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    run(engine, record_outcomes_txn, NOW, [Sent(1, "a", None, ((1, "r1"),))], [])
    run(engine, record_outcomes_txn, NOW + 1, [Sent(2, "b", None, ((1, "r2"),))], [])
    latencies: dict[str, list[float]] = {}
    run(engine, apply_receipts_txn, NOW + 5, [ReceiptEvent("a", "r1", DELIVERED), ReceiptEvent("b", "r2", ENROUTE),
                                              ReceiptEvent("a", "r1", DELIVERED)], None, latencies)
    assert latencies == {"a": [5.0]}
    run(engine, apply_receipts_txn, NOW + 9, [ReceiptEvent("b", "r2", UNDELIV)], None, latencies)
    assert latencies == {"a": [5.0], "b": [8.0]}


def test_early_receipt_is_kept_and_matched_when_the_key_lands(engine):
    """When the receipt arrives before the submit_sm_resp, it is stored, then applied once the id is known."""
    run(engine, insert_messages_txn, [row(1)])
    run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    early = run(engine, apply_receipts_txn, NOW, [ReceiptEvent("carrier-a", "xyz", UNDELIV, 11)])
    assert early["early"] == 1
    keys = run(engine, record_outcomes_txn, NOW, [Sent(1, "carrier-a", "default", ((1, "xyz"),))], [])
    counts = run(engine, rematch_early_receipts_txn, NOW, keys)
    assert counts["final"] == 1
    assert state_of(engine, 1) == "UNDELIVERABLE"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(early_receipts)).scalar() == 0


def test_cancel_sm_owes_a_deleted_receipt_when_one_was_asked_for(engine):
    """When an ESME cancels queued messages, each becomes CANCELLED and those whose
    registered_delivery asks for a final (or failure) receipt are owed one with stat DELETED."""
    run(engine, insert_messages_txn, [row(1, registered_delivery=1), row(2, registered_delivery=0),
                                      row(3, registered_delivery=2)])
    account_id = row(1)["account_id"]
    assert run(engine, lambda conn: cancel_txn(conn, account_id, NOW, message_id=1)) == 1
    assert run(engine, lambda conn: cancel_txn(conn, account_id, NOW, message_id=2)) == 1
    assert run(engine, lambda conn: cancel_txn(conn, account_id, NOW, message_id=3)) == 1
    assert [state_of(engine, i) for i in (1, 2, 3)] == ["CANCELLED"] * 3
    receipts = owed(engine)
    assert [(r["message_id"], b"stat:DELETED" in r["body"]) for r in receipts] == [(1, True), (3, True)]


def test_failure_only_receipts_and_intermediate_notifications(engine):
    """registered_delivery 2 gets a receipt only on failure; bit 0x10 asks for ENROUTE notifications too."""
    run(engine, insert_messages_txn, [row(1, registered_delivery=2), row(2, registered_delivery=0x12)])
    run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    run(engine, record_outcomes_txn, NOW, [Sent(1, "c", None, ((1, "r1"),)), Sent(2, "c", None, ((1, "r2"),))], [])
    run(engine, apply_receipts_txn, NOW, [ReceiptEvent("c", "r1", DELIVERED), ReceiptEvent("c", "r2", ENROUTE),
                                          ReceiptEvent("c", "r2", UNDELIV)])
    receipts = owed(engine)
    assert [(r["message_id"], r["esm_class"]) for r in receipts] == [(2, 0x20), (2, 0x04)]


def test_multipart_message_is_final_when_every_part_is(engine):
    """A 3-part message stays SUBMITTED until its last part's receipt; one failed part makes it UNDELIVERABLE."""
    run(engine, insert_messages_txn, [row(1, segments=3)])
    run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    run(engine, record_outcomes_txn, NOW, [Sent(1, "c", None, ((1, "p1"), (2, "p2"), (3, "p3")))], [])
    run(engine, apply_receipts_txn, NOW, [ReceiptEvent("c", "p1", DELIVERED)])
    run(engine, apply_receipts_txn, NOW, [ReceiptEvent("c", "p2", UNDELIV)])
    assert state_of(engine, 1) == "SUBMITTED"
    run(engine, apply_receipts_txn, NOW, [ReceiptEvent("c", "p3", DELIVERED)])
    assert state_of(engine, 1) == "UNDELIVERABLE"
    assert len(owed(engine)) == 1


def test_requeue_and_failure_outcomes(engine):
    """A retry goes back to QUEUED with its next attempt time; a failure is final and owes a receipt."""
    run(engine, insert_messages_txn, [row(1), row(2)])
    claimed, _ = run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    by_id = {r["id"]: r for r in claimed}
    run(engine, record_outcomes_txn, NOW, [Requeue(1, NOW + 30, "throttled", 0), Failed(2, "invalid destination")],
        [esme_receipt(by_id[2], "FAILED", NOW)])
    assert state_of(engine, 1) == "QUEUED" and state_of(engine, 2) == "FAILED"
    assert run(engine, claim_due_txn, 1, NOW + 10, 10, esme_receipt)[0] == []
    assert [r["id"] for r in run(engine, claim_due_txn, 1, NOW + 31, 10, esme_receipt)[0]] == [1]
    assert b"stat:UNDELIV" in owed(engine)[0]["body"]


def test_claimed_row_is_the_message_as_stored(engine):
    """A claimed row carries every claim column with its stored value and type (bytes, not a
    driver buffer), the attempt is counted, and a batch larger than one IN chunk is claimed whole."""
    tlvs = b"\x02\x0c\x00\x02\x00\x07"
    run(engine, insert_messages_txn, [row(1, body=b"\x00bin\xff", tlvs=tlvs, text=None, priority=1, expires_at=None)]
        + [row(i) for i in range(2, 602)])
    claimed, expired = run(engine, claim_due_txn, 3, NOW, 1000, esme_receipt)
    assert expired == 0 and len(claimed) == 601 and len({r["id"] for r in claimed}) == 601
    first = claimed[0]
    assert set(first) == {c.name for c in CLAIM_COLUMNS} | {"system_id"}
    assert (first["id"], first["body"], first["tlvs"], first["text"], first["expires_at"]) == (1, b"\x00bin\xff", tlvs, None, None)
    assert type(first["body"]) is bytes and type(first["tlvs"]) is bytes and type(claimed[1]["body"]) is bytes
    assert (claimed[1]["source_addr"], claimed[1]["dest_ton"], claimed[1]["system_id"]) == ("Shop", 1, "app")
    with engine.connect() as conn:
        counts = conn.execute(sa.select(messages.c.state, messages.c.claimed_by, messages.c.attempts,
                                        sa.func.count()).group_by(messages.c.state, messages.c.claimed_by,
                                                                  messages.c.attempts)).all()
    assert counts == [("SENDING", 3, 1, 601)]


def test_claim_marks_only_the_expired_rows_expired(engine):
    """When due rows are a mix of live and expired ones, the live ones are claimed and the
    expired ones end EXPIRED with a receipt each; nothing else is touched."""
    run(engine, insert_messages_txn, [row(1), row(2, expires_at=NOW - 1), row(3), row(4, expires_at=NOW)])
    claimed, expired = run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    assert [r["id"] for r in claimed] == [1, 3] and expired == 2
    assert [state_of(engine, i) for i in (1, 2, 3, 4)] == ["SENDING", "EXPIRED", "SENDING", "EXPIRED"]
    assert len(owed(engine)) == 2


def test_dlr_key_newest_wins_and_a_prewritten_key_keeps_its_state(engine):
    """When an outcome's key already exists: for the same message and part (an upstream wrote it
    first) it is kept with its state; for another message (an id reused) the new mapping replaces it."""
    run(engine, insert_messages_txn, [row(1), row(2), row(3)])
    run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    with engine.begin() as conn:
        conn.execute(dlr_keys.insert(), [
            {"upstream": "c", "remote_id": "same", "message_id": 1, "part": 1, "state": "DELIVERED",
             "created_at": NOW - 5, "updated_at": NOW - 5},
            {"upstream": "c", "remote_id": "reused", "message_id": 99, "part": 1, "state": "DELIVERED",
             "created_at": NOW - 9, "updated_at": NOW - 9},
            {"upstream": "other", "remote_id": "fresh", "message_id": 98, "part": 1, "state": "DELIVERED",
             "created_at": NOW - 9, "updated_at": NOW - 9},
        ])
    keys = run(engine, record_outcomes_txn, NOW, [
        Sent(1, "c", "r", ((1, "same"),)), Sent(2, "c", "r", ((1, "reused"),)),
        Sent(3, "c", "r", ((1, "fresh"), (2, "fresh2"))),
    ], [])
    assert sorted(keys) == [("c", "fresh"), ("c", "fresh2"), ("c", "reused"), ("c", "same")]
    with engine.connect() as conn:
        got = conn.execute(sa.select(dlr_keys.c.upstream, dlr_keys.c.remote_id, dlr_keys.c.message_id,
                                     dlr_keys.c.part, dlr_keys.c.state, dlr_keys.c.created_at)
                           .order_by(dlr_keys.c.upstream, dlr_keys.c.remote_id)).all()
    assert [tuple(r) for r in got] == [
        ("c", "fresh", 3, 1, "SUBMITTED", NOW), ("c", "fresh2", 3, 2, "SUBMITTED", NOW),
        ("c", "reused", 2, 1, "SUBMITTED", NOW), ("c", "same", 1, 1, "DELIVERED", NOW - 5),
        ("other", "fresh", 98, 1, "DELIVERED", NOW - 9),
    ]
    assert [state_of(engine, i) for i in (1, 2, 3)] == ["SUBMITTED"] * 3


def test_outcomes_in_one_batch_each_reach_their_row(engine):
    """A batch mixing sends on two routes, a partial send, a busy requeue (attempt not counted)
    and a failure writes each row as its outcome says."""
    run(engine, insert_messages_txn, [row(i) for i in range(1, 7)])
    run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    run(engine, record_outcomes_txn, NOW, [
        Sent(1, "a", "r1", ((1, "k1"),)), Sent(2, "b", "r2", ((1, "k2"), (2, "k3"))),
        Requeue(3, NOW + 9, "throttled", 1, upstream="a", remote_ids=((1, "k4"),)),
        Requeue(4, NOW + 1, "upstreams busy", 0, uncount=True), Failed(5, "x" * 300, upstream="a"),
        Sent(6, "a", "r1", ((1, "k5"),)),
    ], [])
    with engine.connect() as conn:
        got = {r.id: tuple(r)[1:] for r in conn.execute(sa.select(
            messages.c.id, messages.c.state, messages.c.upstream, messages.c.route, messages.c.parts_sent,
            messages.c.attempts, messages.c.next_attempt_at, messages.c.claimed_by, sa.func.length(messages.c.error)))}
    assert got == {
        1: ("SUBMITTED", "a", "r1", 1, 1, NOW, None, None), 2: ("SUBMITTED", "b", "r2", 2, 1, NOW, None, None),
        3: ("QUEUED", None, None, 1, 1, NOW + 9, None, 9), 4: ("QUEUED", None, None, 0, 0, NOW + 1, None, 14),
        5: ("FAILED", "a", None, 0, 1, NOW, None, 200), 6: ("SUBMITTED", "a", "r1", 1, 1, NOW, None, None),
    }


def test_outbox_delivery_and_retry(engine):
    """Owed deliveries come out oldest first; one answered OK is done, a failed one waits for its retry time."""
    run(engine, insert_messages_txn, [row(1), row(2)])
    claimed, _ = run(engine, claim_due_txn, 1, NOW, 10, esme_receipt)
    run(engine, record_outcomes_txn, NOW, [Failed(r["id"], "x") for r in claimed],
        [esme_receipt(r, "FAILED", NOW) for r in claimed])
    due = run(engine, due_outbox_txn, [1], NOW, 10, [])
    assert len(due) == 2
    run(engine, outbox_done_txn, NOW, [due[0]["id"]], [(due[1]["id"], NOW + 60)])
    assert run(engine, due_outbox_txn, [1], NOW + 1, 10, []) == []
    assert [r["id"] for r in run(engine, due_outbox_txn, [1], NOW + 61, 10, [])] == [due[1]["id"]]


def test_unmatched_early_receipts_expire(engine):
    """An early receipt whose message never shows up is purged after the grace period."""
    run(engine, apply_receipts_txn, NOW, [ReceiptEvent("c", "ghost", DELIVERED)])
    assert run(engine, expire_early_receipts_txn, NOW + 1) == 1


def test_bulk_insert_round_trips_awkward_values(engine):
    """Text with tabs, newlines, backslashes and emoji, binary bodies with NUL and ESC, NULLs and
    floats come back exactly (PostgreSQL inserts go through COPY's text format)."""
    text = "tab\there\nnew line \\ back\\slash \\N not null 😀 \r"
    body = b"\x00\x1b\\x41\t\n\xff"
    run(engine, insert_messages_txn, [row(1, text=text, body=body, tlvs=b"\x00\x01\x00", expires_at=1.0 / 3),
                                      row(2, text=None, schedule_at=None)])
    with engine.connect() as conn:
        got = conn.execute(sa.select(messages.c.text, messages.c.body, messages.c.tlvs, messages.c.expires_at)
                           .where(messages.c.id == 1)).one()
        null_text = conn.execute(sa.select(messages.c.text).where(messages.c.id == 2)).scalar()
    assert (got.text, bytes(got.body), bytes(got.tlvs), got.expires_at) == (text, body, b"\x00\x01\x00", 1.0 / 3)
    assert null_text is None


def test_long_mo_is_kept_until_whole_then_delivered_as_one(engine):
    """When the parts of a concatenated MO arrive out of order (one twice), nothing is owed until
    every part is in; then one deliver_sm without UDH carries the whole text."""
    from smsc.inbound import InboundSink, MoEvent, MoRoute
    from twisted.internet.task import Clock

    sink = InboundSink(run_interaction=None, clock=Clock(), mo_routes=(MoRoute("app", reassemble=True),))

    def part(seq: int, text: bytes) -> MoEvent:
        udh = bytes([5, 0, 3, 0x42, 3, seq])
        return MoEvent("carrier", "491701", 1, 1, "12345", 0, 0, 0x40, 0, udh + text, text.decode(),
                       concat=(0x42, 3, seq))

    run(engine, sink._store_mos, [part(3, b"three"), part(1, b"one ")])
    run(engine, sink._store_mos, [part(1, b"one ")])
    assert [r["state"] for r in owed(engine)] == ["PARTIAL"] * 3
    run(engine, sink._store_mos, [part(2, b"two ")])
    [whole] = owed(engine)
    assert (whole["state"], whole["body"], whole["esm_class"]) == ("PENDING", b"one two three", 0)


@pytest.mark.postgres
def test_two_nodes_never_claim_the_same_row(postgres_url):
    """When two nodes claim at the same moment from one PostgreSQL queue, SKIP LOCKED gives each
    different rows, and together they get all of them."""
    engine = create_engine(postgres_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        create_account_txn(conn, "app", "scrypt$x", NOW)
        insert_messages_txn(conn, [row(i) for i in range(1, 11)])
    first = engine.connect()
    transaction = first.begin()
    try:
        mine, _ = claim_due_txn(first, 1, NOW, 6, esme_receipt)  # node 1 holds its rows, uncommitted
        with engine.begin() as second:
            theirs, _ = claim_due_txn(second, 2, NOW, 10, esme_receipt)  # node 2 does not wait for them
        transaction.commit()
    finally:
        first.close()
        engine.dispose()
    assert len(mine) == 6 and len(theirs) == 4
    assert {r["id"] for r in mine}.isdisjoint({r["id"] for r in theirs})
