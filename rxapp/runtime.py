"""Helpers for running the app as processes (test harness, cluster)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from rxapp.closed_network import apply_closed_network_settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def project_root() -> Path:
    """The rxapp checkout to serve: RXAPP_PROJECT_DIR, or the one this package belongs to."""
    root = Path(os.environ.get("RXAPP_PROJECT_DIR") or Path(__file__).resolve().parent.parent)
    if not (root / "rxconfig.py").is_file():
        raise RuntimeError(
            f"{root} has no rxconfig.py; set RXAPP_PROJECT_DIR to the rxapp checkout"
        )
    return root


# What a copy of the project needs to build and serve the app; caches and local data stay.
_SKIP_AT_ROOT = {
    ".venv",
    ".git",
    ".states",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    "tests",
    "bench",
    "docs",
    "build",
    "dist",
    "test-results",
    "screenshots",
}
_SKIP_IN_WEB = {"build", ".states", "backend"}
_SKIP_EVERYWHERE = {"__pycache__"}
_SKIP_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal", ".key", ".egg-info", ".log")


def isolated_copy(root: Path, destination: Path) -> Path:
    """Copy the project (with its installed frontend packages, without local data) so that a
    build there cannot disturb one served from `root`, nor the other way round."""

    def skip(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        skipped = {n for n in names if n in _SKIP_EVERYWHERE or n.endswith(_SKIP_SUFFIXES)}
        if here == root.resolve():
            skipped |= _SKIP_AT_ROOT & set(names)
        elif here == (root / ".web").resolve():
            skipped |= _SKIP_IN_WEB & set(names)
        return skipped

    def link_or_copy(source: str, target: str) -> None:
        # Installed packages are only read: hard links make the copy take a moment.
        if "node_modules" in Path(source).parts:
            try:
                os.link(source, target)
                return
            except OSError:
                pass
        shutil.copy2(source, target)

    shutil.copytree(root, destination, ignore=skip, symlinks=True, copy_function=link_or_copy)
    return destination


def reflex(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run `python -m reflex ARGS` to completion (output captured)."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "reflex", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def migrate(db_url: str, *, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Apply the committed migrations to `db_url` with Reflex's own `reflex db migrate`."""
    environment = apply_closed_network_settings(dict(env if env is not None else os.environ))
    environment["REFLEX_DB_URL"] = db_url
    result = reflex("db", "migrate", cwd=cwd, env=environment, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


def start_reflex(
    *args: str, cwd: Path, env: dict[str, str], log_path: Path, module: str = "reflex"
) -> subprocess.Popen[bytes]:
    """Start `python -m MODULE ARGS` (default: reflex) in a process group of its own, logging
    to `log_path`."""
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_group(process: subprocess.Popen[bytes] | None, *, grace: float = 15) -> None:
    """Stop a process started by `start_reflex` and everything it started: SIGTERM, then
    SIGKILL after `grace` seconds (grace=0: SIGKILL at once, as a crash would)."""
    if process is None or process.poll() is not None:
        return
    if grace > 0:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
