"""The 2FA policy: who must use it, from when, and who may open the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from rxapp.services import accounts, policy, users_query
from rxapp.services.database import engine_for
from rxapp.settings import SettingsError, get_settings

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def mode(monkeypatch):
    def set_mode(value: str, grace: str = "7") -> None:
        monkeypatch.setenv("RXAPP_REQUIRE_2FA", value)
        monkeypatch.setenv("RXAPP_2FA_GRACE_DAYS", grace)
        get_settings.cache_clear()

    yield set_mode
    get_settings.cache_clear()


@pytest.fixture
def db(sqlite_db_url):
    with Session(engine_for(sqlite_db_url), expire_on_commit=False) as session:
        yield session


def _people(db):
    admin = accounts.create_user(db, "root@example.com", "a-long-password", now=T0, is_admin=True)
    user = accounts.create_user(db, "user@example.com", "a-long-password", now=T0)
    return admin, user


def test_by_default_admins_must_use_2fa_after_seven_days(db, mode):
    mode("admins")
    admin, user = _people(db)
    rule = policy.requirement(admin)
    assert rule.required and rule.deadline == T0 + timedelta(days=7)
    assert not rule.overdue(now=T0 + timedelta(days=6))
    assert rule.overdue(now=T0 + timedelta(days=7))
    assert not policy.requirement(user).required


def test_all_and_none(db, mode):
    admin, user = _people(db)
    mode("all", grace="0")
    assert policy.requirement(user).overdue(now=T0)
    mode("none")
    assert not policy.requirement(admin).required


def test_an_admin_without_2fa_may_not_use_the_dashboard(db, mode):
    mode("none")
    admin, user = _people(db)
    assert not policy.may_use_dashboard(admin)
    admin.totp_secret, admin.totp_enabled_at, admin.twofa_active = "x", T0, True
    assert policy.may_use_dashboard(admin)
    user.totp_secret, user.totp_enabled_at, user.twofa_active = "x", T0, True
    assert not policy.may_use_dashboard(user)


def test_the_users_query_filters_those_the_policy_asks_for_2fa(db, mode):
    mode("admins")
    _people(db)
    page = users_query.fetch_page(db, status=users_query.StatusFilter.REQUIRED)
    assert [row.email for row in page.rows] == ["root@example.com"]
    assert page.total == 1
    assert page.rows[0].required_by == T0 + timedelta(days=7)
    mode("all")
    page = users_query.fetch_page(db, status=users_query.StatusFilter.REQUIRED)
    assert page.total == 2
    mode("none")
    assert users_query.fetch_page(db, status=users_query.StatusFilter.REQUIRED).total == 0


def test_a_bad_policy_value_is_a_clear_error(mode):
    with pytest.raises(SettingsError, match="RXAPP_REQUIRE_2FA must be one of"):
        mode("everyone")
        get_settings()
