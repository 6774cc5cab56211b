"""Blocking work (database, password hashing) off the event loop, so one tab never stalls
the others: handlers await `run_db`, which runs the work in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import reflex as rx
from sqlmodel import Session

T = TypeVar("T")


def _in_session(work: Callable[[Session], T]) -> T:
    with rx.session() as db:
        db.expire_on_commit = False
        return work(db)


async def run_db(work: Callable[[Session], T]) -> T:
    """Run `work(db)` in a worker thread with a database session of its own."""
    return await asyncio.to_thread(_in_session, work)
