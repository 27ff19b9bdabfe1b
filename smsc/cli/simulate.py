"""`smsc simulate ...`: run the shipped simulators standalone.

``smsc simulate modems --count N`` starts N simulated GSM modems, each on its own pseudo-terminal,
and prints one line per modem: the device path (first column, tab separated) and its identity.
Any AT tool (minicom, gammu, smstools, smsc itself) can open those paths. It runs until Ctrl-C
(or ``--duration`` seconds). Other modules add sub-commands to the `simulate` group
(``smsc simulate upstream``).
"""

from __future__ import annotations

import sys

import click

from modemfarm.simulator import Latency, ModemFarm, ReportPolicy
from smsc.cli.simulate_upstream import upstream_command


@click.group()
def simulate() -> None:
    """Run simulators (modems on ptys, upstream SMSCs) for demos, tests and trials."""


@simulate.command("modems")
@click.option("--count", default=4, show_default=True, type=click.IntRange(1, 512),
              help="Number of simulated modems.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed for identities, latencies and reports (same seed, same run).")
@click.option("--transcript", "transcript_dir", type=click.Path(file_okay=False),
              help="Write a byte transcript per modem (modemN.wire.txt) in this directory.")
@click.option("--link-dir", type=click.Path(file_okay=False),
              help="Create udev-like links here: ttyUSB<n> and by-id/sim-modem-<IMEI>.")
@click.option("--latency", default=3.0, show_default=True, type=click.FloatRange(0.0, 60.0),
              help="Median seconds between the PDU and +CMGS.")
@click.option("--report-delay", default=2.0, show_default=True, type=click.FloatRange(0.0, 3600.0),
              help="Median seconds between +CMGS and the status report.")
@click.option("--report-loss", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Probability that a requested status report never comes.")
@click.option("--duration", type=click.FloatRange(0.0), default=None,
              help="Stop after this many seconds (default: run until interrupted).")
def modems(count: int, seed: int, transcript_dir: str | None, link_dir: str | None,
           latency: float, report_delay: float, report_loss: float,
           duration: float | None) -> None:
    """Start COUNT simulated modems and print the device path of each."""
    from twisted.internet import reactor  # the CLI is a composition root

    farm = ModemFarm(
        count, reactor, reactor, seed=seed, link_dir=link_dir, transcript_dir=transcript_dir,
        submit_latency=Latency(latency, 0.5 if latency else 0.0, min(latency, 0.2), 20.0),
        reports=ReportPolicy(delay=Latency(report_delay, 0.5 if report_delay else 0.0,
                                           min(report_delay, 0.1), 60.0), lost=report_loss),
    )
    try:
        paths = farm.start()
    except OSError as exc:
        farm.stop()
        raise click.ClickException(f"cannot create pseudo-terminals: {exc}") from exc
    for modem, path in zip(farm.modems, paths, strict=True):
        ident = modem.state.identity
        click.echo(f"{path}\timei={ident.imei} imsi={ident.imsi} iccid={ident.iccid} "
                   f"msisdn={ident.msisdn}")
    sys.stdout.flush()
    click.echo(f"{count} simulated modem(s) running; Ctrl-C to stop", err=True)
    if duration is not None:
        reactor.callLater(duration, reactor.stop)
    try:
        reactor.run()
    finally:
        farm.stop()


simulate.add_command(upstream_command)
commands: list = [simulate]
