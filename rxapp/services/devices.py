"""Known devices: browsers that completed a sign-in for an account.

The browser keeps a random device token (256 bits); the server stores its SHA-256 per
account. It grants nothing by itself: it only lets the owner's own browser be throttled
apart from strangers' attempts, for passwords and for second-factor codes (see `throttle`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rxapp.models import KnownDevice


def remember(db: Session, user_id: int, device_digest: str, *, now: datetime) -> None:
    """Record that this device completed a sign-in for the account (commits)."""
    if not device_digest:
        return
    touched = db.exec(
        update(KnownDevice)
        .where(col(KnownDevice.user_id) == user_id, col(KnownDevice.token_hash) == device_digest)
        .values(last_used_at=now)
    )
    if touched.rowcount == 0:
        try:
            db.add(
                KnownDevice(
                    user_id=user_id, token_hash=device_digest, created_at=now, last_used_at=now
                )
            )
            db.commit()
        except IntegrityError:
            db.rollback()  # recorded by a concurrent sign-in
    else:
        db.commit()


def known_id(db: Session, user_id: int, device_digest: str) -> int | None:
    """The id of this device's row if it completed a sign-in for the account before."""
    if not device_digest:
        return None
    return db.exec(
        select(KnownDevice.id).where(
            col(KnownDevice.user_id) == user_id, col(KnownDevice.token_hash) == device_digest
        )
    ).first()


def is_known(db: Session, user_id: int, device_digest: str) -> bool:
    """Whether this device completed a sign-in for the account before."""
    return known_id(db, user_id, device_digest) is not None
