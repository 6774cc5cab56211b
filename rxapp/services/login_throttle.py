"""A throttle on password attempts per email address (the password step and re-checks).

The first five consecutive failures cost nothing; after that each next attempt waits
2^(n-5) seconds, up to 15 minutes. There is no hard lockout: anyone may type someone
else's email, and a lockout would let them lock the owner out. Unknown emails are throttled
exactly like real ones, so the answers never tell which accounts exist.

Like the second-factor throttle, an attempt first claims the email with one conditional
UPDATE (holding it for a moment while the password hash is checked); attempts that find it
claimed or waiting are refused without checking anything, so a burst checks one password.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rxapp.models import LoginThrottle, UTCDateTime

FREE_FAILURES = 5
MAX_WAIT = timedelta(minutes=15)
IN_FLIGHT = timedelta(seconds=2)  # how long a claim holds the email while the hash is checked


def key_for(email: str) -> str:
    """The row key of a normalised email: its SHA-256 (the table holds no addresses)."""
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()


def delay_after(failures: int) -> timedelta:
    """The wait after `failures` consecutive failures."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_WAIT)


def _at(name: str, value: datetime) -> sa.BindParameter:
    return sa.bindparam(name, value, type_=UTCDateTime())


def claim(db: Session, email: str, *, now: datetime) -> int:
    """Claim the email for one attempt (commits). 0: claimed; else the seconds to wait."""
    key = key_for(email)
    try:
        db.add(LoginThrottle(key=key, failures=0, updated_at=now))
        db.commit()
    except IntegrityError:
        db.rollback()  # the row exists already
    failures = db.exec(select(LoginThrottle.failures).where(LoginThrottle.key == key)).one()
    hold = max(delay_after(failures + 1), IN_FLIGHT)
    claimed = db.exec(
        update(LoginThrottle)
        .where(
            col(LoginThrottle.key) == key,
            col(LoginThrottle.failures) == failures,
            col(LoginThrottle.blocked_until).is_(None)
            | (col(LoginThrottle.blocked_until) <= _at("now", now)),
        )
        .values(blocked_until=_at("hold", now + hold), updated_at=now)
    )
    db.commit()
    if claimed.rowcount == 1:
        return 0
    blocked_until = db.exec(
        select(LoginThrottle.blocked_until).where(LoginThrottle.key == key)
    ).one()
    return max(1, math.ceil((blocked_until - now).total_seconds())) if blocked_until else 1


def record_failure(db: Session, email: str, *, now: datetime) -> None:
    """After a wrong password: count it and set the wait that follows (commits)."""
    key = key_for(email)
    failures = db.exec(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key)
        .values(failures=LoginThrottle.failures + 1, updated_at=now)
        .returning(LoginThrottle.failures)
    ).scalar_one()
    db.exec(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key)
        .values(blocked_until=_at("until", now + delay_after(failures)))
    )
    db.commit()


def reset(db: Session, email: str) -> None:
    """After the right password: forget the failures (the caller commits)."""
    db.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == key_for(email)))


def wait_message(seconds: int) -> str:
    """What people are told while an email must wait."""
    if seconds >= 60:
        minutes = math.ceil(seconds / 60)
        return f"Too many attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return f"Too many attempts. Try again in {seconds} second{'s' if seconds != 1 else ''}."
