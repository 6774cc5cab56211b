"""What a crash of the cluster leaves running. An instance's `reflex run` killed alone (an
out-of-memory kill, `kill -9` of the pid `rxapp cluster status` shows) leaves its server
workers holding the instance's port, so supervisord cannot start it again; a supervisord
killed outright leaves nginx and every instance running, unsupervised. Both are found here
(by their command line and folder, never by a port alone) and ended before a new start."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

GRACE_SECONDS = 5


def _backend_port(command: list[str]) -> int | None:
    try:
        return int(command[command.index("--backend-port") + 1])
    except (ValueError, IndexError):
        return None


def instances(project: Path, *, port: int | None = None) -> list[psutil.Process]:
    """The processes of this checkout's cluster instances (`reflex run --backend-only` and
    the workers it forked, which carry its command line), on backend `port` or any; never
    this process."""
    folder = str(project.resolve())
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        command = process.info["cmdline"] or []
        if (
            process.pid != os.getpid()
            and "reflex" in command
            and "--backend-only" in command
            and process.info["cwd"] == folder
            and (port is None or _backend_port(command) == port)
        ):
            found.append(process)
    return found


def nginx(run_dir: Path) -> list[psutil.Process]:
    """The cluster's nginx, if one still runs from `run_dir` (its master and workers)."""
    try:
        master = psutil.Process(int((run_dir / "nginx.pid").read_text().strip()))
        if str(run_dir / "nginx.conf") not in master.cmdline():
            return []  # the pid was reused by something else
        return [master, *master.children()]
    except (OSError, ValueError, psutil.Error):
        return []


def end(processes: list[psutil.Process]) -> int:
    """Ask `processes` to stop, kill those still there after a few seconds; how many."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=GRACE_SECONDS)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=GRACE_SECONDS)
    return len(processes)
