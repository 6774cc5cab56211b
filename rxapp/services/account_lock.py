"""One account's checks and writes, one transaction at a time."""

from __future__ import annotations

from sqlmodel import Session, col, select, update

from rxapp.models import User


def hold_account(db: Session, user_id: int) -> None:
    """Hold the account's row until this transaction ends, so that what is counted and
    written for the account next cannot interleave with another transaction doing the same.

    PostgreSQL: `SELECT ... FOR UPDATE`, as the other writers of the account take it first
    (a weaker lock taken first and raised later could deadlock with a sign-in). SQLite has
    no row locks and starts its transaction only at the first write, when it takes the
    database's write lock: a write that changes nothing (on a column no key, index or
    trigger reads)."""
    if db.get_bind().dialect.name == "sqlite":
        db.exec(update(User).where(col(User.id) == user_id).values(is_admin=User.is_admin))
    else:
        db.exec(select(User.id).where(col(User.id) == user_id).with_for_update())
