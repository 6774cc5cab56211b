"""`python -m bench [codes|users|browser|cluster|light|peer|idle]`: run benchmarks and print
the figures."""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from rxapp.closed_network import apply_closed_network_settings


def main() -> int:
    apply_closed_network_settings()
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "which",
        nargs="*",
        default=["codes", "users"],
        choices=["codes", "users", "browser", "cluster", "light", "peer", "idle"],
    )
    parser.add_argument(
        "--app-root", type=Path, help="for `light`, `peer`, `idle`: serve this checkout"
    )
    parser.add_argument("--runs", type=int, default=12, help="for `peer`: timed users per side")
    parser.add_argument("--sign-ins", type=int, default=200, help="for `peer`: CPU sign-ins")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="user counts")
    parser.add_argument("--tabs", type=int, default=100, help="for `idle`: signed-in tabs")
    parser.add_argument(
        "--postgres", default="", help="for `users`: a PostgreSQL server's URL (else SQLite)"
    )
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {platform.node()}"
    )
    for which in args.which:
        if which == "codes":
            from bench import codes

            lines = codes.run()
        elif which == "users":
            from bench import users_query

            lines = users_query.run(sizes, postgres=args.postgres)
        elif which == "browser":
            from bench import browser_users

            lines = browser_users.run(sizes)
        elif which == "peer":
            from bench import peer_server, side_by_side

            try:
                lines = side_by_side.run(args.app_root, args.runs, args.sign_ins)
            except peer_server.PeerError as error:
                print(f"bench: error: {error}", file=sys.stderr)
                return 1
        elif which == "idle":
            from bench import idle_tabs

            lines = idle_tabs.run(args.app_root, args.tabs)
        elif which == "light":
            from bench import light_event

            lines = light_event.run(args.app_root)
        else:
            from bench import cluster_flows

            try:
                lines = cluster_flows.run()
            except (cluster_flows.BenchError, RuntimeError) as error:
                print(f"bench: error: {error}", file=sys.stderr)
                return 1
        print(f"\n## {which}")
        print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
