"""What signed-in tabs cost the server while nobody does anything (`python -m bench idle`).

Every signed-in page watches for sign-in approvals (`ApprovalState.watch`). N virtual users
sign in over the websocket as a browser does and stay on /profile with their connection
open (answering pings); then the server's CPU time (every process of it, psutil) is read
over three windows of idle time, and the median is reported per second and per tab.
`--app-root DIR` serves another checkout, for before/after.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
from pathlib import Path

from bench.cluster_flows import seed_users_with_2fa
from bench.common import use_throwaway_key
from bench.flow_driver import ReflexSocket, signed_in_tab
from bench.signin_cpu import cpu_used, tree_cpu
from rxapp.state.approvals import ApprovalState
from rxapp.testing import RxappServer, shared_build

WINDOW_SECONDS = 10.0
WINDOWS = 3


async def _answer_pings(socket: ReflexSocket, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            while True:
                if await socket.connection.recv() == "2":
                    await socket.connection.send("3")
    except TimeoutError:
        pass


async def _idle_cpu(url: str, pid: int, users: list[dict[str, str]]) -> list[float]:
    """ms of server CPU per second, per window, while the users' tabs sit on /profile."""
    tabs = [await signed_in_tab(url, user) for user in users]
    watch = {
        "name": f"{ApprovalState.get_full_name()}.watch",
        "payload": {},
        "router_data": {"pathname": "/profile", "asPath": "/profile"},
    }
    try:
        for tab in tabs:  # as the page does on load (a watcher already running stays alone)
            await tab.connection.send("42/_event," + json.dumps(["event", watch]))
        await asyncio.gather(*(_answer_pings(tab, 3) for tab in tabs))
        rates = []
        for _ in range(WINDOWS):
            before = tree_cpu(pid)
            await asyncio.gather(*(_answer_pings(tab, WINDOW_SECONDS) for tab in tabs))
            rates.append(1000 * cpu_used(before, tree_cpu(pid)) / WINDOW_SECONDS)
        return rates
    finally:
        await asyncio.gather(*(tab.close() for tab in tabs))


def run(app_root: Path | None = None, tabs: int = 100) -> list[str]:
    """Serve the app (this checkout or `app_root`), measure `tabs` idle tabs, report."""
    use_throwaway_key()
    with tempfile.TemporaryDirectory(prefix="rxapp-bench-idle-") as folder:
        built = shared_build(Path(tempfile.gettempdir()) / "rxapp-bench-builds", root=app_root)
        server = RxappServer(Path(folder), prebuilt=built)
        server.start()
        try:
            users = seed_users_with_2fa(server.db_url, tabs, "idle")
            assert server.pid is not None
            rates = asyncio.run(_idle_cpu(server.url, server.pid, users))
            errors = server.errors_since(0)
        finally:
            server.stop()
    median = statistics.median(rates)
    lines = [
        f"app: {app_root or 'this checkout'}",
        f"{tabs} signed-in tabs, idle: server CPU {median:6.1f} ms per s "
        f"({median / tabs:.2f} ms per tab per s; windows of {WINDOW_SECONDS:.0f} s: "
        f"{', '.join(f'{r:.1f}' for r in rates)})",
    ]
    if errors:
        lines.append(f"server errors: {errors[:3]}")
    return lines
