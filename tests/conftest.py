"""Shared fixtures: a database URL for each backend (SQLite file, throwaway PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.pg import database_in_shared_cluster


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
