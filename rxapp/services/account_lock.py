"""One account's checks and writes, one transaction at a time."""

from __future__ import annotations

from sqlmodel import Session, col, update

from rxapp.models import User


def hold_account(db: Session, user_id: int) -> None:
    """Hold the account's row until this transaction ends, so that what is counted and
    written for the account next cannot interleave with another transaction doing the same.

    A write, not `SELECT ... FOR UPDATE`: on PostgreSQL both lock the row, but SQLite has no
    row locks and starts its transaction at the first write, when it takes the database's
    write lock (reads before it see no snapshot)."""
    db.exec(update(User).where(col(User.id) == user_id).values(id=User.id))
