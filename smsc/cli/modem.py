"""`smsc modem ...`: the GSM modem rack.

- ``list``: live state comes from the running engine's metrics endpoint ([metrics] listen: the
  engine owns the serial ports, so nothing else may open them), per-SIM counters from the
  database. With no engine running it says so and shows the counters alone (exit 0).
- ``probe [PATH]``: opens the port itself (pyserial + AtChannel on a reactor) and prints
  identity, SIM, signal and registration. Without PATH, every configured device and glob match.
  A port the engine holds answers "busy".
- ``reset|disable|enable NAME``: the engine drives the modems, so these are requests recorded in
  the database (table modem_controls) that the engine polls every [modems] control_interval.
  NAME is an IMEI, IMSI, ICCID, a device path or its file name.
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import re
import urllib.error
import urllib.request
from typing import Any

import click

from smsc.cli.common import fail, get_config, now, print_json, print_table, run
from smsc.store import modems as store


# ------------------------------------------------------------------------------ list

def metrics_url(listen: str) -> str:
    """"tcp:9775:interface=127.0.0.1" -> "http://127.0.0.1:9775/metrics"."""
    port = re.search(r"^(?:tcp6?|ssl):(?:port=)?(\d+)", listen)
    if not port:
        raise fail(f'cannot reach the engine\'s metrics at "{listen}" (only tcp endpoints)')
    host = re.search(r"interface=([^:]+)", listen)
    address = host.group(1) if host and host.group(1) not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{address}:{port.group(1)}/metrics"


def live_modems(url: str, timeout: float = 3.0) -> list[dict[str, Any]] | None:
    """The smsc_modem_* families of a running engine, one dict per modem; None when no engine
    answers."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own endpoint
            text = response.read().decode("utf-8")
    except (urllib.error.URLError, OSError):
        return None
    modems: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            modem = sample.labels.get("modem")
            if modem is None or not sample.name.startswith("smsc_modem_"):
                continue
            row = modems.setdefault(modem, {"imei": modem, "sent": {}})
            if sample.name == "smsc_modem_info":
                row.update(sim=sample.labels["sim"], operator=sample.labels["operator"], path=sample.labels["path"])
            elif sample.name == "smsc_modem_state" and sample.value:
                row["state"] = sample.labels["state"]
            elif sample.name == "smsc_modem_signal_rssi":
                row["signal"] = int(sample.value)
            elif sample.name == "smsc_modem_sim_daily_cap":
                row["cap"] = int(sample.value)
            elif sample.name == "smsc_modem_sends_total":
                row["sent"][sample.labels["result"]] = int(sample.value)
    return list(modems.values())


def signal_text(rssi: int | None) -> str:
    """CSQ rssi as dBm (27.007: -113 + 2*rssi); 99 is unknown."""
    if rssi is None or rssi == 99:
        return "-"
    return f"{rssi} ({-113 + 2 * rssi} dBm)"


@click.group()
def modem() -> None:
    """GSM modems: list, probe, reset, disable, enable."""


@modem.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_modems(ctx: click.Context, as_json: bool) -> None:
    """Modems (live, from the running engine) and their SIMs' counters (from the database)."""
    config = get_config(ctx)
    today = dt.datetime.now(dt.timezone.utc)
    usage = run(ctx, "modem_usage", store.usage_for_day_txn, today.strftime("%Y-%m-%d"), today.strftime("%Y-%m"),
                readonly=True)
    live = live_modems(metrics_url(config.metrics.listen)) if config.metrics.enabled else None
    rows: list[dict[str, Any]] = []
    for m in live or []:
        day, month = usage.get(m.get("sim") or m["imei"], (0, 0))
        rows.append({"imei": m["imei"], "sim": m.get("sim", ""), "operator": m.get("operator", ""),
                     "signal": signal_text(m.get("signal")), "state": m.get("state", "?"), "sent_today": day,
                     "sent_month": month, "cap": m.get("cap", config.modems.daily_cap or "-"), "path": m.get("path", "")})
    seen = {r["sim"] for r in rows}
    for sim, (day, month) in sorted(usage.items()):
        if sim not in seen:  # SIMs known from the counters only (engine down, or modem unplugged)
            rows.append({"imei": "", "sim": sim, "operator": "", "signal": "-", "state": "not running" if live is None
                         else "absent", "sent_today": day, "sent_month": month, "cap": config.modems.daily_cap or "-",
                         "path": ""})
    if as_json:
        print_json(rows)
        return
    if live is None:
        click.echo("engine not running (no answer on the metrics endpoint): showing database counters only", err=True)
    print_table(rows, ["imei", "sim", "operator", "signal", "state", "sent_today", "cap", "path"])


