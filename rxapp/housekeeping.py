"""What expires is deleted on a timer, in every server process (a lifespan task).

A reveal of new backup codes is otherwise deleted only when its tab asks for it again or the
next reveal is made: a tab closed during its 30 seconds would leave the codes, encrypted but
recoverable with the key, until then.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from rxapp.services import reveals
from rxapp.services.clock import utcnow

logger = logging.getLogger("rxapp.housekeeping")

PURGE_EVERY_SECONDS = 10.0


def purge_once(engine: Engine) -> None:
    """Delete every reveal whose time is up; commit."""
    with Session(engine) as db:
        reveals.purge_expired(db, now=utcnow())
        db.commit()


async def purge_expired(
    engine: Engine | None = None, *, every: float = PURGE_EVERY_SECONDS
) -> None:
    """Every `every` seconds while the server runs, `purge_once` (off the event loop) on
    `engine` (default: the app's). A failed round is logged in one line; the next tries
    again."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(purge_once, engine or rx.model.get_engine())
        except Exception as error:  # the database away for a moment: not the server's end
            logger.warning("rxapp: could not delete expired reveals: %s", type(error).__name__)
