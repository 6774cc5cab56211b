"""Who must use two-factor authentication, and from when (RXAPP_REQUIRE_2FA and
RXAPP_2FA_GRACE_DAYS), as GitLab and GitHub enforce it: a grace period after the account is
created, then the user is sent to set 2FA up right after signing in and on every visit to
the profile until it is on. Admins without 2FA
never see the dashboard (OWASP ASVS 4.0.3 V4.3.1: MFA on administrative interfaces)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col

from rxapp.models import User
from rxapp.settings import get_settings


@dataclass(frozen=True)
class Requirement:
    """Whether an account must use 2FA, and from when sign-in insists on it."""

    required: bool
    deadline: datetime | None = None

    def overdue(self, *, now: datetime) -> bool:
        """Whether the grace period is over (only for an account that must use 2FA)."""
        return self.required and self.deadline is not None and now >= self.deadline


def applies(*, is_admin: bool) -> bool:
    """Whether the policy asks an account (an admin or not) to use 2FA."""
    mode = get_settings().require_2fa
    return mode == "all" or (mode == "admins" and is_admin)


def deadline(*, is_admin: bool, created_at: datetime) -> datetime | None:
    """From when sign-in insists on 2FA for such an account (None: never)."""
    if not applies(is_admin=is_admin):
        return None
    return created_at + timedelta(days=get_settings().twofa_grace_days)


def requirement(user: User) -> Requirement:
    """The policy for `user` (whether or not 2FA is on already)."""
    when = deadline(is_admin=user.is_admin, created_at=user.created_at)
    return Requirement(required=when is not None, deadline=when)


def may_use_dashboard(user: User) -> bool:
    """Admins reach All users only with 2FA on."""
    return user.is_admin and user.twofa_active


def required_clause() -> sa.ColumnElement[bool] | None:
    """SQL for "the policy asks this account to use 2FA" (None: nobody)."""
    mode = get_settings().require_2fa
    if mode == "all":
        return sa.true()
    if mode == "admins":
        return col(User.is_admin).is_(True)
    return None
