"""make run reuses the production frontend build while its inputs are unchanged."""

from __future__ import annotations

from pathlib import Path

from reflex.utils import build

from rxapp import run_prod
from rxapp.cluster import frontend
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
