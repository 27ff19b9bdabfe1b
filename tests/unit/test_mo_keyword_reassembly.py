"""A long MO is routed by its whole text: keyword routes see every part of a reassembled MO.

The parts come as a carrier sends them (deliver_sm built by the simulator's own splitter, read
by mo_from_pdu) and are stored by InboundSink on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from protocols.smpp.codec import Pdu
from protocols.smpp.simulator_settings import mo_parts
from smsc.inbound import InboundSink, MoEvent, MoRoute, mo_from_pdu
from smsc.metrics import Metrics
from smsc.store.accounts import create_account_txn
from smsc.store.schema import outbox

NOW = 1_800_000_000.0
WAIT = 600.0
ACCOUNTS = ("votes", "support", "other")  # ids 1, 2, 3
VOTES, SUPPORT, OTHER = 1, 2, 3
KEYWORD_FIRST = (
    MoRoute("votes", prefix="777", keyword="VOTE", reassemble=True),
    MoRoute("support", prefix="777", reassemble=True),
)
TEXT = "VOTE for candidate 7 because the programme on schools and on public transport is the best one we have seen"


@pytest.fixture
def engine(migrated_engine):
    with migrated_engine.begin() as conn:
        for name in ACCOUNTS:
            create_account_txn(conn, name, "scrypt$x", NOW)
    return migrated_engine


class Carrier:
    """Turns texts into the deliver_sm parts a carrier sends, and stores them through a sink."""

    def __init__(self, engine: Any, routes: tuple[MoRoute, ...]) -> None:
        self.engine = engine
        self.clock = Clock()
        self.clock.advance(NOW)
        self.metrics = Metrics()
        self.sink = InboundSink(run_interaction=self.run_interaction, clock=self.clock, mo_routes=routes,
                                metrics=self.metrics)

    def run_interaction(self, desc: str, fn: Any, *args: Any) -> Any:
        with self.engine.begin() as conn:
            return succeed(fn(conn, *args))

    def parts(self, text: str, parts: int | None = None, *, dc: int | None = None, ref: int = 0x42,
              source: str = "491701", dest: str = "77700") -> list[MoEvent]:
        return [mo_from_pdu("carrier", Pdu("deliver_sm", params={
            "source_addr": source, "source_addr_ton": 1, "source_addr_npi": 1, "destination_addr": dest,
            "esm_class": esm_class, "data_coding": coding, "short_message": body}))
            for esm_class, coding, body in mo_parts(text, dc, parts, ref)]

    def deliver(self, *events: MoEvent) -> None:
        """Each part as its own deliver_sm; its Deferred (the deliver_sm_resp) fires once stored."""
        answers = [self.sink.mo_event(e) for e in events]
        self.clock.advance(0)
        assert [d.called and d.result for d in answers] == [None] * len(answers)  # stored, no failure

    def release(self, after: float) -> dict[str, int]:
        self.clock.advance(after)
        with self.engine.begin() as conn:
            return self.sink.settle_partial_txn(conn, self.clock.seconds() - WAIT)

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]

    def owed(self) -> list[tuple[int | None, str, bytes]]:
        """(account, state, body) of the rows owed, in delivery order."""
        return [(r["account_id"], r["state"], bytes(r["body"])) for r in self.rows()]

    def counted(self, result: str) -> float:
        return self.metrics.mo_total.labels(result)._value.get()


def bodies(events: list[MoEvent]) -> list[bytes]:
    return [e.body for e in events]


def test_keyword_in_part_one_only_reaches_the_keyword_account(engine):
    """When a 3-part MO starts with the keyword of a reassembling route, the keyword's account
    gets one message with the whole text, though parts 2 and 3 alone match the plain route."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    parts = carrier.parts(TEXT, 3)
    assert [e.text.startswith("VOTE") for e in parts] == [True, False, False]
    carrier.deliver(*parts[:2])
    assert [state for _, state, _ in carrier.owed()] == ["PARTIAL", "PARTIAL"]
    carrier.deliver(parts[2])
    assert carrier.owed() == [(VOTES, "PENDING", TEXT.encode())]
    assert (carrier.counted("routed"), carrier.counted("unrouted")) == (3, 0)


