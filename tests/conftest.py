"""Shared fixtures: a database URL for each backend (SQLite file, throwaway PostgreSQL)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from twisted.trial._synctest import SynchronousTestCase

from tests.pg import database_in_shared_cluster

# trial's mktemp() makes directories under the current directory (the repo, under pytest):
# keep them in one temporary tree instead, removed when the run ends.
_TRIAL_BASE = tempfile.mkdtemp(prefix="smsc-trial-")
atexit.register(shutil.rmtree, _TRIAL_BASE, True)


def _mktemp(self: SynchronousTestCase) -> str:
    return os.path.join(tempfile.mkdtemp(dir=_TRIAL_BASE), "tmp")


SynchronousTestCase.mktemp = _mktemp


@pytest.fixture
def postgres_url() -> str:
    """A fresh, empty database in the throwaway cluster (started once per test run)."""
    return database_in_shared_cluster()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'smsc.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """The same test against SQLite and a real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def migrated_engine(db_url):
    """An engine on a database at the latest schema (SQLite and PostgreSQL)."""
    from smsc.store import migrate
    from smsc.store.db import create_engine

    engine = create_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
