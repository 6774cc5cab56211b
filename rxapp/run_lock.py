"""One server per checkout: `make run` and `make run-cluster` share the built frontend."""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path
from typing import IO

# Not in `.web`, which Reflex empties when it sets it up afresh.
RUN_LOCK = ".rxapp-run.lock"


def hold_run_lock(project: Path, port: str) -> IO[str]:
    """Hold this checkout's run lock for as long as the process lives (the open file it
    returns), or stop with a message naming the running one's port. The frontend build in
    `.web` is shared and names its server's address: a second run on another port would
    rebuild it under the first one's feet."""
    try:
        lock = (project / RUN_LOCK).open("a+")
    except OSError as error:  # made by another user (a service's root build, say)
        print(
            f"rxapp: error: cannot open the run lock {project / RUN_LOCK}: {error.strerror}",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        other = lock.read().strip() or "another port"
        lock.close()
        print(
            f"rxapp: error: this checkout already runs the app (port {other}); stop that "
            "one first, or run the second from a checkout of its own (the built frontend "
            "in .web belongs to one port)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    lock.truncate(0)
    lock.write(port)
    lock.flush()
    return lock
