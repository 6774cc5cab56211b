"""The server's timer deletes expired reveals, with no tab asking for them again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import Session, select

from rxapp import housekeeping
from rxapp.models import SecretReveal
from rxapp.services import accounts, reveals, sessions
from rxapp.services.clock import utcnow
from rxapp.services.database import engine_for


def test_a_reveal_left_by_a_closed_tab_is_deleted_once_expired(sqlite_db_url):
    engine = engine_for(sqlite_db_url)
    with Session(engine, expire_on_commit=False) as db:
        user = accounts.create_user(db, "alice@example.com", "alice-password", now=utcnow())
        made = []
        for _ in range(2):
            token = sessions.start_session(db, user, epoch=user.credential_epoch, now=utcnow())
            made.append(sessions.current_session(db, token, now=utcnow()).session.id)
        # Codes shown just now, and codes shown 40 seconds ago in a tab closed since (made
        # second: making a reveal deletes the expired ones itself).
        live = reveals.create(
            db, user_id=user.id, session_id=made[1], values=["B"], now=utcnow(), seconds=30
        )
        long_ago = utcnow() - timedelta(seconds=40)
        reveals.create(
            db, user_id=user.id, session_id=made[0], values=["A"], now=long_ago, seconds=30
        )
        assert len(db.exec(select(SecretReveal.ref)).all()) == 2

    async def a_few_rounds() -> None:
        task = asyncio.create_task(housekeeping.purge_expired(engine, every=0.01))
        await asyncio.sleep(0.3)
        task.cancel()

    asyncio.run(a_few_rounds())

    with Session(engine) as db:
        assert db.exec(select(SecretReveal.ref)).all() == [live.ref]
