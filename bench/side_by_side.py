"""rxapp against django-allauth's MFA, side by side in one run (`python -m bench peer`).

Sets up and starts the peer from `../shared/peers/allauth/` (its setup.sh and serve.sh),
serves this checkout's production build (or `--app-root`'s) on a fresh SQLite database,
then, interleaved (rxapp then peer, peer then rxapp, ...), times the steps of
`bench.side_steps` for one fresh user per run in Chromium, and measures server CPU per
complete sign-in (`bench.signin_cpu`). Prints medians and the ratios rxapp / peer.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

import pyotp
from playwright.sync_api import sync_playwright

from bench import peer_server, side_steps, signin_cpu
from bench.cluster_flows import PASSWORD, seed_users_with_2fa
from bench.common import use_throwaway_key
from rxapp.testing import RxappServer, browser_launch_args, find_browser, shared_build

WARM_UP = 2
STEPS = (
    ("first_load", "/login first load -> form usable"),
    ("password", "password step: click -> code input ready"),
    ("second_factor", "second factor: click -> profile shows email"),
)


def _rxapp_side(url: str) -> side_steps.Side:
    return side_steps.Side(
        name="rxapp",
        base_url=url,
        login_path="/login",
        email='[data-testid="login-email"]',
        password='[data-testid="login-password"]',
        submit='[data-testid="login-submit"]',
        code='[data-testid="passcode-input"]',
        code_submit='[data-testid="passcode-submit"]',
        # The seeded step is spent: the next step's code (accepted within the drift).
        code_for=lambda user: pyotp.TOTP(user["secret"]).at(time.time() + 30),
        landed="landed",
        landing_url="/profile",
        email_shown='[data-testid="profile-email"]',
    )


def _peer_side(url: str) -> side_steps.Side:
    return side_steps.Side(
        name="allauth",
        base_url=url,
        login_path="/accounts/login/",
        email="input[name=login]",
        password="input[name=password]",
        submit="button[type=submit]",
        code="input[name=code]",
        code_submit="button[type=submit]:not([form])",
        code_for=lambda user: signin_cpu.current_code(user["secret"]),
        landed="load",
        landing_url="/accounts/2fa/",
    )


def _time_steps(
    sides: list[side_steps.Side], users: dict[str, list[dict[str, str]]], runs: int
) -> dict[str, list[side_steps.StepTimes]]:
    """`runs` timed users per side (after WARM_UP each), alternating which side goes first."""
    results: dict[str, list[side_steps.StepTimes]] = {side.name: [] for side in sides}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**browser_launch_args(find_browser()))
        for i in range(WARM_UP + runs):
            for side in sides if i % 2 == 0 else sides[::-1]:
                context = browser.new_context()  # a cold cache, no storage
                try:
                    times = side_steps.time_one_user(context.new_page(), side, users[side.name][i])
                finally:
                    context.close()
                if i >= WARM_UP:
                    results[side.name].append(times)
        browser.close()
    return results


def _line(label: str, rx: list[float], peer: list[float], unit: str = "ms") -> str:
    ours, theirs = statistics.median(rx), statistics.median(peer)
    return (
        f"{label:46} rxapp {ours:7.1f} {unit}   allauth {theirs:7.1f} {unit}   "
        f"ratio {ours / theirs:5.2f}   (n={len(rx)}/{len(peer)}; "
        f"rxapp p90 {_p90(rx):.1f}, allauth p90 {_p90(peer):.1f})"
    )


def _p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(0.9 * (len(ordered) - 1))]


def run(app_root: Path | None = None, runs: int = 12, sign_ins: int = 200) -> list[str]:
    """Set everything up, measure, print medians and ratios (rxapp / allauth)."""
    use_throwaway_key()
    label = uuid.uuid4().hex[:6]
    peer_server.setup()
    peer_users = peer_server.add_users(label, WARM_UP + runs + sign_ins + 10)
    with tempfile.TemporaryDirectory(prefix="rxapp-bench-peer-") as folder:
        workdir = Path(folder)
        built = shared_build(Path(tempfile.gettempdir()) / "rxapp-bench-builds", root=app_root)
        server = RxappServer(workdir, prebuilt=built)
        server.start()  # a copy of the build's migrated database, then the users
        rx_users = seed_users_with_2fa(server.db_url, WARM_UP + runs + sign_ins + 10, label)
        assert rx_users[0]["password"] == PASSWORD
        peer = peer_server.start()
        try:
            sides = [_rxapp_side(server.url), _peer_side(peer.url)]
            timed = _time_steps(sides, {"rxapp": rx_users, "allauth": peer_users}, runs)
            rest_rx, rest_peer = rx_users[WARM_UP + runs :], peer_users[WARM_UP + runs :]
            assert server.pid is not None
            cpu_rx, cpu_peer = [], []
            for half in (slice(0, sign_ins // 2), slice(sign_ins // 2, sign_ins)):
                cpu_rx.append(
                    signin_cpu.cpu_per_sign_in(
                        server.pid, signin_cpu.rxapp_sign_in, server.url, rest_rx[half]
                    )
                )
                cpu_peer.append(
                    signin_cpu.cpu_per_sign_in(
                        peer.pid, signin_cpu.peer_sign_in, peer.url, rest_peer[half]
                    )
                )
            errors = server.errors_since(0)
        finally:
            peer.stop()
            server.stop()
    lines = [f"app: {app_root or 'this checkout'}; {runs} users per side, interleaved"]
    for key, label_text in STEPS:
        rx = [getattr(t, key) for t in timed["rxapp"]]
        theirs = [getattr(t, key) for t in timed["allauth"]]
        lines.append(_line(label_text, rx, theirs))
    js = statistics.median(t.login_js_kb for t in timed["rxapp"])
    lines.append(f"{'JavaScript transferred by /login (cold cache)':46} rxapp {js:7.1f} KB")
    ours, theirs = sum(cpu_rx) / 2, sum(cpu_peer) / 2
    lines.append(
        f"{'server CPU per complete sign-in':46} rxapp {ours:7.1f} ms   allauth {theirs:7.1f} ms"
        f"   ratio {ours / theirs:5.2f}   ({sign_ins} sign-ins each, "
        f"concurrency {signin_cpu.CONCURRENCY}; halves rxapp {cpu_rx[0]:.1f}/{cpu_rx[1]:.1f}, "
        f"allauth {cpu_peer[0]:.1f}/{cpu_peer[1]:.1f})"
    )
    if errors:
        lines.append(f"rxapp server errors: {errors[:3]}")
    return lines
