"""Helpers for the CLI tests: a config file for a database URL and a CliRunner wrapper."""

from __future__ import annotations

from dataclasses import dataclass

from click.testing import CliRunner, Result

from smsc.cli import main


@dataclass
class Cli:
    config_path: str

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None) -> Result:
        result = CliRunner().invoke(main, ["--config", self.config_path, *args], input=input, env=env)
        assert "Traceback" not in result.output, result.output
        if result.exit_code != 0:
            # a user error is exactly one line on stderr, never an unhandled exception
            assert isinstance(result.exception, SystemExit), repr(result.exception)
        return result


def write_config(tmp_path, url: str, extra: str = "") -> str:
    path = tmp_path / "smsc.toml"
    path.write_text(f'[database]\nurl = "{url}"\n{extra}')
    return str(path)


def error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
