"""`make run`'s last step: `reflex run` with its output made plain for people.

Reflex prints a hint to run it with `uv` and an address (0.0.0.0) that is where it listens,
not where to point a browser: both are replaced by one clear line once the app is ready.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterable, Iterator

HIDDEN = ("to start the app.",)  # "Success: Initialized rxapp. Run `uv run reflex run` ..."
READY_MARKER = "App running at:"


def ready_banner(port: int) -> str:
    """What `make run` says once the app answers."""
    url = f"http://localhost:{port}"
    return f"\n  rxapp is ready: {url}  (sign in at {url}/login; Ctrl-C stops it)\n"


def readable(lines: Iterable[str], *, port: int) -> Iterator[str]:
    """Reflex's output lines, minus the misleading ones, plus the ready banner."""
    for line in lines:
        if any(marker in line for marker in HIDDEN):
            continue
        if READY_MARKER in line:
            yield ready_banner(port)
            continue
        yield line.rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    """Run the production server on `--port` and relay its output."""
    parser = argparse.ArgumentParser(prog="python -m rxapp.serve")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    print("==> Starting the app (the first time, building the frontend takes about a minute)…")
    # rxapp.run_prod: `reflex run --env prod`, reusing the frontend build while unchanged.
    command = [sys.executable, "-m", "rxapp.run_prod", str(args.port)]
    with subprocess.Popen(  # noqa: S603 (a fixed command: this Python, reflex, a port number)
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        try:
            for line in readable(process.stdout, port=args.port):
                print(line, flush=True)
        except KeyboardInterrupt:
            process.wait()
        return process.wait()


if __name__ == "__main__":
    sys.exit(main())
