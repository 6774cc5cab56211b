"""Accounts: creation and the password step of signing in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select, update

from rxapp.models import User
from rxapp.services import audit, devices, passwords, sessions, throttle
from rxapp.services.emails import email_problem, normalize_email

GENERIC_SIGN_IN_ERROR = "Incorrect email or password."
# Said the same for every email, known or not: each has its key.
BUSY_MESSAGE = "Another sign-in to this account is being checked. Try again in a moment."


class AccountError(ValueError):
    """A user-facing reason why an account could not be created."""


@dataclass(frozen=True)
class PasswordStep:
    """The outcome of the password step: `user` is set only when email and password match."""

    user: User | None
    message: str = ""
    busy: bool = False
    """Nothing was checked: another attempt on the same key is being checked right now
    (two tabs or people signing in to one account at once). Try again in a moment."""
    wait_seconds: int = 0
    """Nothing was checked: the throttle asks to wait this long (`message` says so)."""


def find_user(db: Session, email: str) -> User | None:
    """The user with this email (any case), if any."""
    return db.exec(select(User).where(User.email == normalize_email(email))).first()


def create_user(
    db: Session, email: str, password: str, *, now: datetime, is_admin: bool = False
) -> User:
    """Create and commit an account, or raise AccountError with a message for people."""
    email = normalize_email(email)
    if problem := email_problem(email):
        raise AccountError(problem)
    if problem := passwords.password_problem(password, email=email):
        raise AccountError(problem)
    if find_user(db, email) is not None:
        raise AccountError(f"An account with the email {email} already exists.")
    user = User(
        email=email,
        password_hash=passwords.hash_password(password),
        is_admin=is_admin,
        created_at=now,
    )
    db.add(user)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise AccountError(f"An account with the email {email} already exists.") from None
    audit.record(db, audit.Event.USER_CREATED, now=now, user_id=user.id, email=email)
    db.commit()
    return user


def check_password_step(
    db: Session,
    email: object,
    password: object,
    *,
    now: datetime,
    device: str = "",
    client_ip: str = "",
) -> PasswordStep:
    """Check email and password with the same message and similar time for every failure,
    under the password throttles (see `throttle`): per account and known `device`
    (a digest), or per account and per `client_ip` for devices the account does not know.

    Upgrades an outdated hash on success and records the attempt in the audit trail.
    """
    normalized = normalize_email(email)
    user = find_user(db, normalized) if email_problem(normalized) is None else None
    known = user is not None and devices.is_known(db, user.id, device)
    account_key = throttle.account_key(normalized, device if known else "")
    client = throttle.client_key(client_ip) if client_ip and not known else ""
    wait = throttle.seconds_blocked(db, client, now=now) if client else 0
    if wait:  # the account's own wait may be longer: tell the longer one (it is counted down)
        wait = max(wait, throttle.seconds_blocked(db, account_key, now=now))
    else:
        wait = throttle.claim_key(db, account_key, now=now)
        if wait and throttle.held_by_a_check(db, account_key):
            return PasswordStep(user=None, message=BUSY_MESSAGE, busy=True)
    if wait:
        by = "client" if client else "account"
        _record_attempt(
            db, audit.Event.SIGN_IN_THROTTLED, user, normalized, now=now, detail=f"throttled={by}"
        )
        return PasswordStep(user=None, message=throttle.wait_message(wait), wait_seconds=wait)
    pw = password if isinstance(password, str) else ""
    result = passwords.check_password(pw, user.password_hash if user else None)
    if user is None or not result.ok:
        detail = "unknown email" if user is None else "wrong password"
        _record_attempt(db, audit.Event.SIGN_IN_FAILED, user, normalized, now=now, detail=detail)
        failures = throttle.record_key_failure(db, account_key, now=now)
        if client:
            per_client = throttle.per_client()
            throttle.record_key_failure(db, client, now=now, policy=per_client)
        if throttle.delay_after(failures, throttle.PASSWORD) == throttle.MAX_WAIT:
            lockout, detail = audit.Event.SIGN_IN_LOCKOUT, f"consecutive={failures}"
            _record_attempt(db, lockout, user, normalized, now=now, detail=detail)
        return PasswordStep(user=None, message=GENERIC_SIGN_IN_ERROR)
    return _passed(db, user, result.new_hash, key=account_key)


def _record_attempt(
    db: Session, event: audit.Event, user: User | None, email: str, *, now: datetime, detail: str
) -> None:
    """One audit row for a password attempt, known account or not; commit."""
    user_id = user.id if user else None
    audit.record(db, event, now=now, user_id=user_id, email=email[:254] or None, detail=detail)
    db.commit()


CURRENT_PASSWORD_MISSING = "Enter your current password."  # noqa: S105 (a message)
PASSWORD_UNCHANGED = "The new password must differ from the current one."  # noqa: S105
WRONG_PASSWORD_AGAIN = "That password is not right."  # noqa: S105
PASSWORD_BEING_CHECKED = (
    "Your password is being checked in another tab or window. Try again in a moment."  # noqa: S105
)
CHANGED_MEANWHILE = (
    "Your password was changed a moment ago, elsewhere. If that was not you, tell your admin."
)


def check_password_again(
    db: Session, user: User, password: object, *, now: datetime, device: str = ""
) -> throttle.Refusal | None:
    """A signed-in user's password, asked again before a sensitive action, under the same
    throttle (keyed by the device when it is a known one). None when right; else what to
    tell the user."""
    known = devices.is_known(db, user.id, device)
    key = throttle.account_key(user.email, device if known else "")
    if wait := throttle.claim_key(db, key, now=now):
        # Two tabs asking at once: the other one's check decides, no penalty is due.
        if throttle.held_by_a_check(db, key):
            return throttle.Refusal(PASSWORD_BEING_CHECKED)
        return throttle.Refusal.to_wait(wait)
    pw = password if isinstance(password, str) else ""
    result = passwords.check_password(pw, user.password_hash)
    if not result.ok:
        throttle.record_key_failure(db, key, now=now)
        return throttle.Refusal(WRONG_PASSWORD_AGAIN)
    _passed(db, user, result.new_hash, key=key)
    return None


@dataclass(frozen=True)
class PasswordRefused:
    """Why a new password was not set, and which of the two was refused."""

    message: str
    new_one: bool
    """The new password was refused (else the current one was)."""
    wait_seconds: int = 0
    """The wait `message` tells of (see `throttle.Refusal`)."""


def change_password(
    db: Session,
    user: User,
    current: object,
    new: object,
    *,
    now: datetime,
    device: str = "",
    keep_session_id: int | None = None,
) -> PasswordRefused | None:
    """Replace `user`'s password with `new` once `current` is right (checked as a fresh
    proof, under the same throttle), in one conditional `UPDATE` (a change made meanwhile
    wins: this one is refused); every other session and pending sign-in ends, and every
    browser but `device` (a digest) is forgotten; audited; commits. None when changed."""
    if not isinstance(current, str) or current == "":
        return PasswordRefused(CURRENT_PASSWORD_MISSING, new_one=False)
    if problem := passwords.password_problem(new, email=user.email):
        return PasswordRefused(problem, new_one=True)
    if passwords.normalize(str(new)) == passwords.normalize(current):
        return PasswordRefused(PASSWORD_UNCHANGED, new_one=True)
    if refused := check_password_again(db, user, current, now=now, device=device):
        if refused.message == WRONG_PASSWORD_AGAIN:  # a guess; a wait's refusal checked nothing
            detail = "password change"
            audit.record(db, audit.Event.REAUTH_FAILED, now=now, user_id=user.id, detail=detail)
            db.commit()
        return PasswordRefused(refused.message, new_one=False, wait_seconds=refused.wait_seconds)
    checked = user.password_hash  # as verified (or as upgraded by that check)
    changed = db.exec(
        update(User)
        .where(col(User.id) == user.id, col(User.password_hash) == checked)
        .values(password_hash=passwords.hash_password(str(new)))  # a str: see password_problem
    )
    if changed.rowcount != 1:
        db.rollback()
        return PasswordRefused(CHANGED_MEANWHILE, new_one=False)
    _after_new_password(db, user.id, now=now, keep_session_id=keep_session_id, device=device)
    audit.record(db, audit.Event.PASSWORD_CHANGED, now=now, user_id=user.id)
    db.commit()
    return None


def set_password(db: Session, user: User, new: object, *, now: datetime, via: str) -> str | None:
    """An operator's reset of a forgotten password: `new` replaces it without the current
    one (2FA stays as it is); every session and pending sign-in ends, every browser is
    forgotten and the account's password throttle is cleared; audited; commits. A message
    when `new` is refused, else None."""
    if problem := passwords.password_problem(new, email=user.email):
        return problem
    db.exec(
        update(User)
        .where(col(User.id) == user.id)
        .values(password_hash=passwords.hash_password(str(new)))  # a str: see password_problem
    )
    _after_new_password(db, user.id, now=now)
    throttle.reset_key(db, throttle.account_key(user.email, ""))
    audit.record(db, audit.Event.PASSWORD_RESET, now=now, user_id=user.id, detail=f"via={via}")
    db.commit()
    return None


def _after_new_password(
    db: Session,
    user_id: int,
    *,
    now: datetime,
    keep_session_id: int | None = None,
    device: str = "",
) -> None:
    """What a new password ends: every session and pending sign-in but `keep_session_id`,
    and every known browser but `device` (the caller audits and commits)."""
    sessions.revoke_all_sessions(db, user_id, now=now, keep_session_id=keep_session_id)
    devices.forget_others(db, user_id, keep=device)


def _passed(db: Session, user: User, new_hash: str | None, *, key: str) -> PasswordStep:
    """The right password: clear its throttle key and upgrade an outdated hash (commits).
    The upgrade replaces only the hash that was checked: a password set meanwhile (a change,
    an operator's reset) stays, and the password checked here is no longer the account's."""
    throttle.reset_key(db, key)
    if new_hash:
        upgraded = db.exec(
            update(User)
            .where(col(User.id) == user.id, col(User.password_hash) == user.password_hash)
            .values(password_hash=new_hash)
        )
        if upgraded.rowcount == 1:
            set_committed_value(user, "password_hash", new_hash)
    db.commit()
    return PasswordStep(user=user)
