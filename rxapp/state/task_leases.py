"""Which background task of a tab is the one that runs: its name in the tab's state.

A tab's state names the task that watches for it (with a lease, for other processes). A
task of this process counts only while it runs: Reflex cancels a page's on_load chain
when the tab navigates or disconnects, and the cancelled task's clean-up may come after
the next page's task has looked at the lease, so the name is checked against the running
tasks here, not only against the clock.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from rxapp.state import open_tabs

_STARTED = secrets.token_hex(8)
_running: dict[str, asyncio.Task[object]] = {}


def this_process() -> str:
    """This process, told apart from other instances and from forked workers."""
    return f"{_STARTED}:{os.getpid()}"


def start() -> str:
    """A new name for the current task, counted as running until `stop`."""
    name = f"{this_process()}/{secrets.token_hex(4)}"
    task = asyncio.current_task()
    if task is not None:
        _running[name] = task
    return name


def running_here(name: str) -> bool:
    """Whether `name` is a task of this process that still runs (not done, not cancelled)."""
    task = _running.get(name)
    return task is not None and not task.done() and not task.cancelling()


def stop(name: str) -> None:
    """The task `name` ends."""
    _running.pop(name, None)


def claim(holder: str, lease_until: float, *, now: float) -> str | None:
    """A name for the current task if it may take a tab's lease (`holder`'s, until
    `lease_until`): held by no running task of this process. A lease of another process is
    not waited out: that process is gone, or the tab moved away from it."""
    if running_here(holder) and lease_until > now:
        return None
    return start()


def keeps(holder: str, me: str, client_token: str) -> bool:
    """Whether task `me` goes on: it still holds the lease and its tab is still connected
    here (else a newer task took over, or the tab's reconnect will start one)."""
    return holder == me and open_tabs.open_here(client_token)
