"""Admin actions on other accounts."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from rxapp.models import User
from rxapp.services import audit, sessions
from rxapp.services.mfa import flow as mfa


def reset_2fa(
    db: Session, user_id: int, *, now: datetime, actor_id: int | None, via: str
) -> User | None:
    """Turn a user's 2FA off (secret and backup codes deleted) and end their sessions and
    pending logins, so they sign in again with the password alone and can enrol again.
    Commits; returns the user, or None if there is no such user."""
    user = db.get(User, user_id)
    if user is None:
        return None
    mfa.remove(db, user_id)
    sessions.revoke_all_sessions(db, user_id, now=now)
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
