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
import contextvars
import enum
import logging
import weakref
from dataclasses import dataclass, field
from functools import partial

from sqlmodel import Session

from rxapp.services import approvals, sessions
from rxapp.services.clock import utcnow
from rxapp.state.offloop import run_db

POLL_SECONDS = 1.0
MIN_GAP_SECONDS = 0.1
CHUNK = 500  # digests per query (SQLite takes at most 32,766 parameters in a statement)

_log = logging.getLogger(__name__)


class Quiet(enum.Enum):
    """What `next_change` gives when nothing changed within its timeout."""

    QUIET = "quiet"


QUIET = Quiet.QUIET


@dataclass(eq=False)
class _Waiter:
    """One tab waiting: its session's digest, the refs it shows (None: answer at once)."""

    digest: str
    shown: tuple[str, ...] | None
    answer: asyncio.Future[list[approvals.Prompt] | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _Hub:
    """The waiting tabs of one event loop and the task that polls for them."""

    def __init__(self) -> None:
        self.waiters: set[_Waiter] = set()
        self.nudged = asyncio.Event()
        self.poller: asyncio.Task[None] | None = None
        self.failing = False

    def start(self) -> None:
        """Poll while anyone waits (a task of its own context: no tab's event's)."""
        if self.poller is None or self.poller.done():
            loop = asyncio.get_running_loop()
            self.poller = loop.create_task(self._poll(), context=contextvars.Context())

    async def _poll(self) -> None:
        while self.waiters:
            self.nudged.clear()
            digests = {waiter.digest for waiter in self.waiters}
            try:
                found = await run_db(partial(_look_up, digests=digests))
            except Exception:  # the database is away: the tabs wait on; tried again
                if not self.failing:
                    _log.exception("could not read the sign-in approvals; trying on")
                self.failing = True
            else:
                if self.failing:
                    _log.warning("reading the sign-in approvals again")
                self.failing = False
                self._wake(digests, found)
            await asyncio.sleep(MIN_GAP_SECONDS)  # however often nudged
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.nudged.wait(), POLL_SECONDS - MIN_GAP_SECONDS)

    def _wake(self, digests: set[str], found: dict[str, list[approvals.Prompt]]) -> None:
        for waiter in list(self.waiters):
            if waiter.digest not in digests or waiter.answer.done():
                continue  # began to wait during this poll, or already answered
            prompts = found.get(waiter.digest)
            if prompts is None or tuple(p.ref for p in prompts) != waiter.shown:
                waiter.answer.set_result(prompts)  # (`shown` None never equals a tuple)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = _Hub()
    return _hubs[loop]


async def next_change(
    digest: str, shown: tuple[str, ...] | None, *, timeout: float
) -> list[approvals.Prompt] | Quiet | None:
    """The open requests for the session behind `digest` (newest first) once their refs
    differ from `shown` (None: at the next poll, whatever they are); None once that session
    has ended; QUIET after `timeout` seconds without either."""
    hub = _hub()
    waiter = _Waiter(digest, shown)
    hub.waiters.add(waiter)
    hub.start()
    try:
        return await asyncio.wait_for(waiter.answer, timeout)
    except TimeoutError:
        return QUIET
    finally:
        hub.waiters.discard(waiter)


def nudge() -> None:
    """Poll now, not at the next second: a request was made or decided in this process."""
    hub = _hubs.get(asyncio.get_running_loop())
    if hub is not None:
        hub.nudged.set()


def _look_up(db: Session, *, digests: set[str]) -> dict[str, list[approvals.Prompt]]:
    """The open requests of each live session among `digests` (absent: ended)."""
    now = utcnow()
    ordered = sorted(digests)
    found: dict[str, list[approvals.Prompt]] = {}
    for start in range(0, len(ordered), CHUNK):
        live = sessions.live_sessions(db, ordered[start : start + CHUNK], now=now)
        prompts = approvals.open_prompts(db, live.values(), now=now)
        found.update({d: prompts.get(s.session.id, []) for d, s in live.items()})
    return found
