"""One throttle for every attempt that guesses a secret: second-factor codes and passwords.

One mechanism, kept in the database and changed only by atomic statements, so every session
and every app instance shares it:

- An attempt first *claims* its key with one conditional UPDATE, which also holds the key
  for the wait that follows if the attempt fails; only the claimant's secret is checked.
  Attempts that find the key claimed or waiting are refused without being checked.
- After the n-th consecutive failure the next attempt waits 2^(n - free) seconds (the first
  `free` failures cost nothing), up to a maximum; a policy may lock the key for the maximum
  from a number of failures on. A success clears the key.

Where each policy applies:

- SECOND_FACTOR, shared by TOTP, backup codes and passkeys, per account (kept in the user's
  row), and per known device that signed in with a second factor entered there since 2FA
  was last turned on (kept in that device's row, see `devices`: it counts apart, so a
  stranger who has the password never locks the owner's own browser out): after the n-th
  failure the next try waits 2^(n-1) s, from the 10th on 15 minutes. Codes refused because
  they came too early are counted too (a burst costs what the same guesses one by one
  would), except the retries of a sign-in whose own code or passkey was already refused
  (see `mfa.flow.verify_login_code`) and of a signed-in person confirming a change (see
  `reauth`); at 20 consecutive failures codes from the app stop working on that key (CAP),
  and on every known browser's key once those keys together reach 80 (ACCOUNT_CAP - CAP:
  with the account's own 20, never past NIST's 100 in all). The account's key, which
  strangers' tries drive, never counts towards the known browsers' limit: a stranger with
  the password cannot stop the owner's own browsers from taking app codes. A success clears
  the key it was made on.
- PASSWORD, per account for devices the account does not know (and per account *and* known
  device: a browser that signed in before counts apart, so strangers never delay the owner):
  five failures free, then 2^(n-5) s up to 15 minutes; no hard lockout.
- per_client(), per client address for unknown devices: RXAPP_CLIENT_FAILURES_PER_HOUR
  failures an hour are free, then the client waits; IPv6 clients count by /64.

Password keys are stored hashed (the table holds no addresses); rows untouched for a day
that hold no wait are pruned.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rxapp.models import KnownDevice, LoginThrottle, User, UTCDateTime
from rxapp.services import devices
from rxapp.settings import get_settings

MAX_WAIT = timedelta(minutes=15)
LOCKOUT = MAX_WAIT
LOCKOUT_AFTER = 10
# NIST SP 800-63B 5.2.2 caps consecutive failures at 100. At 20, an attacker who has the
# password gets at most 20 checked guesses (about 6 in 100,000 to hit a code with one step
# of drift), and needs 2.5 hours of lockouts for the last ten; the owner, who may mistype a
# few times, keeps backup codes (80 bits: hopeless to guess) and an admin reset.
CAP = 20
# However many browsers have a key of their own, the current failures of all of an
# account's keys together never pass NIST's 100 before app codes stop working: the
# account's key stops at CAP, its known browsers' keys together at ACCOUNT_CAP - CAP.
ACCOUNT_CAP = 100
FREE_FAILURES = 5  # wrong passwords that cost nothing
PRUNE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    """How failures on one key turn into waits."""

    free_failures: int
    max_wait: timedelta = MAX_WAIT
    lockout_after: int | None = None
    """From this many failures on, every failure waits `max_wait`."""
    hold: timedelta = timedelta(0)
    """The least a claim holds its key while the secret is checked."""
    window: timedelta | None = None
    """Failures older than this are forgotten (None: only a success clears them)."""
    counts_refused: bool = False
    """Attempts refused unchecked are counted too, so failures may finish out of order."""


SECOND_FACTOR = Policy(free_failures=1, lockout_after=LOCKOUT_AFTER, counts_refused=True)
PASSWORD = Policy(free_failures=FREE_FAILURES, hold=timedelta(seconds=2))


def per_client() -> Policy:
    """The policy per client address (RXAPP_CLIENT_FAILURES_PER_HOUR)."""
    free = get_settings().client_failures_per_hour
    return Policy(free_failures=free, window=timedelta(hours=1))


@dataclass(frozen=True)
class Failure:
    """A key after a failure was counted."""

    failures: int
    blocked_until: datetime

    @property
    def locked(self) -> bool:
        """Whether this failure locked a second factor (rather than a short backoff)."""
        return self.failures >= LOCKOUT_AFTER


def delay_after(failures: int, policy: Policy = SECOND_FACTOR) -> timedelta:
    """The wait after `failures` consecutive failures."""
    if failures < policy.free_failures or failures <= 0:
        return timedelta(0)
    if policy.lockout_after is not None and failures >= policy.lockout_after:
        return policy.max_wait
    return min(timedelta(seconds=2 ** (failures - policy.free_failures)), policy.max_wait)


@dataclass(frozen=True)
class Refusal:
    """An attempt refused: what to tell the person, and the wait that message tells of
    (seconds; 0: none), which the page counts down."""

    message: str
    wait_seconds: int = 0

    @classmethod
    def to_wait(cls, seconds: int) -> Refusal:
        """The refusal of an attempt made during a wait of `seconds`."""
        return cls(wait_message(seconds), seconds)


def wait_message(seconds: int) -> str:
    """What people are told while they must wait."""
    if seconds >= 100:
        # Rounded up: a try a little early from a new sign-in would count as a failure.
        minutes = math.ceil(seconds / 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    else:
        wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"Too many failed attempts. Try again in {wait}."


# --- the mechanism, for any table that keeps a count and a deadline per key --------------


@dataclass(frozen=True)
class _Store:
    key: Any
    failures: Any
    blocked_until: Any
    touched: Any = None


_ACCOUNTS = _Store(
    col(User.id), col(User.second_factor_failures), col(User.second_factor_blocked_until)
)
_DEVICES = _Store(
    col(KnownDevice.id),
    col(KnownDevice.second_factor_failures),
    col(KnownDevice.second_factor_blocked_until),
)
_KEYS = _Store(
    col(LoginThrottle.key),
    col(LoginThrottle.failures),
    col(LoginThrottle.blocked_until),
    col(LoginThrottle.updated_at),
)


def _at(name: str, value: datetime) -> sa.BindParameter:
    return sa.bindparam(name, value, type_=UTCDateTime())


def _table(store: _Store) -> Any:
    return store.key.class_


def _failures(db: Session, store: _Store, key: object) -> int | None:
    return db.exec(select(store.failures).where(store.key == key)).first()


def _claim(db: Session, store: _Store, key: object, *, now: datetime, policy: Policy) -> bool:
    """Take `key`'s single attempt slot (commits); False when it must wait."""
    failures = _failures(db, store, key)
    if failures is None:
        return False
    hold = max(delay_after(failures + 1, policy), policy.hold)
    values: dict[Any, Any] = {store.blocked_until: _at("hold", now + hold)}
    if store.touched is not None:
        values[store.touched] = now
    claimed = db.exec(
        update(_table(store))
        .where(
            store.key == key,
            store.failures == failures,
            store.blocked_until.is_(None) | (store.blocked_until <= _at("now", now)),
        )
        .values(values)
    )
    db.commit()
    return claimed.rowcount == 1


