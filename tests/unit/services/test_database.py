"""Engine helpers: one engine per URL, SQLite tuned for concurrent use, PostgreSQL connections
that survive a dropped connection, sessions that keep their objects after commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from rxapp.models import AuditEvent, BackupCode, User
from rxapp.services import accounts
from rxapp.services.database import engine_for, session_for
from tests.conftest import POSTGRES_ADMIN_URL

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_one_engine_per_url(sqlite_db_url, tmp_path):
    assert engine_for(sqlite_db_url) is engine_for(sqlite_db_url)
    assert engine_for(sqlite_db_url) is not engine_for(f"sqlite:///{tmp_path / 'other.db'}")


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(sqlite_db_url):
    with engine_for(sqlite_db_url).connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == 10_000
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 1  # NORMAL


def test_sqlite_refuses_a_row_pointing_at_no_user(sqlite_db_url):
    with session_for(sqlite_db_url) as db:
        db.add(BackupCode(user_id=999, code_hash="x", created_at=T0))
        with pytest.raises(IntegrityError):
            db.commit()


def test_a_sqlite_session_may_continue_on_another_thread(sqlite_db_url):
    """A streamed response resumes its generator on another thread of the pool."""
    outcome: list[object] = []
    with session_for(sqlite_db_url) as db:
        db.exec(select(User)).all()  # the session holds a connection from this thread now

        def elsewhere() -> None:
            try:
                outcome.append(len(db.exec(select(User)).all()))
            except Exception as error:  # reported by the assertion below
                outcome.append(error)

        worker = threading.Thread(target=elsewhere)
        worker.start()
        worker.join(timeout=30)
    assert outcome == [0]


@pytest.mark.both_databases
def test_objects_stay_readable_after_commit_and_close(db_url):
    with session_for(db_url) as db:
        user = accounts.create_user(db, "keep@example.com", "a long password", now=T0)
        db.commit()
    assert user.email == "keep@example.com"  # no refresh needed, no DetachedInstanceError
    assert user.id is not None


@pytest.mark.both_databases
def test_what_a_session_did_not_commit_is_gone_after_it_closes(db_url):
    with session_for(db_url) as db:
        db.add(AuditEvent(at=T0, event="sign_in_failed", email="gone@example.com"))
        db.flush()
    with session_for(db_url) as db:
        assert db.exec(select(AuditEvent)).all() == []


def test_a_postgres_engine_replaces_a_connection_the_server_dropped(postgres_database):
    engine = engine_for(postgres_database)
    with engine.connect() as connection:
        pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            assert connection.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
            ).scalar()
    finally:
        admin.dispose()

    with engine.connect() as connection:  # the pooled connection is dead: pre-ping replaces it
        assert connection.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1


def test_session_for_gives_a_session_on_that_database(sqlite_db_url):
    with session_for(sqlite_db_url) as db:
        assert isinstance(db, Session)
        assert str(db.get_bind().url) == sqlite_db_url


def test_a_database_error_names_no_parameter_value(db_url):
    marker = "$argon2id$a-hash-that-must-not-reach-a-log"
    with Session(engine_for(db_url)) as db:
        db.add(User(email="twice@example.com", password_hash="x", created_at=T0))
        db.commit()
        db.add(User(email="twice@example.com", password_hash=marker, created_at=T0))
        with pytest.raises(IntegrityError) as raised:
            db.commit()
    # (PostgreSQL's own message names the duplicate key, the email: no secret.)
    assert marker not in str(raised.value)
    assert "parameters hidden" in str(raised.value)
