"""An account's passkeys in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from rxapp.models import Passkey, User

NAME_MAX = 64


@dataclass(frozen=True)
class PasskeyInfo:
    """What the profile lists about a passkey (nothing secret)."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


def normalize_name(raw: object) -> str | None:
    """A passkey's name: trimmed, 1 to 64 printable characters; None otherwise."""
    if not isinstance(raw, str) or len(raw) > 4 * NAME_MAX:
        return None
    name = " ".join(raw.split())
    if not name or len(name) > NAME_MAX or not name.isprintable():
        return None
    return name


def listed(db: Session, user_id: int) -> list[PasskeyInfo]:
    """The account's passkeys, oldest first."""
    rows = db.exec(
        select(Passkey).where(col(Passkey.user_id) == user_id).order_by(col(Passkey.id))
    ).all()
    return [PasskeyInfo(r.id, r.name, r.created_at, r.last_used_at) for r in rows]


def count(db: Session, user_id: int) -> int:
    """How many passkeys the account has."""
    return db.exec(
        select(func.count()).select_from(Passkey).where(col(Passkey.user_id) == user_id)
    ).one()


def credentials(db: Session, user_id: int) -> list[tuple[str, str]]:
    """(credential id, transports) of each of the account's passkeys."""
    return [
        (c, t)
        for c, t in db.exec(
            select(Passkey.credential_id, Passkey.transports).where(col(Passkey.user_id) == user_id)
        ).all()
    ]


def by_credential_id(db: Session, credential_id: str) -> tuple[Passkey, int] | None:
    """The passkey with this credential id, whoever owns it, and its owner's credential
    epoch read in the same statement (see `User.credential_epoch`)."""
    found = db.exec(
        select(Passkey, User.credential_epoch)
        .join(User, col(User.id) == Passkey.user_id)
        .where(col(Passkey.credential_id) == credential_id)
    ).first()
    return (found[0], found[1]) if found is not None else None


def advance_counter(db: Session, passkey: Passkey, new_count: int, *, now: datetime) -> bool:
    """Record a use: the counter moves only forward (or stays 0 for authenticators without
    one), in one conditional UPDATE; False when another use got there first (caller
    commits)."""
    moved = db.exec(
        update(Passkey)
        .where(
            col(Passkey.id) == passkey.id,
            (col(Passkey.sign_count) < new_count)
            | ((col(Passkey.sign_count) == 0) & (new_count == 0)),
        )
        .values(sign_count=new_count, last_used_at=now)
    )
    return moved.rowcount == 1


def rename(db: Session, user_id: int, passkey_id: int, name: str) -> bool:
    """Rename one of the account's passkeys; commit."""
    renamed = db.exec(
        update(Passkey)
        .where(col(Passkey.id) == passkey_id, col(Passkey.user_id) == user_id)
        .values(name=name)
    )
    db.commit()
    return renamed.rowcount == 1


def delete_one(db: Session, user_id: int, passkey_id: int) -> str | None:
    """Delete one of the account's passkeys (the caller commits); its name, or None."""
    return db.exec(
        delete(Passkey)
        .where(col(Passkey.id) == passkey_id, col(Passkey.user_id) == user_id)
        .returning(Passkey.name)
    ).scalar_one_or_none()


def delete_all(db: Session, user_id: int) -> int:
    """Delete every passkey of the account (the caller commits); how many."""
    return db.exec(delete(Passkey).where(col(Passkey.user_id) == user_id)).rowcount