def _count(db: Session, store: _Store, key: object, *, now: datetime, policy: Policy) -> Failure:
    """Count one failure on `key` and set the wait that follows (the caller commits)."""
    if policy.window is not None and store.touched is not None:
        db.exec(
            update(_table(store))
            .where(store.key == key, store.touched < _at("stale", now - policy.window))
            .values({store.failures: 0})
        )
    values: dict[Any, Any] = {store.failures: store.failures + 1}
    if store.touched is not None:
        values[store.touched] = now
    failures = db.exec(
        update(_table(store)).where(store.key == key).values(values).returning(store.failures)
    ).scalar_one()
    deadline = _at("deadline", now + delay_after(failures, policy))
    if policy.counts_refused:
        # Failures counted at the same moment may finish in any order: keep the later wait.
        deadline = sa.case((store.blocked_until > deadline, store.blocked_until), else_=deadline)
    db.exec(update(_table(store)).where(store.key == key).values({store.blocked_until: deadline}))
    return Failure(failures=failures, blocked_until=now + delay_after(failures, policy))


def _seconds(db: Session, store: _Store, key: object, *, now: datetime) -> int:
    blocked_until = db.exec(select(store.blocked_until).where(store.key == key)).first()
    if blocked_until is None or blocked_until <= now:
        return 0
    # A failure counted a moment later by another request may have set the deadline from
    # its own, later `now`: never tell anyone to wait longer than any wait can be.
    return min(math.ceil((blocked_until - now).total_seconds()), int(MAX_WAIT.total_seconds()))