@pytest.mark.parametrize("label, order", [
    ("reversed", [2, 1, 0]),
    ("last first, part two twice", [2, 1, 1, 0]),
    ("every part twice", [0, 0, 1, 2, 1, 2]),
    ("middle first, first twice", [1, 0, 2, 0]),
])
def test_out_of_order_and_duplicated_parts_make_one_message(engine, label, order):
    """When parts arrive in any order, some twice, the keyword's account gets exactly one
    message; the copies are dropped and a copy arriving after completion is a new group."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    parts = carrier.parts(TEXT, 3)
    first_complete = next(i for i in range(len(order)) if set(order[: i + 1]) == {0, 1, 2})
    carrier.deliver(*[parts[i] for i in order[: first_complete + 1]])
    assert carrier.owed() == [(VOTES, "PENDING", TEXT.encode())], label
    assert carrier.counted("routed") == 3, label


def test_duplicates_in_separate_deliveries_count_once(engine):
    """When the same part comes again in a later deliver_sm before the group is whole, it
    counts once: the message completes with the other parts and no copy is left behind."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    parts = carrier.parts(TEXT, 3)
    for i in (0, 0, 2, 2, 1):
        carrier.deliver(parts[i])
    assert carrier.owed() == [(VOTES, "PENDING", TEXT.encode())]


SPLIT_TEXTS = [
    # label, text, cut (octets of the UCS-2 body in part 1)
    ("surrogate pair cut in two", "STOP 😀 please, no more messages", 12),
    ("odd octet cut", "STOP Привет, больше не надо", 11),
]


@pytest.mark.parametrize("label, text, cut", SPLIT_TEXTS)
def test_ucs2_reply_split_mid_character_is_whole_and_routed(engine, label, text, cut):
    """When a UCS-2 reply is cut inside a character (a surrogate pair, or an odd octet), the
    joined body decodes to the whole text, and the keyword routes it."""
    carrier = Carrier(engine, (MoRoute("votes", prefix="777", keyword="stop", reassemble=True),
                               MoRoute("support", prefix="777", reassemble=True)))
    body = text.encode("utf-16-be")
    events = []
    for seq, chunk in ((1, body[:cut]), (2, body[cut:])):
        pdu = Pdu("deliver_sm", params={"source_addr": "491701", "destination_addr": "77700", "esm_class": 0x40,
                                        "data_coding": 8, "short_message": bytes([5, 0, 3, 9, 2, seq]) + chunk})
        events.append(mo_from_pdu("carrier", pdu))
    carrier.deliver(events[1])
    carrier.deliver(events[0])
    [(account, state, joined)] = carrier.owed()
    assert (account, state, joined.decode("utf-16-be")) == (VOTES, "PENDING", text), label


def test_long_ucs2_reply_of_71_characters_is_two_parts_and_whole(engine):
    """When a 71-character Cyrillic reply (two UCS-2 parts) starts with the keyword, it reaches
    the keyword's account as one message."""
    text = "VOTE " + "да" * 33
    carrier = Carrier(engine, KEYWORD_FIRST)
    parts = carrier.parts(text)
    assert (len(text), len(parts), parts[0].data_coding) == (71, 2, 8)
    carrier.deliver(*reversed(parts))
    assert carrier.owed() == [(VOTES, "PENDING", text.encode("utf-16-be"))]


