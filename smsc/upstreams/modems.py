"""The modem rack as one upstream: `ModemPool` behind the same contract as the SMPP carriers.

- **Segments.** The dispatcher has already split the message with the pool's text profile; each
  `OutboundSms` becomes one SMS-SUBMIT (its UDH and GSM-7 septets / UCS-2 octets laid into a
  TPDU) handed to `ModemPool.send_encoded`. The SIM is the sender: ``source_addr`` is not sent.
  Later segments of a long message leave from the SIM that sent the first (a handset joins parts
  by sender); the pin is kept in memory and, after a restart, found again in dlr_keys.
- **DLR key.** remote_id = ``"<imei>:<mr>:<recipient digits>"`` under the pool's name. The key is
  written (group commit) when the modem reports the TP-MR, *before* the outcome goes back, so a
  status report that arrives at once matches the new submission and not one 256 sends older
  (newest wins). The dispatcher records the same key again with the outcome and keeps our row.
- **Status reports** become receipts through `InboundSink.receipt`, intermediate ones too
  (TP-ST 0x20-0x3F -> ENROUTE); the modem deletes a report only after that commit.
- **MO** parts go to `InboundSink.mo_event` one by one with their UDH (esm_class UDHI), as an
  SMPP carrier's MO does: the ESME reassembles. Each part is durable before the modem deletes
  it, so nothing waits in memory for missing parts and a crash loses nothing.
- **Outcomes.** Sent -> Accepted; RetryLater -> Retry(cause = `CmsClass` value); Failed ->
  Reject(cause "fail_message"). A send whose outcome is unknown follows ``unknown_outcome`` and
  is counted: fail (Reject that may not go elsewhere: at most once), retry on the same modem, or
  requeue anywhere (cause "timeout": at least once).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from modemfarm.cms import CmsClass, classify_cms
from modemfarm.modem import ModemConfig, ModemState, Opener
from modemfarm.modem_receive import ReceivedSms, ReportEvent
from modemfarm.modem_send import Failed, OutgoingSms, RetryLater, Sent, UnknownPolicy
from modemfarm.pdu import PduError, encode_submit, parse_number
from modemfarm.pool import ModemPool, PoolConfig
from modemfarm.reports import DeliveryState, normalise_number
from smsc.group_commit import GroupCommitter
from smsc.inbound import MoEvent, concat_of_udh
from smsc.store import modems as store
from smsc.upstreams.base import Accepted, OutboundSms, Reject, Retry

log = Logger()

#: TP-ST meaning -> SMPP message_state of the receipt (1 ENROUTE is intermediate).
SMPP_STATE = {
    DeliveryState.ENROUTE: 1, DeliveryState.DELIVERED: 2, DeliveryState.EXPIRED: 3,
    DeliveryState.DELETED: 4, DeliveryState.UNDELIVERABLE: 5, DeliveryState.REJECTED: 8,
    DeliveryState.UNKNOWN: 7,
}
LIVE = (ModemState.READY, ModemState.SENDING)
MAX_VALIDITY = 441 * 86400.0  # TP-VP relative tops out at 63 weeks


def remote_id_for(imei: str, mr: int, recipient: str) -> str:
    return f"{imei}:{mr}:{normalise_number(recipient)}"


def imei_of(remote_id: str) -> str:
    return remote_id.split(":", 1)[0]


def encoding_for(data_coding: int, gsm7_data_coding: int = 0) -> tuple[str, int | None]:
    """(alphabet for the TPDU, explicit TP-DCS or None) of an SMPP data_coding."""
    if data_coding in (0, 1, gsm7_data_coding):
        return "gsm7", None
    if data_coding == 8:
        return "ucs2", None
    if data_coding in (2, 4):
        return "8bit", None
    if data_coding & 0xF0 == 0xF0:  # same meaning in SMPP and TP-DCS: class + 7/8-bit
        return ("8bit" if data_coding & 0x04 else "gsm7"), data_coding
    raise ValueError(f"data_coding {data_coding:#04x} cannot be sent by a modem")


@dataclass(frozen=True)
class ModemUpstreamSettings:
    name: str = "modems"
    unknown_policy: UnknownPolicy = UnknownPolicy.FAIL
    status_reports: bool = True
    validity: float = 0.0  # 0: the message's own
    gsm7_data_coding: int = 0
    mo_destination: str = ""
    control_interval: float = 2.0


class ModemUpstream(Service):
    """`Upstream` over a `ModemPool`; the pool's delegate (MR, reports, MO, SIM usage)."""

    def __init__(self, settings: ModemUpstreamSettings, pool_config: PoolConfig, modem_config: ModemConfig, *,
                 clock: IReactorTime, opener: Opener, run_interaction: Callable[..., Deferred], events: Any,
                 paths: tuple[str, ...] = (), glob: str | None = None) -> None:
        self.settings = settings
        self.name = settings.name  # also the service name (unique: no SMPP upstream may share it)
        self.clock = clock
        self._run = run_interaction
        self.events = events
        self.pool = ModemPool(pool_config, modem_config, self, clock, opener, paths=paths, glob=glob)
        self._keys = GroupCommitter(run_interaction, clock, txn=store.write_dlr_keys_txn, desc="modem_dlr_keys")
        self._usage = GroupCommitter(run_interaction, clock, txn=store.add_usage_rows_txn, desc="modem_usage")
        self._pins: OrderedDict[int, str] = OrderedDict()
        self._prepaid: Counter[str] = Counter()  # parts whose usage went out with their DLR key
        self._controls = LoopingCall(self.poll_controls)
        self._controls.clock = clock
        self._polling = False
        self.in_flight = 0
        self.counts: Counter[str] = Counter()
        self.per_modem: dict[str, Counter[str]] = {}

    # ------------------------------------------------------------------ service

    def startService(self) -> None:
        super().startService()
        self.pool.start()
        self._controls.start(self.settings.control_interval, now=True)

    def stopService(self) -> None:
        super().stopService()
        if self._controls.running:
            self._controls.stop()
        self.pool.stop()

    # ------------------------------------------------------------------ upstream contract

    def live_modems(self) -> list[Any]:
        cfg = self.pool.config
        if cfg.daily_cap is None and cfg.monthly_cap is None:
            return [m for m in self.pool.modems if m.state in LIVE]
        live = []
        for modem in self.pool.modems:
            if modem.state not in LIVE:
                continue
            used = self.pool.usage(modem.imsi or modem.imei or "")
            if used is not None and ((cfg.daily_cap is not None and used[0] >= cfg.daily_cap)
                                     or (cfg.monthly_cap is not None and used[1] >= cfg.monthly_cap)):
                continue  # this SIM is at its cap: it takes nothing more today / this month
            live.append(modem)
        return live

    def is_usable(self) -> bool:
        return bool(self.live_modems())

    def capacity(self) -> int:
        """Modems that can send this instant: the dispatcher claims no more than the rack can
        start now, so nothing waits here for a rate token (measured: with one sending and one
        waiting per modem, picking for the waiting sends cost half the reactor time at 64 modems)."""
        return self.pool.ready_now()

    def load(self) -> float:
        live = len(self.live_modems())
        return 1.0 if live == 0 else min(1.0, self.in_flight / live)

    def send(self, sms: OutboundSms) -> Deferred:
        try:
            pdu = self._encode(sms)
        except (PduError, ValueError) as exc:
            self.counts["reject"] += 1
            return succeed(Reject(f"cannot encode for a modem: {exc}", cause=CmsClass.FAIL_MESSAGE.value))
        self.in_flight += 1
        d = self._pin_for(sms)
        d.addCallback(lambda pin: self.pool.send_encoded(OutgoingSms(
            (sms.message_id, sms.segment), pdu[1], sms.text or "", status_report=self.settings.status_reports,
            modem_id=pin), [pdu[0]]))
        d.addCallback(self._outcome, sms)
        d.addErrback(self._internal, sms)
        return d

    def _encode(self, sms: OutboundSms) -> tuple[Any, str]:
        encoding, dcs = encoding_for(sms.data_coding, self.settings.gsm7_data_coding)
        ton = sms.dest_ton if sms.dest_ton in (0, 1, 2) else None
        address = parse_number(sms.dest_addr.lstrip("+") if ton == 1 else sms.dest_addr, ton)
        validity = self._validity(sms)
        pdu = encode_submit(address, sms.payload, encoding=encoding, udh=sms.udh, dcs=dcs,
                            status_report=self.settings.status_reports,
                            validity=None if validity is None else dt.timedelta(seconds=validity))
        return pdu, address.number

    def _validity(self, sms: OutboundSms) -> float | None:
        left = None if sms.validity_at is None else sms.validity_at.timestamp() - self.clock.seconds()
        if self.settings.validity:
            left = self.settings.validity if left is None else min(left, self.settings.validity)
        return None if left is None else min(max(left, 300.0), MAX_VALIDITY)

    def _pin_for(self, sms: OutboundSms) -> Deferred:
        """The modem this segment must leave from: the one that sent the earlier segments."""
        pin = self._pins.get(sms.message_id)
        if pin is not None or sms.segment == 1:
            return succeed(pin)
        d = self._run("modem_sent_from", store.sent_from_txn, self.name, sms.message_id, readonly=True)
        return d.addCallback(lambda ids: imei_of(ids[0]) if ids else None)

    def _pin(self, message_id: int, imei: str | None) -> None:
        if imei is None:
            self._pins.pop(message_id, None)
            return
        self._pins[message_id] = imei
        self._pins.move_to_end(message_id)
        while len(self._pins) > 100_000:
            self._pins.popitem(last=False)

    def _outcome(self, outcome: Any, sms: OutboundSms) -> Any:
        self.in_flight -= 1
        if isinstance(outcome, Sent):
            mr = outcome.mrs[0] if outcome.mrs else None
            self.counts["accepted"] += 1
            self._modem(outcome.modem_id)["accepted"] += 1
            self._pin(sms.message_id, outcome.modem_id if sms.segment < sms.total_segments else None)
            if mr is None:  # OK without +CMGS: sent, but no report can ever match it
                self.counts["accepted_without_mr"] += 1
                return Accepted(f"{outcome.modem_id}:none:{sms.message_id}.{sms.segment}")
            return Accepted(remote_id_for(outcome.modem_id, mr, sms.dest_addr))
        if isinstance(outcome, RetryLater):
            return self._retry(outcome, sms)
        if isinstance(outcome, Failed):
            self.counts["reject"] += 1
            if outcome.modem_id:
                self._modem(outcome.modem_id)["reject"] += 1
            if outcome.unknown:
                self.counts["unknown_outcome"] += 1
                # at most once: the message may have left, so it must not go to another upstream
                return Reject(outcome.reason, cause="upstream_reject")
            return Reject(outcome.reason, cause=CmsClass.FAIL_MESSAGE.value)
        return outcome

    def _retry(self, outcome: RetryLater, sms: OutboundSms) -> Retry:
        self.counts["retry"] += 1
        if outcome.modem_id:
            self._modem(outcome.modem_id)["retry"] += 1
        if outcome.unknown:
            self.counts["unknown_outcome"] += 1
            if self.settings.unknown_policy is UnknownPolicy.RETRY_SAME_MODEM:
                self._pin(sms.message_id, outcome.modem_id)
                return Retry(outcome.reason, outcome.after, cause=CmsClass.RETRY_SAME_LATER.value)
            return Retry(outcome.reason, outcome.after, try_other_upstream=True, cause="timeout")
        if outcome.code is not None:
            cls = classify_cms(outcome.code).cls
        else:  # no modem free, no prompt, bare ERROR: the rack is busy or one modem hiccupped
            cls = CmsClass.RETRY_SAME_LATER if sms.message_id in self._pins else CmsClass.RETRY_OTHER_MODEM
        if sms.message_id in self._pins:  # the rest of a long message waits for its SIM
            cls = CmsClass.RETRY_SAME_LATER
        return Retry(outcome.reason, outcome.after, try_other_upstream=cls is not CmsClass.RETRY_SAME_LATER,
                     cause=cls.value)

    def _internal(self, failure: Any, sms: OutboundSms) -> Retry:
        self.in_flight -= 1
        log.failure("modem pool send of message {id} failed", failure, id=sms.message_id)
        return Retry(f"internal error in the modem pool: {failure.getErrorMessage()}",
                     try_other_upstream=True, cause="internal_error")

    def _modem(self, imei: str) -> Counter[str]:
        return self.per_modem.setdefault(imei, Counter())

    # ------------------------------------------------------------------ pool delegate

    def mr_assigned(self, message_ref: tuple[int, int], modem_id: str, mr: int, *, recipient: str,
                    part: int, parts: int, imsi: str | None) -> Deferred:
        message_id, segment = message_ref
        now = self.clock.seconds()
        sim = imsi or modem_id
        self._prepaid[sim] += 1  # the part is counted in the same commit as its key (one txn, not two)
        day = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        return self._keys.add({"upstream": self.name, "remote_id": remote_id_for(modem_id, mr, recipient),
                               "message_id": message_id, "part": segment, "now": now,
                               "usage": (sim, day.strftime("%Y-%m-%d"), day.strftime("%Y-%m"))})

    def status_report(self, event: ReportEvent) -> Deferred:
        imei, mr, digits = event.key
        self.counts["receipts"] += 1
        self._modem(imei)["receipts"] += 1
        state = SMPP_STATE.get(event.meaning.state, 7)
        return self.events.receipt(self.name, f"{imei}:{mr}:{digits}", state, event.meaning.status)

    def mo_received(self, received: ReceivedSms) -> Deferred:
        sms = received.deliver
        number = sms.originator.number
        source_ton = 1 if number.startswith("+") else sms.originator.ton
        dest = self.settings.mo_destination or received.imsi or received.modem_id
        self.counts["mo"] += 1
        self._modem(received.modem_id)["mo"] += 1
        return self.events.mo_event(MoEvent(
            upstream=self.name, source_addr=number.lstrip("+"), source_ton=source_ton,
            source_npi=sms.originator.npi, dest_addr=dest, dest_ton=1 if dest.isdigit() and self.settings.mo_destination else 0,
            dest_npi=1, esm_class=0x40 if sms.udh else 0,
            data_coding={"gsm7": 0, "ucs2": 8}.get(sms.alphabet, 4),
            body=sms.udh + sms.user_data, text=sms.text, concat=concat_of_udh(sms.udh)))

    def load_usage(self, sim: str, day_key: str, month_key: str) -> Deferred:
        return self._run("modem_load_usage", store.load_usage_txn, sim, day_key, month_key)

    def add_usage(self, sim: str, day_key: str, month_key: str, count: int) -> Deferred | None:
        if self._prepaid[sim] >= count:  # already written with the part's DLR key
            self._prepaid[sim] -= count
            return None
        return self._usage.add({"sim": sim, "day": day_key, "month": month_key, "count": count,
                                "now": self.clock.seconds()})

    # ------------------------------------------------------------------ operator controls

    def names(self) -> dict[str, list[Any]]:
        """Modems by every NAME an operator may use: IMEI, IMSI, ICCID, device path, file name."""
        index: dict[str, list[Any]] = {}
        for m in self.pool.modems:
            for key in {m.imei, m.imsi, m.iccid, m.path, os.path.basename(m.path)} - {None, ""}:
                index.setdefault(key, []).append(m)
        return index

    def poll_controls(self) -> Deferred | None:
        if self._polling:
            return None
        self._polling = True
        d = self._run("modem_controls", store.controls_txn, readonly=True)
        d.addCallback(self.apply_controls)
        d.addErrback(lambda f: log.failure("reading modem controls failed", f))
        d.addBoth(lambda _: setattr(self, "_polling", False))
        return d

    def apply_controls(self, rows: list[dict[str, Any]]) -> Deferred | None:
        done = []
        index = self.names()
        for row in rows:
            for modem in index.get(row["name"], ()):
                if row["disabled"] and modem.state is not ModemState.DISABLED:
                    log.info("modem {imei} disabled by the operator", imei=modem.imei)
                    modem.disable()
                elif not row["disabled"] and modem.state is ModemState.DISABLED:
                    log.info("modem {imei} enabled by the operator", imei=modem.imei)
                    modem.enable()
                requested = row["reset_requested_at"]
                if requested is not None and (row["reset_done_at"] or 0) < requested:
                    log.info("modem {imei} reset by the operator", imei=modem.imei)
                    modem.reset()
                    done.append(row["name"])
        if done:
            return self._run("modem_reset_done", store.reset_done_txn, done, self.clock.seconds())
        return None

    # ------------------------------------------------------------------ metrics

    def stats(self) -> dict[str, Any]:
        """The figures SMPP upstreams expose too (smsc_upstream_* families)."""
        return {"name": self.name, "usable": self.is_usable(), "window_in_use": self.in_flight,
                "submits": {k: self.counts[k] for k in ("accepted", "retry", "reject") if self.counts[k]},
                "receipts": {}, "reconnects": 0}

    def modem_stats(self) -> list[dict[str, Any]]:
        """One dict per modem for smsc_modem_* (state, signal, sends, receipts, MO, recoveries)."""
        out = []
        cfg = self.pool.config
        for modem in self.pool.modems:
            sim = modem.imsi or modem.imei or ""
            usage = self.pool.usage(sim) if sim else None
            mine = self.per_modem.get(modem.imei or "", Counter())
            out.append({
                "upstream": self.name, "modem": modem.imei or os.path.basename(modem.path), "path": modem.path,
                "imsi": modem.imsi or "", "operator": modem.health.operator or "", "state": modem.state.value,
                "rssi": modem.health.rssi, "reason": modem.reason,
                "sends": {k: mine[k] for k in ("accepted", "retry", "reject")},
                "receipts": mine["receipts"], "mo": mine["mo"],
                "recoveries": modem.counters.get("recoveries", 0),
                "unknown_outcomes": modem.counters.get("unknown_outcome", 0),
                "sent_today": usage[0] if usage else None, "daily_cap": cfg.daily_cap,
            })
        return out
