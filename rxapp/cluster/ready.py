"""The readiness line: printed once every instance and nginx answer."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

READY = "ready"


def answers(url: str) -> bool:
    """Whether `url` answers 200 (a self-signed certificate is fine: this is loopback)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as reply:  # noqa: S310
            return reply.status == 200
    except OSError:
        return False


def wait_until_ready(
    run_dir: Path, *, alive: Callable[[], bool] = lambda: True, timeout: float = 300
) -> str:
    """Wait for every instance's /ping and the proxy's /ping and /login; return the line to
    print, or raise TimeoutError (also when `alive()` turns false)."""
    layout = json.loads((run_dir / "cluster.json").read_text())
    host = layout["backend_host"]
    host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
    urls = [f"http://{host}:{port}/ping" for port in layout["ports"]]
    urls += [f"{layout['url']}/ping", f"{layout['url']}/login"]
    deadline = time.monotonic() + timeout
    waiting = list(urls)
    while waiting and time.monotonic() < deadline and alive():
        waiting = [url for url in waiting if not answers(url)]
        if waiting:
            time.sleep(0.3)
    if waiting:
        raise TimeoutError(f"no answer from {', '.join(waiting)} within {timeout:.0f} s")
    count = len(layout["ports"])
    return (
        f"{READY} on {layout['url']} ({count} instance{'s' if count > 1 else ''}); "
        f"logs in {run_dir / 'logs'}; Ctrl-C or SIGTERM stops everything"
    )