def _clear(db: Session, store: _Store, key: object) -> None:
    db.exec(
        update(_table(store))
        .where(store.key == key)
        .values({store.failures: 0, store.blocked_until: None})
    )


# --- second factor: per account (the user's row), or per known device (the device's row) ----


def _code_key(user_id: int, device_id: int | None) -> tuple[_Store, int]:
    """Where a code attempt is throttled: on the device's row when it has a code throttle
    of its own (`device_id`, see `devices.code_throttle_id`), else on the account's row."""
    return (_ACCOUNTS, user_id) if device_id is None else (_DEVICES, device_id)


def claim_attempt(
    db: Session, user_id: int, *, now: datetime, device_id: int | None = None
) -> bool:
    """Take the key's single code attempt, or False if it must wait (commits)."""
    return _claim(db, *_code_key(user_id, device_id), now=now, policy=SECOND_FACTOR)


def record_failure(
    db: Session, user_id: int, *, now: datetime, device_id: int | None = None
) -> Failure:
    """Count one wrong code (the caller commits). A browser forgotten meanwhile (its
    account's factors changed) counts on the account's key."""
    if device_id is not None and _failures(db, _DEVICES, device_id) is None:
        device_id = None
    return _count(db, *_code_key(user_id, device_id), now=now, policy=SECOND_FACTOR)


def reset(db: Session, user_id: int, *, device_id: int | None = None) -> None:
    """Clear one code throttle key after a success (the caller commits)."""
    _clear(db, *_code_key(user_id, device_id))


def reset_all(db: Session, user_id: int) -> None:
    """2FA turned on or off (or an admin reset it): clear the account's code throttle, and
    no known device keeps one of its own until it signs in with a second factor again (the
    caller commits)."""
    _clear(db, _ACCOUNTS, user_id)
    devices.forget_second_factors(db, user_id)


def seconds_to_wait(
    db: Session, user_id: int, *, now: datetime, device_id: int | None = None
) -> int:
    """Whole seconds before this key may try a code again (0: now)."""
    return _seconds(db, *_code_key(user_id, device_id), now=now)


def is_locked(db: Session, user_id: int, *, device_id: int | None = None) -> bool:
    """Whether the key has reached the code lockout (10 consecutive failures)."""
    failures = _failures(db, *_code_key(user_id, device_id))
    return failures is not None and failures >= LOCKOUT_AFTER


def account_held(user_id: int, now: datetime) -> sa.ColumnElement[bool]:
    """SQL for "the account's key is at the cap, or in a lockout's wait" (a short backoff
    after a wrong code or two is not a hold)."""
    return sa.exists().where(
        col(User.id) == user_id,
        (col(User.second_factor_failures) >= CAP)
        | (
            (col(User.second_factor_failures) >= LOCKOUT_AFTER)
            & (col(User.second_factor_blocked_until) > now)
        ),
    )


