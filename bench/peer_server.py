"""The django-allauth MFA peer, set up and served from `../shared/peers/allauth/` at bench time.

Its own `setup.sh` (venv, schema, 20 users) and `serve.sh` (gunicorn, 2 workers) do the work;
the bench only adds fresh users through the peer's `manage.py` (a TOTP code works once per
step, so every timed sign-in needs an account of its own) and stops the server afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rxapp.runtime import free_port, project_root

PEER_PASSWORD = "Peer-pass-123"
LOGIN_PATH = "/accounts/login/"

# Run by the peer's own Python (`manage.py shell`): fresh users with TOTP on, one password
# hash computed once (the same argon2id parameters as the peer's hasher), secrets as JSON.
_ADD_USERS = """
import json, os
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
label, count = os.environ["BENCH_LABEL"], int(os.environ["BENCH_COUNT"])
password = os.environ["BENCH_PASSWORD"]
hashed = make_password(password)
out = []
for i in range(count):
    email = f"bench-{label}-{i:04d}@example.test"
    u = get_user_model().objects.create(username=f"b{label}{i}", email=email, password=hashed)
    EmailAddress.objects.create(user=u, email=email, primary=True, verified=True)
    secret = generate_totp_secret()
    TOTP.activate(u, secret)
    out.append({"email": email, "password": password, "secret": secret})
print(json.dumps(out))
"""


class PeerError(RuntimeError):
    """The peer could not be set up or served."""


def peer_source() -> Path:
    """`../shared/peers/allauth/` next to the project (RXAPP_PEER_ALLAUTH overrides it)."""
    override = os.environ.get("RXAPP_PEER_ALLAUTH")
    return Path(override) if override else project_root().parent / "shared" / "peers" / "allauth"


def peer_dir() -> Path:
    """Where setup.sh keeps the peer's venv and database."""
    default = Path.home() / ".cache" / "rxapp-peers" / "allauth"
    return Path(os.environ.get("PEER_DIR") or default)


@dataclass
class PeerServer:
    """The peer served by gunicorn on a free loopback port."""

    port: int
    pid: int

    @property
    def url(self) -> str:
        """The address a browser opens."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop gunicorn and its workers (its own session, started by serve.sh)."""
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.killpg(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(self.pid, signal.SIGKILL)


def _env() -> dict[str, str]:
    return {**os.environ, "PEER_DIR": str(peer_dir())}


def setup() -> None:
    """The peer's setup.sh: its venv (installed from PyPI the first time) and schema."""
    source = peer_source()
    if not (source / "setup.sh").is_file():
        raise PeerError(f"no peer at {source} (set RXAPP_PEER_ALLAUTH)")
    result = subprocess.run(
        ["bash", "setup.sh"], cwd=source, env=_env(), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise PeerError(f"setup.sh failed:\n{(result.stdout + result.stderr)[-2000:]}")


def add_users(label: str, count: int) -> list[dict[str, str]]:
    """`count` new peer accounts with TOTP on; returns their email, password and secret."""
    python = peer_dir() / "venv" / "bin" / "python"
    result = subprocess.run(
        [str(python), "manage.py", "shell", "-v0", "-c", _ADD_USERS],
        cwd=peer_source(),
        env={**_env(), "BENCH_LABEL": label, "BENCH_COUNT": str(count)}
        | {"BENCH_PASSWORD": PEER_PASSWORD},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise PeerError(f"adding peer users failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def start() -> PeerServer:
    """serve.sh on a free port; returns once the login page answers."""
    port = free_port()
    result = subprocess.run(
        ["bash", "serve.sh", str(port)],
        cwd=peer_source(),
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    server = PeerServer(port=port, pid=int(result.stdout.strip().splitlines()[-1]))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url + LOGIN_PATH, timeout=2) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise PeerError(f"the peer did not answer on port {port}; see {peer_dir()}/gunicorn.log")
