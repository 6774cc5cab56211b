"""`python -m rxapp.cluster run` as a child process, for programs that drive a cluster
(the scale-out tests, `python -m bench cluster`): started in a process group of its own,
ready once it prints its readiness line, stopped by SIGTERM to that group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rxapp.runtime import project_root

READY_MARK = "rxapp cluster: ready on"


@dataclass
class Launched:
    """A running `python -m rxapp.cluster run` and everything it printed."""

    port: int
    env: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The address browsers use."""
        return f"http://localhost:{self.port}"

    @property
    def run_dir(self) -> Path:
        """Its configuration, socket and logs."""
        return Path(self.env["RXAPP_CLUSTER_DIR"])


def start(port: int, env: dict[str, str], *, instances: int = 2, timeout: float = 900) -> Launched:
    """Start the cluster with `env` (which names RXAPP_CLUSTER_DIR); return once ready."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "rxapp.cluster", "--port", str(port),
         "--instances", str(instances), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        cwd=project_root(),
    )  # fmt: skip
    launched = Launched(port, env, process)
    threading.Thread(target=_collect, args=(process, launched.output), daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while not any(READY_MARK in line for line in launched.output):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the cluster did not become ready:\n" + "".join(launched.output[-60:])
                )
            time.sleep(0.3)
    except BaseException:
        stop(launched)
        raise
    return launched


def _collect(process: subprocess.Popen[str], lines: list[str]) -> None:
    if process.stdout is not None:
        lines.extend(process.stdout)


def stop(launched: Launched, *, timeout: float = 30) -> int:
    """SIGTERM to the cluster's process group, as a service manager or Ctrl-C does; its exit
    status (SIGKILL to the group if it is still there after `timeout` seconds)."""
    if launched.process.poll() is None:
        os.killpg(launched.process.pid, signal.SIGTERM)
    try:
        return launched.process.wait(timeout=timeout)
    finally:
        if launched.process.poll() is None:
            os.killpg(launched.process.pid, signal.SIGKILL)
