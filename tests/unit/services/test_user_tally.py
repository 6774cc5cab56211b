"""The dashboard's counts come from `user_tally`, kept by triggers on app_user: after every
kind of write (the app's own services, bulk SQL, concurrent transactions) they equal a plain
COUNT of the table, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from functools import cache

import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from rxapp.services import accounts, admin, secretbox, users_query
from rxapp.services.database import engine_for
from rxapp.services.mfa import flow as mfa_flow
from rxapp.services.mfa.totp import flows as totp_flows
from tests.conftest import downgrade_to, empty_postgres, migrate, upgrade_to

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PASSWORD = "a long enough password 1"


def exact(db: Session) -> tuple[int, int]:
    """(activated, not activated) counted row by row, without the tally."""
    rows = dict(
        db.exec(sa.text("SELECT twofa_active, COUNT(*) FROM app_user GROUP BY twofa_active")).all()
    )
    return rows.get(True, 0), rows.get(False, 0)


def shown(db: Session) -> tuple[int, int]:
    """What the dashboard shows for everyone (no search)."""
    db.expire_all()
    page = users_query.fetch_page(db)
    return page.activated, page.not_activated


@cache
def _sealed() -> str:
    """A TOTP secret as stored (the app checks that its key opens them before it starts)."""
    return secretbox.encrypt("JBSWY3DPEHPK3PXP")


def bulk_rows(prefix: str, count: int, *, every_nth_active: int = 3) -> list[dict]:
    return [
        {
            "email": f"{prefix}{i:05}@bulk.test",
            "password_hash": "x",
            "is_admin": False,
            "created_at": NOW,
            "twofa_active": i % every_nth_active == 0,
            "totp_enabled_at": NOW if i % every_nth_active == 0 else None,
            "totp_secret": _sealed() if i % every_nth_active == 0 else None,
        }
        for i in range(count)
    ]


def insert_bulk(db: Session, rows: list[dict], *, commit: bool = True) -> None:
    columns = ", ".join(rows[0])
    values = ", ".join(f":{name}" for name in rows[0])
    db.exec(sa.text(f"INSERT INTO app_user ({columns}) VALUES ({values})"), params=rows)
    if commit:
        db.commit()


def enable_totp(db: Session, user_id: int) -> str:
    user = db.get(accounts.User, user_id)
    enrollment = totp_flows.begin_enrollment(db, user, now=NOW)
    assert enrollment is not None
    code = pyotp.TOTP(enrollment.secret).at(NOW)
    assert totp_flows.confirm_enrollment(db, user_id, code, now=NOW).ok
    return enrollment.secret


def test_an_empty_database_counts_no_one(db):
    assert shown(db) == (0, 0)


def test_the_apps_own_writes_keep_the_counts(db):
    ann = accounts.create_user(db, "ann@example.com", PASSWORD, now=NOW)
    bob = accounts.create_user(db, "bob@example.com", PASSWORD, now=NOW)
    assert shown(db) == exact(db) == (0, 2)

    enable_totp(db, ann.id)
    secret = enable_totp(db, bob.id)
    assert shown(db) == exact(db) == (2, 0)

    later = NOW + timedelta(minutes=2)
    code = pyotp.TOTP(secret).at(later)
    assert mfa_flow.disable(db, bob.id, code, now=later).ok
    assert shown(db) == exact(db) == (1, 1)

    admin.reset_2fa(db, ann.id, now=later, actor_id=None, via="test")
    admin.reset_2fa(db, ann.id, now=later, actor_id=None, via="test")  # already off
    assert shown(db) == exact(db) == (0, 2)


def test_bulk_inserts_updates_and_deletes_in_sql_keep_the_counts(db):
    insert_bulk(db, bulk_rows("many", 2500))  # several multi-row statements on PostgreSQL
    assert shown(db) == exact(db) == (834, 1666)

    db.exec(sa.text("UPDATE app_user SET last_sign_in_at = created_at"))  # not the flag
    db.exec(
        sa.text(
            "UPDATE app_user SET twofa_active = false, totp_enabled_at = NULL, "
            "totp_secret = NULL WHERE email < 'many00100'"
        )
    )
    db.commit()
    assert shown(db) == exact(db) == (800, 1700)

    db.exec(sa.text("DELETE FROM app_user WHERE email >= 'many02000'"))
    db.commit()
    assert shown(db) == exact(db) == (633, 1367)

    db.exec(sa.text("UPDATE app_user SET twofa_active = twofa_active"))  # no change
    db.commit()
    assert shown(db) == exact(db) == (633, 1367)


def test_one_statement_changing_many_accounts_is_counted_at_once(db):
    """A bulk change of the flag (a data migration, a mass reset) takes about as long as
    the update itself: PostgreSQL slowed down quadratically when the tally's row was
    updated once per changed account (40k rows: about 9 s here, 0.5 s without)."""
    insert_bulk(db, bulk_rows("mass", 40_000, every_nth_active=1))
    started = time.monotonic()
    db.exec(
        sa.text(
            "UPDATE app_user SET twofa_active = false, totp_enabled_at = NULL, totp_secret = NULL"
        )
    )
    db.commit()
    assert time.monotonic() - started < 5
    assert shown(db) == exact(db) == (0, 40_000)


def test_a_rolled_back_write_leaves_the_counts(db):
    insert_bulk(db, bulk_rows("kept", 10))
    db.exec(sa.text("DELETE FROM app_user"))
    insert_bulk(db, bulk_rows("gone", 7), commit=False)
    db.rollback()
    assert shown(db) == exact(db) == (4, 6)


def test_a_search_still_counts_the_matching_rows(db):
    insert_bulk(db, bulk_rows("abc", 30))
    insert_bulk(db, bulk_rows("xyz", 9))
    page = users_query.fetch_page(db, search="xyz")
    assert (page.activated, page.not_activated) == (3, 6)


def test_concurrent_sign_ups_and_changes_keep_the_counts(db_url):
    """Eight connections write at once: sign-ups one by one, bulk inserts, 2FA turned on
    and off and rows deleted; the tally ends equal to the table."""
    engine = engine_for(db_url)
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("base", 200))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Session(engine) as db:
                for i in range(15):
                    insert_bulk(db, bulk_rows(f"w{n}x{i}-", 1 + i % 4))
                    db.exec(
                        sa.text(
                            "UPDATE app_user SET twofa_active = NOT twofa_active, "
                            "totp_enabled_at = CASE WHEN twofa_active THEN NULL ELSE :now END, "
                            "totp_secret = CASE WHEN twofa_active THEN NULL ELSE 'x' END "
                            "WHERE email = :email"
                        ),
                        params={"now": NOW, "email": f"base{(n * 15 + i) % 200:05}@bulk.test"},
                    )
                    if i % 5 == 4:
                        db.exec(
                            sa.text("DELETE FROM app_user WHERE email LIKE :p"),
                            params={"p": f"w{n}x{i - 1}-%"},
                        )
                    db.commit()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with Session(engine) as db:
        assert shown(db) == exact(db)
        assert sum(exact(db)) > 200


def test_a_sign_in_does_not_wait_for_a_2fa_change_in_progress(postgres_database):
    """The tally's row is locked only by writes that change it: on PostgreSQL (SQLite has
    one writer at a time anyway) a sign-in, which updates its account's row, goes through
    while another account's 2FA change is uncommitted."""
    empty_postgres(postgres_database)
    engine = engine_for(postgres_database)
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("lock", 2, every_nth_active=2))
    with engine.connect() as changing, engine.connect() as signing_in:
        changing.execute(
            sa.text(
                "UPDATE app_user SET twofa_active = false, totp_enabled_at = NULL, "
                "totp_secret = NULL WHERE email = 'lock00000@bulk.test'"
            )
        )  # the tally's row stays locked until this transaction ends
        signing_in.execute(sa.text("SET lock_timeout = '2s'"))
        signing_in.execute(
            sa.text("UPDATE app_user SET last_sign_in_at = now() WHERE email = :e"),
            {"e": "lock00001@bulk.test"},
        )
        signing_in.commit()
        changing.commit()
    with Session(engine) as db:
        assert shown(db) == exact(db) == (0, 2)


