"""`smsc simulate upstream`: run the upstream SMSC simulator on its own, until Ctrl-C.

Registered into the ``smsc simulate`` group by smsc/cli/simulate.py.
"""

from __future__ import annotations

import random
import sys

import click

from protocols.smpp.simulator import UpstreamSimulator
from protocols.smpp.simulator_settings import ID_FLAVOURS, RECEIPT_FORMATS, SimulatorSettings



def build_settings(system_id: str, password: str, accept_any: bool, receipt_delay: float,
                   delivered: float, undeliverable: float, expired: float, rejected: float,
                   id_flavour: str, receipt_id_flavour: str | None, receipt_format: str,
                   early_receipt: float, mo_interval: float) -> SimulatorSettings:
    """SimulatorSettings from the command's options; ValueError names what is wrong."""
    outcomes = {stat: weight for stat, weight in (("DELIVRD", delivered),
                                                  ("UNDELIV", undeliverable),
                                                  ("EXPIRED", expired),
                                                  ("REJECTD", rejected)) if weight > 0}
    return SimulatorSettings(
        system_id=system_id, password=password, accept_any=accept_any,
        receipt_delay=receipt_delay, outcomes=outcomes or {"DELIVRD": 0.0},
        id_flavour=id_flavour, receipt_id_flavour=receipt_id_flavour,
        receipt_format=receipt_format, early_receipt=early_receipt, mo_interval=mo_interval,
        record="counters")


@click.command("upstream")
@click.option("--listen", default="tcp:2776:interface=127.0.0.1", show_default=True,
              help="Twisted server endpoint string to listen on.")
@click.option("--system-id", default="upstream", show_default=True)
@click.option("--password", default="secret", show_default=True,
              help="At most 8 characters (SMPP 3.4).")
@click.option("--accept-any", is_flag=True, help="Accept any system_id and password.")
@click.option("--receipt-delay", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds between the submit and its receipt.")
@click.option("--delivered", type=click.FloatRange(min=0), default=0.9, show_default=True,
              help="Weight of DELIVRD receipts.")
@click.option("--undeliverable", type=click.FloatRange(min=0), default=0.05,
              show_default=True, help="Weight of UNDELIV receipts.")
@click.option("--expired", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Weight of EXPIRED receipts.")
@click.option("--rejected", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of REJECTD receipts.")
@click.option("--id-flavour", type=click.Choice(ID_FLAVOURS), default="dec",
              show_default=True, help="message_id form in submit_sm_resp.")
@click.option("--receipt-id-flavour", type=click.Choice(ID_FLAVOURS), default=None,
              help="message_id form in receipts (default: same as --id-flavour).")
@click.option("--receipt-format", type=click.Choice(RECEIPT_FORMATS), default="both",
              show_default=True)
@click.option("--early-receipt", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability a receipt is sent before the submit_sm_resp.")
@click.option("--throttle-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability a submit is answered ESME_RTHROTTLED.")
@click.option("--reject-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability a submit is answered ESME_RINVDSTADR.")
@click.option("--mo-interval", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Send a random MO every this many seconds (0: never).")
@click.option("--seed", type=int, default=None, help="Seed of the random generator.")
def upstream_command(listen: str, system_id: str, password: str, accept_any: bool,
                     receipt_delay: float, delivered: float, undeliverable: float,
                     expired: float, rejected: float, id_flavour: str,
                     receipt_id_flavour: str | None, receipt_format: str, early_receipt: float,
                     throttle_rate: float, reject_rate: float, mo_interval: float,
                     seed: int | None) -> None:
    """Run a simulated upstream SMSC (carrier) that smsc can bind to."""
    try:
        settings = build_settings(system_id, password, accept_any, receipt_delay, delivered,
                                  undeliverable, expired, rejected, id_flavour,
                                  receipt_id_flavour, receipt_format, early_receipt,
                                  mo_interval)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    from twisted.internet import reactor  # only the CLI and the composition root touch it
    from twisted.internet.endpoints import serverFromString

    simulator = UpstreamSimulator(reactor, settings, random.Random(seed))
    try:
        simulator.faults.throttle = throttle_rate
        simulator.faults.reject = reject_rate
        endpoint = serverFromString(reactor, listen)
    except ValueError as exc:
        raise click.ClickException(f"{exc}") from None
    outcome = {"code": 0}

    def announce(port) -> None:  # noqa: ANN001 - IListeningPort
        host = port.getHost()
        credentials = "any system_id/password" if accept_any else (
            f"system_id={system_id} password={password}")
        click.echo(f"upstream simulator listening on {host.host}:{host.port} "
                   f"({credentials}); Ctrl-C to stop")
        sys.stdout.flush()
        simulator.start()
        reactor.addSystemEventTrigger("before", "shutdown", simulator.stop)
        reactor.addSystemEventTrigger("before", "shutdown", port.stopListening)

    def failed(failure) -> None:  # noqa: ANN001 - twisted Failure
        outcome["code"] = 1
        click.echo(f"smsc simulate upstream: cannot listen on {listen}: "
                   f"{failure.getErrorMessage()}", err=True)
        reactor.stop()

    reactor.callWhenRunning(
        lambda: endpoint.listen(simulator.factory()).addCallbacks(announce, failed))
    reactor.run()
    sys.exit(outcome["code"])
