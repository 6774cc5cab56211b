"""One throttle per account for every second-factor attempt (TOTP and backup codes).

Stored in the user's row and changed only by atomic statements, so all sessions and all app
instances share it. After the n-th consecutive failure the next attempt must wait
2^(n-1) seconds; from the 10th on, the account is locked for 15 minutes after each failure.
A success resets it.

An attempt first *claims* the account with one conditional UPDATE, which also sets the wait
that will follow if it fails; only the claimant's code is checked. Attempts that arrive at
the same moment (from other sessions, processes or instances) find the account claimed: they
are refused without looking at their code, and counted as failures (except during a lockout,
which early tries do not stretch). So a burst of guesses costs what the same guesses one
after another would.
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
# NIST SP 800-63B 5.2.2 caps consecutive failures at 100. At 20, an attacker who has the
# password gets at most 20 checked guesses (about 6 in 100,000 to hit a code with one step
# of drift), and needs 2.5 hours of lockouts for the last ten; the owner, who may mistype a
# few times, keeps backup codes (80 bits: hopeless to guess) and an admin reset.
CAP = 20


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


def is_locked(db: Session, user_id: int) -> bool:
    """Whether the account has reached the lockout (10 consecutive failures)."""
    failures = db.exec(select(User.second_factor_failures).where(User.id == user_id)).first()
    return failures is not None and failures >= LOCKOUT_AFTER


def is_capped(db: Session, user_id: int) -> bool:
    """Whether the account reached the cap: app codes are refused until a backup code or an
    admin reset clears it."""
    failures = db.exec(select(User.second_factor_failures).where(User.id == user_id)).first()
    return failures is not None and failures >= CAP


def claim_attempt(db: Session, user_id: int, *, now: datetime) -> bool:
    """Take the account's single attempt slot, or return False if it must wait (commits).

    The slot is held by setting the wait that follows a failure of this attempt; a success
    clears it with `reset`.
    """
    failures = db.exec(select(User.second_factor_failures).where(User.id == user_id)).first()
    if failures is None:
        return False
    hold_until = sa.bindparam("hold", now + delay_after(failures + 1), type_=UTCDateTime())
    not_before = sa.bindparam("now", now, type_=UTCDateTime())
    claimed = db.exec(
        update(User)
        .where(
            col(User.id) == user_id,
            col(User.second_factor_failures) == failures,
            col(User.second_factor_blocked_until).is_(None)
            | (col(User.second_factor_blocked_until) <= not_before),
        )
        .values(second_factor_blocked_until=hold_until)
    )
    db.commit()
    return claimed.rowcount == 1


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
