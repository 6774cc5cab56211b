"""The test harness's shared build: named by its inputs, made once, copied per server."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rxapp import testing
from rxapp.testing import PrebuiltApp, build_key, copy_prebuilt, wait_until


def make_project(root: Path) -> Path:
    for relative in ["rxconfig.py", "rxapp/models.py", "assets/logo.svg", "alembic/env.py"]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
    return root


def test_the_build_key_changes_with_any_input_and_only_then(tmp_path: Path):
    root = make_project(tmp_path / "project")
    first = build_key(root)
    assert build_key(root) == first

    (root / "rxapp" / "__pycache__").mkdir()
    (root / "rxapp" / "__pycache__" / "models.cpython-311.pyc").write_text("cache")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("not an input")
    assert build_key(root) == first

    (root / "assets" / "logo.svg").write_text("another logo")
    assert build_key(root) != first


def test_the_build_key_of_a_renamed_file_differs(tmp_path: Path):
    root = make_project(tmp_path / "project")
    before = build_key(root)
    (root / "rxapp" / "models.py").rename(root / "rxapp" / "tables.py")
    assert build_key(root) != before


def prebuilt(tmp_path: Path, port: int) -> PrebuiltApp:
    folder = tmp_path / "build"
    app = folder / "app"
    files = {
        ".web/build/client/assets/env.js": f'{{"EVENT":"ws://localhost:{port}/_event"}}',
        ".web/build/client/assets/env.js.gz": "stale compressed copy",
        ".web/build/client/assets/other.js": "no address here",
        ".web/build/client/assets/other.js.gz": "compressed other",
        ".web/node_modules/pkg/index.js": "package",
        ".web/env.json": "{}",
        "rxapp/rxapp.py": "app",
    }
    for relative, text in files.items():
        path = app / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / "port").write_text(str(port))
    return PrebuiltApp(folder)


def test_a_copy_reaches_the_backend_on_its_own_port(tmp_path: Path):
    built = prebuilt(tmp_path, 41234)
    copy = copy_prebuilt(built, tmp_path / "server" / "app", 50001)

    assets = copy / ".web" / "build" / "client" / "assets"
    assert (assets / "env.js").read_text() == '{"EVENT":"ws://localhost:50001/_event"}'
    assert not (assets / "env.js.gz").exists()  # it would be served with the old port
    assert (assets / "other.js.gz").read_text() == "compressed other"
    # The shared build itself is untouched.
    shared = built.app / ".web" / "build" / "client" / "assets"
    assert "41234" in (shared / "env.js").read_text()
    assert (shared / "env.js.gz").exists()


def test_a_copy_links_installed_packages_and_copies_what_reflex_writes(tmp_path: Path):
    built = prebuilt(tmp_path, 41234)
    copy = copy_prebuilt(built, tmp_path / "server" / "app", 50001)

    package = ".web/node_modules/pkg/index.js"
    assert os.path.samefile(copy / package, built.app / package)
    for written in [".web/env.json", "rxapp/rxapp.py"]:
        assert not os.path.samefile(copy / written, built.app / written)
        (copy / written).write_text("changed by this server")
        assert (built.app / written).read_text() != "changed by this server"


def test_concurrent_workers_share_one_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = make_project(tmp_path / "project")
    builds: list[Path] = []

    def fake_export(*args: str, cwd: Path, env: dict[str, str], timeout: float = 900):
        builds.append(cwd)
        (cwd / ".web" / "build").mkdir(parents=True)

        class Done:
            returncode = 0
            stdout = stderr = ""

        return Done()

    monkeypatch.setattr(testing.runtime, "migrate", lambda *a, **k: None)
    monkeypatch.setattr(testing.runtime, "reflex", fake_export)
    results: list[PrebuiltApp] = []
    workers = [
        threading.Thread(target=lambda: results.append(testing.shared_build(tmp_path / "s", root)))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(builds) == 1
    assert len(results) == 4 and len({r.folder for r in results}) == 1
    assert (results[0].app / ".web" / "build").is_dir()
    assert results[0].port > 0


def test_wait_until_returns_the_first_truthy_value():
    calls = iter([None, 0, "ready"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0) == "ready"


def test_wait_until_gives_up_after_the_timeout_or_on_abort():
    with pytest.raises(TimeoutError, match="never"):
        wait_until(lambda: False, timeout=0.05, interval=0.01, message="never")
    with pytest.raises(RuntimeError, match="exited"):
        wait_until(lambda: False, timeout=5, abort=lambda: "exited")
