"""The production frontend, built once and reused while its inputs are unchanged."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from rxapp import runtime
from rxapp.cluster.config import ClusterError
from rxapp.paint_first import paint_first

# What the built frontend depends on, relative to the project.
INPUTS = ("rxapp", "assets", "rxconfig.py", "reflex.lock", "pyproject.toml")
STAMP = "rxapp-inputs.sha256"
_SKIPPED = {"__pycache__", "cluster"}  # the cluster package does not shape the pages


def static_root(project: Path) -> Path:
    """The built frontend that nginx serves."""
    return project / ".web" / "build" / "client"


def _canonical(data: bytes) -> bytes:
    return json.dumps(json.loads(data), sort_keys=True).encode()


def _content(path: Path) -> bytes:
    """The file's bytes; JSON in a canonical form (Reflex rewrites reflex.lock/package.json
    with its keys in another order)."""
    if path.suffix == ".json":
        try:
            return _canonical(path.read_bytes())
        except ValueError:
            pass
    return path.read_bytes()


def inputs_hash(project: Path, api_url: str, mode: str = "export") -> str:
    """A digest of every input file, the address built in, how it is built (`export` for the
    cluster's nginx, `run` for `make run`'s single port) and Reflex's version."""
    digest = hashlib.sha256(f"{api_url}\n{mode}\n{version('reflex')}\n".encode())
    for name in INPUTS:
        top = project / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            relative = path.relative_to(project)
            if _SKIPPED & set(relative.parts[1:]) or path.suffix == ".pyc":
                continue
            digest.update(f"{relative}\n".encode())
            digest.update(hashlib.sha256(_content(path)).digest())
    return digest.hexdigest()


def is_current(project: Path, api_url: str, mode: str = "export") -> bool:
    """Whether the build on disk was made from exactly these inputs."""
    stamp = project / ".web" / "build" / STAMP
    return (
        (static_root(project) / "index.html").is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == inputs_hash(project, api_url, mode)
    )


def build_unless_current(
    project: Path, api_url: str, mode: str, run_build: Callable[[], None]
) -> bool:
    """Call `run_build()` unless the build on disk has these inputs; True if it built."""
    if is_current(project, api_url, mode):
        return False
    expected = inputs_hash(project, api_url, mode)
    lock = project / "reflex.lock" / "package.json"
    committed = lock.read_bytes() if lock.is_file() else None
    run_build()
    if committed is not None and lock.is_file() and _content(lock) == _canonical(committed):
        lock.write_bytes(committed)  # Reflex only reordered its keys: keep the committed file
    (project / ".web" / "build" / STAMP).write_text(expected + "\n")
    return True


def paint_first_pages(root: Path) -> int:
    """Rewrite every prerendered page under `root` as `make run` serves it (`paint_first`),
    and its `.gz` twin that nginx's gzip_static sends; returns how many changed. A page
    already rewritten is left as it is."""
    changed = 0
    for page in sorted(root.rglob("*.html")):
        html = page.read_bytes()
        shown = paint_first(html)
        if shown == html:
            continue
        page.write_bytes(shown)
        twin = page.with_name(page.name + ".gz")
        if twin.is_file():
            twin.write_bytes(gzip.compress(shown, mtime=0))
        changed += 1
    return changed


def build(project: Path, env: dict[str, str]) -> bool:
    """Export the frontend for nginx unless unchanged, its pages painted before their
    scripts start (also for a build made before this step existed); True if built."""

    def export() -> None:
        result = runtime.reflex(
            "export", "--frontend-only", "--no-zip", "--env", "prod", cwd=project, env=env
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-3000:]
            raise ClusterError(f"the frontend build failed:\n{output}")

    built = build_unless_current(project, env["REFLEX_API_URL"], "export", export)
    paint_first_pages(static_root(project))
    return built
