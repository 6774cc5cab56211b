"""`make run-cluster` as an operator runs it, driven from the tests: the real command in a
process group of its own, observed through its output, `rxapp cluster status` and its logs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from rxapp.cluster import launch
from rxapp.runtime import project_root


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.2):
    """Poll `condition()` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(interval)


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` that still run (zombies count as gone)."""
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
        except psutil.NoSuchProcess:
            pass
    return left


@dataclass
class ClusterProcess:
    """One `python -m rxapp.cluster run` and its run directory."""

    port: int
    env: dict[str, str]
    run_dir: Path
    launched: launch.Launched

    @property
    def process(self) -> subprocess.Popen[str]:
        return self.launched.process

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def db_url(self) -> str:
        return self.env["REFLEX_DB_URL"]

    @property
    def redis_url(self) -> str:
        return self.env["REFLEX_REDIS_URL"]

    @property
    def ports(self) -> list[int]:
        return json.loads((self.run_dir / "cluster.json").read_text())["ports"]

    def log_path(self, number: int) -> Path:
        return self.run_dir / "logs" / f"instance-{number}.log"

    def rxapp(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `rxapp` command, as an operator on this host runs it."""
        return subprocess.run(
            [sys.executable, "-m", "rxapp.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def status(self) -> dict[int, tuple[str, int]]:
        """{instance: (state, pid)} from `rxapp cluster status`."""
        result = self.rxapp("cluster", "status")
        assert result.returncode == 0, result.stderr
        found = {}
        for line in result.stdout.splitlines():
            words = line.split()  # instance-N STATE [pid P] port Q
            pid = int(words[3]) if words[2] == "pid" else 0
            found[int(words[0].removeprefix("instance-"))] = (words[1], pid)
        return found

    def running_pid(self, number: int, *, not_pid: int = 0, timeout: float = 20) -> int:
        """Instance `number`'s pid once it is RUNNING (with a pid other than `not_pid`)."""

        def running() -> int:
            state, pid = self.status()[number]
            return pid if state == "RUNNING" and pid != not_pid else 0

        return wait_for(running, timeout=timeout, what=f"instance {number} RUNNING again")

    def kill_group(self, number: int) -> int:
        """SIGKILL instance `number`'s whole process group, as a crash would; its old pid."""
        pid = self.running_pid(number)
        os.killpg(pid, signal.SIGKILL)
        return pid


def start(port: int, env: dict[str, str], *, instances: int = 2) -> ClusterProcess:
    """Start the cluster as `make run-cluster` does; return once it printed its ready line."""
    run_dir = project_root() / ".cluster" / f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **env,
        "RXAPP_CLUSTER_DIR": str(run_dir),
        "RXAPP_LISTEN": f"127.0.0.1:{port}",  # the tests' cluster stays on this machine
        "RXAPP_DEBUG_ROUTING": "1",  # the cookie rxapp_instance=N aims at instance N
    }
    try:
        launched = launch.start(port, env, instances=instances)
    except RuntimeError as error:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise AssertionError(str(error)) from None
    return ClusterProcess(port, env, run_dir, launched)


def stop(cluster: ClusterProcess, *, timeout: float = 30) -> int:
    """SIGTERM to the cluster's process group; its exit status."""
    return launch.stop(cluster.launched, timeout=timeout)


def remove(cluster: ClusterProcess) -> None:
    """Delete the run directory (the cluster must be stopped), unless
    RXAPP_KEEP_CLUSTER_LOGS=1 asks to keep its logs."""
    if os.environ.get("RXAPP_KEEP_CLUSTER_LOGS") != "1":
        shutil.rmtree(cluster.run_dir, ignore_errors=True)
