"""Demo data: the named demo accounts once, and synthetic users on request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from rxapp.models import User
from rxapp.services import accounts, demo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DEMO_EMAILS = {"admin@example.com", "alice@example.com", "bob@example.com", "carol@example.com"}


def _emails(db) -> set[str]:
    return set(db.exec(select(User.email)).all())


def _count(db) -> int:
    return db.exec(select(func.count()).select_from(User)).one()


def test_empty_database_has_no_users(db):
    assert demo.has_users(db) is False


def test_seed_adds_the_demo_accounts(db):
    report = demo.seed(db, extra_users=0, now=NOW)

    assert _emails(db) == DEMO_EMAILS
    assert demo.has_users(db) is True
    assert report.startswith("Demo data added:")
    for email, password in [demo.DEMO_ADMIN, *demo.DEMO_USERS]:
        assert email in report
        assert password in report


def test_demo_credentials_sign_in_and_only_the_admin_is_admin(db):
    demo.seed(db, extra_users=0, now=NOW)

    for (email, password), is_admin in [(demo.DEMO_ADMIN, True)] + [
        (u, False) for u in demo.DEMO_USERS
    ]:
        step = accounts.check_password_step(db, email, password, now=NOW)
        assert step.user is not None, email
        assert step.user.is_admin is is_admin, email


def test_seeding_twice_adds_nothing_the_second_time(db):
    demo.seed(db, extra_users=0, now=NOW)
    hashes = {u.email: u.password_hash for u in db.exec(select(User)).all()}

    report = demo.seed(db, extra_users=0, now=NOW)

    assert report == "Demo accounts already exist; nothing added."
    assert _count(db) == len(DEMO_EMAILS)
    assert {u.email: u.password_hash for u in db.exec(select(User)).all()} == hashes


def test_seed_adds_only_the_missing_demo_accounts(db):
    accounts.create_user(db, "bob@example.com", "bob's-own-password", now=NOW)

    report = demo.seed(db, extra_users=0, now=NOW)

    assert _emails(db) == DEMO_EMAILS
    assert "bob@example.com" not in report
    # Bob keeps his own password.
    assert accounts.check_password_step(db, "bob@example.com", "bob's-own-password", now=NOW).user


def test_seed_with_extra_users_adds_that_many_synthetic_users(db):
    progress = []

    report = demo.seed(db, extra_users=7, now=NOW, progress=lambda *a: progress.append(a))

    synthetic = {e for e in _emails(db) if e.endswith("@users.example.com")}
    assert len(synthetic) == 7
    assert _count(db) == len(DEMO_EMAILS) + 7
    assert "7 synthetic users" in report
    assert progress[-1] == (7, 7)
    sign_in = accounts.check_password_step(db, min(synthetic), "synthetic-1234", now=NOW)
    assert sign_in.user is not None
    assert sign_in.user.is_admin is False


def test_seeding_more_synthetic_users_adds_new_ones_after_the_existing(db):
    demo.seed(db, extra_users=3, now=NOW)

    report = demo.seed(db, extra_users=4, now=NOW)

    synthetic = {e for e in _emails(db) if e.endswith("@users.example.com")}
    assert len(synthetic) == 7
    assert _count(db) == len(DEMO_EMAILS) + 7
    assert (
        report
        == "Demo data added:\n  4 synthetic users @users.example.com (password: synthetic-1234)"
    )


@pytest.mark.both_databases
def test_synthetic_users_are_timezone_aware_and_not_in_the_future(db):
    demo.seed(db, extra_users=5, now=NOW)

    users = db.exec(select(User).where(User.email.like("%@users.example.com"))).all()
    assert all(u.created_at.tzinfo is not None and u.created_at <= NOW for u in users)


def test_seeding_after_a_synthetic_user_was_deleted_adds_new_ones(db):
    # Numbering from the count of synthetic users would reuse an existing email here.
    demo.seed(db, extra_users=3, now=NOW)
    db.delete(accounts.find_user(db, "user0000000@users.example.com"))
    db.commit()

    demo.seed(db, extra_users=1, now=NOW)

    synthetic = {e for e in _emails(db) if e.endswith("@users.example.com")}
    assert len(synthetic) == 3


def test_seeding_works_beside_a_real_account_in_the_synthetic_domain(db):
    accounts.create_user(db, "userfoo@users.example.com", "a-real-password", now=NOW)

    demo.seed(db, extra_users=2, now=NOW)

    synthetic = {e for e in _emails(db) if e.endswith("@users.example.com")}
    assert len(synthetic) == 3


@pytest.mark.parametrize("count", [1, 3, 130, 257])
def test_any_number_of_synthetic_users_has_the_adoption_mix(db, count):
    demo.seed(db, extra_users=count, now=NOW)
    activated = db.exec(
        select(func.count())
        .select_from(User)
        .where(col(User.email).endswith("@users.example.com"), col(User.twofa_active))
    ).one()
    assert activated == count * demo.ACTIVATED_PERCENT // 100