ROUTING = [
    # label, routes, text, owed as (account, state, one body or the part bodies)
    ("keyword route wins for its keyword", KEYWORD_FIRST, TEXT, [(VOTES, "whole")]),
    ("plain route takes other text", KEYWORD_FIRST, "Hello there, " * 15, [(SUPPORT, "whole")]),
    ("keyword is case-insensitive", KEYWORD_FIRST, "vote " + "yes " * 50, [(VOTES, "whole")]),
    ("keyword route without reassembly gets the parts", (
        MoRoute("votes", prefix="777", keyword="VOTE"),
        MoRoute("support", prefix="777", reassemble=True)), TEXT, [(VOTES, "parts")]),
    ("other prefix first is skipped", (
        MoRoute("other", prefix="888"),
        MoRoute("votes", prefix="777", keyword="VOTE", reassemble=True),
        MoRoute("support", prefix="")), TEXT, [(VOTES, "whole")]),
    ("whole text matches no route: unrouted, joined", (
        MoRoute("votes", prefix="777", keyword="VOTE", reassemble=True),), "Hello there, " * 15, [(None, "whole")]),
    ("route to an unknown account: unrouted", (
        MoRoute("ghost", prefix="777", reassemble=True),), TEXT, [(None, "whole")]),
    ("keyword route falls to a plain route without reassembly", (
        MoRoute("votes", prefix="777", keyword="VOTE", reassemble=True),
        MoRoute("support", prefix="7")), "JOIN " + "me " * 60, [(SUPPORT, "parts")]),
]


@pytest.mark.parametrize("label, routes, text, expected", ROUTING)
def test_the_whole_text_picks_the_route(engine, label, routes, text, expected):
    """When every part is in, the first route matching the whole text takes it: joined when
    that route reassembles or none matches, part by part (with UDH) when it does not."""
    carrier = Carrier(engine, routes)
    parts = carrier.parts(text, 3)
    carrier.deliver(*parts[::-1])
    [(account, shape)] = expected
    if shape == "whole":
        assert carrier.owed() == [(account, "PENDING", text.encode())], label
    else:
        assert sorted(carrier.owed(), key=lambda r: r[2][5]) == [(account, "PENDING", b) for b in bodies(parts)], label
    unrouted = 3 if account is None else 0
    assert (carrier.counted("routed"), carrier.counted("unrouted")) == (3 - unrouted, unrouted), label


UNCHANGED = [
    # label, routes, why the parts are not kept
    ("no route reassembles", (MoRoute("votes", prefix="777", keyword="VOTE"), MoRoute("support", prefix="777"))),
    ("a plain route comes first", (MoRoute("support", prefix="7"), MoRoute("votes", prefix="777", reassemble=True))),
    ("the reassembling route is for another number", (MoRoute("votes", prefix="888", reassemble=True),
                                                      MoRoute("support", prefix=""))),
]


@pytest.mark.parametrize("label, routes", UNCHANGED)
def test_parts_no_reassembling_route_could_take_go_on_at_once(engine, label, routes):
    """When no route that reassembles could take the message, each part goes on at once with
    its UDH, routed by its own text, as before."""
    carrier = Carrier(engine, routes)
    parts = carrier.parts(TEXT, 3)
    carrier.deliver(*parts)
    own = [carrier.sink.route_mo(e.dest_addr, e.text) for e in parts]
    expected = [({"votes": VOTES, "support": SUPPORT}[r.account], "PENDING", e.body) for r, e in zip(own, parts)]
    assert carrier.owed() == expected, label


def test_single_part_mo_is_routed_by_its_text_at_once(engine):
    """When a short MO comes, it is owed at once to the route its text matches, or unrouted."""
    carrier = Carrier(engine, (MoRoute("votes", prefix="777", keyword="VOTE", reassemble=True),))
    carrier.deliver(*carrier.parts("VOTE 7"), *carrier.parts("hello"))
    assert carrier.owed() == [(VOTES, "PENDING", b"VOTE 7"), (None, "PENDING", b"hello")]
    assert (carrier.counted("routed"), carrier.counted("unrouted")) == (1, 1)


RELEASES = [
    # label, parts that came (0-based), account all of them go to
    ("part one came: its keyword routes them", [0, 2], VOTES),
    ("part one missing: the rest of the text routes them", [1, 2], SUPPORT),
    ("part one alone", [0], VOTES),
]


