"""One throttle per account for every second-factor attempt (TOTP and backup codes).

Stored in the user's row and changed only by atomic statements, so all sessions and all app
instances share it. After the n-th consecutive failure the next attempt must wait
2^(n-1) seconds; from the 10th on, the account is locked for 15 minutes after each failure.
A success resets it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import Session, col, select

from rxapp.models import User, UTCDateTime

LOCKOUT_AFTER = 10
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class Failure:
    """The throttle after a failure was counted."""

    failures: int
    blocked_until: datetime

    @property
    def locked(self) -> bool:
        """Whether this failure locked the account (rather than a short backoff)."""
        return self.failures >= LOCKOUT_AFTER


def delay_after(failures: int) -> timedelta:
    """How long to wait after `failures` consecutive failures."""
    if failures <= 0:
        return timedelta(0)
    if failures >= LOCKOUT_AFTER:
        return LOCKOUT
    return timedelta(seconds=2 ** (failures - 1))


def seconds_to_wait(db: Session, user_id: int, *, now: datetime) -> int:
    """Whole seconds before this account may try a code again (0: now)."""
    blocked_until = db.exec(
        select(User.second_factor_blocked_until).where(User.id == user_id)
    ).first()
    if blocked_until is None or blocked_until <= now:
        return 0
    return math.ceil((blocked_until - now).total_seconds())


def record_failure(db: Session, user_id: int, *, now: datetime) -> Failure:
    """Count one failure atomically and set the wait that follows (the caller commits)."""
    failures = db.exec(
        update(User)
        .where(col(User.id) == user_id)
        .values(second_factor_failures=User.second_factor_failures + 1)
        .returning(User.second_factor_failures)
    ).scalar_one()
    blocked_until = now + delay_after(failures)
    deadline = sa.bindparam("deadline", blocked_until, type_=UTCDateTime())
    # Concurrent failures may finish in any order: keep the later deadline.
    db.exec(
        update(User)
        .where(col(User.id) == user_id)
        .values(
            second_factor_blocked_until=sa.case(
                (
                    col(User.second_factor_blocked_until) > deadline,
                    User.second_factor_blocked_until,
                ),
                else_=deadline,
            )
        )
    )
    return Failure(failures=failures, blocked_until=blocked_until)


def reset(db: Session, user_id: int) -> None:
    """Clear the throttle after a success or an admin reset (the caller commits)."""
    db.exec(
        update(User)
        .where(col(User.id) == user_id)
        .values(second_factor_failures=0, second_factor_blocked_until=None)
    )