def test_truncating_the_users_alone_empties_the_tally(postgres_database):
    empty_postgres(postgres_database)
    engine = engine_for(postgres_database)
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("gone", 9))
        db.exec(sa.text("TRUNCATE app_user CASCADE"))
        db.commit()
        assert shown(db) == exact(db) == (0, 0)
        insert_bulk(db, bulk_rows("new", 4))
        assert shown(db) == exact(db) == (2, 2)


def test_downgrade_and_upgrade_again_count_from_the_table(db_url):
    engine = engine_for(db_url)
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("kept", 6))
    engine.dispose()
    downgrade_to(db_url, "a9c4e7f2b851")
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("while", 3))  # no tally, no trigger
    engine.dispose()
    upgrade_to(db_url, "head")
    with Session(engine) as db:
        assert shown(db) == exact(db) == (3, 6)


def test_the_migrations_after_the_tally_undo_and_redo_without_losing_its_triggers(db_url):
    engine = engine_for(db_url)
    downgrade_to(db_url, "b3d8f1e6c527")  # the tally's own migration, 0014
    engine.dispose()
    upgrade_to(db_url, "head")
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("after", 5, every_nth_active=5))
        assert shown(db) == exact(db) == (1, 4)


def test_a_sign_up_during_the_migration_is_counted_once(tmp_path):
    """On SQLite each statement of the migration may commit on its own: a sign-up between
    the triggers' creation and the first count is in that count, not counted twice."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade_to(url, "a9c4e7f2b851")
    engine = sa.create_engine(url)
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("old", 8, every_nth_active=4))
    signed_up: list[str] = []

    def sign_up_first(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().startswith("INSERT INTO user_tally") and not signed_up:
            signed_up.append(statement)
            with Session(engine) as other:
                insert_bulk(other, bulk_rows("during", 1))  # 2FA on: the trigger counts it

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", sign_up_first)
    try:
        upgrade_to(url, "head")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", sign_up_first)
    assert signed_up
    with Session(engine) as db:
        assert shown(db) == exact(db) == (3, 6)
    engine.dispose()


def test_the_migration_counts_the_users_already_there(tmp_path):
    """Upgrading a database that already has users starts the tally from their count."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_to(url, "a9c4e7f2b851")  # the revision before the tally
    engine = sa.create_engine(url)
    with Session(engine) as db:
        insert_bulk(db, bulk_rows("old", 12, every_nth_active=4))
    migrate(url)
    with Session(engine) as db:
        assert shown(db) == exact(db) == (3, 9)
        insert_bulk(db, bulk_rows("new", 4, every_nth_active=4))
        assert shown(db) == exact(db) == (4, 12)
    engine.dispose()
