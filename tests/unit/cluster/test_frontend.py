"""The frontend is rebuilt only when something it is built from changes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from rxapp.cluster import frontend
from rxapp.paint_first import paint_first
from tests.unit.test_paint_first import PAGE


def _project(root: Path) -> Path:
    for relative, text in {
        "rxconfig.py": "config = 1",
        "pyproject.toml": "[project]",
        "rxapp/pages/login.py": "LOGIN = 1",
        "rxapp/cluster/nginx.py": "PROXY = 1",
        "assets/styles.css": "body {}",
        "reflex.lock/package.json": json.dumps({"a": 1, "b": 2}),
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_the_hash_follows_inputs_and_the_address_only(tmp_path):
    project = _project(tmp_path)
    first = frontend.inputs_hash(project, "http://localhost:3000")
    assert frontend.inputs_hash(project, "http://localhost:3000") == first
    assert frontend.inputs_hash(project, "http://localhost:8080") != first

    (project / "reflex.lock/package.json").write_text(json.dumps({"b": 2, "a": 1}))
    (project / "rxapp/cluster/nginx.py").write_text("PROXY = 2")
    (project / "rxapp/pages/__pycache__").mkdir()
    (project / "rxapp/pages/__pycache__/login.cpython-311.pyc").write_bytes(b"x")
    assert frontend.inputs_hash(project, "http://localhost:3000") == first

    (project / "rxapp/pages/login.py").write_text("LOGIN = 2")
    assert frontend.inputs_hash(project, "http://localhost:3000") != first


def test_a_build_counts_as_current_only_with_its_stamp(tmp_path):
    project = _project(tmp_path)
    client = frontend.static_root(project)
    client.mkdir(parents=True)
    (client / "index.html").write_text("<html>")
    assert not frontend.is_current(project, "http://localhost:3000")
    stamp = project / ".web" / "build" / frontend.STAMP
    stamp.write_text(frontend.inputs_hash(project, "http://localhost:3000") + "\n")
    assert frontend.is_current(project, "http://localhost:3000")
    (project / "assets/styles.css").write_text("body { color: red }")
    assert not frontend.is_current(project, "http://localhost:3000")


def test_nginx_serves_the_pages_painted_first_plain_and_gzipped(tmp_path):
    root = tmp_path / "client"
    (root / "login").mkdir(parents=True)
    login = root / "login" / "index.html"
    login.write_bytes(PAGE)
    (root / "login" / "index.html.gz").write_bytes(gzip.compress(PAGE))
    plain = b"<html><body><p>Not found</p></body></html>"
    (root / "404.html").write_bytes(plain)

    assert frontend.paint_first_pages(root) == 1
    assert login.read_bytes() == paint_first(PAGE) != PAGE
    assert gzip.decompress((root / "login" / "index.html.gz").read_bytes()) == paint_first(PAGE)
    assert (root / "404.html").read_bytes() == plain
    assert frontend.paint_first_pages(root) == 0  # a second start changes nothing
    assert login.read_bytes() == paint_first(PAGE)