# ------------------------------------------------------------------------------ probe

def probe_paths(paths: list[str], timeout: float) -> list[dict[str, Any]]:
    """Open each port in turn with real pyserial and ask it who it is (runs a reactor)."""
    from twisted.internet import reactor, task  # the CLI is a composition root
    from twisted.internet.defer import Deferred

    results: list[dict[str, Any]] = []

    async def probe_all() -> None:
        for path in paths:
            results.append(await probe_one(path, reactor, timeout))

    try:
        task.react(lambda _reactor: Deferred.fromCoroutine(probe_all()))
    except SystemExit as stop:  # react() always exits; 0 means every probe ran
        if stop.code:
            raise fail("probing stopped with an internal error (see above)") from None
    return results


async def probe_one(path: str, reactor: Any, timeout: float) -> dict[str, Any]:
    from twisted.internet.defer import Deferred

    from modemfarm.at.channel import AtChannel, AtDisconnected, AtError, AtTimeout
    from modemfarm.modem_init import InitError, parse_cpin, read_health, read_identity, wake
    from modemfarm.serialport import open_serial

    out: dict[str, Any] = {"path": path}
    channel = AtChannel(clock=reactor, recovery_timeout=timeout)
    try:
        transport = open_serial(path, channel, reactor)
    except OSError as exc:  # serial.SerialException is an OSError
        busy = "busy" in str(exc).lower() or getattr(exc, "errno", None) == 11
        out["error"] = ("in use by another program (is smsc running? see `smsc modem list`)" if busy
                        else f"cannot open: {exc}")
        return out
    try:
        await wake(channel, reactor)
        await channel.command("ATE0", timeout=timeout)
        try:
            out["sim"] = parse_cpin((await channel.command("AT+CPIN?", timeout=timeout)).lines) or "READY"
        except AtError as err:
            out["sim"] = f"error ({err.kind} {err.code}: {err.text})"
        try:
            identity = await read_identity(channel)
            out.update(imei=identity.imei, imsi=identity.imsi or "", iccid=identity.iccid or "")
        except AtError as err:
            out["imsi"] = f"unreadable ({err.kind} {err.code})"
        health, _ = await read_health(channel, reactor.seconds())
        out.update(signal=signal_text(health.rssi), operator=health.operator or "",
                   registered={1: "home", 5: "roaming", 2: "searching", 3: "denied", 0: "no"}.get(
                       health.creg if health.creg is not None else health.cereg, "unknown"),
                   usable="yes" if health.usable else "no")
    except (AtError, AtTimeout, AtDisconnected, InitError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        transport.loseConnection()
        closed: Deferred = Deferred()
        reactor.callLater(0.05, closed.callback, None)
        await closed
    return out


@modem.command("probe")
@click.argument("path", required=False)
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.5, 60), help="Seconds per command.")
@click.pass_context
def probe(ctx: click.Context, path: str | None, timeout: float) -> None:
    """Open PATH (default: the configured devices and glob) and print identity and health."""
    if path:
        paths = [path]
    else:
        cfg = get_config(ctx).modems
        paths = list(cfg.devices) + (sorted(globmod.glob(cfg.glob)) if cfg.glob else [])
        if not paths:
            raise fail("no device: give a PATH, or set [modems] devices or glob in the config")
    failed = 0
    for result in probe_paths(paths, timeout):
        click.echo(result["path"])
        for key in ("imei", "imsi", "iccid", "sim", "operator", "signal", "registered", "usable", "error"):
            if key in result:
                click.echo(f"  {key}: {result[key]}")
        failed += "error" in result
    if failed:
        raise fail(f"{failed} of {len(paths)} device(s) did not answer")


# ------------------------------------------------------------------------------ controls

@modem.command("reset")
@click.argument("name")
@click.pass_context
def reset(ctx: click.Context, name: str) -> None:
    """Ask the engine to reset modem NAME (AT+CFUN=1,1, then re-initialise)."""
    run(ctx, "modem_reset", store.request_reset_txn, name, now())
    click.echo(f"reset of {name} requested; the engine applies it within [modems] control_interval")


@modem.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Take modem NAME out of service (kept out across restarts until enabled)."""
    run(ctx, "modem_disable", store.set_disabled_txn, name, True, now())
    click.echo(f"{name} disabled; the engine closes its port within [modems] control_interval")


@modem.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Put modem NAME back in service."""
    run(ctx, "modem_enable", store.set_disabled_txn, name, False, now())
    click.echo(f"{name} enabled")


commands: list = [modem]
