"""The throttle on password attempts (the password step and password re-checks).

Three kinds of keys, all stored hashed (the table holds no addresses):

- per account, for browsers the account has not signed in from: the first five consecutive
  failures cost nothing, then each next attempt waits 2^(n-5) seconds, up to 15 minutes.
  No hard lockout, and unknown emails are throttled exactly like real ones;
- per account *and known device* (OWASP's device-cookie defence): a browser that completed
  a sign-in for the account keeps a device token, and its attempts count apart, so wrong
  passwords sent from elsewhere never delay the owner's own browser;
- per client address, for unknown devices: 30 failures an hour are free (a setting), then
  the client waits, so one client cannot spray passwords over many accounts.

An attempt first claims its account key with one conditional UPDATE (holding it while the
hash is checked); attempts that find it claimed or waiting are refused without checking, so
a burst checks one password. Rows untouched for a day and not blocking are pruned.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rxapp.models import LoginThrottle, UTCDateTime
from rxapp.settings import get_settings

FREE_FAILURES = 5
MAX_WAIT = timedelta(minutes=15)
IN_FLIGHT = timedelta(seconds=2)  # how long a claim holds the key while the hash is checked
PRUNE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    """How failures on one key turn into waits."""

    free_failures: int
    max_wait: timedelta
    window: timedelta | None = None
    """Failures older than this are forgotten (None: only a success clears them)."""


PER_ACCOUNT = Policy(free_failures=FREE_FAILURES, max_wait=MAX_WAIT)


def per_client() -> Policy:
    """The policy per client address (RXAPP_CLIENT_FAILURES_PER_HOUR)."""
    free = get_settings().client_failures_per_hour
    return Policy(free_failures=free, max_wait=MAX_WAIT, window=timedelta(hours=1))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def key_for(email: str) -> str:
    """The key of a normalised email, for devices it has not signed in from."""
    return _digest(email)


def device_key(email: str, device_digest: str) -> str:
    """The key of a normalised email on one of its known devices."""
    return _digest(f"{email}\ndevice\n{device_digest}")


def account_key(email: str, known_device: str) -> str:
    """The key of an attempt on an account: from one of its known devices, or any other."""
    return device_key(email, known_device) if known_device else key_for(email)


def client_key(ip: str) -> str:
    """The key of a client address; IPv6 clients by their /64 network, since one client
    commonly holds a whole /64 and could rotate through it."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return _digest(f"client\n{ip}")
    if address.version == 6 and address.ipv4_mapped is None:
        ip = str(ipaddress.ip_network(f"{address}/64", strict=False))
    return _digest(f"client\n{ip}")


def delay_after(failures: int, policy: Policy = PER_ACCOUNT) -> timedelta:
    """The wait after `failures` consecutive failures."""
    if failures < policy.free_failures:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - policy.free_failures)), policy.max_wait)


def _at(name: str, value: datetime) -> sa.BindParameter:
    return sa.bindparam(name, value, type_=UTCDateTime())


def claim(db: Session, email: str, *, now: datetime) -> int:
    """Claim an email's account key for one attempt (commits); see `claim_key`."""
    return claim_key(db, key_for(email), now=now)


def claim_key(db: Session, key: str, *, now: datetime, policy: Policy = PER_ACCOUNT) -> int:
    """Claim `key` for one attempt (commits). 0: claimed; else the seconds to wait."""
    prune(db, now=now)
    try:
        db.add(LoginThrottle(key=key, failures=0, updated_at=now))
        db.commit()
    except IntegrityError:
        db.rollback()  # the row exists already
    failures = db.exec(select(LoginThrottle.failures).where(LoginThrottle.key == key)).one()
    hold = max(delay_after(failures + 1, policy), IN_FLIGHT)
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
    return max(1, seconds_blocked(db, key, now=now))


def seconds_blocked(db: Session, key: str, *, now: datetime) -> int:
    """Whole seconds before `key` may try again (0: now), without claiming it."""
    blocked_until = db.exec(
        select(LoginThrottle.blocked_until).where(LoginThrottle.key == key)
    ).first()
    if blocked_until is None or blocked_until <= now:
        return 0
    return math.ceil((blocked_until - now).total_seconds())


def record_failure(db: Session, email: str, *, now: datetime) -> None:
    """After a wrong password from an unknown device: count it (commits)."""
    record_key_failure(db, key_for(email), now=now)


def record_key_failure(
    db: Session, key: str, *, now: datetime, policy: Policy = PER_ACCOUNT
) -> int:
    """Count one failure on `key` and set the wait that follows (commits); the count."""
    try:
        db.add(LoginThrottle(key=key, failures=0, updated_at=now))
        db.commit()
    except IntegrityError:
        db.rollback()
    if policy.window is not None:
        db.exec(
            update(LoginThrottle)
            .where(
                col(LoginThrottle.key) == key,
                col(LoginThrottle.updated_at) < _at("stale", now - policy.window),
            )
            .values(failures=0)
        )
    failures = db.exec(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key)
        .values(failures=LoginThrottle.failures + 1, updated_at=now)
        .returning(LoginThrottle.failures)
    ).scalar_one()
    delay = delay_after(failures, policy)
    db.exec(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key)
        .values(blocked_until=_at("until", now + delay) if delay else None)
    )
    db.commit()
    return failures


def reset(db: Session, email: str) -> None:
    """After the right password from an unknown device (the caller commits)."""
    reset_key(db, key_for(email))


def reset_key(db: Session, key: str) -> None:
    """Forget the failures on `key` (the caller commits)."""
    db.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == key))


def prune(db: Session, *, now: datetime) -> None:
    """Delete rows untouched for a day that hold no wait (the caller commits)."""
    db.exec(
        delete(LoginThrottle).where(
            col(LoginThrottle.updated_at) < _at("cutoff", now - PRUNE_AFTER),
            col(LoginThrottle.blocked_until).is_(None)
            | (col(LoginThrottle.blocked_until) <= _at("now", now)),
        )
    )


def wait_message(seconds: int) -> str:
    """What people are told while they must wait."""
    if seconds >= 60:
        minutes = math.ceil(seconds / 60)
        return f"Too many attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return f"Too many attempts. Try again in {seconds} second{'s' if seconds != 1 else ''}."
