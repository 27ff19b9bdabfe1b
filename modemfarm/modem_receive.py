"""Receiving: stored MO messages and status reports, read, persisted, and only then deleted.

+CMTI / +CDSI name a memory slot: AT+CMGR reads it, the delegate persists it (its Deferred fires
after the commit), and AT+CMGD frees the slot. A periodic AT+CMGL=4 sweep finds what a lost URC
never announced. +CMT / +CDS carry the PDU directly (nothing to delete). A PDU that cannot be
decoded is left in memory (never deleted unpersisted) and reported once.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.logger import Logger

from modemfarm import reports
from modemfarm.at.channel import AtError
from modemfarm.at.parser import split_params
from modemfarm.modem_init import parse_stored
from modemfarm.modem_send import settle
from modemfarm.pdu import PduError, SmsDeliver, SmsStatusReport, SmsSubmit, decode_pdu

log = Logger()


@dataclass(frozen=True)
class ReceivedSms:
    """An MO message (one part; ``deliver.concat`` says which) as read from one modem."""

    modem_id: str
    imsi: str | None
    storage: str | None
    index: int | None
    pdu: str
    deliver: SmsDeliver


@dataclass(frozen=True)
class ReportEvent:
    """A status report; the engine matches it by (modem_id, report.message_ref, recipient)."""

    modem_id: str
    imsi: str | None
    pdu: str
    report: SmsStatusReport
    meaning: reports.StatusMeaning

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.modem_id, self.report.message_ref,
                reports.normalise_number(self.report.recipient.number))


def parse_slot(args: str) -> tuple[str, int] | None:
    """``"SM",3`` -> ("SM", 3); None if malformed."""
    params = split_params(args)
    if len(params) >= 2 and params[1].isdigit():
        return params[0].upper() or "SM", int(params[1])
    return None


async def handle_pdu(modem, pdu_hex: str, storage: str | None, index: int | None) -> bool:
    """Decode and persist one PDU. True when it is safe to delete its slot."""
    try:
        decoded = decode_pdu(pdu_hex)
    except PduError as exc:
        key = (storage, index, pdu_hex)
        if key not in modem.bad_pdus:
            modem.bad_pdus.add(key)
            modem.counters["undecodable_pdu"] += 1
            log.warn("modem {imei}: undecodable PDU at {mem} {idx}: {err}", imei=modem.imei,
                     mem=storage, idx=index, err=str(exc))
        return False
    if isinstance(decoded, SmsDeliver):
        await settle(modem.delegate.mo_received(
            ReceivedSms(modem.imei, modem.imsi, storage, index, pdu_hex, decoded)))
        modem.counters["mo_received"] += 1
        return True
    if isinstance(decoded, SmsStatusReport):
        event = ReportEvent(modem.imei, modem.imsi, pdu_hex, decoded,
                            reports.status_meaning(decoded.status))
        await settle(modem.delegate.status_report(event))
        modem.counters["reports"] += 1
        return True
    if isinstance(decoded, SmsSubmit):
        return False  # a stored outgoing message: not ours to read or delete
    return False


async def read_slot(modem, storage: str, index: int) -> None:
    """AT+CMGR, persist, AT+CMGD (only after the delegate's commit)."""
    ch = modem.channel
    await modem.select_memory(storage)
    try:
        resp = await ch.command(f"AT+CMGR={index}", timeout=10.0)
    except AtError as err:
        if err.kind == "CMS" and err.code == 321:
            return  # empty slot: already handled (by a sweep, or a duplicate URC)
        raise
    stored = parse_stored(resp.lines, "+CMGR")
    if not stored:
        return
    _, _stat, pdu_hex = stored[0]
    if await handle_pdu(modem, pdu_hex, storage, index):
        await ch.command(f"AT+CMGD={index}", timeout=10.0)


async def sweep(modem) -> int:
    """AT+CMGL=4 on every swept memory; persist and delete each message found. Returns count."""
    handled = 0
    for storage in modem.config.sweep_memories:
        await modem.select_memory(storage)
        resp = await modem.channel.command("AT+CMGL=4", timeout=30.0)
        for index, _stat, pdu_hex in parse_stored(resp.lines, "+CMGL"):
            if index is None:
                continue
            if await handle_pdu(modem, pdu_hex, storage, index):
                await modem.channel.command(f"AT+CMGD={index}", timeout=10.0)
                handled += 1
    modem.counters["sweeps"] += 1
    if handled:
        modem.counters["swept"] += handled
    return handled


async def direct(modem, pdu_hex: str) -> None:
    """+CMT / +CDS: the PDU came in the URC; persist it (there is no slot to free)."""
    await handle_pdu(modem, pdu_hex, None, None)
