"""Several hosts starting at once against one empty database: the migrations run once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from rxapp.cluster.migrate import LOCK_KEY
from rxapp.runtime import project_root
from tests.conftest import fresh_postgres_database


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A new PostgreSQL database without any table."""
    with fresh_postgres_database("rxapp_migrate", migrated=False) as url:
        yield url


def _migrate(db_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rxapp.cluster", "migrate"],
        env={**os.environ, "REFLEX_DB_URL": db_url},
        cwd=project_root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_hosts_migrating_one_empty_database_at_once_migrate_it_once(empty_database):
    runs = [_migrate(empty_database), _migrate(empty_database)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted("migrations applied" in o for o in outputs) == [False, True], outputs
    assert sum("database already up to date" in o for o in outputs) == 1, outputs
    engine = sa.create_engine(empty_database)
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert len(versions.all()) == 1
            tables = sa.inspect(connection).get_table_names()
            locks = connection.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"),
                {"k": LOCK_KEY},
            ).scalar()
    finally:
        engine.dispose()
    assert {"app_user", "audit_event"} <= set(tables)
    assert locks == 0  # released: the next host does not wait
