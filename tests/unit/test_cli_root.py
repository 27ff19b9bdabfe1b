"""The root `smsc` command: --config before or after the sub-command."""

from __future__ import annotations

import pathlib

from click.testing import CliRunner

from smsc.cli import main

DEMO = str(pathlib.Path(__file__).resolve().parents[2] / "conf" / "demo.toml")


def test_config_is_accepted_after_the_subcommand():
    """`smsc config check --config FILE` works like `smsc --config FILE config check` (as the
    README's `smsc serve --config conf/demo.toml` does)."""
    after = CliRunner().invoke(main, ["config", "check", "--config", DEMO])
    before = CliRunner().invoke(main, ["--config", DEMO, "config", "check"])
    assert after.exit_code == before.exit_code == 0, after.output
    assert after.output == before.output


def test_missing_config_file_is_one_line():
    """A config path that does not exist is one clear line and a non-zero exit."""
    result = CliRunner().invoke(main, ["config", "check", "--config", "/nonexistent/smsc.toml"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1, result.output
