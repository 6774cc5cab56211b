"""Accounts: creation and the password step of signing in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from rxapp.models import User
from rxapp.services import audit, login_throttle, passwords
from rxapp.services.emails import email_problem, normalize_email

GENERIC_SIGN_IN_ERROR = "Incorrect email or password."


class AccountError(ValueError):
    """A user-facing reason why an account could not be created."""


@dataclass(frozen=True)
class PasswordStep:
    """The outcome of the password step: `user` is set only when email and password match."""

    user: User | None
    message: str = ""


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
    if problem := passwords.password_problem(password):
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
    db: Session, email: object, password: object, *, now: datetime
) -> PasswordStep:
    """Check email and password with the same message and similar time for every failure,
    under the per-email throttle (see `login_throttle`).

    Upgrades an outdated hash on success and records the attempt in the audit trail.
    """
    normalized = normalize_email(email)
    if wait := login_throttle.claim(db, normalized, now=now):
        return PasswordStep(user=None, message=login_throttle.wait_message(wait))
    pw = password if isinstance(password, str) else ""
    user = find_user(db, normalized) if email_problem(normalized) is None else None
    result = passwords.check_password(pw, user.password_hash if user else None)
    if user is None or not result.ok:
        audit.record(
            db,
            audit.Event.SIGN_IN_FAILED,
            now=now,
            user_id=user.id if user else None,
            email=normalized[:254] or None,
            detail="unknown email" if user is None else "wrong password",
        )
        db.commit()
        login_throttle.record_failure(db, normalized, now=now)
        return PasswordStep(user=None, message=GENERIC_SIGN_IN_ERROR)
    return _passed(db, user, result.new_hash)


def check_password_again(db: Session, user: User, password: object, *, now: datetime) -> str | None:
    """A signed-in user's password, asked again before a sensitive action, under the same
    throttle. None when right; else what to tell the user."""
    if wait := login_throttle.claim(db, user.email, now=now):
        return login_throttle.wait_message(wait)
    pw = password if isinstance(password, str) else ""
    result = passwords.check_password(pw, user.password_hash)
    if not result.ok:
        login_throttle.record_failure(db, user.email, now=now)
        return "That password is not right."
    _passed(db, user, result.new_hash)
    return None


def _passed(db: Session, user: User, new_hash: str | None) -> PasswordStep:
    """The right password: clear the throttle and upgrade an outdated hash (commits)."""
    login_throttle.reset(db, user.email)
    if new_hash:
        user.password_hash = new_hash
        db.add(user)
    db.commit()
    return PasswordStep(user=user)
