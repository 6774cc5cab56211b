"""Copies of the project for isolated builds."""

from __future__ import annotations

import os
from pathlib import Path

from rxapp.runtime import free_port, isolated_copy


def test_a_copy_keeps_code_and_packages_but_no_local_data(tmp_path: Path):
    root = tmp_path / "project"
    for relative in [
        "rxconfig.py",
        "rxapp/models.py",
        "alembic/env.py",
        ".web/node_modules/pkg/build/index.js",
        ".web/package.json",
        ".web/build/client/index.html",
        ".venv/bin/python",
        "rxapp.db",
        "rxapp.db-wal",
        "rxapp.key",
        "tests/test_x.py",
        "rxapp/__pycache__/models.cpython-311.pyc",
    ]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)

    copy = isolated_copy(root, tmp_path / "copy")

    kept = {str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file()}
    assert kept == {
        "rxconfig.py",
        "rxapp/models.py",
        "alembic/env.py",
        ".web/node_modules/pkg/build/index.js",
        ".web/package.json",
    }
    # Installed packages are linked, not copied; code is copied.
    package = ".web/node_modules/pkg/build/index.js"
    assert os.stat(copy / package).st_ino == os.stat(root / package).st_ino
    assert os.stat(copy / "rxconfig.py").st_ino != os.stat(root / "rxconfig.py").st_ino


def test_free_port_gives_a_bindable_port():
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
