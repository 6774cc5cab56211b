"""A load driver that signs in with 2FA the way the browser does, over Reflex's websocket.

Run as its own process (`python -m bench.flow_driver URL USERS.json --concurrency C`): each
virtual user opens a socket.io connection to /_event, loads /login, submits email and
password, loads /passcode, submits its TOTP code and loads /profile, exactly the events a
browser sends. Prints one JSON line: flows done, failures, flows per second and latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from typing import Any

import pyotp
import websockets

from rxapp.state.login import LoginState
from rxapp.state.passcode import PasscodeState

ROOT = "reflex___state____state"
TIMEOUT = 30


class FlowError(RuntimeError):
    """A flow that did not end signed in."""


class ReflexSocket:
    """The minimum of socket.io (engine.io v4) that Reflex's frontend speaks."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, base_url: str) -> ReflexSocket:
        ws_url = base_url.replace("http://", "ws://").rstrip("/")
        token = str(uuid.uuid4())
        connection = await websockets.connect(
            f"{ws_url}/_event/?token={token}&EIO=4&transport=websocket", max_size=None
        )
        socket = cls(connection)
        await socket.receive_until(lambda packet: packet.startswith("0"))
        await connection.send("40/_event,")
        await socket.receive_until(lambda packet: packet.startswith("40/_event"))
        return socket

    async def receive_until(self, done: Any, seconds: float = TIMEOUT) -> list[Any]:
        """Packets until `done(packet)` is true; answers pings on the way (TimeoutError
        after `seconds`)."""
        seen = []
        async with asyncio.timeout(seconds):
            while True:
                packet = await self.connection.recv()
                if packet == "2":
                    await self.connection.send("3")
                    continue
                seen.append(packet)
                if done(packet):
                    return seen

    async def call(self, name: str, payload: dict[str, Any], path: str, until: Any) -> list[Any]:
        """Send one event and collect the updates until `until(update)` holds for one."""
        event = {
            "name": name,
            "payload": payload,
            "router_data": {"pathname": path, "asPath": path},
        }
        await self.connection.send("42/_event," + json.dumps(["event", event]))
        updates: list[Any] = []

        def finished(packet: str) -> bool:
            if not packet.startswith("42/_event,"):
                return False
            update = json.loads(packet[len("42/_event,") :])[1]
            updates.append(update)
            return bool(until(update))

        await self.receive_until(finished)
        return updates

    async def load(self, path: str) -> None:
        """What the browser sends when it shows `path`: its on_load handlers."""
        await self.call(
            f"{ROOT}.reflex___state____on_load_internal_state.on_load_internal",
            {},
            path,
            lambda u: _delta_has(u, ROOT, "is_hydrated_rx_state_", True),
        )

    async def close(self) -> None:
        await self.connection.close()


def _delta_has(update: dict[str, Any], state: str, var: str, value: Any) -> bool:
    return update.get("delta", {}).get(state, {}).get(var) == value


def _redirect_to(update: dict[str, Any]) -> str | None:
    for event in update.get("events", []):
        if event.get("name") == "_redirect":
            return event["payload"]["path"]
    return None


def _message(updates: list[Any]) -> str:
    for update in updates:
        for values in update.get("delta", {}).values():
            if values.get("error_rx_state_"):
                return values["error_rx_state_"]
    return "no redirect"


async def one_flow(base_url: str, user: dict[str, str]) -> float:
    """Sign one user in with password and TOTP; return the seconds it took."""
    start = time.perf_counter()
    socket = await signed_in_tab(base_url, user)
    await socket.close()
    return time.perf_counter() - start


async def signed_in_tab(base_url: str, user: dict[str, str]) -> ReflexSocket:
    """A tab's connection that signed `user` in with password and TOTP and shows /profile."""
    socket = await ReflexSocket.open(base_url)
    try:
        await socket.call(
            f"{ROOT}.hydrate",
            {},
            "/login",
            lambda u: _delta_has(u, ROOT, "is_hydrated_rx_state_", False),
        )
        await socket.load("/login")
        updates = await socket.call(
            f"{LoginState.get_full_name()}.submit",
            {"form": {"email": user["email"], "password": user["password"]}},
            "/login",
            lambda u: _redirect_to(u) or _message([u]) != "no redirect",
        )
        if _redirect_to(updates[-1]) != "/passcode":
            raise FlowError(f"password step: {_message(updates)}")
        await socket.load("/passcode")
        code = pyotp.TOTP(user["secret"]).at(time.time() + 30)  # the next step: never used yet
        updates = await socket.call(
            f"{PasscodeState.get_full_name()}.submit",
            {"form": {"code": code}},
            "/passcode",
            lambda u: _redirect_to(u) or _message([u]) != "no redirect",
        )
        if _redirect_to(updates[-1]) != "/profile":
            raise FlowError(f"passcode step: {_message(updates)}")
        await socket.load("/profile")
    except BaseException:
        await socket.close()
        raise
    return socket


async def drive(base_url: str, users: list[dict[str, str]], concurrency: int) -> dict[str, Any]:
    """Run every user's flow once, `concurrency` at a time."""
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for user in users:
        queue.put_nowait(user)
    latencies: list[float] = []
    failures: list[str] = []

    async def worker() -> None:
        while not queue.empty():
            user = queue.get_nowait()
            try:
                latencies.append(await one_flow(base_url, user))
            except (FlowError, TimeoutError, OSError, websockets.WebSocketException) as error:
                failures.append(f"{error.__class__.__name__}: {error}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]
    return {
        "flows": len(latencies),
        "failures": len(failures),
        "failure_examples": failures[:3],
        "seconds": round(elapsed, 2),
        "flows_per_second": round(len(latencies) / elapsed, 2),
        "latency_median_ms": round(statistics.median(ordered) * 1000, 1),
        "latency_p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flow_driver")
    parser.add_argument("url")
    parser.add_argument("users", help="JSON file: [{email, password, secret}, ...]")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with open(args.users, encoding="utf-8") as handle:
        users = json.load(handle)
    print(json.dumps(asyncio.run(drive(args.url, users, args.concurrency))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
