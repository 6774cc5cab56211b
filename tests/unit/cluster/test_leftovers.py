"""Finding what a crashed cluster left: by command line and folder, never by a port alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rxapp.cluster import leftovers

# A stand-in with the command line of an instance's `reflex run` (argv is what is matched).
SLEEPER = "import time; time.sleep(60)"


def _spawn(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", SLEEPER, *args], cwd=cwd)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout"
    folder.mkdir()
    return folder


def test_instances_of_this_checkout_are_found_by_port_and_ended(
    checkout: Path, tmp_path: Path
) -> None:
    instance = ["reflex", "run", "--backend-only", "--backend-host", "127.0.0.1"]
    mine = _spawn(checkout, *instance, "--backend-port", "4101")
    other_port = _spawn(checkout, *instance, "--backend-port", "4102")
    elsewhere = _spawn(tmp_path, *instance, "--backend-port", "4101")  # another checkout
    not_an_instance = _spawn(checkout, "reflex", "run", "--backend-port", "4101")  # make run
    started = [mine, other_port, elsewhere, not_an_instance]
    try:
        assert [p.pid for p in leftovers.instances(checkout, port=4101)] == [mine.pid]
        assert {p.pid for p in leftovers.instances(checkout)} == {mine.pid, other_port.pid}

        assert leftovers.end(leftovers.instances(checkout, port=4101)) == 1
        assert mine.wait(timeout=10) is not None
        assert all(p.poll() is None for p in started if p is not mine)
    finally:
        for process in started:
            process.kill()
            process.wait()


def test_nginx_is_found_only_if_its_pid_file_names_an_nginx_of_that_folder(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stranger = _spawn(tmp_path)  # a reused pid: not the cluster's nginx
    posing = _spawn(tmp_path, "-c", str(run_dir / "nginx.conf"))
    try:
        assert leftovers.nginx(run_dir) == []  # no pid file
        (run_dir / "nginx.pid").write_text(f"{stranger.pid}\n")
        assert leftovers.nginx(run_dir) == []
        (run_dir / "nginx.pid").write_text(f"{posing.pid}\n")
        assert [p.pid for p in leftovers.nginx(run_dir)] == [posing.pid]
        (run_dir / "nginx.pid").write_text("garbage")
        assert leftovers.nginx(run_dir) == []
    finally:
        for process in (stranger, posing):
            process.kill()
            process.wait()
