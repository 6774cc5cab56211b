"""Migrations once per database: under a PostgreSQL advisory lock, skipped when at head, so
several hosts starting together migrate once."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from rxapp import runtime

# pg_advisory_lock's key: "rxap" in ASCII, the same on every host.
LOCK_KEY = 0x72786170


def _heads(project: Path) -> set[str]:
    return set(ScriptDirectory.from_config(Config(str(project / "alembic.ini"))).get_heads())


def at_head(connection: sa.Connection, project: Path) -> bool:
    """Whether the database already has every committed migration."""
    return set(MigrationContext.configure(connection).get_current_heads()) == _heads(project)


def max_connections(db_url: str) -> int:
    """PostgreSQL's max_connections."""
    engine = sa.create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SHOW max_connections")).scalar_one())
    finally:
        engine.dispose()


def migrate_once(db_url: str, *, project: Path, env: dict[str, str]) -> bool:
    """Apply the migrations unless another host did; True when this call applied them."""
    engine = sa.create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            connection.commit()  # the lock belongs to the session, not the transaction
            try:
                if at_head(connection, project):
                    return False
                connection.commit()
                runtime.migrate(db_url, cwd=project, env=env)
                return True
            finally:
                connection.rollback()
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                connection.commit()
    finally:
        engine.dispose()
