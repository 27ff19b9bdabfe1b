"""`smsc send --to N --text T`: put one message into the queue the SMPP intake fills.

The message is built the way the SMPP server builds one: the options become a submit_sm PDU
(text encoded by protocols.sms: GSM 7-bit when it fits, else UCS-2), and ``smsc.submit.message_row``
checks it and makes the row, so a CLI message and an ESME's are the same kind of row (only
``command`` says "cli"). The running engine's dispatcher finds it on its next poll; nothing here
talks to the engine.
"""

from __future__ import annotations

import random
from typing import Any

import click
import sqlalchemy as sa
import sqlalchemy.exc

from protocols.sms import TextProfile, plan
from protocols.smpp.codec import Pdu
from protocols.smpp.constants import Status
from protocols.smpp.errors import SmppError
from smsc.cli.common import database_errors, fail, get_config, now, open_database
from smsc.store.accounts import get_account_txn
from smsc.store.admin import new_message_id, only_account_txn
from smsc.store.messages import insert_messages_txn
from smsc.submit import IntakeLimits, check_address, message_row

SHORT_MESSAGE_MAX = 254  # octets in short_message; longer text goes in message_payload, as an ESME would
ID_ATTEMPTS = 5
# the whole text in one piece: protocols.sms picks the encoding, the engine splits it per upstream
_WHOLE = TextProfile(concat="payload", max_parts=255)


def parse_destination(text: str) -> tuple[str, int, int]:
    """A phone number in international form (``+447700900123`` or ``447700900123``) ->
    (digits, TON international, NPI E.164); SmppError naming the problem otherwise."""
    addr = text.strip().replace(" ", "")
    check_address(1, 1, addr, source=False)
    return (addr[1:] if addr.startswith("+") else addr), 1, 1


def parse_source(text: str) -> tuple[str, int, int]:
    """Sender: empty (the route or carrier supplies one), a number (international with + or
    more than 8 digits; else a short code), or an alphanumeric name of up to 11 characters."""
    addr = text.strip()
    if not addr:
        return "", 0, 0
    digits = addr[1:] if addr.startswith("+") else addr
    if digits.isdigit():
        ton, npi = (1, 1) if addr.startswith("+") or len(digits) > 8 else (0, 1)
        check_address(ton, npi, addr, source=True)
        return digits, ton, npi
    if len(addr) > 11:
        raise SmppError(Status.ESME_RINVSRCADR, f"a sender name has at most 11 characters, {addr!r} has {len(addr)}")
    check_address(5, 0, addr, source=True)
    return addr, 5, 0


def submit_pdu(dest: tuple[str, int, int], source: tuple[str, int, int], text: str, *, priority: int = 0,
               receipt: bool = False) -> Pdu:
    """The submit_sm an ESME would send for this text (ValueError when no encoding carries it)."""
    encoded = plan(text, _WHOLE)
    body = b"".join(part.payload for part in encoded.parts)
    params: dict[str, Any] = {
        "source_addr": source[0], "source_addr_ton": source[1], "source_addr_npi": source[2],
        "destination_addr": dest[0], "dest_addr_ton": dest[1], "dest_addr_npi": dest[2],
        "priority_flag": priority, "registered_delivery": 1 if receipt else 0, "data_coding": encoded.data_coding,
    }
    tlvs = None
    if len(body) <= SHORT_MESSAGE_MAX:
        params["short_message"] = body
    else:
        tlvs = {"message_payload": body}
    return Pdu("submit_sm", params=params, tlvs=tlvs)


class SendRefused(Exception):
    """A reason to refuse, for one line on stderr."""


def send_txn(conn: sa.Connection, account_name: str | None, pdu: Pdu, now: float, limits: IntakeLimits,
             message_id: int) -> dict[str, Any]:
    """Resolve the account, build the row as the intake does, insert it; returns the row."""
    if account_name is None:
        names = only_account_txn(conn)
        if not names:
            raise SendRefused("no accounts yet: add one with `smsc account add` (messages belong to an account)")
        if len(names) > 1:
            raise SendRefused("several accounts: say which one sends with --account SYSTEM_ID")
        account_name = names[0]
    account = get_account_txn(conn, account_name)
    if account is None:
        raise SendRefused(f"no account {account_name!r}")
    if not account.enabled:
        raise SendRefused(f"account {account_name!r} is disabled")
    row = message_row(pdu, account, now, limits, message_id)
    row["command"] = "cli"
    insert_messages_txn(conn, [row])
    row["account"] = account.system_id
    return row


@click.command("send")
@click.option("--to", "to", required=True, metavar="NUMBER", help="Destination, international form: +447700900123.")
@click.option("--text", required=True, help="Message text (any Unicode; long text is split by the upstream's rules).")
@click.option("--from", "source", default="", metavar="ADDR", help="Sender: a number, a short code or a name (<= 11 chars).")
@click.option("--account", metavar="SYSTEM_ID", help="Account it is sent for (default: the only account).")
@click.option("--priority", type=click.IntRange(0, 3), default=0, show_default=True,
              help="0 is bulk; 1-3 is transactional and goes first.")
@click.option("--receipt/--no-receipt", default=False, show_default=True,
              help="Ask for a delivery receipt; it is delivered to the account's ESME like any receipt.")
@click.pass_context
def send(ctx: click.Context, to: str, text: str, source: str, account: str | None, priority: int, receipt: bool) -> None:
    """Queue one message; prints its id (see it with `smsc message show ID`)."""
    if not text:
        raise fail("empty --text")
    try:
        dest = parse_destination(to)
    except SmppError as e:
        raise fail(f"--to {to!r}: {e.message}") from None
    try:
        sender = parse_source(source)
    except SmppError as e:
        raise fail(f"--from {source!r}: {e.message}") from None
    try:
        pdu = submit_pdu(dest, sender, text, priority=priority, receipt=receipt)
    except ValueError as e:
        raise fail(f"--text: {e}") from None
    config = get_config(ctx)
    limits = IntakeLimits(max_parts=config.intake.max_parts, default_validity=config.intake.default_validity)
    rng = random.Random()
    with open_database(ctx) as db, database_errors(config):
        for attempt in range(ID_ATTEMPTS):
            t = now()
            try:
                row = db.run_sync("cli_send", send_txn, account, pdu, t, limits, new_message_id(config.node.id, t, rng))
                break
            except sqlalchemy.exc.IntegrityError:
                if attempt == ID_ATTEMPTS - 1:
                    raise
            except SendRefused as e:
                raise fail(str(e)) from None
            except SmppError as e:
                hint = ""
                if e.status == Status.ESME_RINVSRCADR and not source:
                    hint = " (pick one with --from)"
                elif e.status == Status.ESME_RINVMSGLEN:
                    hint = " (the limit is [intake] max_parts)"
                raise fail(f"refused: {e.message}{hint}") from None
    click.echo(row["id"])
    click.echo(f"queued for {row['dest_addr']} from account {row['account']}: {row['segments']} segment(s)", err=True)


commands = [send]
