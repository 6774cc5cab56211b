"""Helpers for running the app as processes (test harness, cluster)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path


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
