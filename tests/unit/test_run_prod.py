"""make run reuses the production frontend build while its inputs are unchanged."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from reflex.utils import build

from rxapp import run_prod
from rxapp.closed_network import apply_closed_network_settings
from rxapp.cluster import frontend
from tests.conftest import run_command
from tests.unit.cluster.test_frontend import _project


def test_the_npm_build_runs_once_for_unchanged_inputs(tmp_path: Path, monkeypatch):
    project = _project(tmp_path)
    calls: list[str] = []

    def reflex_build(root: Path) -> None:
        calls.append("build")
        frontend.static_root(project).mkdir(parents=True, exist_ok=True)
        (frontend.static_root(project) / "index.html").write_text("<html>")

    monkeypatch.setattr(build, "setup_frontend_prod", reflex_build)
    monkeypatch.setattr(build, "setup_frontend", lambda root: calls.append("env.json"))
    run_prod._reuse_unchanged_builds(project, "http://localhost:3000")

    build.setup_frontend_prod(project)
    build.setup_frontend_prod(project)
    assert calls == ["build", "env.json"]

    (project / "rxapp/pages/login.py").write_text("LOGIN = 3")
    build.setup_frontend_prod(project)
    assert calls == ["build", "env.json", "build"]


def test_make_run_with_a_redis_that_does_not_answer_stops_in_one_line_before_anything() -> None:
    """Else the app would be said ready, and Reflex would give up a moment later."""
    env = apply_closed_network_settings(dict(os.environ))
    env["REFLEX_REDIS_URL"] = "redis://127.0.0.1:1/9"
    done = run_command([sys.executable, "-m", "rxapp.run_prod", "3999"], env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("rxapp: error: Redis at REFLEX_REDIS_URL does not answer:")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""
