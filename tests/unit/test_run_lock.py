"""One server per checkout: a second run is refused with the first one's port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from rxapp.run_lock import hold_run_lock


def test_a_second_run_of_the_same_checkout_is_refused_with_the_first_ones_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = hold_run_lock(tmp_path, "3300")
    try:
        with pytest.raises(SystemExit) as refused:
            hold_run_lock(tmp_path, "3500")
        assert refused.value.code == 1
        assert "already runs the app (port 3300)" in capsys.readouterr().err
    finally:
        first.close()
    # The first run has ended: the next one goes ahead.
    hold_run_lock(tmp_path, "3500").close()


def test_the_cluster_is_refused_while_make_run_serves_the_checkout(tmp_path: Path) -> None:
    """`make run-cluster` and `rxapp cluster build` rebuild the same `.web`: while `make
    run` holds the checkout they stop at once, before migrating or building anything."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "rxconfig.py").write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "RXAPP_PROJECT_DIR": str(checkout),
        "RXAPP_CLUSTER_DIR": str(tmp_path / "cluster"),
        "REFLEX_DB_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "REFLEX_REDIS_URL": "redis://127.0.0.1:1/0",
        "RXAPP_SECRET_KEY": Fernet.generate_key().decode(),
    }
    held = hold_run_lock(checkout, "3300")
    try:
        for step in (["--port", "3450", "run"], ["--port", "3450", "build"]):
            done = subprocess.run(
                [sys.executable, "-m", "rxapp.cluster", *step],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 1, done.stderr
            assert "already runs the app (port 3300)" in done.stderr
            assert "Traceback" not in done.stderr
    finally:
        held.close()
