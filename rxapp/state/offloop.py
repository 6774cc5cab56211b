"""Blocking work (database, password hashing) off the event loop, so one tab never stalls
the others: handlers await `run_db`, which runs the work in a worker thread.

Work that verifies an argon2 hash (passwords, backup codes) is `heavy`: it runs in a pool
of its own, one thread per core at a lowered scheduling priority, so a burst of sign-ins
never queues ahead of (or starves) the light database work of other tabs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from typing import TypeVar

import reflex as rx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from rxapp.services import audit

T = TypeVar("T")
HEAVY_NICENESS = 10


def _in_session(work: Callable[[Session], T], where: audit.Origin, engine: Engine) -> T:
    # A fresh context per call: nothing set here outlives it in a reused worker thread.
    return contextvars.Context().run(_run, work, where, engine)


def _run(work: Callable[[Session], T], where: audit.Origin, engine: Engine) -> T:
    with audit.origin(where), Session(engine) as db:
        db.expire_on_commit = False
        return work(db)


def _lower_priority() -> None:
    """Linux schedules threads as tasks: a nicer hashing thread yields the CPU to the loop."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICENESS)


@cache
def _heavy_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=os.cpu_count() or 2,
        thread_name_prefix="rxapp-hash",
        initializer=_lower_priority,
    )


async def run_db(
    work: Callable[[Session], T], *, heavy: bool = False, where: audit.Origin | None = None
) -> T:
    """Run `work(db)` in a worker thread with a database session of its own (`heavy`: in
    the hashing pool); audit rows it writes carry `where`."""
    # The engine is found here, where Reflex's config is loaded: a worker thread's fresh
    # context would load rxconfig.py again for every call.
    call = partial(_in_session, work, where or audit.Origin(), rx.model.get_engine())
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_heavy_pool() if heavy else None, call)
