"""Transaction functions of the modem rack: per-SIM usage counters, DLR keys written at +CMGS,
and the operator controls `smsc modem disable|enable|reset` leave for the engine.

Usage is one row per (SIM, period): the day "YYYY-MM-DD" and the month "YYYY-MM" are counted
separately, so a cap check is two primary-key reads and an add is two UPDATEs (an INSERT the
first time). Each node drives only the modems plugged into it, so two writers never race on
one SIM's row; the UPDATE-then-INSERT needs no dialect-specific upsert.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smsc.store.schema import SUBMITTED, dlr_keys, modem_controls, modem_usage


def load_usage_txn(conn: sa.Connection, sim: str, day_key: str, month_key: str) -> tuple[int, int]:
    """(sent today, sent this month) for ``sim``; zeros for a SIM never seen."""
    rows = dict(conn.execute(
        sa.select(modem_usage.c.period, modem_usage.c.sent)
        .where(modem_usage.c.sim == sim, modem_usage.c.period.in_([day_key, month_key]))
    ).all())
    return int(rows.get(day_key, 0)), int(rows.get(month_key, 0))


def add_usage_txn(conn: sa.Connection, sim: str, day_key: str, month_key: str, count: int, now: float) -> None:
    """Count ``count`` more parts sent by ``sim`` today and this month."""
    for period in (day_key, month_key):
        updated = conn.execute(
            modem_usage.update().where(modem_usage.c.sim == sim, modem_usage.c.period == period)
            .values(sent=modem_usage.c.sent + count, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(modem_usage.insert().values(sim=sim, period=period, sent=count, updated_at=now))


def usage_for_day_txn(conn: sa.Connection, day_key: str, month_key: str) -> dict[str, tuple[int, int]]:
    """Every SIM's (today, this month) for `smsc modem list`."""
    out: dict[str, list[int]] = {}
    for sim, period, sent in conn.execute(
        sa.select(modem_usage.c.sim, modem_usage.c.period, modem_usage.c.sent)
        .where(modem_usage.c.period.in_([day_key, month_key]))
    ):
        out.setdefault(sim, [0, 0])[0 if period == day_key else 1] = int(sent)
    return {sim: (v[0], v[1]) for sim, v in out.items()}


def write_dlr_keys_txn(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """DLR keys of parts, written as soon as each modem gave its TP-MR (a group commit: one
    transaction for every +CMGS of a reactor turn), with the SIM usage of each part when the row
    has ``usage`` = (sim, day, month). Newest wins: the MR wraps at 256, so an older mapping
    with the same (IMEI, MR, recipient) gives way."""
    latest = {(r["upstream"], r["remote_id"]): r for r in rows}
    keys = list(latest)
    for start in range(0, len(keys), 400):
        conn.execute(dlr_keys.delete().where(
            sa.tuple_(dlr_keys.c.upstream, dlr_keys.c.remote_id).in_(keys[start : start + 400])))
    conn.execute(dlr_keys.insert(), [
        {"upstream": r["upstream"], "remote_id": r["remote_id"], "message_id": r["message_id"], "part": r["part"],
         "state": SUBMITTED, "created_at": r["now"], "updated_at": r["now"]} for r in latest.values()
    ])
    usage = [{"sim": r["usage"][0], "day": r["usage"][1], "month": r["usage"][2], "count": 1, "now": r["now"]}
             for r in rows if r.get("usage")]
    if usage:  # the SIM's counters for these parts, in the same transaction
        add_usage_rows_txn(conn, usage)


def add_usage_rows_txn(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """A group commit of usage increments: ``{"sim", "day", "month", "count", "now"}`` each."""
    totals: dict[tuple[str, str, str], int] = {}
    now = 0.0
    for r in rows:
        key = (r["sim"], r["day"], r["month"])
        totals[key] = totals.get(key, 0) + r["count"]
        now = max(now, r["now"])
    for (sim, day, month), count in totals.items():
        add_usage_txn(conn, sim, day, month, count, now)


def sent_from_txn(conn: sa.Connection, upstream: str, message_id: int) -> list[str]:
    """Remote ids of the parts of ``message_id`` already accepted by ``upstream`` (to send the
    rest of a long message from the same SIM after a restart)."""
    return [r[0] for r in conn.execute(
        sa.select(dlr_keys.c.remote_id).where(dlr_keys.c.upstream == upstream, dlr_keys.c.message_id == message_id)
        .order_by(dlr_keys.c.part)
    )]


# ------------------------------------------------------------------------------ operator controls

def set_disabled_txn(conn: sa.Connection, name: str, disabled: bool, now: float) -> None:
    updated = conn.execute(
        modem_controls.update().where(modem_controls.c.name == name).values(disabled=disabled, updated_at=now)
    ).rowcount
    if not updated:
        conn.execute(modem_controls.insert().values(name=name, disabled=disabled, updated_at=now))


def request_reset_txn(conn: sa.Connection, name: str, now: float) -> None:
    updated = conn.execute(
        modem_controls.update().where(modem_controls.c.name == name)
        .values(reset_requested_at=now, updated_at=now)
    ).rowcount
    if not updated:
        conn.execute(modem_controls.insert().values(name=name, disabled=False, reset_requested_at=now, updated_at=now))


def controls_txn(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every control row; the engine applies them to the modems it drives."""
    return [dict(r) for r in conn.execute(sa.select(modem_controls).order_by(modem_controls.c.name)).mappings()]


def reset_done_txn(conn: sa.Connection, names: list[str], now: float) -> None:
    if names:
        conn.execute(modem_controls.update().where(modem_controls.c.name.in_(names))
                     .values(reset_done_at=now, updated_at=now))
