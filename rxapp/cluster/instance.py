"""One instance of the cluster, as supervisord starts it (`python -m rxapp.cluster.instance
HOST PORT`): ends what an earlier run of the same instance left holding its port (see
`leftovers`), then becomes `reflex run --env prod --backend-only` on HOST:PORT."""

from __future__ import annotations

import os
import sys

from rxapp.cluster import leftovers
from rxapp.runtime import project_root


def main(argv: list[str]) -> None:
    """Start the instance on `argv` = [HOST, PORT]."""
    host, port = argv
    left = leftovers.instances(project_root(), port=int(port))
    if left:
        ended = leftovers.end(left)
        print(f"rxapp: ended {ended} process(es) an earlier run of this instance left", flush=True)
    command = [sys.executable, "-m", "reflex", "run", "--env", "prod", "--backend-only"]
    os.execv(sys.executable, [*command, "--backend-host", host, "--backend-port", port])  # noqa: S606


if __name__ == "__main__":
    main(sys.argv[1:])
