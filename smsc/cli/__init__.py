"""The `smsc` command line: one click group, one module per noun.

Each module in ``COMMAND_MODULES`` exposes ``commands``: a list of click commands or groups that
are added to the root group. A user error is one line on stderr and a non-zero exit, never a
traceback: raise ``click.ClickException`` (or ``smsc.cli.common.fail``).
"""

from __future__ import annotations

import importlib

import click

COMMAND_MODULES = (
    "serve",
    "config_cmd",
    "db",
    "account",
    "message",
    "text",
    "simulate",
    "modem",
    "upstream",
    "queue",
    "route",
    "send",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar="SMSC_CONFIG",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (TOML). Also read from $SMSC_CONFIG.",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """smsc: self-hosted SMS center (SMPP server, upstream carriers, GSM modem rack)."""
    ctx.obj = {"config_path": config_path}


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        root = ctx.find_root()
        root.obj = dict(root.obj or {}, config_path=value)


def _accept_config_anywhere(command: click.Command) -> None:
    """`smsc serve --config FILE` works as well as `smsc --config FILE serve`: every sub-command
    takes --config too (it wins over the global one and $SMSC_CONFIG)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_config_anywhere(sub)
        return
    command.params.append(click.Option(
        ["--config"], type=click.Path(dir_okay=False), expose_value=False, is_eager=True,
        callback=_set_config, help="Config file (TOML); same as the global --config."))


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f"smsc.cli.{_name}").commands:
        _accept_config_anywhere(_command)
        main.add_command(_command)
