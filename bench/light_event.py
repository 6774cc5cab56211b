"""A light event in one tab while 8 other tabs sign in, on one instance.

One admin tab changes the 2FA filter of All users over and over (an event that reads the
database) while 8 virtual users sign in with password and TOTP at the same time (argon2 and
database work). Measured: the time from sending the filter change to the update that shows
it, p50 and p95, and how often Reflex warned that a state lock was held too long.

`python -m bench light` measures the current checkout; `--app-root DIR` measures another
checkout (e.g. `git worktree add /tmp/before <rev>`) with this same driver, for before/after.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyotp

from bench.cluster_flows import PASSWORD, seed_users_with_2fa
from bench.common import admin_with_2fa, use_throwaway_key
from bench.flow_driver import ROOT, ReflexSocket, _delta_has, _redirect_to, one_flow
from rxapp.testing import RxappServer

SIGNING_IN_TABS = 8
LIGHT_EVENTS = 150
ADMIN_EMAIL = "bench-admin@example.com"
USERS_STATE = f"{ROOT}.rxapp___state___auth____auth_state.rxapp___state___users____users_state"
LOGIN_STATE = f"{ROOT}.rxapp___state___auth____auth_state.rxapp___state___login____login_state"
PASSCODE_STATE = (
    f"{ROOT}.rxapp___state___auth____auth_state.rxapp___state___passcode____passcode_state"
)


async def _admin_tab(base_url: str, secret: str) -> ReflexSocket:
    socket = await ReflexSocket.open(base_url)
    hydrated = lambda u: _delta_has(u, ROOT, "is_hydrated_rx_state_", False)  # noqa: E731
    await socket.call(f"{ROOT}.hydrate", {}, "/login", hydrated)
    await socket.load("/login")
    updates = await socket.call(
        f"{LOGIN_STATE}.submit",
        {"form": {"email": ADMIN_EMAIL, "password": PASSWORD}},
        "/login",
        lambda u: _redirect_to(u) is not None,
    )
    assert _redirect_to(updates[-1]) == "/passcode", updates
    await socket.load("/passcode")
    updates = await socket.call(
        f"{PASSCODE_STATE}.submit",
        {"form": {"code": pyotp.TOTP(secret).now()}},
        "/passcode",
        lambda u: _redirect_to(u) is not None,
    )
    assert _redirect_to(updates[-1]) == "/profile", updates
    await socket.load("/users")
    return socket


async def _light_events(socket: ReflexSocket, stop: asyncio.Event) -> list[float]:
    samples: list[float] = []
    choices = ["activated", "not_activated", "all"]
    i = 0
    while not stop.is_set() and len(samples) < LIGHT_EVENTS:
        value = choices[i % 3]
        i += 1
        start = time.perf_counter()
        await socket.call(
            f"{USERS_STATE}.set_status_filter",
            {"value": value},
            "/users",
            lambda u, v=value: (
                _delta_has(u, USERS_STATE, "status_filter_rx_state_", v)
                or any(e.get("name") == "_call_function" for e in u.get("events", []))
            ),
        )
        samples.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.02)
    return samples


async def _sign_ins(base_url: str, users: list[dict[str, str]], stop: asyncio.Event) -> int:
    queue = list(users)
    done = 0

    async def tab() -> None:
        nonlocal done
        while queue and not stop.is_set():
            await one_flow(base_url, queue.pop())
            done += 1

    await asyncio.gather(*(tab() for _ in range(SIGNING_IN_TABS)))
    return done


async def _measure(base_url: str, users: list[dict[str, str]], secret: str) -> dict[str, Any]:
    admin = await _admin_tab(base_url, secret)
    quiet = await _light_events(admin, asyncio.Event())
    stop = asyncio.Event()
    load = asyncio.create_task(_sign_ins(base_url, users, stop))
    loaded = await _light_events(admin, stop)
    stop.set()
    flows = await load
    await admin.close()
    return {"quiet": quiet, "loaded": loaded, "flows": flows}


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(app_root: Path | None = None) -> list[str]:
    """Serve the app (this checkout or `app_root`), measure, and report."""
    use_throwaway_key()
    with tempfile.TemporaryDirectory(prefix="rxapp-bench-light-") as folder:
        workdir = Path(folder)
        server = RxappServer(workdir, root=app_root)
        server.migrate()
        users = seed_users_with_2fa(server.db_url, 400, "light")
        secret = admin_with_2fa(server.db_url, ADMIN_EMAIL, PASSWORD)
        server.start()
        try:
            offset = server.log_size()
            result = asyncio.run(_measure(server.url, users, secret))
            log = server.log_path.read_bytes()[offset:].decode("utf-8", "replace")
        finally:
            server.stop()
    warnings = sum("held too long" in line.lower() for line in log.splitlines())
    lines = [f"app: {app_root or 'this checkout'}"]
    for name in ("quiet", "loaded"):
        samples = result[name]
        lines.append(
            f"filter change, {name:6}: p50 {statistics.median(samples):7.1f} ms   "
            f"p95 {_percentile(samples, 0.95):7.1f} ms   max {max(samples):7.1f} ms   "
            f"n={len(samples)}"
        )
    lines.append(f"sign-ins completed meanwhile: {result['flows']}")
    lines.append(f"'lock held too long' warnings: {warnings}")
    lines.append(json.dumps({k: len(v) if isinstance(v, list) else v for k, v in result.items()}))
    return lines
