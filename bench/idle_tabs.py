"""What signed-in tabs cost the server while nobody does anything (`python -m bench idle`).

Every signed-in page watches for sign-in approvals (`ApprovalState.watch`). N virtual users
sign in over the websocket as a browser does and stay on /profile with their connection
open (answering pings); then the server's CPU time (every process of it, psutil) is read
over three windows of idle time, and the median is reported per second and per tab. Then
a sign-in elsewhere asks every tab's account for approval, and the bench counts the tabs
whose dialog opened within a few seconds: a watcher that died would cost nothing and show
nothing. Last, every tab closes, and the server's CPU is read the same way: what closed tabs
still cost (their watchers should have stopped). `--app-root DIR` serves another checkout,
for before/after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
from pathlib import Path

from sqlmodel import Session

from bench.cluster_flows import seed_users_with_2fa
from bench.common import use_throwaway_key
from bench.flow_driver import ReflexSocket, _delta_has, signed_in_tab
from bench.signin_cpu import cpu_used, tree_cpu
from rxapp.services import accounts, approvals, sessions
from rxapp.services.clock import utcnow
from rxapp.services.database import engine_for
from rxapp.state.approvals import RENEW_LEASE_SECONDS, ApprovalState
from rxapp.testing import RxappServer, shared_build

WINDOW_SECONDS = 10.0
WINDOWS = 3
ASKED_WITHIN_SECONDS = 5.0
# A closed tab's watcher notices at its next round (every RENEW_LEASE_SECONDS).
CLOSED_SETTLE_SECONDS = RENEW_LEASE_SECONDS + 2


async def _answer_pings(tab: ReflexSocket, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await tab.receive_until(lambda _packet: False, seconds)


async def _asked(tab: ReflexSocket, seconds: float) -> bool:
    """Whether the tab's approval dialog opens within `seconds` (answering pings)."""
    state = ApprovalState.get_full_name()

    def dialog_opens(packet: str) -> bool:
        if not packet.startswith("42/_event,"):
            return False
        update = json.loads(packet[len("42/_event,") :])[1]
        return _delta_has(update, state, "open_rx_state_", True)

    try:
        await tab.receive_until(dialog_opens, seconds)
    except TimeoutError:
        return False
    return True


def _ask_everyone(db_url: str, users: list[dict[str, str]]) -> None:
    """A sign-in elsewhere, for each user, asks their signed-in devices to approve it."""
    with Session(engine_for(db_url)) as db:
        for user in users:
            account = accounts.find_user(db, user["email"])
            assert account is not None
            now = utcnow()
            token = sessions.start_pending_login(db, account, now=now)
            pending = sessions.current_pending_login(db, token, now=now)
            assert pending is not None
            made = approvals.ask(db, pending, now=now, ip="192.0.2.1", user_agent="bench")
            assert not isinstance(made, str), made


async def _cpu_rates(pid: int, tabs: list[ReflexSocket]) -> list[float]:
    """ms of server CPU per second, per window, while `tabs` stay idle (if any are open)."""
    rates = []
    for _ in range(WINDOWS):
        before = tree_cpu(pid)
        await asyncio.gather(
            asyncio.sleep(WINDOW_SECONDS), *(_answer_pings(tab, WINDOW_SECONDS) for tab in tabs)
        )
        rates.append(1000 * cpu_used(before, tree_cpu(pid)) / WINDOW_SECONDS)
    return rates


async def _idle_cpu(
    url: str, pid: int, users: list[dict[str, str]], db_url: str
) -> tuple[list[float], int, list[float]]:
    """ms of server CPU per second, per window, while the users' tabs sit on /profile; how
    many tabs then showed a request for approval; and the CPU once they have all closed."""
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
        rates = await _cpu_rates(pid, tabs)
        await asyncio.to_thread(_ask_everyone, db_url, users)
        shown = await asyncio.gather(*(_asked(tab, ASKED_WITHIN_SECONDS) for tab in tabs))
    finally:
        await asyncio.gather(*(tab.close() for tab in tabs))
    await asyncio.sleep(CLOSED_SETTLE_SECONDS)
    return rates, sum(shown), await _cpu_rates(pid, [])


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
            rates, asked, closed = asyncio.run(
                _idle_cpu(server.url, server.pid, users, server.db_url)
            )
            errors = server.errors_since(0)
        finally:
            server.stop()
    median = statistics.median(rates)
    lines = [
        f"app: {app_root or 'this checkout'}",
        f"{tabs} signed-in tabs, idle: server CPU {median:6.1f} ms per s "
        f"({median / tabs:.2f} ms per tab per s; windows of {WINDOW_SECONDS:.0f} s: "
        f"{', '.join(f'{r:.1f}' for r in rates)})",
        f"then asked for approval: {asked} of {tabs} tabs showed it within "
        f"{ASKED_WITHIN_SECONDS:.0f} s",
        f"then all {tabs} tabs closed: server CPU {statistics.median(closed):6.1f} ms per s "
        f"(windows: {', '.join(f'{r:.1f}' for r in closed)})",
    ]
    if errors:
        lines.append(f"server errors: {errors[:3]}")
    return lines
