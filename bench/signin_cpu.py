"""Server CPU per complete sign-in with 2FA (password, code, landing page), rxapp and peer.

The CPU time of every process of each server (the process it was started as and all its
descendants: workers, threads) is read before and after a batch of sign-ins by virtual users,
a few at a time; the difference divided by the sign-ins is the figure. The clients run in
this process and are not counted.

- rxapp: GET /login (its HTML), then the events the browser sends over the websocket
  (`bench.flow_driver.one_flow`: hydrate, load /login, submit, load /passcode, submit, load
  /profile).
- peer: GET /accounts/login/, POST it, GET the code page, POST the code, GET /accounts/2fa/.
  allauth limits logins to 30 a minute per address: each virtual user comes from its own
  loopback address (127.0.0.2 and up), as people do.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import httpx
import psutil
import pyotp

from bench.flow_driver import one_flow

CONCURRENCY = 4
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of `pid` and each of its descendants, by pid."""
    root = psutil.Process(pid)
    seen: dict[int, float] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seen[process.pid] = times.user + times.system + times.children_user
        seen[process.pid] += times.children_system
    return seen


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `tree_cpu` readings (new processes count in full)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


async def rxapp_sign_in(base_url: str, user: dict[str, str], index: int) -> None:
    """One complete rxapp sign-in, as a browser with the app's scripts cached does it."""
    async with httpx.AsyncClient() as client:
        (await client.get(base_url + "/login")).raise_for_status()
    await one_flow(base_url, user)


def current_code(secret: str) -> str:
    """allauth accepts the current step only: never a code with under 3 s left (waits)."""
    left = 30 - time.time() % 30
    if left < 3.5:
        time.sleep(left + 0.2)
    return pyotp.TOTP(secret).now()


async def peer_sign_in(base_url: str, user: dict[str, str], index: int) -> None:
    """One complete sign-in on the peer, from loopback address 127.0.0.(2 + index % 200)."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + index % 200}")
    async with httpx.AsyncClient(
        base_url=base_url, transport=transport, follow_redirects=True
    ) as client:
        page = await client.get("/accounts/login/")
        form = {"login": user["email"], "password": user["password"]}
        form["csrfmiddlewaretoken"] = _CSRF.search(page.text).group(1)
        page = await client.post("/accounts/login/", data=form)
        if "/accounts/2fa/authenticate/" not in str(page.url):
            raise RuntimeError(f"peer password step: landed on {page.url}")
        code = await asyncio.to_thread(current_code, user["secret"])
        token = _CSRF.search(page.text).group(1)
        data = {"code": code, "csrfmiddlewaretoken": token}
        page = await client.post("/accounts/2fa/authenticate/", data=data)
        if page.status_code != 200 or not str(page.url).endswith("/accounts/2fa/"):
            raise RuntimeError(f"peer code step: {page.status_code} at {page.url}")


SignIn = Callable[[str, dict[str, str], int], Awaitable[None]]


async def _sign_in_all(sign_in: SignIn, base_url: str, users: list[dict[str, str]]) -> None:
    queue = list(enumerate(users))

    async def worker() -> None:
        while queue:
            index, user = queue.pop()
            await sign_in(base_url, user, index)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def cpu_per_sign_in(pid: int, sign_in: SignIn, base_url: str, users: list[dict[str, str]]) -> float:
    """Server CPU milliseconds per sign-in over `users` (each signs in once)."""
    before = tree_cpu(pid)
    asyncio.run(_sign_in_all(sign_in, base_url, users))
    return cpu_used(before, tree_cpu(pid)) * 1000 / len(users)
