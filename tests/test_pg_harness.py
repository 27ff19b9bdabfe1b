"""The throwaway PostgreSQL harness itself works (so PostgreSQL tests never silently skip in CI)."""

import pytest
import sqlalchemy as sa


@pytest.mark.postgres
def test_throwaway_cluster_accepts_queries(postgres_url):
    """When the harness starts a cluster, a fresh database answers SQL."""
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select 41 + 1")).scalar() == 42
    engine.dispose()
