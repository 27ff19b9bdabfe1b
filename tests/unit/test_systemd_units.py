"""The systemd units: the settings the operations guide relies on, and `systemd-analyze verify` when available."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

UNIT_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "systemd")


def settings(name: str) -> dict[str, list[str]]:
    """key -> values (keys may repeat) of a unit file, section names ignored."""
    out: dict[str, list[str]] = {}
    with open(os.path.join(UNIT_DIR, name)) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith(("#", "[")) and "=" in line:
                key, value = line.split("=", 1)
                out.setdefault(key, []).append(value)
    return out


def test_service_unit_settings():
    """When smsc.service is installed, it restarts on failure as a dedicated user, hardened, after the DB upgrade."""
    unit = settings("smsc.service")
    assert unit["Type"] == ["simple"]
    assert unit["ExecStart"] == ["/usr/bin/env smsc --config /etc/smsc/smsc.toml serve"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["User"] == ["smsc"] and unit["DynamicUser"] == ["yes"]
    assert unit["StateDirectory"] == ["smsc"]
    assert "smsc-db-upgrade.service" in unit["Requires"][0] and "smsc-db-upgrade.service" in unit["After"][0]
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                       ("PrivateTmp", "yes"), ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6")]:
        assert unit[key] == [value], key


def test_upgrade_unit_is_oneshot():
    """When smsc-db-upgrade.service runs, it is a oneshot running `smsc db upgrade` with the same config."""
    unit = settings("smsc-db-upgrade.service")
    assert unit["Type"] == ["oneshot"]
    assert unit["ExecStart"] == ["/usr/bin/env smsc --config /etc/smsc/smsc.toml db upgrade"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify():
    """When systemd checks the units, it reports no error and no unknown or misplaced key."""
    result = subprocess.run(
        ["systemd-analyze", "verify", "./smsc.service", "./smsc-db-upgrade.service"],
        cwd=UNIT_DIR, capture_output=True, text=True, timeout=60,
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "smsc" in line and ("Unknown" in line or "ignoring" in line or "rror" in line)]
    assert result.returncode == 0, result.stderr
    assert problems == []
