"""What a send asks for and what it comes back with, and the AT+CMGS flow for one message.

The outcome classes are the modem farm's own; an smsc adapter maps Sent -> Accepted,
RetryLater -> Retry, Failed -> Reject. Every part's TP-MR is handed to the delegate and its
Deferred must fire (the commit is done) before the outcome is returned: a status report can
arrive within a second of ``+CMGS``.

A timeout after the PDU reached the modem leaves the outcome *unknown*: the SC may or may not
have the message. It is never silently re-sent elsewhere; `UnknownPolicy` decides, and the
modem counts it.
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from modemfarm import cms
from modemfarm.at.channel import AtDisconnected, AtError, AtTimeout
from modemfarm.at.parser import info_params, line_prefix
from modemfarm.pdu import SubmitPdu

log = Logger()


class UnknownPolicy(enum.Enum):
    FAIL = "fail"  # report Failed(unknown=True): at-most-once
    RETRY_SAME_MODEM = "retry_same_modem"  # RetryLater pinned to this modem
    REQUEUE = "requeue"  # RetryLater anywhere: at-least-once, flagged


@dataclass(frozen=True)
class OutgoingSms:
    """One message to send. ``message_ref`` is the engine's id, passed back untouched.

    ``done_parts`` (0-based) were accepted in an earlier attempt and are skipped; with
    ``concat_ref`` the remaining parts carry the same reference. ``modem_id`` pins the send to
    one modem (the rest of a partly sent multipart message must leave from the same SIM).
    """

    message_ref: object
    destination: str
    text: str | bytes
    status_report: bool = True
    validity_s: float | None = None
    concat_ref: int | None = None
    done_parts: frozenset[int] = frozenset()
    modem_id: str | None = None
    sender_hint: str | None = None  # unused by modems (the SIM is the sender); kept for routing


@dataclass(frozen=True)
class Sent:
    modem_id: str
    imsi: str | None
    mrs: tuple[int | None, ...]  # per part sent in this attempt; None if +CMGS had no MR
    parts: int = 1


@dataclass(frozen=True)
class RetryLater:
    reason: str
    after: float
    modem_id: str | None = None  # retry only on this modem
    done_parts: frozenset[int] = frozenset()
    concat_ref: int | None = None
    unknown: bool = False  # the previous attempt may have gone out (at-least-once)
    code: int | None = None


@dataclass(frozen=True)
class Failed:
    reason: str
    code: int | None = None
    unknown: bool = False
    done_parts: frozenset[int] = frozenset()
    modem_id: str | None = None


Outcome = Sent | RetryLater | Failed


@dataclass
class SendResult:
    """What `send_parts` tells the modem about its own health, besides the outcome."""

    outcome: Outcome
    verdict: cms.Verdict | None = None
    unknown: bool = False
    prompt_timeout: bool = False
    lost: bool = False
    sent_parts: list[int] = field(default_factory=list)


async def settle(result):
    """Await a delegate's answer: a Deferred, a coroutine, or a plain value."""
    if isinstance(result, Deferred) or inspect.isawaitable(result):
        return await result
    return result


def parse_mr(lines: list[str]) -> int | None:
    for line in lines:
        if line_prefix(line) == "+CMGS":
            params = info_params(line)
            if params and params[0].isdigit():
                return int(params[0]) & 0xFF
    return None


async def send_parts(modem, sms: OutgoingSms, pdus: list[SubmitPdu]) -> SendResult:
    """AT+CMGS each part not yet done; persist each MR through the delegate before going on."""
    cfg = modem.config
    done = set(sms.done_parts)
    mrs: list[int | None] = []
    sent: list[int] = []
    smsc_repaired = False

    def partial() -> dict:
        return {"done_parts": frozenset(done), "concat_ref": sms.concat_ref}

    index = 0
    while index < len(pdus):
        if index in done:
            index += 1
            continue
        pdu = pdus[index]
        try:
            resp = await modem.channel.command(
                f"AT+CMGS={pdu.tpdu_length}", timeout=cfg.send_timeout, payload=pdu.hex,
                prompt_timeout=cfg.prompt_timeout)
        except AtError as err:
            verdict = cms.classify(err.kind, err.code)
            if verdict.repair_smsc and cfg.smsc and not smsc_repaired:
                smsc_repaired = True
                if await modem.repair_smsc():
                    continue  # same part again
            return SendResult(_outcome_for(modem, verdict, done, sms), verdict, sent_parts=sent)
        except AtTimeout as err:
            if not err.payload_sent:
                pin = modem.imei if done else None
                outcome = RetryLater("no prompt from the modem", cfg.retry_same_after, pin, **partial())
                return SendResult(outcome, prompt_timeout=True, sent_parts=sent)
            return SendResult(_unknown(modem, sms, done, "no result after the PDU"), unknown=True,
                              sent_parts=sent)
        except AtDisconnected:
            return SendResult(_unknown(modem, sms, done, "port lost during AT+CMGS"), unknown=True,
                              lost=True, sent_parts=sent)
        mr = parse_mr(resp.lines)
        if mr is None:
            modem.counters["sent_without_mr"] += 1
            log.warn("modem {imei}: OK without +CMGS for part {part}", imei=modem.imei, part=index)
        else:
            try:
                await settle(modem.delegate.mr_assigned(
                    sms.message_ref, modem.imei, mr, recipient=sms.destination, part=index,
                    parts=len(pdus), imsi=modem.imsi))
            except Exception:  # the SMS left; a failed commit must not turn into a resend
                modem.counters["mr_persist_failed"] += 1
                log.failure("modem {imei}: persisting TP-MR {mr} failed", imei=modem.imei, mr=mr)
        mrs.append(mr)
        sent.append(index)
        done.add(index)
        await modem.count_usage(1)
        index += 1
    return SendResult(Sent(modem.imei, modem.imsi, tuple(mrs), len(pdus)), sent_parts=sent)


def _outcome_for(modem, verdict: cms.Verdict, done: set[int], sms: OutgoingSms) -> Outcome:
    cfg = modem.config
    partial = {"done_parts": frozenset(done), "concat_ref": sms.concat_ref}
    cls = verdict.cls
    if cls is cms.CmsClass.FAIL_MESSAGE:
        return Failed(verdict.reason, verdict.code, done_parts=frozenset(done),
                      modem_id=modem.imei if done else None)
    if cls is cms.CmsClass.RETRY_SAME_LATER:
        return RetryLater(verdict.reason, cfg.retry_same_after, modem.imei, code=verdict.code,
                          **partial)
    pin = modem.imei if done else None  # the rest of a multipart must leave from this SIM
    after = cfg.retry_other_after if cls is cms.CmsClass.RETRY_OTHER_MODEM else 0.0
    return RetryLater(verdict.reason, after, pin, code=verdict.code, **partial)


def _unknown(modem, sms: OutgoingSms, done: set[int], reason: str) -> Outcome:
    cfg = modem.config
    modem.counters["unknown_outcome"] += 1
    policy = cfg.unknown_policy
    log.warn("modem {imei}: outcome unknown for {ref} ({reason}); policy {policy}",
             imei=modem.imei, ref=sms.message_ref, reason=reason, policy=policy.value)
    if policy is UnknownPolicy.FAIL:
        return Failed(f"outcome unknown: {reason}", unknown=True, done_parts=frozenset(done),
                      modem_id=modem.imei)
    pin = modem.imei if (policy is UnknownPolicy.RETRY_SAME_MODEM or done) else None
    return RetryLater(f"outcome unknown: {reason}", cfg.retry_same_after, pin,
                      frozenset(done), sms.concat_ref, unknown=True)