@pytest.mark.parametrize("label, came, account", RELEASES)
def test_parts_whose_siblings_never_came_are_released_together(engine, label, came, account):
    """When a group is still incomplete after the wait, its parts go on one by one with their
    UDH, all to the route the text of the parts that did come (in order) matches; a part
    that came twice goes once."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    parts = carrier.parts(TEXT, 3)
    carrier.deliver(*[parts[i] for i in came], parts[came[0]])
    assert carrier.release(WAIT - 1)["released"] == 0
    assert {s for _, s, _ in carrier.owed()} == {"PARTIAL"}
    settled = carrier.release(2)
    assert settled["released"] == len(came), label
    assert sorted(carrier.owed()) == sorted((account, "PENDING", parts[i].body) for i in came), label
    assert carrier.counted("routed") == len(came), label


def test_a_part_arriving_after_release_is_not_lost(engine):
    """When the last part comes after its siblings were released, it waits as a group of its own
    and is released in turn (routed by its own text)."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    parts = carrier.parts(TEXT, 3)
    carrier.deliver(*parts[:2])
    carrier.release(WAIT + 1)
    carrier.deliver(parts[2])
    assert [s for _, s, _ in carrier.owed()] == ["PENDING", "PENDING", "PARTIAL"]
    carrier.release(WAIT + 1)
    assert carrier.owed()[2] == (SUPPORT, "PENDING", parts[2].body)


def first_format_rows(carrier: Carrier, parts: list[MoEvent], account_of: list[int]) -> None:
    """Rows as the first version of the reassembly wrote them: account id first in the key."""
    rows = []
    for event, account in zip(parts, account_of):
        ref, total, seq = event.concat
        rows.append({
            "account_id": account, "kind": "mo", "message_id": None, "state": "PARTIAL",
            "source_addr": event.source_addr, "source_ton": 1, "source_npi": 1, "dest_addr": event.dest_addr,
            "dest_ton": 0, "dest_npi": 0, "esm_class": event.esm_class, "data_coding": event.data_coding,
            "body": event.body, "tlvs": None, "attempts": 0, "next_attempt_at": NOW, "created_at": NOW,
            "delivered_at": None, "group_key": f"{account}|{event.source_addr}|{event.dest_addr}|{ref}|{total}",
            "part": seq})
    with carrier.engine.begin() as conn:
        conn.execute(outbox.insert(), rows)


def test_parts_kept_before_the_upgrade_join_their_siblings(engine):
    """When parts were kept under the first key format (split across two accounts by the bug),
    the housekeeping moves them to the current one: the part that comes after completes the
    message, routed by the whole text."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    parts = carrier.parts(TEXT, 3)
    first_format_rows(carrier, parts[:2], [VOTES, SUPPORT])
    carrier.release(1)
    assert [s for _, s, _ in carrier.owed()] == ["PARTIAL", "PARTIAL"]
    carrier.deliver(parts[2])
    assert carrier.owed() == [(VOTES, "PENDING", TEXT.encode())]


def test_whole_group_of_the_first_format_completes_at_housekeeping(engine):
    """When every part of a message was kept under the first key format, the next housekeeping
    completes it; an incomplete one of that format is released after the wait."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    first_format_rows(carrier, carrier.parts(TEXT, 3), [VOTES, SUPPORT, SUPPORT])
    lone = carrier.parts("Hello there, " * 15, 3, ref=7)
    first_format_rows(carrier, lone[1:2], [SUPPORT])
    assert carrier.release(1)["whole"] == 1
    assert carrier.owed() == [(SUPPORT, "PARTIAL", lone[1].body), (VOTES, "PENDING", TEXT.encode())]
    carrier.release(WAIT)
    assert carrier.owed()[0] == (SUPPORT, "PENDING", lone[1].body)


def test_groups_are_per_sender_and_reference(engine):
    """When two senders use the same reference at once (and one sender two references), each
    message completes on its own and reaches the account its own text picks."""
    carrier = Carrier(engine, KEYWORD_FIRST)
    a = carrier.parts(TEXT, 2, source="491701")
    b = carrier.parts("Hello there, " * 15, 2, source="491702")
    c = carrier.parts("vote " + "no " * 70, 2, source="491701", ref=0x43)
    carrier.deliver(a[0], b[1], c[1], b[0], c[0], a[1])
    assert sorted(carrier.owed()) == sorted([(SUPPORT, "PENDING", ("Hello there, " * 15).encode()),
                                             (VOTES, "PENDING", ("vote " + "no " * 70).encode()),
                                             (VOTES, "PENDING", TEXT.encode())])
