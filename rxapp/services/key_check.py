"""Whether this process's key is the one the database's TOTP secrets were encrypted with.

A valid key that is not that one would let the app start and refuse every authenticator
app's code as wrong, counting each against its user. Every entry point checks first.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, col, select

from rxapp.models import User
from rxapp.services import secretbox


def check_key(db_url: str) -> None:
    """Raise SecretKeyError when the key is missing, unusable, or does not decrypt a TOTP
    secret stored in the database at `db_url`. A database that cannot be read yet (not
    migrated, unreachable) is not checked here: what opens it next says why."""
    secretbox.box()
    # An engine of its own, closed at once: a server process forks its workers after this
    # check, and they must not inherit an open connection; and a host that drops packets
    # must not hold a start-up for minutes.
    timeout = {"connect_timeout": 5} if db_url.startswith("postgresql") else {}
    engine = sa.create_engine(db_url, poolclass=NullPool, connect_args=timeout)
    try:
        with Session(engine) as db:
            stored = select(User.totp_secret).where(col(User.totp_secret).is_not(None))
            sample = db.exec(stored.limit(1)).first()
    except SQLAlchemyError:
        return
    finally:
        engine.dispose()
    secretbox.check_opens(sample)
