"""Every config file shipped in conf/ validates, and the demo config works with no setup."""

from __future__ import annotations

import glob
import os

import pytest

from smsc.auth import verify_password
from smsc.config import load_config

CONF_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "conf")
FILES = sorted(glob.glob(os.path.join(CONF_DIR, "*.toml")))


def test_conf_dir_has_files():
    """When the tests run, they find the shipped configs (an empty glob would make the next test vacuous)."""
    names = {os.path.basename(f) for f in FILES}
    assert {"demo.toml", "smsc.example.toml"} <= names


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f) for f in FILES])
def test_conf_file_validates(path):
    """When a file from conf/ is loaded, it validates against the config model."""
    config = load_config(path)
    assert config.database.url


def test_demo_config_is_self_contained():
    """When the demo starts on a fresh machine, it uses SQLite under ./var/, loopback ports, upgrades itself,
    and its bootstrap account accepts the documented password."""
    config = load_config(os.path.join(CONF_DIR, "demo.toml"))
    assert config.database.url == "sqlite:///var/smsc.db"
    assert config.database.upgrade_on_start is True
    assert config.smpp_server.listen == "tcp:2775:interface=127.0.0.1"
    assert config.metrics.listen == "tcp:9775:interface=127.0.0.1"
    (demo,) = config.accounts
    assert demo.system_id == "demo"
    assert verify_password("demopass", demo.password_hash)
    assert not verify_password("demo-pass", demo.password_hash)


def test_example_config_is_production_shaped():
    """When the production example is loaded, it points at PostgreSQL and leaves migrations to the oneshot unit."""
    config = load_config(os.path.join(CONF_DIR, "smsc.example.toml"))
    assert config.database.url.startswith("postgresql")
    assert config.database.upgrade_on_start is False
