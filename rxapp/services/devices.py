"""Known devices: browsers that completed a sign-in for an account.

The browser keeps a random device token (256 bits); the server stores its SHA-256 per
account. It grants nothing by itself: it only lets the owner's own browser be throttled
apart from strangers' attempts (see `throttle`): for passwords once it signed in, for
second-factor codes once it signed in with a second factor entered there since 2FA was last
turned on. A browser that only ever gave the password (while 2FA was off), or was signed in
by an approval from another session, proves nothing of the owner's: otherwise whoever had
the password then, or holds one session now, could make as many as they like, each with a
guessing cap of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rxapp.models import KnownDevice


def remember(
    db: Session, user_id: int, device_digest: str, *, now: datetime, second_factor: bool = False
) -> None:
    """Record that this device completed a sign-in for the account, with a second factor
    or not (commits)."""
    if not device_digest:
        return
    values: dict[str, Any] = {"last_used_at": now}
    if second_factor:
        values["second_factor_at"] = now
    touched = db.exec(
        update(KnownDevice)
        .where(col(KnownDevice.user_id) == user_id, col(KnownDevice.token_hash) == device_digest)
        .values(values)
    )
    if touched.rowcount == 0:
        db.commit()  # the caller's work first: losing the race below must not undo it
        try:
            db.add(
                KnownDevice(
                    user_id=user_id,
                    token_hash=device_digest,
                    created_at=now,
                    last_used_at=now,
                    second_factor_at=now if second_factor else None,
                )
            )
            db.commit()
        except IntegrityError:
            db.rollback()  # recorded by a concurrent sign-in
    else:
        db.commit()


def _row_id(db: Session, user_id: int, device_digest: str, *, second_factor: bool) -> int | None:
    if not device_digest:
        return None
    query = select(KnownDevice.id).where(
        col(KnownDevice.user_id) == user_id, col(KnownDevice.token_hash) == device_digest
    )
    if second_factor:
        query = query.where(col(KnownDevice.second_factor_at).is_not(None))
    return db.exec(query).first()


def is_known(db: Session, user_id: int, device_digest: str) -> bool:
    """Whether this device completed a sign-in for the account before."""
    return _row_id(db, user_id, device_digest, second_factor=False) is not None


def code_throttle_id(db: Session, user_id: int, device_digest: str) -> int | None:
    """The id of this device's row if it has a code throttle of its own: it completed a
    sign-in with a second factor since 2FA was last turned on."""
    return _row_id(db, user_id, device_digest, second_factor=True)


def forget_second_factors(db: Session, user_id: int) -> None:
    """2FA turned off or on: no device keeps a code throttle of its own until it signs in
    with a second factor again (the caller commits)."""
    db.exec(
        update(KnownDevice)
        .where(col(KnownDevice.user_id) == user_id)
        .values(second_factor_at=None, second_factor_failures=0, second_factor_blocked_until=None)
    )


def forget_others(db: Session, user_id: int, *, keep: str = "") -> None:
    """Forget every device of the account but `keep` (a digest), when a way in was removed
    or an admin reset 2FA: a lost or stolen browser must not stay known (the caller
    commits)."""
    query = delete(KnownDevice).where(col(KnownDevice.user_id) == user_id)
    if keep:
        query = query.where(col(KnownDevice.token_hash) != keep)
    db.exec(query)
