"""Admin actions on other accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from rxapp.models import PendingLogin, User
from rxapp.services import audit, twofactor


def reset_2fa(
    db: Session, user_id: int, *, now: datetime, actor_id: int | None, via: str
) -> User | None:
    """Turn a user's 2FA off (secret and backup codes deleted) and end their pending logins,
    so they sign in with the password alone and can enrol again. Commits; returns the user,
    or None if there is no such user."""
    user = db.get(User, user_id)
    if user is None:
        return None
    twofactor.remove(db, user_id)
    db.exec(
        update(PendingLogin)
        .where(col(PendingLogin.user_id) == user_id, col(PendingLogin.ended_at).is_(None))
        .values(ended_at=now)
    )
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
