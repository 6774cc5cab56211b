"""One database poll per process for every tab that waits for sign-in approvals.

A signed-in tab (`ApprovalState.watch`) waits here instead of asking the database itself
each second: while any tab waits, one worker-thread call a second reads every waiting
session and the open requests of their accounts, and wakes only the tabs whose requests
changed or whose session ended. Each waiting tab costs one digest in that query. A request
made or decided in this process `nudge`s the poll, so that its own tabs see it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from sqlmodel import Session

from rxapp.services import approvals, sessions
from rxapp.services.clock import utcnow
from rxapp.state.offloop import run_db

POLL_SECONDS = 1.0
MIN_GAP_SECONDS = 0.1
QUIET: Final = "quiet"
"""What `next_change` gives when nothing changed within its timeout."""

_log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Waiter:
    digest: str
    shown: tuple[str, ...]
    answer: asyncio.Future[list[approvals.Prompt] | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


_waiters: set[_Waiter] = set()
_poller: asyncio.Task[None] | None = None
_nudged: asyncio.Event | None = None


async def next_change(
    digest: str, shown: tuple[str, ...], *, timeout: float
) -> list[approvals.Prompt] | str | None:
    """The open requests for the session behind `digest` (newest first) once their refs
    differ from `shown`; None once that session has ended; QUIET after `timeout` seconds
    without either."""
    waiter = _Waiter(digest, shown)
    _waiters.add(waiter)
    _start_polling()
    try:
        return await asyncio.wait_for(waiter.answer, timeout)
    except TimeoutError:
        return QUIET
    finally:
        _waiters.discard(waiter)


def nudge() -> None:
    """Poll now, not at the next second: a request was made or decided in this process."""
    if _nudged is not None and _poller is not None and not _poller.done():
        _nudged.set()


def _start_polling() -> None:
    global _poller, _nudged
    loop = asyncio.get_running_loop()
    if _poller is None or _poller.done() or _poller.get_loop() is not loop:
        _nudged = asyncio.Event()
        _poller = loop.create_task(_poll_while_waited_for(_nudged))


async def _poll_while_waited_for(nudged: asyncio.Event) -> None:
    while _waiters:
        nudged.clear()
        digests = {waiter.digest for waiter in _waiters}
        try:
            found = await run_db(partial(_look_up, digests=digests))
        except Exception:  # the database is away: the tabs wait on, and it is tried again
            _log.exception("could not read the sign-in approvals")
        else:
            for waiter in list(_waiters):
                if waiter.digest not in digests:  # began to wait during this poll
                    continue
                prompts = found.get(waiter.digest)
                changed = prompts is None or tuple(p.ref for p in prompts) != waiter.shown
                if changed and not waiter.answer.done():
                    waiter.answer.set_result(prompts)
        await asyncio.sleep(MIN_GAP_SECONDS)  # however often nudged
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(nudged.wait(), POLL_SECONDS - MIN_GAP_SECONDS)


def _look_up(db: Session, *, digests: set[str]) -> dict[str, list[approvals.Prompt]]:
    """The open requests of each live session among `digests` (absent: ended)."""
    now = utcnow()
    live = sessions.live_sessions(db, digests, now=now)
    prompts = approvals.open_prompts(db, live.values(), now=now)
    return {digest: prompts.get(s.session.id, []) for digest, s in live.items()}
