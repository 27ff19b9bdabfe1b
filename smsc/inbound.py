"""Receipts and MO from upstreams: made durable in batches, then acknowledged.

Implements the ``UpstreamEvents`` the SMPP connectors and the modem adapter call. The Deferred
each call returns fires after the commit, and only then does the upstream get its
deliver_sm_resp (or the modem its AT+CMGD): a receipt or an MO is never acknowledged unless
it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocols.sms import decode_short_message, parse_udh
from protocols.smpp.codec import encode_tlvs
from smsc.dlr import ReceiptEvent
from smsc.group_commit import GroupCommitter
from smsc.store.dlr import apply_receipts_txn
from smsc.store.outbox import MoRouter, complete_groups_txn, insert_outbox_txn, mo_group_key, release_partial_txn
from smsc.store.schema import PARTIAL, PENDING, accounts

log = Logger()
EARLY_RECHECK = 1.0


@dataclass(frozen=True, slots=True)
class MoRoute:
    """MO to ``account`` when the destination starts with ``prefix`` (and the text with
    ``keyword``, case-insensitive, when given). First match wins. ``reassemble``: concatenated
    parts are kept (durably) until the message is whole and delivered as one deliver_sm;
    otherwise each part goes on with its UDH and the ESME reassembles.

    A long MO is routed by its whole text, not part by part (the keyword is only in part 1):
    a part is kept when, among the routes whose prefix matches its destination, one with
    ``reassemble`` comes before the first one without keyword (which would take any text).
    Once every part is in, the joined text picks the route; the parts go to its account as
    one message if it reassembles (or if none matches: kept unrouted), one by one if not.
    Parts whose siblings never came go on one by one after a while, all to the route the
    text of the parts that did come (in order) matches. Other MO is routed by its own text."""

    account: str
    prefix: str = ""
    keyword: str = ""
    reassemble: bool = False

    def matches(self, dest: str, text: str) -> bool:
        return self.matches_prefix(dest) and (
            not self.keyword or text.strip().upper().startswith(self.keyword.upper()))

    def matches_prefix(self, dest: str) -> bool:
        return dest.lstrip("+").startswith(self.prefix.lstrip("+"))


@dataclass(frozen=True, slots=True)
class MoEvent:
    upstream: str
    source_addr: str
    source_ton: int
    source_npi: int
    dest_addr: str
    dest_ton: int
    dest_npi: int
    esm_class: int
    data_coding: int
    body: bytes
    text: str
    tlvs: bytes | None = None
    concat: tuple[int, int, int] | None = None  # (ref, total, seq) of a part of a long message


class InboundSink:
    def __init__(
        self,
        *,
        run_interaction: Callable[..., Deferred],
        clock: IReactorTime,
        mo_routes: tuple[MoRoute, ...] = (),
        on_owed: Callable[[list[dict[str, Any]] | None], None] = lambda owed: None,
        on_early: Callable[[], None] = lambda: None,
        on_bound: Callable[[str], None] = lambda name: None,
        metrics: Any = None,
    ) -> None:
        self._clock = clock
        self._mo_routes = mo_routes
        self._on_owed = on_owed
        self._on_early = on_early
        self._early_check: Any = None
        self._on_bound = on_bound
        self._metrics = metrics
        self._receipts = GroupCommitter(run_interaction, clock, txn=self._apply_receipts, desc="apply_receipts")
        self._handed_over: list[dict[str, Any]] | None = None
        self._mos = GroupCommitter(run_interaction, clock, txn=self._store_mos, desc="store_mo")

    # ------------------------------------------------------------------ UpstreamEvents

    def receipt(self, upstream: str, remote_id: str, state: int, error_code: int | None) -> Deferred:
        """Fires with None once the receipt is committed; the rows its batch made owed go to
        ``on_owed`` once per batch."""
        return self._receipts.add(ReceiptEvent(upstream, remote_id, state, error_code)).addCallback(self._owed_rows)

    def receipt_notify(self, upstream: str, remote_id: str, state: int, error_code: int | None,
                       notify: Callable[[Any, Any], None], arg: Any = None) -> None:
        """``receipt`` without a Deferred: ``notify(None, arg)`` once the receipt is committed,
        ``notify(failure, arg)`` if it was not (one call per receipt on the busiest path)."""
        self._receipts.add_notify(ReceiptEvent(upstream, remote_id, state, error_code), self._receipt_stored, (notify, arg))

    def _receipt_stored(self, result: Any, context: tuple[Callable[[Any, Any], None], Any]) -> None:
        notify, arg = context
        if isinstance(result, Failure):
            notify(result, arg)
            return
        self._owed_rows(result)
        notify(None, arg)

    def mo(self, upstream: str, pdu: Any) -> Deferred:
        return self.mo_event(mo_from_pdu(upstream, pdu))

    def mo_event(self, event: MoEvent) -> Deferred:
        return self._mos.add(event).addCallback(self._owed)

    def bound_changed(self, upstream: str) -> None:
        self._on_bound(upstream)

    # ------------------------------------------------------------------ transactions

    def _owed(self, result: Any) -> None:
        self._on_owed(None)  # MO: the pusher reads what is owed from the table

    def _owed_rows(self, result: tuple[list[dict[str, Any]], int]) -> None:
        """Every receipt of a batch fires with the same (rows owed, early count): hand the rows
        to the pusher once (it pushes them without reading them back). Receipts kept as early
        are looked at again in EARLY_RECHECK seconds: on PostgreSQL the transaction writing their
        key may have run beside this one, each blind to the other's rows, and the key's own
        rematch found nothing (without this they waited for the 10 s housekeeping sweep)."""
        owed, early = result
        if owed is not self._handed_over:
            self._handed_over = owed
            self._on_owed(owed)
        if early and self._early_check is None:
            self._early_check = self._clock.callLater(EARLY_RECHECK, self._recheck_early)

    def _recheck_early(self) -> None:
        self._early_check = None
        self._on_early()

    def stop(self) -> None:
        """At shutdown: no recheck left pending (the sweep at the next start covers it)."""
        if self._early_check is not None and self._early_check.active():
            self._early_check.cancel()
        self._early_check = None

    def _apply_receipts(self, conn: Any, events: list[ReceiptEvent]) -> tuple[list[dict[str, Any]], int]:
        owed: list[dict[str, Any]] = []
        latencies: dict[str, list[float]] | None = {} if self._metrics is not None else None
        counts = apply_receipts_txn(conn, self._clock.seconds(), events, owed, latencies)
        if self._metrics is not None:
            self._metrics.receipts_applied(counts, latencies)
        return owed, counts["early"]

    def route_mo(self, dest: str, text: str) -> MoRoute | None:
        for route in self._mo_routes:
            if route.matches(dest, text):
                return route
        return None

    def keeps_parts_for(self, dest: str) -> bool:
        """Whether a part of a long MO to ``dest`` waits for its siblings: some route with
        ``reassemble`` could take the whole text (see MoRoute)."""
        for route in self._mo_routes:
            if route.matches_prefix(dest):
                if route.reassemble:
                    return True
                if not route.keyword:
                    return False
        return False

    def _router(self, ids: dict[str, int]) -> MoRouter:
        """The whole text of a long MO -> (account id or None, reassemble) for the store."""

        def route(dest: str, text: str) -> tuple[int | None, bool]:
            found = self.route_mo(dest, text)
            return (ids.get(found.account), found.reassemble) if found is not None else (None, False)

        return route

    def _store_mos(self, conn: Any, events: list[MoEvent]) -> None:
        now = self._clock.seconds()
        ids = _account_ids(conn)
        rows = []
        groups = []
        unrouted = 0
        for event in events:
            route = self.route_mo(event.dest_addr, event.text)
            account_id = ids.get(route.account) if route else None
            rows.append({
                "account_id": account_id, "kind": "mo", "message_id": None, "state": PENDING,
                "source_addr": event.source_addr, "source_ton": event.source_ton, "source_npi": event.source_npi,
                "dest_addr": event.dest_addr, "dest_ton": event.dest_ton, "dest_npi": event.dest_npi,
                "esm_class": event.esm_class, "data_coding": event.data_coding, "body": event.body, "tlvs": event.tlvs,
                "attempts": 0, "next_attempt_at": now, "created_at": now, "delivered_at": None,
                "group_key": None, "part": None,
            })
            concat = event.concat
            if concat is not None and self.keeps_parts_for(event.dest_addr):
                # routed (and counted) once the whole text is known; account_id is provisional
                ref, total, seq = concat
                key = mo_group_key(event.source_addr, event.dest_addr, ref, total)
                rows[-1].update(state=PARTIAL, group_key=key, part=seq)
                groups.append(key)
            elif account_id is None:
                unrouted += 1
                log.warn("MO from {upstream} to {dest} matches no mo_route: kept unrouted", upstream=event.upstream, dest=event.dest_addr)
        insert_outbox_txn(conn, rows)
        settled = complete_groups_txn(conn, groups, now, self._router(ids))
        self._count(len(rows) - len(groups), unrouted, settled)

    def settle_partial_txn(self, conn: Any, older_than: float) -> dict[str, int]:
        """Housekeeping: long MO whose parts are not all in since ``older_than`` go on part by
        part, routed by the text of the parts that did come (see release_partial_txn)."""
        settled = release_partial_txn(conn, older_than, self._router(_account_ids(conn)), self._clock.seconds())
        self._count(0, 0, settled)
        return settled

    def _count(self, single: int, unrouted: int, settled: dict[str, int]) -> None:
        """MO counted once each, when its account is known: at once, or when its group settles."""
        if settled["unrouted"]:
            log.warn("{parts} parts of long MO match no mo_route: kept unrouted", parts=settled["unrouted"])
        if self._metrics is not None:
            self._metrics.mo_stored(single + settled["routed"] + settled["unrouted"], unrouted + settled["unrouted"])


def _account_ids(conn: Any) -> dict[str, int]:
    return {system_id: account_id for account_id, system_id in conn.execute(sa.select(accounts.c.id, accounts.c.system_id))}


def mo_from_pdu(upstream: str, pdu: Any) -> MoEvent:
    """An MO deliver_sm/data_sm from a carrier, as we store it (UDH kept: the ESME reassembles)."""
    p = pdu.params
    body = p.get("short_message") or pdu.tlvs.get("message_payload") or b""
    udh = body[: body[0] + 1] if p.get("esm_class", 0) & 0x40 and body else b""
    concat = concat_of_udh(udh)
    relayed = {k: v for k, v in pdu.tlvs.items() if k != "message_payload"}
    vendor = list(pdu.unknown_tlvs)
    return MoEvent(
        upstream=upstream,
        source_addr=p["source_addr"], source_ton=p["source_addr_ton"], source_npi=p["source_addr_npi"],
        dest_addr=p["destination_addr"], dest_ton=p["dest_addr_ton"], dest_npi=p["dest_addr_npi"],
        esm_class=p.get("esm_class", 0) & 0xC3, data_coding=p.get("data_coding", 0), body=body,
        text=decode_short_message(p.get("data_coding", 0), body[len(udh):], udh),
        tlvs=encode_tlvs(relayed, vendor) if relayed or vendor else None,
        concat=concat,
    )


def concat_of_udh(udh: bytes) -> tuple[int, int, int] | None:
    """(ref, total, seq) when the UDH says this is one part of several."""
    if not udh:
        return None
    try:
        concat = parse_udh(udh).concat
    except ValueError:
        return None
    return concat if concat is not None and concat[1] > 1 else None
