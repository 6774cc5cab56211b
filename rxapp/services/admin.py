"""Admin actions on other accounts."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select, update

from rxapp.models import User
from rxapp.services import audit, devices, sessions
from rxapp.services.mfa import flow as mfa

OWN_ACCOUNT = (
    "Your own two-factor authentication is changed on My profile, where turning it off asks "
    "for a current code."
)


def may_reset(actor_id: int | None, user_id: int) -> bool:
    """Whether `actor_id` may reset `user_id`'s 2FA: never their own (an admin's session
    alone must not strip its own account of 2FA; the profile asks for a code)."""
    return actor_id != user_id


def reset_2fa(
    db: Session, user_id: int, *, now: datetime, actor_id: int | None, via: str
) -> User | None:
    """Turn a user's 2FA off (secret, passkeys and backup codes deleted), end their
    sessions and pending logins and forget their devices, so they sign in again with the
    password alone and can enrol again. Commits; returns the user, or None if there is no
    such user. An actor's own account is refused (ValueError): see `may_reset`."""
    if not may_reset(actor_id, user_id):
        raise ValueError(OWN_ACCOUNT)
    user = db.get(User, user_id)
    if user is None:
        return None
    mfa.remove(db, user_id)
    sessions.revoke_all_sessions(db, user_id, now=now)
    devices.forget_others(db, user_id)
    audit.record(
        db,
        audit.Event.ADMIN_RESET_2FA,
        now=now,
        user_id=user_id,
        actor_id=actor_id,
        email=user.email,
        detail=f"via={via}",
    )
    db.commit()
    db.refresh(user)
    return user


def set_admin(
    db: Session, user: User, *, admin: bool, now: datetime, actor_id: int | None, via: str
) -> bool:
    """Give `user` the admin role (`admin`) or take it away, in one statement; audited (the
    owner is told at their next sign-in) and committed. False when the account already had
    that role: nothing is written. An admin without 2FA sees All users only once 2FA is on
    (`policy.may_use_dashboard`)."""
    changed = db.exec(
        update(User)
        .where(col(User.id) == user.id, col(User.is_admin) != admin)
        .values(is_admin=admin)
    ).rowcount
    if not changed:
        db.rollback()
        return False
    event = audit.Event.ADMIN_GRANTED if admin else audit.Event.ADMIN_REMOVED
    audit.record(
        db,
        event,
        now=now,
        user_id=user.id,
        actor_id=actor_id,
        email=user.email,
        detail=f"via={via}",
    )
    db.commit()
    return True


def has_admin(db: Session) -> bool:
    """Whether any account has the admin role."""
    return db.exec(select(User.id).where(col(User.is_admin).is_(True)).limit(1)).first() is not None
