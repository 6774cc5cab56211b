"""Secrets that a proven connection is showing right now (the enrolment key, new backup
codes), in this process's memory only: never in Reflex's state store (disk or Redis).

A tab's state holds only the random reference. After a reconnect to another instance the
page loader reads the secret back from the database (encrypted there) into this cache.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from rxapp.services.clock import utcnow

_LOCK = threading.Lock()
_ENTRIES: dict[str, tuple[datetime, Any]] = {}


def put(ref: str, value: Any, *, until: datetime) -> None:
    """Keep `value` under `ref` until `until`."""
    with _LOCK:
        _purge(utcnow())
        _ENTRIES[ref] = (until, value)


def get(ref: str) -> Any | None:
    """The value under `ref` while it lasts, else None."""
    if not ref:
        return None
    with _LOCK:
        entry = _ENTRIES.get(ref)
        if entry is None:
            return None
        if utcnow() >= entry[0]:
            del _ENTRIES[ref]
            return None
        return entry[1]


def drop(ref: str) -> None:
    """Forget `ref` now."""
    with _LOCK:
        _ENTRIES.pop(ref, None)


def _purge(now: datetime) -> None:
    for ref in [ref for ref, (until, _) in _ENTRIES.items() if now >= until]:
        del _ENTRIES[ref]