def is_capped(db: Session, user_id: int, *, device_id: int | None = None) -> bool:
    """Whether the key reached the cap, or (a known browser's key) the account's known
    browsers together ACCOUNT_CAP - CAP: app codes are refused there until a backup code or
    an admin reset clears it."""
    failures = _failures(db, *_code_key(user_id, device_id))
    if failures is not None and failures >= CAP:
        return True
    return device_id is not None and _known_browsers_total(db, user_id) >= ACCOUNT_CAP - CAP


def _known_browsers_total(db: Session, user_id: int) -> int:
    """The current failures of all the account's known browsers' keys."""
    browsers = db.exec(
        select(sa.func.coalesce(sa.func.sum(KnownDevice.second_factor_failures), 0)).where(
            col(KnownDevice.user_id) == user_id
        )
    ).one()
    return int(browsers)


# --- passwords: per account (and known device), per client; keyed rows -----------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def key_for(email: str) -> str:
    """The password key of a normalised email, for devices it has not signed in from."""
    return _digest(email)


def device_key(email: str, device_digest: str) -> str:
    """The password key of a normalised email on one of its known devices."""
    return _digest(f"{email}\ndevice\n{device_digest}")


def account_key(email: str, known_device: str) -> str:
    """The password key of an attempt on an account: from one of its known devices, or not."""
    return device_key(email, known_device) if known_device else key_for(email)


def client_key(ip: str) -> str:
    """The password key of a client address; IPv6 clients by their /64 network, since one
    client commonly holds a whole /64 and could rotate through it."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return _digest(f"client\n{ip}")
    if address.version == 6 and address.ipv4_mapped is None:
        ip = str(ipaddress.ip_network(f"{address}/64", strict=False))
    return _digest(f"client\n{ip}")


def _ensure_row(db: Session, key: str, *, now: datetime) -> None:
    try:
        db.add(LoginThrottle(key=key, failures=0, updated_at=now))
        db.commit()
    except IntegrityError:
        db.rollback()  # the row exists already


def claim_key(db: Session, key: str, *, now: datetime, policy: Policy = PASSWORD) -> int:
    """Claim a password key for one attempt (commits). 0: claimed; else seconds to wait."""
    prune(db, now=now)
    _ensure_row(db, key, now=now)
    if _claim(db, _KEYS, key, now=now, policy=policy):
        return 0
    return max(1, seconds_blocked(db, key, now=now))


def held_by_a_check(db: Session, key: str, *, policy: Policy = PASSWORD) -> bool:
    """Whether a key that refused a claim waits only because another attempt on it is being
    checked right now (its failures alone would not make it wait): that attempt's outcome,
    not a penalty, decides what comes next."""
    failures = _failures(db, _KEYS, key)
    return failures is not None and delay_after(failures, policy) == timedelta(0)


def seconds_blocked(db: Session, key: str, *, now: datetime) -> int:
    """Whole seconds before a password key may try again (0: now), without claiming it."""
    return _seconds(db, _KEYS, key, now=now)


def record_key_failure(db: Session, key: str, *, now: datetime, policy: Policy = PASSWORD) -> int:
    """Count one wrong password on `key` (commits); the count."""
    _ensure_row(db, key, now=now)
    failure = _count(db, _KEYS, key, now=now, policy=policy)
    db.commit()
    return failure.failures


def reset_key(db: Session, key: str) -> None:
    """Forget the failures on a password key after the right password (the caller commits)."""
    db.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == key))


def prune(db: Session, *, now: datetime) -> None:
    """Delete password rows untouched for a day that hold no wait (the caller commits)."""
    db.exec(
        delete(LoginThrottle).where(
            col(LoginThrottle.updated_at) < _at("cutoff", now - PRUNE_AFTER),
            col(LoginThrottle.blocked_until).is_(None)
            | (col(LoginThrottle.blocked_until) <= _at("now", now)),
        )
    )
